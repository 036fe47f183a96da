import HSSKTesting
import XCTest
@testable import Kafka

final class ProducerConsumerTests: XCTestCase {
    func testRoundTripKeepsKeysHeadersAndPerKeyOrder() async throws {
        let cluster = try EmbeddedCluster(brokers: 3)
        let topic = KafkaTesting.uniqueTopic()
        try cluster.createTopic(topic, partitions: 4, replicationFactor: 3)
        let producer = try Producer(config: KafkaTesting.producerConfig(cluster))

        let single = try await producer.send(ProducerRecord(topic: topic, key: Array("01001:LK-1".utf8), value: Array("{\"a\":1}".utf8),
                                                            headers: [KafkaHeader("ce_type", "vn.hssk.visit.v1"), KafkaHeader(key: "empty", value: nil)]))
        XCTAssertEqual(single.topic, topic)
        XCTAssertEqual(single.offset, 0)
        let bulk = try await producer.sendAll(KafkaTesting.records(topic: topic, count: 2_000, keys: 17))
        XCTAssertEqual(bulk.delivered, 2_000)
        XCTAssertTrue(bulk.allDelivered)
        try await producer.close()

        let consumer = try Consumer(config: KafkaTesting.consumerConfig(cluster, group: "g-\(topic)"))
        try await consumer.subscribe([topic])
        let records = try await KafkaTesting.consume(consumer, count: 2_001)
        try await consumer.close()
        XCTAssertEqual(records.count, 2_001)

        let first = try XCTUnwrap(records.first { $0.key == Array("01001:LK-1".utf8) })
        XCTAssertEqual(first.value, Array("{\"a\":1}".utf8))
        XCTAssertEqual(first.headers.text("ce_type"), "vn.hssk.visit.v1")
        XCTAssertEqual(first.headerText("ce_type"), "vn.hssk.visit.v1")
        XCTAssertNil(first.headerText("ce_typ"))
        XCTAssertEqual(first.valueCount, 7)
        XCTAssertEqual(first.withValueBytes { Array($0) }, Array("{\"a\":1}".utf8))
        XCTAssertEqual(first.headers.first { $0.key == "empty" }, KafkaHeader(key: "empty", value: nil))
        XCTAssertEqual(first.partition, single.partition)
        XCTAssertNotNil(first.timestampMs)

        // Per key: one partition, and the sequence numbers arrive in the order they were sent.
        var sequences: [String: [Int]] = [:]
        var partitions: [String: Set<Int32>] = [:]
        for record in records where record.headers.text("seq") != nil {
            let parts = String(decoding: try XCTUnwrap(record.value), as: UTF8.self).split(separator: "/")
            sequences[String(parts[0]), default: []].append(try XCTUnwrap(Int(parts[1])))
            partitions[String(parts[0]), default: []].insert(record.partition)
        }
        XCTAssertEqual(sequences.count, 17)
        for (key, sequence) in sequences {
            XCTAssertEqual(sequence, Array(0..<sequence.count), "order of \(key)")
            XCTAssertEqual(partitions[key]?.count, 1, "partitions of \(key)")
        }
    }

    func testSendToUnknownPartitionFailsWithTypedError() async throws {
        let cluster = try EmbeddedCluster(brokers: 1)
        let topic = KafkaTesting.uniqueTopic()
        try cluster.createTopic(topic, partitions: 1, replicationFactor: 1)
        var config = KafkaTesting.producerConfig(cluster)
        config.messageTimeoutMs = 2_000
        let producer = try Producer(config: config)
        do {
            _ = try await producer.send(ProducerRecord(topic: topic, partition: 7, key: nil, value: Array("x".utf8)))
            XCTFail("a record for a partition that does not exist was acknowledged")
        } catch let KafkaError.delivery(code, failedTopic, partition) {
            XCTAssertEqual(failedTopic, topic)
            XCTAssertEqual(partition, 7)
            XCTAssertEqual(code, .unknownPartition)
        }
        XCTAssertNil(producer.fatalError)
        try await producer.close()
        do {
            _ = try await producer.send(ProducerRecord(topic: topic, key: nil, value: []))
            XCTFail("send after close succeeded")
        } catch let error as KafkaError {
            XCTAssertEqual(error, .closed)
        }
    }

    func testConsumerStartsExactlyAtCallerSuppliedOffsets() async throws {
        let cluster = try EmbeddedCluster(brokers: 1)
        let topic = KafkaTesting.uniqueTopic()
        try cluster.createTopic(topic, partitions: 2, replicationFactor: 1)
        let producer = try Producer(config: KafkaTesting.producerConfig(cluster))
        let records = (0..<40).map { ProducerRecord(topic: topic, partition: Int32($0 % 2), key: nil, value: Array(String($0).utf8)) }
        _ = try await producer.sendAll(records)
        try await producer.close()

        let start: [TopicPartition: Int64] = [TopicPartition(topic, 0): 13]  // partition 1: from the beginning
        let consumer = try Consumer(config: KafkaTesting.consumerConfig(cluster, group: "g-\(topic)"),
                                    hooks: RebalanceHooks(startingOffsets: { partitions in start.filter { partitions.contains($0.key) } }))
        try await consumer.subscribe([topic])
        let consumed = try await KafkaTesting.consume(consumer, count: 27)
        XCTAssertEqual(consumed.count, 27)
        let offsets0 = consumed.filter { $0.partition == 0 }.map(\.offset)
        XCTAssertEqual(offsets0, Array(13..<20))
        XCTAssertEqual(consumed.filter { $0.partition == 1 }.map(\.offset), Array(0..<20))

        // Commits are visible to the group (lag monitoring) but never position hssk's consumers.
        try await consumer.commit([TopicPartition(topic, 0): 20])
        let committed = try await consumer.committed([TopicPartition(topic, 0), TopicPartition(topic, 1)])
        XCTAssertEqual(committed, [TopicPartition(topic, 0): 20])
        try await consumer.close()
    }

    func testPauseStopsDeliveryUntilResume() async throws {
        let cluster = try EmbeddedCluster(brokers: 1)
        let topic = KafkaTesting.uniqueTopic()
        try cluster.createTopic(topic, partitions: 1, replicationFactor: 1)
        let producer = try Producer(config: KafkaTesting.producerConfig(cluster))
        let consumer = try Consumer(config: KafkaTesting.consumerConfig(cluster, group: "g-\(topic)"))
        try await consumer.subscribe([topic])
        _ = try await producer.send(ProducerRecord(topic: topic, key: nil, value: Array("before".utf8)))
        let before = try await KafkaTesting.consume(consumer, count: 1)
        XCTAssertEqual(before.count, 1)

        let partition = TopicPartition(topic, 0)
        try await consumer.pause([partition])
        _ = try await producer.send(ProducerRecord(topic: topic, key: nil, value: Array("while paused".utf8)))
        let whilePaused = try await KafkaTesting.consume(consumer, count: 1, timeout: .seconds(2))
        XCTAssertEqual(whilePaused.count, 0)
        try await consumer.resume([partition])
        let after = try await KafkaTesting.consume(consumer, count: 1)
        XCTAssertEqual(after.map(\.value), [Array("while paused".utf8)])
        try await consumer.close()
        try await producer.close()
    }
}
