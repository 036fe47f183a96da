import Foundation
import Kafka
import RecordStore

/// Operations behind `hssk offsets`: what each consumer group's stored positions cover, compared with
/// what Kafka still keeps, and the operator's decision on records that expired before they were read.
public enum OffsetAdministration {
    /// One partition of one group: the store's position and ranges, and Kafka's watermarks when asked.
    public struct PartitionState: Sendable, Codable, Hashable {
        /// Consumer group.
        public var group: String
        /// Topic.
        public var topic: String
        /// Partition.
        public var partition: Int32
        /// The store's position (next offset to read), nil when only ranges are recorded.
        public var position: Int64?
        /// The oldest offset Kafka still keeps, when the cluster was asked.
        public var logStart: Int64?
        /// The offset the next record will get, when the cluster was asked.
        public var logEnd: Int64?
        /// Records that expired before they were read (`position..<logStart`), when there are any.
        public var expired: Int64? { logStart.flatMap { low in position.flatMap { low > $0 ? low - $0 : nil } } }
        /// The consumed ranges, in offset order.
        public var ranges: [ConsumerRange]
    }

    /// The positions and ranges of `group` (every group when nil), with the watermarks of `client`'s
    /// cluster when given.
    public static func list(store: any ConsumerPositions, group: String?, client: KafkaClientConfig?) async throws -> [PartitionState] {
        let ranges = try await store.consumerRanges(group: group)
        let keys = Array(Set(ranges.map { "\($0.group)\u{0}\($0.partition.topic)\u{0}\($0.partition.partition)" })).sorted()
        var states: [PartitionState] = []
        var watermarks: Watermarks?
        if let client { watermarks = try await Watermarks(client: client) }
        for key in keys {
            let parts = key.split(separator: "\u{0}", omittingEmptySubsequences: false).map(String.init)
            let partition = RecordStore.TopicPartition(parts[1], Int32(parts[2]) ?? 0)
            let position = try await store.offsets(group: parts[0], partitions: [partition])[partition]
            let marks = try await watermarks?.of(Kafka.TopicPartition(partition.topic, partition.partition))
            states.append(PartitionState(group: parts[0], topic: partition.topic, partition: partition.partition, position: position,
                                         logStart: marks?.low, logEnd: marks?.high,
                                         ranges: ranges.filter { $0.group == parts[0] && $0.partition == partition }))
        }
        try await watermarks?.close()
        return states
    }

    /// Accepts that `group`'s records on `partition` from its stored position up to the partition's
    /// log start expired before they were read: moves the position there, recorded as a gap run and
    /// audited as `actor`. Refused when nothing expired (the records are still there to be read).
    ///
    /// When the partition's log now ends before the stored position (the topic was recreated, or a
    /// broker lost committed records), `resetTo` must say where to read again — a decision only an
    /// operator can make (the log start re-reads everything Kafka holds; the log end reads only what
    /// comes next) — and it must lie inside what Kafka holds.
    public static func acceptGap(store: any ConsumerPositions, group: String, partition: RecordStore.TopicPartition, client: KafkaClientConfig,
                                 actor: String, reason: String, resetTo: Int64? = nil) async throws -> (from: Int64, to: Int64) {
        guard let from = try await store.offsets(group: group, partitions: [partition])[partition] else {
            throw StoreError.invalidRequest("\(group) has no stored position on \(partition): nothing was read there, nothing can have been skipped")
        }
        let watermarks = try await Watermarks(client: client)
        let low: Int64, high: Int64
        do {
            (low, high) = try await watermarks.of(Kafka.TopicPartition(partition.topic, partition.partition))
            try await watermarks.close()
        } catch {
            try? await watermarks.close()
            throw error
        }
        if from > high {
            guard let to = resetTo, (low...high).contains(to) else {
                throw StoreError.invalidRequest("\(group) \(partition): the stored position \(from) lies past the log's end \(high) (the topic was recreated or truncated): say where to read again with --reset-to, between \(low) (everything Kafka holds) and \(high) (only what comes next)")
            }
            try await store.acceptGap(group: group, partition: partition, from: from, to: to, actor: actor, reason: reason)
            return (from, to)
        }
        guard resetTo == nil else {
            throw StoreError.invalidRequest("\(group) \(partition): --reset-to is only for a position past the log's end (\(from) is within \(low)..<\(high + 1))")
        }
        guard low > from else {
            throw StoreError.invalidRequest("\(group) \(partition): the stored position \(from) is still kept by Kafka (log start \(low)): no records expired, nothing to accept")
        }
        try await store.acceptGap(group: group, partition: partition, from: from, to: low, actor: actor, reason: reason)
        return (from, low)
    }

    /// A consumer that never joins a group, asked only for watermarks.
    private struct Watermarks {
        let consumer: Consumer

        init(client: KafkaClientConfig) async throws {
            var config = ConsumerConfig(bootstrapServers: client.bootstrapServers, groupID: "hssk-offsets")
            config.client = client
            consumer = try Consumer(config: config)
        }

        func of(_ partition: Kafka.TopicPartition) async throws -> (low: Int64, high: Int64) { try await consumer.watermarks(partition) }
        func close() async throws { try await consumer.close() }
    }
}
