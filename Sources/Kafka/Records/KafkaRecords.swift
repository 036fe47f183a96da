import CRdKafka
import Foundation

/// One partition of one topic.
public struct TopicPartition: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var topic: String
    public var partition: Int32
    public init(_ topic: String, _ partition: Int32) {
        self.topic = topic
        self.partition = partition
    }
    public static func < (a: TopicPartition, b: TopicPartition) -> Bool {
        (a.topic, a.partition) < (b.topic, b.partition)
    }
    public var description: String { "\(topic)[\(partition)]" }
}

/// A Kafka record header. Values are bytes; most hssk headers are UTF-8 text.
public struct KafkaHeader: Hashable, Sendable {
    public var key: String
    public var value: [UInt8]?
    public init(key: String, value: [UInt8]?) {
        self.key = key
        self.value = value
    }
    /// A header whose value is UTF-8 text.
    public init(_ key: String, _ text: String) {
        self.init(key: key, value: Array(text.utf8))
    }
    /// The value decoded as UTF-8, if it is present and valid.
    public var text: String? { value.flatMap { String(validating: $0, as: UTF8.self) } }
}

extension Array where Element == KafkaHeader {
    /// The first header with this key, as text.
    public func text(_ key: String) -> String? { first { $0.key == key }?.text }
}

/// A record to produce. `partition == nil` lets the partitioner choose from the key.
public struct ProducerRecord: Sendable {
    public var topic: String
    public var partition: Int32?
    public var key: [UInt8]?
    public var value: [UInt8]?
    public var headers: [KafkaHeader]
    public init(topic: String, partition: Int32? = nil, key: [UInt8]?, value: [UInt8]?, headers: [KafkaHeader] = []) {
        self.topic = topic
        self.partition = partition
        self.key = key
        self.value = value
        self.headers = headers
    }
}

/// Where a record landed once the cluster acknowledged it (`acks=all`).
public struct DeliveryReport: Hashable, Sendable {
    public var topic: String
    public var partition: Int32
    public var offset: Int64
}

/// A consumed record. It reads its bytes in place from librdkafka's message, which its batch keeps
/// alive (zero copy); `key`, `value` and `headers` copy on access, `withValueBytes` does not.
public struct ConsumerRecord: Sendable {
    public let topic: String
    public let partition: Int32
    public let offset: Int64
    /// Milliseconds since the epoch (create or log-append time), when the broker gave one.
    public let timestampMs: Int64?
    let batch: PolledBatch
    let index: Int

    public var topicPartition: TopicPartition { TopicPartition(topic, partition) }
    private var message: rd_kafka_message_t { batch.messages[index].pointee }

    public var key: [UInt8]? { message.key.map { Array(UnsafeRawBufferPointer(start: $0, count: message.key_len)) } }
    public var value: [UInt8]? { withValueBytes { Array($0) } }
    /// Length of the value in bytes (0 when there is none), without copying it.
    public var valueCount: Int { message.payload == nil ? 0 : message.len }

    /// Reads the value in place; nil when the record has no value (a tombstone).
    public func withValueBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R? {
        let message = message
        guard let payload = message.payload else { return nil }
        return try body(UnsafeRawBufferPointer(start: payload, count: message.len))
    }

    public var headers: [KafkaHeader] { headers(limit: .max).headers }

    /// The first `limit` headers, and how many there are in all (a hostile record can carry hundreds
    /// of thousands: only what is used is copied).
    public func headers(limit: Int) -> (headers: [KafkaHeader], total: Int) {
        var headers: [KafkaHeader] = []
        var total = 0
        forEachHeader { name, value in
            if total < limit { headers.append(KafkaHeader(key: String(cString: name), value: value.map { Array($0) })) }
            total += 1
            return true
        }
        return (headers, total)
    }

    /// The value of the first header named `key`, as UTF-8 text.
    public func headerText(_ key: String) -> String? {
        var found: String?
        forEachHeader { name, value in
            guard strcmp(name, key) == 0 else { return true }
            found = value.flatMap { String(validating: $0, as: UTF8.self) }
            return false
        }
        return found
    }

    /// Visits headers in order until `body` returns false. They were parsed on the consumer's thread at
    /// poll time, so reading them here does not mutate the message.
    private func forEachHeader(_ body: (UnsafePointer<CChar>, UnsafeRawBufferPointer?) -> Bool) {
        guard let list = batch.headerLists[index] else { return }
        var position = 0
        var name: UnsafePointer<CChar>?
        var data: UnsafeRawPointer?
        var size = 0
        while rd_kafka_header_get_all(list, position, &name, &data, &size) == RD_KAFKA_RESP_ERR_NO_ERROR, let name {
            if !body(name, data.map { UnsafeRawBufferPointer(start: $0, count: size) }) { return }
            position += 1
        }
    }
}

/// The librdkafka messages of one poll, kept alive while any of its records is; released on the
/// consumer's thread (where they were allocated) when the last record goes. A batch built in memory
/// (`ConsumerRecord.init(topic:partition:offset:key:value:headers:timestampMs:)`) owns its messages
/// and frees them itself.
///
/// Safety of `@unchecked Sendable`: the messages and their parsed header lists are never written after
/// `poll` (or the in-memory init) returns (headers are parsed there, on the consumer thread), so
/// concurrent reads are safe; they are destroyed exactly once, in `deinit`, when no record can reach them any more.
final class PolledBatch: @unchecked Sendable {
    let messages: [UnsafeMutablePointer<rd_kafka_message_t>]
    let headerLists: [OpaquePointer?]
    /// Who releases the messages: the consumer's thread (and it keeps the handle alive, since messages
    /// must be destroyed before it is), or this batch for messages it allocated.
    private let owner: ConsumerClient?

    init(messages: [UnsafeMutablePointer<rd_kafka_message_t>], headerLists: [OpaquePointer?], client: ConsumerClient?) {
        self.messages = messages
        self.headerLists = headerLists
        self.owner = client
    }

    deinit {
        guard let owner else {
            for (message, headers) in zip(messages, headerLists) {
                message.pointee.payload?.deallocate()
                message.pointee.key?.deallocate()
                message.deallocate()
                if let headers { rd_kafka_headers_destroy(headers) }
            }
            return
        }
        let owned = MessageList(messages: messages)
        owner.thread.submitOrRun { for message in owned.messages { rd_kafka_message_destroy(message) } }
    }
}

/// Messages handed to the releasing thread. Safety: nothing else references them any more.
private struct MessageList: @unchecked Sendable {
    let messages: [UnsafeMutablePointer<rd_kafka_message_t>]
}

extension ConsumerRecord {
    /// A record built in memory, read exactly as a consumed one: for testing the stages that take
    /// consumed records (triage, batch planning) without a cluster.
    package init(topic: String, partition: Int32, offset: Int64, key: [UInt8]?, value: [UInt8]?, headers: [KafkaHeader] = [],
                timestampMs: Int64? = nil) {
        func copy(_ bytes: [UInt8]?) -> UnsafeMutableRawPointer? {
            guard let bytes else { return nil }
            let buffer = UnsafeMutableRawPointer.allocate(byteCount: max(bytes.count, 1), alignment: 1)
            bytes.withUnsafeBytes { if let base = $0.baseAddress { buffer.copyMemory(from: base, byteCount: bytes.count) } }
            return buffer
        }
        let message = UnsafeMutablePointer<rd_kafka_message_t>.allocate(capacity: 1)
        message.initialize(to: rd_kafka_message_t())
        message.pointee.partition = partition
        message.pointee.offset = offset
        message.pointee.payload = copy(value)
        message.pointee.len = value?.count ?? 0
        message.pointee.key = copy(key)
        message.pointee.key_len = key?.count ?? 0
        var list: OpaquePointer?
        if !headers.isEmpty {
            list = rd_kafka_headers_new(headers.count)
            for header in headers {
                if let value = header.value {
                    value.withUnsafeBytes { _ = rd_kafka_header_add(list, header.key, -1, $0.baseAddress, $0.count) }
                } else {
                    _ = rd_kafka_header_add(list, header.key, -1, nil, 0)
                }
            }
        }
        self.init(topic: topic, partition: partition, offset: offset, timestampMs: timestampMs,
                  batch: PolledBatch(messages: [message], headerLists: [list], client: nil), index: 0)
    }
}

/// Logical offsets a `RebalanceHooks.startingOffsets` hook may return.
public enum KafkaOffset {
    /// The first offset still in the partition.
    public static let beginning = Int64(RD_KAFKA_OFFSET_BEGINNING)
    /// The offset after the last record (only new records are read).
    public static let end = Int64(RD_KAFKA_OFFSET_END)
}
