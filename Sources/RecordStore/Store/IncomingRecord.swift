import Foundation
import HealthModel

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
