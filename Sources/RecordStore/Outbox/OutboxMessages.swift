import Foundation
import HealthModel

/// The outbox kinds written by ingest (and the store's merge operations) and read by the publishers.
///
/// The payload says why a person changed; it never carries the change itself: the feed publisher
/// rebuilds the person's whole document from the store, so a lost detail cannot make it wrong.
/// (The contract lives in RecordStore because the store itself writes `citizenFeed` messages when a
/// merge, an undo or a new personal ID changes a person outside a batch.)
public enum OutboxKinds {
    /// A person's citizen-visible record may have changed: rebuild and publish the document.
    public static let citizenFeed = "citizen-feed"
    /// The health record learned something insurance may lack: compute supplements for the person.
    public static let insuranceSupplement = "insurance-supplement"

    /// True when storing `record` may change what the health record would supplement for its person:
    /// a card change (insurance's values, a new link), any registry event, or a record carrying a
    /// personal ID or phone. Ingest queues an `insuranceSupplement` row for such persons, and the
    /// insurance sync decides; the rule lives with the contract so that ingest needs no insurance code.
    public static func concernsInsurance(_ record: SourceRecord) -> Bool {
        switch record {
        case .insuranceCard, .registryEvent: return true
        case .visit, .vaccination: return record.subject.personalId != nil || record.subject.phone != nil
        }
    }
}

/// Why a person's documents must be rebuilt (the outbox payload of `OutboxKinds.citizenFeed`).
public struct PersonChange: Codable, Sendable, Hashable {
    /// What happened.
    public enum Reason: String, Codable, Sendable, Hashable {
        /// A source record about the person was stored.
        case record
        /// An identifier (e.g. a new personal ID) was attached.
        case identifier
        /// Another person was merged into this one (`other` is the absorbed person).
        case merge
        /// A merge was undone (`other` is the other person of the merge).
        case undoMerge
    }

    /// What happened.
    public var reason: Reason
    /// Where the record that caused it was read (for `record`).
    public var topic: String?
    /// Partition of that record.
    public var partition: Int32?
    /// Offset of that record.
    public var offset: Int64?
    /// The other person of a merge or undo, as its store id.
    public var other: Int64?

    /// Creates a change.
    public init(reason: Reason, topic: String? = nil, partition: Int32? = nil, offset: Int64? = nil, other: Int64? = nil) {
        self.reason = reason
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.other = other
    }

    /// The payload bytes: JSON with sorted keys.
    public var payload: [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        // Encoding a struct of optionals and a raw-value enum cannot fail.
        return (try? encoder.encode(self)).map(Array.init) ?? []
    }

    /// The outbox message telling `kind`'s reader that `person` changed.
    public func message(kind: String = OutboxKinds.citizenFeed, for person: PersonRef) -> OutboxMessage {
        OutboxMessage(kind: kind, key: .person(person), payload: payload)
    }

    /// Reads a payload; nil when it is not one (an outbox row from a newer version, say).
    public init?(payload: [UInt8]) {
        guard let change = try? JSONDecoder().decode(PersonChange.self, from: Data(payload)) else { return nil }
        self = change
    }
}

/// A message for the outbox (feed publisher, insurance outbound), committed with the batch.
public struct OutboxMessage: Sendable, Hashable {
    /// Which consumer reads it, e.g. "citizen-feed" or "insurance-supplement".
    public var kind: String
    /// Partitioning key: a person (order per person is preserved) or any text.
    public var key: OutboxKey
    /// Payload bytes; stored encrypted.
    public var payload: [UInt8]
    /// Creates a message.
    public init(kind: String, key: OutboxKey, payload: [UInt8]) {
        self.kind = kind
        self.key = key
        self.payload = payload
    }
}

/// An outbox key.
public enum OutboxKey: Sendable, Hashable {
    /// The person's id (resolved for persons new in the batch).
    case person(PersonRef)
    /// Free text; must not be personal data (it is stored in clear).
    case text(String)
}
