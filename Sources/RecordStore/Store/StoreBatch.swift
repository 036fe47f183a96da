import Foundation
import HealthModel

/// A person's id in the store (an opaque number; never a personal ID).
public struct PersonID: RawRepresentable, Sendable, Hashable, Codable, Comparable, CustomStringConvertible {
    /// The row id.
    public var rawValue: Int64
    /// Wraps a row id.
    public init(rawValue: Int64) { self.rawValue = rawValue }
    /// Wraps a row id.
    public init(_ rawValue: Int64) { self.rawValue = rawValue }
    /// `p<id>`.
    public var description: String { "p\(rawValue)" }
    /// Orders by row id.
    public static func < (a: PersonID, b: PersonID) -> Bool { a.rawValue < b.rawValue }
}

/// A person named in a batch: one that exists, or one the same batch creates (by a batch-local number).
public enum PersonRef: Sendable, Hashable {
    /// A person already in the store.
    case existing(PersonID)
    /// The person created by `IdentityChange.newPerson(local:)` with this number in the same batch.
    case new(local: Int)

    /// The person meant, given the ids the batch's new persons got.
    func resolved(_ newPersons: [Int: PersonID]) throws(StoreError) -> PersonID {
        switch self {
        case .existing(let id): return id
        case .new(let local):
            guard let id = newPersons[local] else {
                throw StoreError.invalidRequest("PersonRef.new(local: \(local)) names no IdentityChange.newPerson in the batch")
            }
            return id
        }
    }
}

/// Kafka coordinates of a consumed message.
public struct KafkaCoordinates: Sendable, Hashable, Codable {
    /// Topic name.
    public var topic: String
    /// Partition.
    public var partition: Int32
    /// Offset of the message.
    public var offset: Int64
    /// Creates coordinates.
    public init(topic: String, partition: Int32, offset: Int64) {
        self.topic = topic
        self.partition = partition
        self.offset = offset
    }
}

/// A topic partition.
public struct TopicPartition: Sendable, Hashable, Codable, CustomStringConvertible {
    /// Topic name.
    public var topic: String
    /// Partition.
    public var partition: Int32
    /// Creates a topic partition.
    public init(_ topic: String, _ partition: Int32) {
        self.topic = topic
        self.partition = partition
    }
    /// `topic/partition`.
    public var description: String { "\(topic)/\(partition)" }
}

/// A source record as consumed: decoded form, original bytes, where it came from and who sent it.
///
/// The decoded record is held in a box and the few codes the store needs are read once at init:
/// a visit has dozens of strings, and copying it (retaining each) per pass cost more than storing it.
public struct IncomingRecord: Sendable {
    private let box: RecordBox
    /// The decoded, validated record (derived tables are filled from it).
    public var record: SourceRecord { box.record }
    /// The record's kind.
    public var kind: RecordKind { box.kind }
    /// The plain codes of the record's derived row.
    var derived: DerivedCodes { box.derived }
    /// The message value exactly as received; kept encrypted and never edited (art. 5.5).
    public var original: [UInt8]
    /// Where the message was read.
    public var coordinates: KafkaCoordinates
    /// The authenticated sender account (`ce_source`).
    public var sender: String
    /// When hssk received it.
    public var receivedAt: Date
    /// The person the linker attached it to, if any.
    public var person: PersonRef?
    /// The record's source key (`record.kafkaKey`, computed once: it parses codes and is not free).
    public var sourceKey: String { box.sourceKey }

    /// Creates an incoming record.
    public init(record: SourceRecord, original: [UInt8], coordinates: KafkaCoordinates, sender: String,
                receivedAt: Date = Date(), person: PersonRef? = nil) {
        self.box = RecordBox(record)
        self.original = original
        self.coordinates = coordinates
        self.sender = sender
        self.receivedAt = receivedAt
        self.person = person
    }
}

/// The plain (non-personal) codes a derived row keeps.
enum DerivedCodes: Sendable {
    case visit(facility: String, visitType: String)
    case vaccination(site: String, vaccine: String, dose: Int)
    case insuranceCard(change: String)
    case registryEvent(station: String, event: String)
}

/// Immutable holder of a decoded record and what the store reads from it.
private final class RecordBox: Sendable {
    let record: SourceRecord
    let kind: RecordKind
    let sourceKey: String
    let derived: DerivedCodes

    init(_ record: SourceRecord) {
        self.record = record
        kind = record.kind
        sourceKey = record.kafkaKey
        switch record {
        case .visit(let v): derived = .visit(facility: v.facilityCode, visitType: v.visitType)
        case .vaccination(let d): derived = .vaccination(site: d.siteCode, vaccine: d.vaccineCode, dose: d.doseNumber)
        case .insuranceCard(let c): derived = .insuranceCard(change: c.kind.rawValue)
        case .registryEvent(let e): derived = .registryEvent(station: e.stationCode, event: e.kind.rawValue)
        }
    }
}

/// Kinds of identifier a person may have (reference §2).
public enum IdentifierType: String, Sendable, Hashable, Codable, CaseIterable {
    /// Types a person holds one active value of: two different values are two people (or a re-issue).
    public static let singleValued: Set<IdentifierType> = [.personalId, .bhxhNumber, .birthCertificate, .immunizationCode]

    /// 12-digit personal ID (số định danh cá nhân); unique while active.
    case personalId
    /// Old CMND number.
    case legacyId
    /// Passport number.
    case passport
    /// Temporary code of an unidentified person.
    case temporaryCode
    /// 10-digit BHXH number.
    case bhxhNumber
    /// National immunization code.
    case immunizationCode
    /// A facility's local patient id, as `<facility>:<id>`.
    case facilityPatientId
    /// Birth certificate number.
    case birthCertificate
    /// Mobile phone (shared by families: never unique).
    case phone
}

/// An identifier to attach to a person.
public struct IdentifierEntry: Sendable, Hashable {
    /// Kind of identifier.
    public var type: IdentifierType
    /// The normalised value (callers normalise with HealthModel's parsers).
    public var value: String
    /// First day it is valid (ISO date or timestamp); defaults to now.
    public var validFrom: String?
    /// Where it came from (e.g. a source key or "manual").
    public var source: String

    /// Creates an entry.
    public init(_ type: IdentifierType, _ value: String, validFrom: String? = nil, source: String) {
        self.type = type
        self.value = value
        self.validFrom = validFrom
        self.source = source
    }
}

/// Demographics kept (encrypted) on a person.
public struct Demographics: Sendable, Hashable, Codable {
    /// Full name, NFC.
    public var fullName: String
    /// Birth date, possibly partial (ISO form).
    public var birthDate: String?
    /// 1 male, 2 female, 3 undetermined.
    public var sex: Int?
    /// Mobile phone.
    public var phone: String?
    /// Address text.
    public var address: String?
    /// Commune code of the residence (compared and blocked on by the person index).
    public var communeCode: String?
    /// Creates demographics.
    public init(fullName: String, birthDate: String? = nil, sex: Int? = nil, phone: String? = nil, address: String? = nil,
                communeCode: String? = nil) {
        self.fullName = fullName
        self.birthDate = birthDate
        self.sex = sex
        self.phone = phone
        self.address = address
        self.communeCode = communeCode
    }
}

/// Relations between persons.
public enum RelationKind: String, Sendable, Hashable, Codable, CaseIterable {
    case mother, father, guardian, child, household
}

/// A review task to open: a decision the person index leaves to a human.
public struct ReviewTaskDraft: Sendable, Hashable {
    /// What to decide, e.g. "possibleDuplicate", "personalIdConflict".
    public var kind: String
    /// Persons involved.
    public var persons: [PersonRef]
    /// Why (rule, score); stored encrypted because it may quote personal data.
    public var evidence: String
    /// Creates a draft.
    public init(kind: String, persons: [PersonRef], evidence: String) {
        self.kind = kind
        self.persons = persons
        self.evidence = evidence
    }
}

/// One identity change made by the linker, applied in the batch's transaction.
public enum IdentityChange: Sendable, Hashable {
    /// Creates a person; `local` names it in the rest of the batch and in `ApplyResult.newPersons`.
    case newPerson(local: Int, Demographics)
    /// Replaces a person's demographics.
    case updateDemographics(PersonRef, Demographics)
    /// Adds an identifier; a new personal ID closes the person's previous one (kept, still searchable).
    case addIdentifier(PersonRef, IdentifierEntry)
    /// Adds blocking keys (e.g. "nguyen|van an|1990"); stored only as blind indexes.
    case addBlockingKeys(PersonRef, [String])
    /// Records a relation: `person` has `kind` `other` (e.g. child's mother).
    case relate(PersonRef, RelationKind, PersonRef)
    /// Links an already stored source record (and its derived row) to a person, e.g. after review.
    case linkRecord(sourceRecordID: Int64, PersonRef)
    /// Opens a review task.
    case openReview(ReviewTaskDraft)
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

/// The consumer position a batch moves: the offsets it covers on one partition.
///
/// `apply` refuses the whole batch (`StoreError.offsetMoved`) unless the stored position equals
/// `from`: a batch that starts after the stored offset would skip records, one that starts before
/// it would apply records another consumer already applied. A partition with no stored position
/// yet accepts any start (its first batch). Offsets never skip; the caller seeks back on refusal.
public struct ConsumerOffset: Sendable, Hashable, Codable {
    /// Consumer group.
    public var group: String
    /// Topic partition.
    public var partition: TopicPartition
    /// Where the batch starts: the consumer's position when it read the batch.
    public var from: Int64
    /// Next offset to consume: after the batch's last record.
    public var nextOffset: Int64
    /// Records the consumer delivered in `from..<nextOffset` (offsets without a record — compacted
    /// away, transaction markers — are the difference); `hssk verify` accounts for each.
    public var records: Int
    /// Creates an offset.
    public init(group: String, partition: TopicPartition, from: Int64, nextOffset: Int64, records: Int) {
        self.group = group
        self.partition = partition
        self.from = from
        self.nextOffset = nextOffset
        self.records = records
    }
}

/// A dead letter decided in a consumer batch: written encrypted in the batch's transaction (so the
/// offsets never move past a record whose dead letter could be lost) and produced to its topic by
/// the dead-letter relay once the batch has committed, exactly once.
public struct DeadLetterDraft: Sendable, Hashable {
    /// The record it is about.
    public var source: KafkaCoordinates
    /// The dead-letter topic.
    public var topic: String
    /// The error code (`hssk-error-code`).
    public var code: String
    /// The dead letter as the relay will produce it, encoded by the caller (opaque to the store).
    public var letter: [UInt8]
    /// Creates a draft.
    public init(source: KafkaCoordinates, topic: String, code: String, letter: [UInt8]) {
        self.source = source
        self.topic = topic
        self.code = code
        self.letter = letter
    }
}

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
