import HSSKTesting
import XCTest
@testable import Kafka

/// Reading a topic from known positions without joining a group (`assign`, `watermarks`), as the
/// dead-letter tools do.
final class AssignedReadingTests: XCTestCase {
    func testWatermarksAndAssignedReadingFromAnOffset() async throws {
        let cluster = try EmbeddedCluster(brokers: 1)
        let topic = KafkaTesting.uniqueTopic()
        try cluster.createTopic(topic, partitions: 3, replicationFactor: 1)
        let producer = try Producer(config: KafkaTesting.producerConfig(cluster))
        let first = try await producer.sendAll((0..<10).map {
            ProducerRecord(topic: topic, partition: 0, key: Array("k\($0)".utf8), value: Array("p0/\($0)".utf8), headers: [KafkaHeader("n", "\($0)")])
        })
        let second = try await producer.sendAll((0..<3).map { ProducerRecord(topic: topic, partition: 1, key: nil, value: Array("p1/\($0)".utf8)) })
        XCTAssertTrue(first.allDelivered && second.allDelivered)
        try await producer.close()

        let group = "reader-\(topic)"
        let consumer = try Consumer(config: KafkaTesting.consumerConfig(cluster, group: group))
        let p0 = TopicPartition(topic, 0), p1 = TopicPartition(topic, 1), p2 = TopicPartition(topic, 2)
        let w0 = try await consumer.watermarks(p0)
        let w1 = try await consumer.watermarks(p1)
        let w2 = try await consumer.watermarks(p2)
        XCTAssertEqual([w0.low, w0.high, w1.low, w1.high, w2.low, w2.high], [0, 10, 0, 3, 0, 0])

        try await consumer.assign([p0: 4])
        XCTAssertEqual(consumer.assignment, [p0])
        let tail = try await KafkaTesting.consume(consumer, count: 6, timeout: .seconds(20))
        XCTAssertEqual(tail.map(\.offset), Array(4..<10), "from the assigned offset, in order")
        XCTAssertEqual(tail.map { String(decoding: $0.value ?? [], as: UTF8.self) }, (4..<10).map { "p0/\($0)" })
        XCTAssertEqual(tail.first?.headers.text("n"), "4")
        XCTAssertEqual(tail.first?.key, Array("k4".utf8))

        // A new assignment replaces the old one: only partition 1 is read from here on.
        try await consumer.assign([p1: 0])
        XCTAssertEqual(consumer.assignment, [p1])
        let other = try await KafkaTesting.consume(consumer, count: 3, timeout: .seconds(20))
        XCTAssertEqual(other.map(\.partition), [1, 1, 1])
        XCTAssertEqual(other.map(\.offset), [0, 1, 2])
        let more = try await consumer.poll(maxRecords: 100, timeout: .milliseconds(500))
        XCTAssertTrue(more.isEmpty, "nothing beyond the high watermark, nothing from the old assignment")

        // Reading by assignment neither joins the group nor commits anything for it.
        let committed = try await consumer.committed([p0, p1])
        XCTAssertEqual(committed, [:])
        try await consumer.assign([:])
        XCTAssertEqual(consumer.assignment, [])
        try await consumer.close()
    }

    func testWatermarksOfAMissingPartitionIsATypedError() async throws {
        let cluster = try EmbeddedCluster(brokers: 1)
        let topic = KafkaTesting.uniqueTopic()
        try cluster.createTopic(topic, partitions: 1, replicationFactor: 1)
        let consumer = try Consumer(config: KafkaTesting.consumerConfig(cluster, group: "reader-\(topic)"))
        do {
            let found = try await consumer.watermarks(TopicPartition(topic, 7), timeout: .seconds(3))
            XCTFail("watermarks of a missing partition must fail, got \(found)")
        } catch KafkaError.operation(let operation, _, let detail) {
            XCTAssertEqual(operation, "watermarks")
            XCTAssertTrue(detail.contains("\(topic)[7]"), detail)
        }
        try await consumer.close()
    }
}
