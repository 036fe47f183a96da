import Foundation
import HealthModel

/// Everything one consumer batch changes, applied in one transaction by `HealthRecordStore.apply`.
///
/// Ingest fills it after linking: records (with `person` set), the identity changes that linking
/// decided (new persons referenced by `PersonRef.new(local:)`), outbox messages, and the next
/// offsets of every partition the batch read (also for partitions whose records all went to the DLQ).
///
/// Order of application: new persons first, then the other identity changes in order, then records,
/// outbox, dead letters, offsets, and one audit row for the batch. Any error rolls everything back.
///
/// Replays: a record at the position of a stored version with its bytes, or with the bytes of its key's
/// current version, is reported `.duplicate` and changes nothing (the bytes of an older, superseded
/// version at a new position are a correction back to them: a new, current version); `addIdentifier` and `addBlockingKeys` are idempotent too. `newPerson` is not:
/// a batch is replayed only when it never committed (its offsets would have moved on), and a linker
/// that looks the record's identifiers up first finds the person a committed batch created.
public struct StoreBatch: Sendable {
    /// Records to store, in consumption order.
    public var records: [IncomingRecord] = []
    /// Identity changes, applied before the records (so records may point at new persons).
    public var identity: [IdentityChange] = []
    /// Outbox messages.
    public var outbox: [OutboxMessage] = []
    /// Consumer positions after the batch.
    public var offsets: [ConsumerOffset] = []
    /// Dead letters of the batch's rejected records (consumer group: the offsets' group).
    public var deadLetters: [DeadLetterDraft] = []
    /// Who makes the change, for the audit log.
    public var actor: String = "ingest"

    /// Creates a batch.
    public init(records: [IncomingRecord] = [], identity: [IdentityChange] = [], outbox: [OutboxMessage] = [],
                offsets: [ConsumerOffset] = [], deadLetters: [DeadLetterDraft] = [], actor: String = "ingest") {
        self.records = records
        self.identity = identity
        self.outbox = outbox
        self.offsets = offsets
        self.deadLetters = deadLetters
        self.actor = actor
    }
}

/// What happened to one incoming record.
public enum RecordOutcome: Sendable, Hashable {
    /// Stored as a new source record (first version of its key).
    case stored(id: Int64)
    /// A replay (a stored position again, or the current version's content again): nothing changed.
    case duplicate(id: Int64)
    /// Stored as a newer version; the previous version is kept and marked superseded.
    case superseded(id: Int64, previous: Int64)
}

/// The result of `apply`.
public struct ApplyResult: Sendable {
    /// One outcome per `StoreBatch.records` element, in order.
    public var records: [RecordOutcome]
    /// Ids of persons created by the batch, by their batch-local number.
    public var newPersons: [Int: PersonID]
    /// Number of records that were duplicates.
    public var duplicates: Int { records.filter { if case .duplicate = $0 { return true } else { return false } }.count }
}
