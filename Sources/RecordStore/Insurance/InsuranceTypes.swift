import Foundation
import HealthModel

/// A card as the store knows it: its current state and the persons its changes are linked to.
public struct InsuranceCardRecord: Sendable, Hashable {
    /// The card's changes folded in effective order.
    public var state: InsuranceCardState
    /// Distinct persons its changes are linked to (one when linking went well, none while unlinked).
    public var persons: [PersonID]
}

/// What the insurance sync needs to know about one person to decide what to send.
public struct InsurancePersonView: Sendable, Hashable {
    /// The person (merges followed to the surviving person), with identifiers.
    public var person: StoredPerson
    /// The cards linked to the person.
    public var cards: [InsuranceCardRecord]
    /// The person's current records from every source but insurance, oldest first.
    public var records: [PersonRecord]
}

/// Where a supplement is in its life.
public enum SupplementStatus: String, Sendable, Hashable, Codable, CaseIterable {
    /// Decided and recorded, not yet acknowledged by the cluster.
    case pending
    /// Delivered to the supplements topic; BHXH has not answered yet.
    case sent
    /// BHXH took the value.
    case accepted
    /// BHXH refused it.
    case rejected
}

/// One row of the supplement ledger, decrypted.
public struct SupplementLedgerEntry: Sendable, Hashable {
    /// The supplement's id (as sent).
    public var supplementID: String
    /// The BHXH number it was sent under.
    public var bhxhNumber: String
    /// Field name (`InsuranceSupplement.Field` raw value).
    public var field: String
    /// The value sent.
    public var value: String
    /// Where it is.
    public var status: SupplementStatus
    /// BHXH's code, once answered.
    public var reasonCode: String?
    /// BHXH's reason, once answered.
    public var reason: String?
    /// When it was decided.
    public var createdAt: String
    /// When the cluster acknowledged it.
    public var sentAt: String?
    /// When BHXH's answer was recorded.
    public var answeredAt: String?
}

/// A supplement to record as pending before it is produced.
public struct SupplementDraft: Sendable, Hashable {
    /// The supplement's id.
    public var supplementID: String
    /// The BHXH number (Kafka key).
    public var bhxhNumber: String
    /// Field name.
    public var field: String
    /// The value sent (compared with the next decision).
    public var value: String
    /// The message value to produce.
    public var payload: [UInt8]

    /// Creates a draft.
    public init(supplementID: String, bhxhNumber: String, field: String, value: String, payload: [UInt8]) {
        self.supplementID = supplementID
        self.bhxhNumber = bhxhNumber
        self.field = field
        self.value = value
        self.payload = payload
    }
}

/// A recorded supplement not yet acknowledged by the cluster.
public struct PendingSupplement: Sendable, Hashable {
    /// The supplement's id.
    public var supplementID: String
    /// The BHXH number (Kafka key).
    public var bhxhNumber: String
    /// The message value.
    public var payload: [UInt8]
}

/// BHXH's answer to a supplement, to record.
public struct SupplementAnswer: Sendable, Hashable {
    /// The supplement answered.
    public var supplementID: String
    /// Accepted or rejected.
    public var accepted: Bool
    /// BHXH's code.
    public var reasonCode: String?
    /// BHXH's reason (stored encrypted: free text from outside).
    public var reason: String?
    /// BHXH's own time of the answer (`InsuranceAck.receivedAt`, inside the signed value): answers to one
    /// supplement apply in this order.
    public var receivedAt: Date?

    /// Creates an answer.
    public init(supplementID: String, accepted: Bool, reasonCode: String? = nil, reason: String? = nil, receivedAt: Date? = nil) {
        self.supplementID = supplementID
        self.accepted = accepted
        self.reasonCode = reasonCode
        self.reason = reason
        self.receivedAt = receivedAt
    }
}

/// Counts for `hssk insurance report` (no personal data).
public struct InsuranceReport: Sendable, Hashable, Codable {
    /// The day validity was judged on (`YYYY-MM-DD`).
    public var day: String
    /// Active persons.
    public var persons: Int
    /// Active persons linked to a card valid on `day`.
    public var personsWithValidCard: Int
    /// Active persons without one.
    public var personsWithoutValidCard: Int
    /// Cards (BHXH numbers) insurance told us about.
    public var cards: Int
    /// Cards whose changes are linked to no person.
    public var cardsNotLinked: Int
    /// Cards currently suspended.
    public var cardsSuspended: Int
    /// Open discrepancies by field: the newest supplement of a (BHXH number, field) is not accepted.
    public var openDiscrepancies: [String: Int]
    /// What became of the supplements.
    public var supplements: SupplementCounts
}

/// Supplements by fate.
public struct SupplementCounts: Sendable, Hashable, Codable {
    /// On the supplements topic (answered or not).
    public var sent: Int
    /// Accepted by BHXH.
    public var accepted: Int
    /// Rejected by BHXH.
    public var rejected: Int
    /// Sent, not answered yet.
    public var awaitingAnswer: Int
    /// Decided, not yet on the topic.
    public var pending: Int
}
