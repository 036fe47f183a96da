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

/// A consumed record, copied out of librdkafka's buffers.
public struct ConsumerRecord: Sendable {
    public var topic: String
    public var partition: Int32
    public var offset: Int64
    public var key: [UInt8]?
    public var value: [UInt8]?
    public var headers: [KafkaHeader]
    /// Milliseconds since the epoch (create or log-append time), when the broker gave one.
    public var timestampMs: Int64?
    public var topicPartition: TopicPartition { TopicPartition(topic, partition) }
}
