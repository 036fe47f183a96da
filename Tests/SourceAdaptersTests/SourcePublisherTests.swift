import Foundation
import HSSKTesting
import HealthModel
import Kafka
@testable import ServiceRuntime
@testable import SourceAdapters
import XCTest

/// Publishes to the embedded cluster and reads the records back as ingest will.
final class SourcePublisherTests: XCTestCase {
    var key: SigningKey!
    var account: InteropAccountName!

    override func setUpWithError() throws {
        key = try SigningKey(text: "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")
        account = try InteropAccountName(parsing: "01001_lt_bnv")
    }

    func episodes(_ name: String) throws -> [XML130Episode] {
        var out: [XML130Episode] = []
        try XML130Reader.read(file: XML130ReaderTests.fixtures.appendingPathComponent(name)) { out.append($0); return true }
        return out
    }

    func testSignatureSignsAndVerifiesInConstantTime() throws {
        let value = Array(#"{"a":1}"#.utf8)
        let signature = RecordSignature.sign(value: value, key: key)
        XCTAssertEqual(signature.count, 64)
        XCTAssertEqual(signature, signature.lowercased())
        XCTAssertTrue(RecordSignature.verify(value: value, signature: signature, key: key))
        XCTAssertTrue(RecordSignature.verify(value: value, signature: signature.uppercased(), key: key))
        XCTAssertFalse(RecordSignature.verify(value: value + [0x20], signature: signature, key: key))
        XCTAssertFalse(RecordSignature.verify(value: value, signature: String(signature.dropLast()), key: key))
        XCTAssertFalse(RecordSignature.verify(value: value, signature: "zz" + signature.dropFirst(2), key: key))
        let other = try SigningKey(text: Data(repeating: 7, count: 32).base64EncodedString())
        XCTAssertFalse(RecordSignature.verify(value: value, signature: signature, key: other))
        // RFC 4231 test case 2: key "Jefe".
        XCTAssertEqual(RecordSignature.hex(RecordSignature.tag(value: Array("what do ya want for nothing?".utf8), key: Array("Jefe".utf8))),
                       "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        XCTAssertThrowsError(try SigningKey(text: "abcd"))
        XCTAssertThrowsError(try SigningKey(text: "not a key!"))
        XCTAssertFalse(key.description.contains("0001"), "a key never prints its bytes")
    }

    func testDryRunValidatesAndRejectsWithoutAProducer() async throws {
        let publisher = SourcePublisher(account: account, key: key, producer: nil)
        let visit = try XCTUnwrap(try episodes("valid-4750.xml").first?.visit)
        var foreign = visit
        foreign.facilityCode = "01002"
        let garbage = Data("{not json".utf8)
        let results = try await publisher.publish([.visit(visit), .visit(foreign)])
        XCTAssertEqual(results[0].outcome, .validated)
        guard case .rejected(let issues) = results[1].outcome else { return XCTFail("\(results[1])") }
        XCTAssertEqual(issues.map(\.code), ["sender.facilityMismatch"])
        // Everything wrong at once: the record's own errors and the account's, in the record's path and as a JSON line.
        var both = foreign
        both.patient.birthDate = "1958-02-30"
        let bothResults = try await publisher.publish([.visit(both)])
        guard case .rejected(let bothIssues) = bothResults[0].outcome else { return XCTFail("\(bothResults[0])") }
        XCTAssertEqual(bothIssues.errors.map(\.code), ["date.invalid", "sender.facilityMismatch"])
        let bothLine = try await publisher.publish(jsonLines: [try RecordDecoder.encode(both)], kind: .visit)
        guard case .rejected(let bothLineIssues) = bothLine[0].outcome else { return XCTFail("\(bothLine[0])") }
        XCTAssertEqual(bothLineIssues.errors.map(\.code), ["date.invalid", "sender.facilityMismatch"])
        XCTAssertEqual(bothLine[0].key, both.kafkaKey)
        let lines = try await publisher.publish(jsonLines: [garbage], kind: .visit)
        guard case .rejected(let lineIssues) = lines[0].outcome else { return XCTFail("\(lines[0])") }
        XCTAssertEqual(lineIssues.first?.code, "json.malformed")
    }

    func testPublishedVisitCarriesKeyHeadersAndAVerifiableSignature() async throws {
        let cluster = try EmbeddedCluster(brokers: 1)
        defer { cluster.shutdown() }
        let topic = SourceTopics.defaults[.visit] ?? ""
        try cluster.createTopic(topic, partitions: 3, replicationFactor: 1)
        let producer = try Producer(config: KafkaTesting.producerConfig(cluster))
        let publisher = SourcePublisher(account: account, key: key, producer: producer)

        let all = try episodes("defects.xml") + episodes("valid-4750.xml")
        let visits = all.compactMap(\.visit)
        XCTAssertEqual(visits.count, 3, "two good episodes of defects.xml and the valid file")
        let results = try await publisher.publish(visits.map(SourceRecord.visit))
        for result in results {
            guard case .published = result.outcome else { return XCTFail("\(result)") }
        }
        try await producer.close()

        let consumer = try Consumer(config: KafkaTesting.consumerConfig(cluster, group: "publisher-test"))
        try await consumer.subscribe([topic])
        let records = try await KafkaTesting.consume(consumer, count: visits.count)
        try await consumer.close()
        XCTAssertEqual(records.count, visits.count)
        var ids: Set<String> = []
        for record in records {
            let keyText = String(decoding: record.key ?? [], as: UTF8.self)
            let expected = try XCTUnwrap(visits.first { $0.kafkaKey == keyText }, keyText)
            let value = try XCTUnwrap(record.value)
            XCTAssertEqual(record.headerText(EnvelopeHeaders.specVersion), "1.0")
            XCTAssertEqual(record.headerText(EnvelopeHeaders.source), "01001_lt_bnv")
            XCTAssertEqual(record.headerText(EnvelopeHeaders.type), "vn.hssk.visit.v1")
            XCTAssertEqual(record.headerText(EnvelopeHeaders.contentType), "application/json")
            let time = try XCTUnwrap(record.headerText(EnvelopeHeaders.time))
            XCTAssertNotNil(try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(time), time)
            XCTAssertTrue(time.hasSuffix("Z"))
            ids.insert(try XCTUnwrap(record.headerText(EnvelopeHeaders.id)))
            let signature = try XCTUnwrap(record.headerText(EnvelopeHeaders.signature))
            XCTAssertTrue(RecordSignature.verify(value: value, signature: signature, key: key))
            let decoded = RecordDecoder.decode(Data(value), as: VisitRecord.self)
            XCTAssertTrue(decoded.isAccepted, "\(decoded.issues)")
            XCTAssertEqual(decoded.record, expected)
            XCTAssertEqual(Array(try RecordDecoder.encode(expected)), value, "the value is the canonical JSON")
        }
        XCTAssertEqual(ids.count, visits.count, "ce_id is unique")
    }
}
