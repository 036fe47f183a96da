import HSSKTesting
import XCTest
@testable import Kafka

final class ConsumerGroupTests: XCTestCase {
    /// Two members split the partitions; when one leaves, the other takes all of them. With offsets kept
    /// in the caller's ledger and applied with each batch, every record is processed exactly once.
    func testRebalanceLosesNothingAndDeliversNothingTwice() async throws {
        let cluster = try EmbeddedCluster(brokers: 3)
        let topic = KafkaTesting.uniqueTopic()
        try cluster.createTopic(topic, partitions: 6, replicationFactor: 3)
        let producer = try Producer(config: KafkaTesting.producerConfig(cluster))
        _ = try await producer.sendAll(KafkaTesting.records(topic: topic, count: 3_000, keys: 50))

        let ledger = OffsetLedger()
        let hooks = RebalanceHooks(startingOffsets: { ledger.offsets(for: $0) })
        let group = "g-\(topic)"
        let first = try Consumer(config: KafkaTesting.consumerConfig(cluster, group: group), hooks: hooks)
        let second = try Consumer(config: KafkaTesting.consumerConfig(cluster, group: group), hooks: hooks)
        try await first.subscribe([topic])
        try await second.subscribe([topic])

        let split = try await KafkaTesting.pump([first, second], into: ledger) {
            !first.assignment.isEmpty && !second.assignment.isEmpty && first.assignment.count + second.assignment.count == 6
        }
        XCTAssertTrue(split, "the two members never shared the partitions: \(first.assignment) / \(second.assignment)")
        XCTAssertTrue(first.assignment.isDisjoint(with: second.assignment))

        // More records arrive while both members work, then one member leaves mid-stream.
        _ = try await producer.sendAll((3_000..<6_000).map {
            ProducerRecord(topic: topic, key: Array("key-\($0 % 50)".utf8), value: [], headers: [KafkaHeader("seq", String($0))])
        })
        _ = try await KafkaTesting.pump([first, second], into: ledger) { ledger.processed.count >= 4_000 }
        try await second.close()

        let tookOver = try await KafkaTesting.pump([first], into: ledger) { first.assignment.count == 6 }
        XCTAssertTrue(tookOver, "the remaining member holds \(first.assignment.count) of 6 partitions")
        _ = try await producer.sendAll((6_000..<7_000).map {
            ProducerRecord(topic: topic, key: Array("key-\($0 % 50)".utf8), value: [], headers: [KafkaHeader("seq", String($0))])
        })
        let all = try await KafkaTesting.pump([first], into: ledger) { Set(ledger.processed).count >= 7_000 }
        XCTAssertTrue(all, "only \(Set(ledger.processed).count) of 7000 records were processed")
        // Records still in flight to the application would show up here as duplicates.
        _ = try await first.poll(maxRecords: 1_000, timeout: .seconds(1))
        try await first.close()
        try await producer.close()

        let processed = ledger.processed
        XCTAssertEqual(processed.count, 7_000, "duplicates: \(processed.count - Set(processed).count)")
        XCTAssertEqual(Set(processed), Set((0..<7_000).map(String.init)))
    }
}
