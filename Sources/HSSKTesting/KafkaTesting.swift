import Foundation
import Kafka
import Synchronization

/// Helpers shared by the test targets that run against the embedded cluster.
public enum KafkaTesting {
    /// A topic name unique to this test run.
    public static func uniqueTopic(_ prefix: String = "test") -> String {
        "\(prefix).\(UUID().uuidString.prefix(8).lowercased())"
    }

    /// A consumer config for `cluster` with short timeouts, so that rebalances in tests are quick.
    public static func consumerConfig(_ cluster: EmbeddedCluster, group: String) -> ConsumerConfig {
        var config = ConsumerConfig(bootstrapServers: cluster.bootstrapServers, groupID: group)
        config.sessionTimeoutMs = 6_000
        config.heartbeatIntervalMs = 500
        config.client.logLevel = 3
        return config
    }

    /// A producer config for `cluster`.
    public static func producerConfig(_ cluster: EmbeddedCluster) -> ProducerConfig {
        var config = ProducerConfig(bootstrapServers: cluster.bootstrapServers)
        config.client.logLevel = 3
        return config
    }

    /// Polls until `count` records arrived in total or `timeout` passed; returns what arrived.
    public static func consume(_ consumer: Consumer, count: Int, timeout: Duration = .seconds(30)) async throws -> [ConsumerRecord] {
        var records: [ConsumerRecord] = []
        let deadline = ContinuousClock.now + timeout
        while records.count < count, ContinuousClock.now < deadline {
            records += try await consumer.poll(maxRecords: 1_000, timeout: .milliseconds(200))
        }
        return records
    }

    /// Polls each consumer in turn, applying every batch to `ledger`, until `done` holds or `timeout` passes.
    /// Returns whether `done` held.
    public static func pump(_ consumers: [Consumer], into ledger: OffsetLedger, timeout: Duration = .seconds(60),
                            until done: () -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        while !done() {
            guard ContinuousClock.now < deadline else { return false }
            for consumer in consumers {
                ledger.apply(try await consumer.poll(maxRecords: 500, timeout: .milliseconds(50)))
            }
        }
        return true
    }

    /// `n` records spread over `keys` keys, values "key/sequence" so that order can be checked.
    public static func records(topic: String, count: Int, keys: Int) -> [ProducerRecord] {
        (0..<count).map { index in
            let key = "key-\(index % keys)"
            return ProducerRecord(topic: topic, key: Array(key.utf8), value: Array("\(key)/\(index / keys)".utf8),
                                  headers: [KafkaHeader("seq", String(index))])
        }
    }
}

/// The stand-in for the health-record store in Kafka-layer tests: the processed records and each
/// partition's next offset, updated together under one lock (as the store does in one transaction).
public final class OffsetLedger: Sendable {
    private struct State {
        var next: [TopicPartition: Int64] = [:]
        var processed: [String] = []
    }
    private let state = Mutex(State())
    public init() {}

    /// Next offsets for `partitions` that the ledger knows.
    public func offsets(for partitions: [TopicPartition]) -> [TopicPartition: Int64] {
        state.withLock { state in state.next.filter { partitions.contains($0.key) } }
    }

    /// Records a batch and its next offsets atomically.
    public func apply(_ records: some Sequence<ConsumerRecord>) {
        state.withLock { state in
            for record in records {
                state.processed.append(record.headerText("seq") ?? "?")
                state.next[record.topicPartition] = record.offset + 1
            }
        }
    }

    /// The `seq` header of every processed record, in processing order.
    public var processed: [String] { state.withLock { $0.processed } }
}
