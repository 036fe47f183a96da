import Foundation
import Kafka

/// Which dead letters to read; nil fields match everything.
public struct DeadLetterFilter: Sendable, Hashable {
    /// Only letters with this `hssk-error-code`.
    public var code: String?
    /// Only this partition of the dead-letter topic.
    public var partition: Int32?
    /// Only this offset (in each partition read).
    public var offset: Int64?

    /// A filter; no argument reads everything.
    public init(code: String? = nil, partition: Int32? = nil, offset: Int64? = nil) {
        self.code = code
        self.partition = partition
        self.offset = offset
    }
}

/// Reads a dead-letter topic from its low to its high watermark without joining a consumer group, so
/// it never disturbs ingest or any other reader and commits nothing.
public final class DeadLetterReader: Sendable {
    /// The group id the reader's consumer is configured with; it never joins it nor commits to it.
    public static let groupID = "hssk-dlq-reader"

    private let consumer: Consumer
    private let admin: Admin
    /// How long a partition may deliver nothing short of its high watermark before reading fails.
    public let stallTimeout: Duration

    /// Connects to the cluster `client` names.
    public init(client: KafkaClientConfig, stallTimeout: Duration = .seconds(15)) throws {
        var config = ConsumerConfig(bootstrapServers: client.bootstrapServers, groupID: Self.groupID)
        config.client = client
        consumer = try Consumer(config: config)
        admin = try Admin(config: client, timeout: .seconds(10))
        self.stallTimeout = stallTimeout
    }

    /// Hands the dead letters of `topic` that match `filter` to `body`, in batches, partition by
    /// partition in offset order, up to each partition's high watermark as it was when that partition's
    /// reading began (letters added later wait for the next run). Returns how many matched.
    ///
    /// Batches keep memory bounded on a large topic. A partition must reach its high watermark: hssk
    /// writes dead letters without transactions, so offsets have no gaps (control records) to wait for.
    @discardableResult
    public func read(_ topic: DeadLetterTopic, filter: DeadLetterFilter = DeadLetterFilter(),
                     _ body: ([DeadLetter]) async throws -> Void) async throws -> Int {
        try await read(topic, from: [:], filter: filter, body)
    }

    /// Like `read(_:filter:_:)`, each partition from the offset given in `from` (its low watermark
    /// when absent or expired).
    @discardableResult
    public func read(_ topic: DeadLetterTopic, from starts: [Int32: Int64], filter: DeadLetterFilter = DeadLetterFilter(),
                     _ body: ([DeadLetter]) async throws -> Void) async throws -> Int {
        var partitions = try await partitions(of: topic)
        if let only = filter.partition {
            guard partitions.contains(only) else { throw DeadLetterError.noSuchPartition(topic.name, only, partitions: partitions.count) }
            partitions = [only]
        }
        var matched = 0
        for partition in partitions {
            let tp = TopicPartition(topic.name, partition)
            let (low, high) = try await consumer.watermarks(tp)
            var next = max(low, filter.offset ?? starts[partition] ?? low)
            let end = filter.offset.map { min($0 + 1, high) } ?? high
            guard next < end else { continue }
            try await consumer.assign([tp: next])
            var lastProgress = ContinuousClock.now
            while next < end {
                let records = try await consumer.poll(maxRecords: 500, timeout: .milliseconds(200))
                // Records of an earlier assignment still in flight, or beyond the end, are not this read's.
                let letters = records.filter { $0.topicPartition == tp && $0.offset >= next && $0.offset < end }.map(DeadLetter.init)
                guard let last = letters.last else {
                    if ContinuousClock.now - lastProgress > stallTimeout { throw DeadLetterError.readStalled(tp, next: next, end: end) }
                    continue
                }
                next = last.offset + 1
                lastProgress = .now
                let wanted = letters.filter { filter.code == nil || $0.errorCode == filter.code }
                if !wanted.isEmpty {
                    matched += wanted.count
                    try await body(wanted)
                }
            }
        }
        try await consumer.assign([:])
        return matched
    }

    /// The topic's partitions.
    public func partitions(of topic: DeadLetterTopic) async throws -> [Int32] {
        guard let description = try await admin.findTopics([topic.name])[topic.name] else {
            throw DeadLetterError.topicNotFound(topic.name)
        }
        return (0..<Int32(description.partitions)).map { $0 }
    }

    /// Each partition's high watermark (where the next letter will land).
    public func ends(of topic: DeadLetterTopic) async throws -> [Int32: Int64] {
        var ends: [Int32: Int64] = [:]
        for partition in try await partitions(of: topic) {
            ends[partition] = try await consumer.watermarks(TopicPartition(topic.name, partition)).high
        }
        return ends
    }

    /// All matching dead letters at once (for a few; use `read(_:filter:_:)` for a whole topic).
    public func readAll(_ topic: DeadLetterTopic, filter: DeadLetterFilter = DeadLetterFilter()) async throws -> [DeadLetter] {
        var letters: [DeadLetter] = []
        try await read(topic, filter: filter) { letters += $0 }
        return letters
    }

    /// Releases the consumer (it never joined a group, so there is nothing to leave).
    public func close() async throws {
        try await consumer.close()
    }
}
