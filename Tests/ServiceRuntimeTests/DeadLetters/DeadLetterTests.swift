import Foundation
import HSSKTesting
import HealthModel
import Kafka
@testable import ServiceRuntime
import XCTest

/// Dead letters produced onto a `.dlq` topic of the embedded cluster, then listed, filtered and
/// replayed; the source topic is read back to check what arrived.
final class DeadLetterTests: XCTestCase {
    var cluster: EmbeddedCluster!
    var source: String!
    var dlq: DeadLetterTopic!

    override func setUp() async throws {
        cluster = try EmbeddedCluster(brokers: 1)
        source = KafkaTesting.uniqueTopic("visits")
        dlq = try DeadLetterTopic(source)
        try cluster.createTopic(source, partitions: 3, replicationFactor: 1)
        try cluster.createTopic(dlq.name, partitions: 2, replicationFactor: 1)
    }

    override func tearDown() async throws {
        cluster?.shutdown()
    }

    /// Headers as the sender sent them.
    func original(_ id: String) -> [KafkaHeader] {
        [KafkaHeader("ce_specversion", "1.0"), KafkaHeader("ce_id", id), KafkaHeader("ce_source", "01001_lt_bnv"),
         KafkaHeader("hssk-signature", String(repeating: "ab", count: 32))]
    }

    /// The six dead-letter headers, with `sourceTopic` nil to leave that header out.
    func deadLetterHeaders(code: String, sourceTopic: String?, partition: Int32, offset: Int64) -> [KafkaHeader] {
        let issue = ValidationIssue(path: "patient.personalId", code: code, severity: .error,
                                    message: BilingualMessage(en: "Century digit does not match the birth year.", vi: "Chữ số thế kỷ không khớp năm sinh."))
        var headers = [KafkaHeader(DeadLetterHeaders.errorCode, code), KafkaHeader(DeadLetterHeaders.errorDetail, DeadLetterDetail.headerValue(for: [issue]))]
        if let sourceTopic { headers.append(KafkaHeader(DeadLetterHeaders.sourceTopic, sourceTopic)) }
        headers += [KafkaHeader(DeadLetterHeaders.sourcePartition, String(partition)), KafkaHeader(DeadLetterHeaders.sourceOffset, String(offset)),
                    KafkaHeader(DeadLetterHeaders.failedAt, "2025-05-10T08:15:00Z")]
        return headers
    }

    /// Five letters: p0 = [A valid, B valid]; p1 = [C aimed at another topic, D without source topic, E an earlier replay].
    func produceLetters() async throws {
        let producer = try Producer(config: KafkaTesting.producerConfig(cluster))
        func letter(_ partition: Int32, _ id: String, code: String, sourceTopic: String?, sourcePartition: Int32, extra: [KafkaHeader] = []) -> ProducerRecord {
            ProducerRecord(topic: dlq.name, partition: partition, key: Array("01001:\(id)".utf8), value: Array(#"{"episodeKey":"\#(id)"}"#.utf8),
                           headers: original(id) + extra + deadLetterHeaders(code: code, sourceTopic: sourceTopic, partition: sourcePartition, offset: 40))
        }
        let result = try await producer.sendAll([
            letter(0, "LK-A", code: "signature.invalid", sourceTopic: source, sourcePartition: 2),
            letter(0, "LK-B", code: "personalId.centuryDigitMismatch", sourceTopic: source, sourcePartition: 1),
            letter(1, "LK-C", code: "signature.invalid", sourceTopic: "hssk.citizen-feed.v1", sourcePartition: 0),
            letter(1, "LK-D", code: "signature.invalid", sourceTopic: nil, sourcePartition: 0),
            letter(1, "LK-E", code: "account.locked", sourceTopic: source, sourcePartition: 0,
                   extra: [KafkaHeader(DeadLetterReplayer.replayOfHeader, "\(dlq.name)/0/99")]),
        ])
        XCTAssertTrue(result.allDelivered)
        try await producer.close()
    }

    func reader() throws -> DeadLetterReader {
        var client = KafkaClientConfig(bootstrapServers: cluster.bootstrapServers)
        client.logLevel = 3
        return try DeadLetterReader(client: client)
    }

    func testTopicNamesEitherWay() throws {
        XCTAssertEqual(try DeadLetterTopic("hssk.visits.v1").name, "hssk.visits.v1.dlq")
        XCTAssertEqual(try DeadLetterTopic("hssk.visits.v1.dlq").name, "hssk.visits.v1.dlq")
        XCTAssertEqual(try DeadLetterTopic("hssk.visits.v1.dlq").sourceTopic, "hssk.visits.v1")
        XCTAssertThrowsError(try DeadLetterTopic(".dlq"))
        XCTAssertThrowsError(try DeadLetterTopic(""))
        XCTAssertThrowsError(try DeadLetterTopic("hssk visits"))
    }

    func testReaderListsEveryLetterInOrderAndFilters() async throws {
        try await produceLetters()
        let reader = try reader()
        let all = try await reader.readAll(dlq)
        XCTAssertEqual(all.map(\.position), ["0/0", "0/1", "1/0", "1/1", "1/2"])
        XCTAssertEqual(all.map(\.keyText), ["01001:LK-A", "01001:LK-B", "01001:LK-C", "01001:LK-D", "01001:LK-E"])
        let a = all[0]
        XCTAssertEqual(a.errorCode, "signature.invalid")
        XCTAssertEqual(a.sourceTopic, source)
        XCTAssertEqual(a.sourcePartition, 2)
        XCTAssertEqual(a.sourceOffset, 40)
        XCTAssertEqual(a.failedAt, "2025-05-10T08:15:00Z")
        XCTAssertEqual(a.details?.first?.field, "patient.personalId")
        XCTAssertEqual(a.details?.first?.message.vi, "Chữ số thế kỷ không khớp năm sinh.")
        XCTAssertEqual(a.originalHeaders, original("LK-A"), "the original headers, without the six dead-letter headers")

        let signatures = try await reader.readAll(dlq, filter: DeadLetterFilter(code: "signature.invalid"))
        XCTAssertEqual(signatures.map(\.position), ["0/0", "1/0", "1/1"])
        let one = try await reader.readAll(dlq, filter: DeadLetterFilter(partition: 1, offset: 1))
        XCTAssertEqual(one.map(\.keyText), ["01001:LK-D"])
        let beyond = try await reader.readAll(dlq, filter: DeadLetterFilter(partition: 0, offset: 2))
        XCTAssertEqual(beyond, [])
        var batches = 0
        let counted = try await reader.read(dlq, filter: DeadLetterFilter(partition: 0)) { _ in batches += 1 }
        XCTAssertEqual(counted, 2)
        XCTAssertGreaterThan(batches, 0)

        do {
            _ = try await reader.readAll(dlq, filter: DeadLetterFilter(partition: 5))
            XCTFail("partition 5 does not exist")
        } catch DeadLetterError.noSuchPartition(_, 5, partitions: 2) {}
        do {
            _ = try await reader.readAll(try DeadLetterTopic("no.such.topic"))
            XCTFail("the topic does not exist")
        } catch DeadLetterError.topicNotFound("no.such.topic.dlq") {}
        try await reader.close()
    }

    func testReplayProducesOriginalsToTheSourceTopicOnly() async throws {
        try await produceLetters()
        let reader = try reader()
        let letters = try await reader.readAll(dlq)
        try await reader.close()

        let dry = try await DeadLetterReplayer(producer: nil).replay(letters)
        XCTAssertEqual(dry[0], .wouldReplay(topic: source, partition: 2))
        guard case .refused(let mismatch) = dry[2], case .refused(let missing) = dry[3] else { return XCTFail("\(dry)") }
        XCTAssertEqual(mismatch.code, "replay.sourceTopicMismatch", "a dead letter cannot be aimed at another topic")
        XCTAssertEqual(missing.code, "replay.sourceTopicMissing")
        let consumer = try Consumer(config: KafkaTesting.consumerConfig(cluster, group: "check-\(source!)"))
        let partitions = (0..<Int32(3)).map { TopicPartition(source, $0) }
        var highs: [Int64] = []
        for tp in partitions { highs.append(try await consumer.watermarks(tp).high) }
        XCTAssertEqual(highs, [0, 0, 0], "a dry run sends nothing")

        let producer = try Producer(config: KafkaTesting.producerConfig(cluster))
        let outcomes = try await DeadLetterReplayer(producer: producer).replay(letters)
        try await producer.close()
        let delivered = outcomes.compactMap { outcome -> DeliveryReport? in
            if case .replayed(let report) = outcome { return report } else { return nil }
        }
        XCTAssertEqual(delivered.map(\.topic), [source, source, source])
        XCTAssertEqual(delivered.map(\.partition), [2, 1, 0], "each goes back to its source partition")

        try await consumer.assign(Dictionary(uniqueKeysWithValues: partitions.map { ($0, Int64(0)) }))
        let arrived = try await KafkaTesting.consume(consumer, count: 3, timeout: .seconds(20))
        let extra = try await consumer.poll(maxRecords: 10, timeout: .milliseconds(500))
        try await consumer.close()
        XCTAssertEqual(arrived.count + extra.count, 3, "refused letters were not produced anywhere")
        let byKey = Dictionary(uniqueKeysWithValues: arrived.map { (String(decoding: $0.key ?? [], as: UTF8.self), $0) })
        for (letter, id) in [(letters[0], "LK-A"), (letters[1], "LK-B"), (letters[4], "LK-E")] {
            let record = try XCTUnwrap(byKey["01001:\(id)"])
            XCTAssertEqual(record.value, letter.value)
            XCTAssertEqual(record.partition, letter.sourcePartition)
            XCTAssertEqual(record.headers, original(id) + [KafkaHeader(DeadLetterReplayer.replayOfHeader, "\(dlq.name)/\(letter.partition)/\(letter.offset)")],
                           "original headers in order, one replay-of naming this letter, no dead-letter headers")
        }
    }
}
