import HSSKTesting
import Synchronization
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

    /// A partition taken away and given back while one poll waits (another member joins, then leaves):
    /// the records that arrive after it came back belong to the batch. Dropping them while the
    /// consumer's position moved past them lost them for good (issue #16).
    func testRecordsAfterReassignmentWithinOnePollAreKept() async throws {
        let cluster = try EmbeddedCluster(brokers: 1)
        let topic = KafkaTesting.uniqueTopic()
        try cluster.createTopic(topic, partitions: 2, replicationFactor: 1)
        let producer = try Producer(config: KafkaTesting.producerConfig(cluster))
        func publish(_ range: Range<Int>, to partition: Int32) async throws {
            _ = try await producer.sendAll(range.map {
                ProducerRecord(topic: topic, partition: partition, key: Array("k".utf8), value: [], headers: [KafkaHeader("seq", "\(partition)/\($0)")])
            })
        }
        try await publish(0..<100, to: 0)
        try await publish(0..<100, to: 1)

        let ledger = OffsetLedger()
        let events = EventLog()
        let group = "g-\(topic)"
        let first = try Consumer(config: KafkaTesting.consumerConfig(cluster, group: group), hooks: RebalanceHooks(
            startingOffsets: { partitions in
                events.append(partitions.map { "assigned \($0.partition)" })
                return ledger.offsets(for: partitions)
            },
            revoked: { partitions in events.append(partitions.map { "revoked \($0.partition)" }) }))
        try await first.subscribe([topic])
        let caughtUp = try await KafkaTesting.pump([first], into: ledger) { ledger.processed.count == 200 }
        XCTAssertTrue(caughtUp)

        // One long poll: a second member joins (one partition is revoked from the first), then leaves
        // (it comes back), then records arrive on it — all inside this single poll.
        let longPoll = Task { try await first.poll(maxRecords: 1_000, timeout: .seconds(30)) }
        let second = try Consumer(config: KafkaTesting.consumerConfig(cluster, group: group),
                                  hooks: RebalanceHooks(startingOffsets: { ledger.offsets(for: $0) }))
        try await second.subscribe([topic])
        let deadline = ContinuousClock.now + .seconds(30)
        while second.assignment.isEmpty, ContinuousClock.now < deadline {
            let polled = try await second.poll(maxRecords: 10, timeout: .milliseconds(100))
            XCTAssertTrue(polled.isEmpty, "nothing was published while the second member held a partition")
        }
        XCTAssertEqual(second.assignment.count, 1, "the second member was never given a partition")
        let moved = try XCTUnwrap(second.assignment.first).partition
        try await second.close()
        while !events.entries.contains("assigned \(moved)") || events.entries.filter({ $0 == "assigned \(moved)" }).count < 2,
              ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        XCTAssertEqual(events.entries.filter { $0 == "assigned \(moved)" }.count, 2, "events: \(events.entries)")
        try await publish(100..<150, to: moved)
        ledger.apply(try await longPoll.value)

        try await publish(150..<200, to: moved)
        let all = try await KafkaTesting.pump([first], into: ledger, timeout: .seconds(30)) { ledger.processed.count >= 300 }
        try await first.close()
        try await producer.close()
        XCTAssertTrue(all, "processed \(ledger.processed.count) of 300; missing: \(Set((100..<200).map { "\(moved)/\($0)" }).subtracting(ledger.processed).count) of partition \(moved)'s new records")
        XCTAssertEqual(ledger.processed.count, Set(ledger.processed).count, "a record was processed twice")
    }
}

extension ConsumerGroupTests {
    /// A partition paused by its owner, taken away and given back: it is read again (librdkafka kept
    /// the pause across the re-assignment, and the partition was never read again).
    func testAPartitionPausedThenRevokedIsReadWhenGivenBack() async throws {
        let cluster = try EmbeddedCluster(brokers: 1)
        let topic = KafkaTesting.uniqueTopic()
        try cluster.createTopic(topic, partitions: 2, replicationFactor: 1)
        let producer = try Producer(config: KafkaTesting.producerConfig(cluster))
        let ledger = OffsetLedger()
        let group = "g-\(topic)"
        let first = try Consumer(config: KafkaTesting.consumerConfig(cluster, group: group),
                                 hooks: RebalanceHooks(startingOffsets: { ledger.offsets(for: $0) }))
        try await first.subscribe([topic])
        let assigned = try await KafkaTesting.pump([first], into: ledger) { first.assignment.count == 2 }
        XCTAssertTrue(assigned)
        try await first.pause(Array(first.assignment))

        // A second member takes one partition and gives it back.
        let second = try Consumer(config: KafkaTesting.consumerConfig(cluster, group: group),
                                  hooks: RebalanceHooks(startingOffsets: { ledger.offsets(for: $0) }))
        try await second.subscribe([topic])
        let split = try await KafkaTesting.pump([first, second], into: ledger) { second.assignment.count == 1 }
        XCTAssertTrue(split)
        let moved = try XCTUnwrap(second.assignment.first)
        try await second.close()
        let back = try await KafkaTesting.pump([first], into: ledger) { first.assignment.count == 2 }
        XCTAssertTrue(back)

        _ = try await producer.sendAll((0..<20).map {
            ProducerRecord(topic: topic, partition: moved.partition, key: Array("k".utf8), value: [], headers: [KafkaHeader("seq", String($0))])
        })
        let read = try await KafkaTesting.pump([first], into: ledger, timeout: .seconds(20)) { ledger.processed.count == 20 }
        XCTAssertTrue(read, "the partition given back stayed paused: \(ledger.processed.count) of 20 read")
        try await first.close()
        try await producer.close()
    }
}

/// Rebalance events seen by a test's hooks, in order.
private final class EventLog: Sendable {
    private let state = Mutex<[String]>([])
    func append(_ entries: [String]) { state.withLock { $0 += entries } }
    var entries: [String] { state.withLock { $0 } }
}
