import HSSKTesting
import XCTest
@testable import Kafka

final class FaultInjectionTests: XCTestCase {
    /// A broker goes down while records are being produced, and Produce requests fail with retriable
    /// errors: every acknowledged record is consumed exactly once (the idempotent producer's retries
    /// leave no duplicates) and in order per partition.
    func testAcknowledgedRecordsSurviveBrokerOutageAndRequestErrorsExactlyOnce() async throws {
        let cluster = try EmbeddedCluster(brokers: 3)
        let topic = KafkaTesting.uniqueTopic()
        try cluster.createTopic(topic, partitions: 3, replicationFactor: 3)
        for partition in Int32(0)..<3 { try cluster.setPartitionLeader(topic, partition, broker: partition + 1) }
        let producer = try Producer(config: KafkaTesting.producerConfig(cluster))

        // Retriable errors on Produce: librdkafka retries the same batch with the same sequence numbers.
        cluster.pushRequestErrors(.produce, [.notEnoughReplicas, .requestTimedOut, .notEnoughReplicas, .leaderNotAvailable])
        let outage = Task {
            try await Task.sleep(for: .milliseconds(300))
            try cluster.setBrokerDown(2)
            try await Task.sleep(for: .seconds(2))
            try cluster.setBrokerUp(2)
        }
        var delivered = 0
        for batch in 0..<10 {
            let result = try await producer.sendAll((0..<500).map {
                let seq = batch * 500 + $0
                return ProducerRecord(topic: topic, key: Array("k\(seq % 30)".utf8), value: [], headers: [KafkaHeader("seq", String(seq))])
            })
            XCTAssertTrue(result.allDelivered, "failures: \(result.failures.prefix(3))")
            delivered += result.delivered
            try await Task.sleep(for: .milliseconds(100))
        }
        try await outage.value
        XCTAssertEqual(delivered, 5_000)
        XCTAssertNil(producer.fatalError)
        try await producer.close()

        let consumer = try Consumer(config: KafkaTesting.consumerConfig(cluster, group: "g-\(topic)"))
        try await consumer.subscribe([topic])
        var records = try await KafkaTesting.consume(consumer, count: 5_000)
        records += try await consumer.poll(maxRecords: 1_000, timeout: .seconds(1))  // any duplicate would show here
        try await consumer.close()
        let sequences = records.compactMap { $0.headers.text("seq").flatMap(Int.init) }
        XCTAssertEqual(sequences.count, 5_000, "duplicates: \(sequences.count - Set(sequences).count)")
        XCTAssertEqual(Set(sequences), Set(0..<5_000))
        for partition in Int32(0)..<3 {
            let mine = records.filter { $0.partition == partition }
            XCTAssertEqual(mine.map(\.offset), Array(0..<Int64(mine.count)), "partition \(partition) has gaps or repeats")
            let bySequence = mine.compactMap { $0.headers.text("seq").flatMap(Int.init) }
            XCTAssertEqual(bySequence, bySequence.sorted(), "partition \(partition) out of order")
        }
    }

    /// A consumer keeps going through a broker outage and request errors on Fetch.
    func testConsumerRidesOutBrokerOutage() async throws {
        let cluster = try EmbeddedCluster(brokers: 2)
        let topic = KafkaTesting.uniqueTopic()
        try cluster.createTopic(topic, partitions: 2, replicationFactor: 2)
        try cluster.setPartitionLeader(topic, 0, broker: 1)
        try cluster.setPartitionLeader(topic, 1, broker: 2)
        let producer = try Producer(config: KafkaTesting.producerConfig(cluster))
        _ = try await producer.sendAll(KafkaTesting.records(topic: topic, count: 1_000, keys: 10))

        let ledger = OffsetLedger()
        let consumer = try Consumer(config: KafkaTesting.consumerConfig(cluster, group: "g-\(topic)"),
                                    hooks: RebalanceHooks(startingOffsets: { ledger.offsets(for: $0) }))
        try await consumer.subscribe([topic])
        _ = try await KafkaTesting.pump([consumer], into: ledger) { !ledger.processed.isEmpty }
        cluster.pushRequestErrors(.fetch, [.notLeaderForPartition, .requestTimedOut])
        try cluster.setBrokerDown(2)
        _ = try await producer.sendAll((1_000..<2_000).map {
            ProducerRecord(topic: topic, partition: 0, key: nil, value: [], headers: [KafkaHeader("seq", String($0))])
        })
        try await Task.sleep(for: .seconds(1))
        try cluster.setBrokerUp(2)
        let done = try await KafkaTesting.pump([consumer], into: ledger) { Set(ledger.processed).count >= 2_000 }
        try await consumer.close()
        try await producer.close()
        XCTAssertTrue(done)
        XCTAssertEqual(ledger.processed.count, 2_000)
    }
}
