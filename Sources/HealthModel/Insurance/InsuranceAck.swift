import Foundation

/// BHXH's answer to one supplement, on `hssk.insurance.acks.v1` (key = BHXH number).
public struct InsuranceAck: ValidatedValue, Hashable {
    /// Schema version of the canonical form.
    public static let currentSchemaVersion = 1

    /// BHXH's decision.
    public enum Status: String, Codable, Sendable, Hashable {
        /// BHXH took the value into its records.
        case accepted
        /// BHXH refused it; `reason` says why.
        case rejected
    }

    /// Canonical schema version, `1`.
    public var schemaVersion: Int
    /// The supplement answered.
    public var supplementId: String
    /// Its BHXH number.
    public var bhxhNumber: String
    /// Accepted or rejected.
    public var status: Status
    /// BHXH's own code, e.g. a card lookup code such as 051.
    public var reasonCode: String?
    /// Why, required for a rejection.
    public var reason: String?
    /// When BHXH received the supplement (RFC 3339).
    public var receivedAt: String

    /// Creates an acknowledgement.
    public init(supplementId: String, bhxhNumber: String, status: Status, reasonCode: String? = nil, reason: String? = nil, receivedAt: String) {
        schemaVersion = Self.currentSchemaVersion
        self.supplementId = supplementId
        self.bhxhNumber = bhxhNumber
        self.status = status
        self.reasonCode = reasonCode
        self.reason = reason
        self.receivedAt = receivedAt
    }

    /// `receivedAt` as a point in time (nil when it is not RFC 3339, which validation rejects): what
    /// orders BHXH's answers to one supplement, since it is inside the signed value.
    public var receivedTime: Date? { IssueCollector.rfc3339(receivedAt) }

    /// The normalised BHXH number (the Kafka key).
    public var kafkaKey: String {
        keyPart(bhxhNumber) { s throws(FieldProblem) in try SocialInsuranceNumber(parsing: s).value }
    }

    /// Every problem of the acknowledgement.
    public func validate() -> [ValidationIssue] {
        var issues = IssueCollector()
        issues.schemaVersion(schemaVersion, expected: Self.currentSchemaVersion)
        issues.text(supplementId, at: "supplementId", required: true, maxLength: 100)
        issues.parse("bhxhNumber") { () throws(FieldProblem) in try SocialInsuranceNumber(parsing: bhxhNumber) }
        issues.text(reasonCode, at: "reasonCode", required: false, maxLength: 20)
        issues.text(reason, at: "reason", required: status == .rejected, maxLength: 1024)
        issues.timestamp(receivedAt, at: "receivedAt")
        return issues.issues
    }
}
