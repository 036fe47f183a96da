import CRdKafka
import HSSKTesting
import Synchronization
import XCTest
@testable import Kafka

/// Batch ranges, seeks and expired positions on the embedded cluster.
final class ConsumerPositionTests: XCTestCase {
    private func cluster(topic: String, partitions: Int = 1) throws -> EmbeddedCluster {
        let cluster = try EmbeddedCluster(brokers: 1)
        try cluster.createTopic(topic, partitions: partitions, replicationFactor: 1)
        return cluster
    }

    private func publish(_ cluster: EmbeddedCluster, _ topic: String, count: Int, valueBytes: Int = 0) async throws {
        let producer = try Producer(config: KafkaTesting.producerConfig(cluster))
        _ = try await producer.sendAll((0..<count).map {
            ProducerRecord(topic: topic, partition: 0, key: Array("k".utf8), value: [UInt8](repeating: 120, count: valueBytes),
                           headers: [KafkaHeader("seq", String($0))])
        })
        try await producer.close()
    }

    /// Consecutive batches meet exactly, starting where the hook positioned the partition.
    func testRangesMeetExactlyFromTheStartingOffset() async throws {
        let topic = KafkaTesting.uniqueTopic()
        let cluster = try cluster(topic: topic)
        try await publish(cluster, topic, count: 1_000)
        let consumer = try Consumer(config: KafkaTesting.consumerConfig(cluster, group: "g-\(topic)"),
                                    hooks: RebalanceHooks(startingOffsets: { Dictionary(uniqueKeysWithValues: $0.map { ($0, 37) }) }))
        try await consumer.subscribe([topic])
        var ranges: [OffsetRange] = []
        var offsets: [Int64] = []
        let deadline = ContinuousClock.now + .seconds(30)
        while offsets.count < 963, ContinuousClock.now < deadline {
            let batch = try await consumer.poll(maxRecords: 100, timeout: .milliseconds(200))
            offsets += batch.map(\.offset)
            if let range = batch.ranges[TopicPartition(topic, 0)] { ranges.append(range) }
            XCTAssertEqual(batch.ranges.isEmpty, batch.isEmpty)
        }
        try await consumer.close()
        XCTAssertEqual(offsets, Array(37..<1_000))
        XCTAssertEqual(ranges.first?.from, 37)
        XCTAssertEqual(ranges.last?.next, 1_000)
        for (earlier, later) in zip(ranges, ranges.dropFirst()) { XCTAssertEqual(earlier.next, later.from) }
    }

    /// A seek makes the batches read before it stale and the next batch start exactly there.
    func testSeekRereadsFromThereAndMakesEarlierBatchesStale() async throws {
        let topic = KafkaTesting.uniqueTopic()
        let cluster = try cluster(topic: topic)
        try await publish(cluster, topic, count: 300)
        let partition = TopicPartition(topic, 0)
        let consumer = try Consumer(config: KafkaTesting.consumerConfig(cluster, group: "g-\(topic)"),
                                    hooks: RebalanceHooks(startingOffsets: { Dictionary(uniqueKeysWithValues: $0.map { ($0, 0) }) }))
        try await consumer.subscribe([topic])
        var first = ConsumerBatch.empty
        let deadline = ContinuousClock.now + .seconds(30)
        while first.isEmpty, ContinuousClock.now < deadline { first = try await consumer.poll(maxRecords: 100, timeout: .milliseconds(200)) }
        XCTAssertEqual(first.ranges[partition]?.from, 0)
        XCTAssertTrue(consumer.stalePartitions(first.ranges).isEmpty)

        try await consumer.rewind(first)
        XCTAssertEqual(consumer.stalePartitions(first.ranges), [partition])
        var again = ConsumerBatch.empty
        while again.isEmpty, ContinuousClock.now < deadline { again = try await consumer.poll(maxRecords: 100, timeout: .milliseconds(200)) }
        XCTAssertEqual(again.ranges[partition]?.from, 0, "after the rewind the batch starts where the first one did")
        XCTAssertEqual(again.first?.offset, 0)
        try await consumer.seek([partition: 250])
        var later = ConsumerBatch.empty
        while later.isEmpty, ContinuousClock.now < deadline { later = try await consumer.poll(maxRecords: 100, timeout: .milliseconds(200)) }
        XCTAssertEqual(later.ranges[partition]?.from, 250)
        XCTAssertEqual(later.first?.offset, 250)
        try await consumer.close()
    }

    /// With `auto.offset.reset=error`, a position whose records expired is reported, not skipped;
    /// the partition reads nothing until it is sought to a kept offset.
    func testExpiredPositionIsReportedAndNotSkipped() async throws {
        let topic = KafkaTesting.uniqueTopic()
        let cluster = try cluster(topic: topic)
        // The embedded cluster keeps about 5 MB per partition: 7 MB pushes the oldest records out.
        try await publish(cluster, topic, count: 70, valueBytes: 100 * 1024)
        let partition = TopicPartition(topic, 0)
        var config = KafkaTesting.consumerConfig(cluster, group: "g-\(topic)")
        config.autoOffsetReset = .error
        let start = Mutex<Int64>(0)   // the caller's stored position
        let consumer = try Consumer(config: config, hooks: RebalanceHooks(startingOffsets: { partitions in
            let offset = start.withLock { $0 }
            return Dictionary(uniqueKeysWithValues: partitions.map { ($0, offset) })
        }))
        try await consumer.subscribe([topic])
        let low = try await consumer.watermarks(partition).low
        XCTAssertGreaterThan(low, 0, "the cluster kept every record; the test needs some to expire")
        var reported: Int64?
        let deadline = ContinuousClock.now + .seconds(30)
        while reported == nil, ContinuousClock.now < deadline {
            let batch = try await consumer.poll(maxRecords: 100, timeout: .milliseconds(200))
            XCTAssertTrue(batch.isEmpty, "records were read from an expired position: \(batch.map(\.offset))")
            reported = batch.outOfRange[partition]
        }
        XCTAssertEqual(reported, 0)
        // Nothing comes until the caller decides.
        let idle = try await consumer.poll(maxRecords: 100, timeout: .seconds(1))
        XCTAssertTrue(idle.isEmpty)

        // A stopped partition cannot be sought; once the caller moved its position, a rejoin reads it.
        do {
            try await consumer.seek([partition: low])
            XCTFail("a partition stopped out of range was sought")
        } catch KafkaError.operation(_, let code, _) {
            XCTAssertEqual(code, KafkaErrorCode(RD_KAFKA_RESP_ERR__STATE))
        }
        start.withLock { $0 = low }
        try await consumer.rejoin()
        var resumed = ConsumerBatch.empty
        while resumed.isEmpty, ContinuousClock.now < deadline { resumed = try await consumer.poll(maxRecords: 100, timeout: .milliseconds(200)) }
        XCTAssertEqual(resumed.ranges[partition]?.from, low)
        XCTAssertEqual(resumed.first?.offset, low)
        try await consumer.close()
    }
}
