import Foundation
import HealthModel
import Kafka

/// A dead-letter topic, `<source topic>.dlq` (DESIGN §5), named by either of the two names.
public struct DeadLetterTopic: Sendable, Hashable, CustomStringConvertible {
    /// What a source topic's name gets to become its dead-letter topic's name.
    public static let suffix = ".dlq"

    /// The dead-letter topic's name, e.g. `hssk.visits.v1.dlq`.
    public let name: String

    /// The topic its records were read from, e.g. `hssk.visits.v1`.
    public var sourceTopic: String { String(name.dropLast(Self.suffix.count)) }

    /// `hssk.visits.v1` or `hssk.visits.v1.dlq` both name `hssk.visits.v1.dlq`.
    public init(_ topic: String) throws(DeadLetterError) {
        let name = topic.hasSuffix(Self.suffix) ? topic : topic + Self.suffix
        guard name.count > Self.suffix.count, name.range(of: #"^[a-zA-Z0-9._-]{1,249}$"#, options: .regularExpression) != nil else {
            throw DeadLetterError.badTopicName(topic)
        }
        self.name = name
    }

    /// The dead-letter topic's name.
    public var description: String { name }
}

/// One dead letter: where it sits on the dead-letter topic, the original key, value and headers, and
/// the dead-letter headers ingest added (`DeadLetterHeaders`).
public struct DeadLetter: Sendable, Hashable {
    /// The dead-letter topic it was read from.
    public var topic: String
    /// Its partition on the dead-letter topic.
    public var partition: Int32
    /// Its offset on the dead-letter topic.
    public var offset: Int64
    /// Kafka timestamp (ms since the epoch), when the broker gave one.
    public var timestampMs: Int64?
    /// The original key.
    public var key: [UInt8]?
    /// The original value.
    public var value: [UInt8]?
    /// All headers: the original ones, then the dead-letter ones.
    public var headers: [KafkaHeader]

    /// Copies a consumed record (the letter outlives the polled batch).
    init(_ record: ConsumerRecord) {
        topic = record.topic
        partition = record.partition
        offset = record.offset
        timestampMs = record.timestampMs
        key = record.key
        value = record.value
        headers = record.headers
    }

    /// `partition/offset` on the dead-letter topic.
    public var position: String { "\(partition)/\(offset)" }
    /// `hssk-error-code`, e.g. `signature.invalid`.
    public var errorCode: String? { headers.text(DeadLetterHeaders.errorCode) }
    /// `hssk-failed-at` (RFC 3339).
    public var failedAt: String? { headers.text(DeadLetterHeaders.failedAt) }
    /// `hssk-source-topic`.
    public var sourceTopic: String? { headers.text(DeadLetterHeaders.sourceTopic) }
    /// `hssk-source-partition`, when it is a number.
    public var sourcePartition: Int32? { headers.text(DeadLetterHeaders.sourcePartition).flatMap { Int32($0) } }
    /// `hssk-source-offset`, when it is a number.
    public var sourceOffset: Int64? { headers.text(DeadLetterHeaders.sourceOffset).flatMap { Int64($0) } }
    /// `hssk-dead-letter-id` (the store's id of the letter), when it is a number.
    public var letterID: Int64? { headers.text(DeadLetterHeaders.letterID).flatMap { Int64($0) } }

    /// `hssk-error-detail` decoded; nil when the header is missing or is not the documented JSON list.
    public var details: [DeadLetterDetail]? {
        guard let text = headers.text(DeadLetterHeaders.errorDetail) else { return nil }
        return try? JSONDecoder().decode([DeadLetterDetail].self, from: Data(text.utf8))
    }

    /// The headers the sender sent: all but the dead-letter headers.
    public var originalHeaders: [KafkaHeader] {
        headers.filter { !DeadLetterHeaders.all.contains($0.key) }
    }

    /// The key as text (see `displayText`); `-` for none.
    public var keyText: String { key.map(Self.displayText) ?? "-" }

    /// Bytes as text: UTF-8 when they are, else `0x…` hex.
    public static func displayText(_ bytes: [UInt8]) -> String {
        String(validating: bytes, as: UTF8.self) ?? "0x" + RecordSignature.hex(bytes)
    }
}

/// A dead-letter read that could not be done.
public enum DeadLetterError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The topic name is empty or malformed.
    case badTopicName(String)
    /// The cluster has no such topic.
    case topicNotFound(String)
    /// The topic has no such partition.
    case noSuchPartition(String, Int32, partitions: Int)
    /// A partition stopped delivering records before its high watermark was reached.
    case readStalled(TopicPartition, next: Int64, end: Int64)

    /// A human-readable explanation.
    public var description: String {
        switch self {
        case let .badTopicName(name): return "'\(name)' is not a topic name"
        case let .topicNotFound(name): return "topic \(name) does not exist"
        case let .noSuchPartition(name, partition, count): return "topic \(name) has \(count) partition(s); there is no partition \(partition)"
        case let .readStalled(partition, next, end):
            return "reading \(partition) stalled at offset \(next) before its end \(end) (broker unavailable?)"
        }
    }
}
