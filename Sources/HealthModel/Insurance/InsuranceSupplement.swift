import Foundation

/// One thing the health record knows about an insured person that insurance lacks or holds
/// differently (Hà Nội regulation art. 18): a value on `hssk.insurance.supplements.v1`, key = BHXH number.
///
/// One field per supplement, so that BHXH accepts or rejects each field on its own and the ledger
/// remembers each field's fate.
public struct InsuranceSupplement: ValidatedValue, Hashable {
    /// Schema version of the canonical form.
    public static let currentSchemaVersion = 1

    /// The fields hssk supplements.
    public enum Field: String, Codable, Sendable, Hashable, CaseIterable {
        /// The 12-digit personal ID (with `previousPersonalIds` when it replaced others).
        case personalId
        /// A mobile phone.
        case phone
        /// The full name, from a registry birth registration or correction.
        case fullName
        /// The birth date, from a registry birth registration or correction.
        case birthDate
        /// The date of death, from a registry death event.
        case deathDate
    }

    /// Where hssk learned the value: the newest record that says so.
    public struct Evidence: Codable, Sendable, Hashable {
        /// Topic of the record (e.g. `hssk.registry.v1`).
        public var topic: String
        /// Account that sent it.
        public var sender: String
        /// The record's own key (`<station>:<eventId>`, `<facility>:<MA_LK>`, `<site>:<doseId>`).
        public var recordKey: String
        /// What the record is: `visit`, `vaccination`, or the registry event kind.
        public var recordType: String
        /// When the recorded event happened (partial date / local time, as the record says).
        public var time: String

        /// Creates evidence.
        public init(topic: String, sender: String, recordKey: String, recordType: String, time: String) {
            self.topic = topic
            self.sender = sender
            self.recordKey = recordKey
            self.recordType = recordType
            self.time = time
        }
    }

    /// Canonical schema version, `1`.
    public var schemaVersion: Int
    /// Unique id; BHXH echoes it in its acknowledgement.
    public var supplementId: String
    /// The person's 10-digit BHXH number (the Kafka key).
    public var bhxhNumber: String
    /// When hssk decided to send it (RFC 3339).
    public var generatedAt: String
    /// Which field.
    public var field: Field
    /// The health record's value.
    public var value: String
    /// Insurance's last known value; absent when insurance has none.
    public var insuranceValue: String?
    /// Cancelled personal IDs of the same person (field `personalId` only).
    public var previousPersonalIds: [String]?
    /// Where the value comes from.
    public var evidence: Evidence

    /// Creates a supplement.
    public init(supplementId: String, bhxhNumber: String, generatedAt: String, field: Field, value: String,
                insuranceValue: String? = nil, previousPersonalIds: [String]? = nil, evidence: Evidence) {
        schemaVersion = Self.currentSchemaVersion
        self.supplementId = supplementId
        self.bhxhNumber = bhxhNumber
        self.generatedAt = generatedAt
        self.field = field
        self.value = value
        self.insuranceValue = insuranceValue
        self.previousPersonalIds = previousPersonalIds
        self.evidence = evidence
    }

    /// Canonical JSON (`RecordDecoder.encode`: sorted keys).
    public func encoded() -> [UInt8] {
        // Strings, an enum and optionals only: encoding cannot fail.
        (try? RecordDecoder.encode(self)).map(Array.init) ?? []
    }

    /// Every problem of the supplement (hssk validates what it sends; the tests check the examples).
    public func validate() -> [ValidationIssue] {
        var issues = IssueCollector()
        issues.schemaVersion(schemaVersion, expected: Self.currentSchemaVersion)
        issues.text(supplementId, at: "supplementId", required: true, maxLength: 100)
        issues.parse("bhxhNumber") { () throws(FieldProblem) in try SocialInsuranceNumber(parsing: bhxhNumber) }
        issues.timestamp(generatedAt, at: "generatedAt")
        issues.supplementValue(value, field: field, at: "value")
        if let insuranceValue { issues.text(insuranceValue, at: "insuranceValue", required: true, maxLength: 255) }
        if let previous = previousPersonalIds {
            if field != .personalId {
                issues.add("previousPersonalIds", "supplement.previousIdsWithoutPersonalId",
                           en: "previousPersonalIds belongs to a personalId supplement only.",
                           vi: "previousPersonalIds chỉ dùng cho bổ sung số định danh cá nhân.")
            }
            for (index, id) in previous.enumerated() {
                issues.parse(indexPath("previousPersonalIds", index)) { () throws(FieldProblem) in try PersonalID(parsing: id) }
            }
        }
        issues.text(evidence.topic, at: "evidence.topic", required: true, maxLength: 255)
        issues.text(evidence.sender, at: "evidence.sender", required: true, maxLength: 100)
        issues.text(evidence.recordKey, at: "evidence.recordKey", required: true, maxLength: 255)
        issues.text(evidence.recordType, at: "evidence.recordType", required: true, maxLength: 50)
        issues.date(evidence.time, at: "evidence.time", required: true)
        return issues.issues
    }
}

extension IssueCollector {
    /// Checks an RFC 3339 date-time with offset (`2025-10-01T08:00:00+07:00`, fractions allowed).
    mutating func timestamp(_ value: String, at path: String) {
        if Self.rfc3339(value) == nil {
            add(path, "timestamp.invalid", en: "'\(value)' is not an RFC 3339 date-time with a time zone.",
                vi: "'\(value)' không phải thời điểm RFC 3339 có múi giờ.")
        }
    }

    /// The point in time of an RFC 3339 date-time with offset (fractions allowed); nil for anything else.
    static func rfc3339(_ value: String) -> Date? {
        (try? Date.ISO8601FormatStyle().parse(value)) ?? (try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(value))
    }

    /// Checks a supplement's value against its field's format.
    mutating func supplementValue(_ value: String, field: InsuranceSupplement.Field, at path: String) {
        switch field {
        case .personalId:
            parse(path) { () throws(FieldProblem) in try PersonalID(parsing: value) }
        case .phone:
            if let phone = parse(path, { () throws(FieldProblem) in try PhoneNumber(parsing: value) }), phone.value != value {
                add(path, "phone.notNormalized", en: "Send the phone as 0xxxxxxxxx.", vi: "Gửi số điện thoại dạng 0xxxxxxxxx.")
            }
        case .fullName:
            text(value, at: path, required: true, maxLength: 255)
        case .birthDate, .deathDate:
            date(value, at: path, required: true)
        }
    }
}
