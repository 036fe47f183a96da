@testable import CitizenFeed
import Foundation
import HSSKTesting
import HealthModel
import Kafka
@testable import RecordStore
@testable import ServiceRuntime
import Synchronization
@testable import Tooling
import XCTest

/// The pusher and the reference receiver: outages, refusals, credentials, and the whole chain from
/// the store to the receiver on the embedded cluster.
final class FeedPusherTests: XCTestCase {
    var key: SigningKey!

    override func setUpWithError() throws {
        key = try SigningKey(text: "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")
    }

    /// Waits until `condition` holds (checked every 50 ms), failing after `timeout`.
    func eventually(_ what: String, timeout: Duration = .seconds(60), _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while try await !condition() {
            guard ContinuousClock.now < deadline else { return XCTFail("timed out waiting for \(what)") }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    func pusherConfiguration() -> FeedPusherConfiguration {
        var configuration = FeedPusherConfiguration()
        configuration.batchSize = 7
        configuration.pollTimeout = .milliseconds(100)
        configuration.backoff = .milliseconds(20)
        configuration.maxBackoff = .milliseconds(200)
        return configuration
    }

    func pusher(_ world: FeedWorld, endpoint: FeedEndpointConfiguration, log: EventLog = .silent) throws -> (FeedPusher, Consumer, Producer) {
        let consumer = try Consumer(config: KafkaTesting.consumerConfig(world.cluster, group: FeedPusherConfiguration.group))
        let producer = try world.producer()
        return (FeedPusher(consumer: consumer, endpoint: FeedEndpoint(endpoint), producer: producer, configuration: pusherConfiguration(), log: log),
                consumer, producer)
    }

    /// Produces documents straight to the feed, as the publisher writes them.
    func produce(_ producer: Producer, _ entries: [(key: String, version: Int64, document: Bool)]) async throws {
        let records = entries.map { entry in
            ProducerRecord(topic: FeedHeaders.topic, key: Array(entry.key.utf8),
                           value: entry.document ? Array(#"{"personalId":"\#(entry.key)","version":\#(entry.version),"schemaVersion":1}"#.utf8) : nil,
                           headers: [KafkaHeader(FeedHeaders.version, String(entry.version))])
        }
        let result = try await producer.sendAll(records)
        XCTAssertTrue(result.allDelivered)
    }

    func personalID(_ n: Int) -> String { "0010580" + String(format: "%05d", n) }

    // MARK: - Outage

    func testAnOutageLosesNothingCommitsNothingAndKeepsOrderPerPerson() async throws {
        let world = try await FeedWorld()
        let sink = try FeedSink({ var c = FeedSinkConfiguration(); c.signingKey = key; c.bearerToken = "t0ken"; return c }())
        sink.failNext(Int.max / 2)   // down until told otherwise
        let (pusher, consumer, producer) = try pusher(world, endpoint: FeedEndpointConfiguration(url: sink.url, bearerToken: "t0ken", signingKey: key))
        var entries: [(key: String, version: Int64, document: Bool)] = []
        for version in 1...4 as ClosedRange<Int64> {
            for person in 0..<10 { entries.append((personalID(person), version * 100 + Int64(person), !(version == 3 && person == 0))) }
        }
        try await produce(producer, entries)
        let task = Task { try await pusher.run() }

        try await eventually("several failed attempts") { sink.report.failedOnPurpose >= 4 }
        XCTAssertEqual(sink.report.items, 0)
        XCTAssertEqual(pusher.health.status().reasons, ["endpoint.unavailable"], "not ready while the endpoint is down")
        let observer = try Consumer(config: KafkaTesting.consumerConfig(world.cluster, group: FeedPusherConfiguration.group))
        let partitions = (0..<3).map { Kafka.TopicPartition(FeedHeaders.topic, Int32($0)) }
        let committedDuringOutage = try await observer.committed(partitions)
        XCTAssertEqual(committedDuringOutage, [:], "nothing is committed while the endpoint is down")

        sink.failNext(0)
        try await eventually("every person's last version") {
            (0..<10).allSatisfy { sink.arrivals[personalID($0)]?.last == 400 + Int64($0) }
        }
        let report = sink.report
        XCTAssertEqual(report.duplicates, 0)
        XCTAssertEqual(report.outOfOrder, 0)
        XCTAssertEqual(report.unauthorized, 0)
        for (person, versions) in sink.arrivals {
            XCTAssertEqual(versions, versions.sorted(), "\(person): versions arrive in order")
        }
        XCTAssertEqual(sink.documents.count, 10)
        XCTAssertTrue(pusher.health.status().ready, "\(pusher.health.status().reasons)")
        let counters = pusher.counters.snapshot
        XCTAssertGreaterThanOrEqual(counters.pushes["retry"] ?? 0, 4)
        XCTAssertEqual(counters.retries, counters.pushes["retry"])
        XCTAssertGreaterThanOrEqual(counters.pushes["accepted"] ?? 0, 1)
        XCTAssertEqual(counters.pushes["rejected"], nil)
        try await eventually("offsets committed") {
            let committed = try await observer.committed(partitions)
            return committed.values.reduce(0, +) == Int64(entries.count)
        }
        task.cancel()
        _ = await task.result
        try await consumer.close()
        try await producer.close()
        sink.stop()
        await world.close()
    }

    // MARK: - Refusals and credentials

    func testARefusedDocumentIsDeadLetteredWithTheResponseAndTheOthersArrive() async throws {
        let world = try await FeedWorld()
        let refused = personalID(3)
        let sink = try FeedSink({ var c = FeedSinkConfiguration(); c.rejectPersonalIDs = [refused]; return c }())
        let (pusher, consumer, producer) = try pusher(world, endpoint: FeedEndpointConfiguration(url: sink.url))
        try await produce(producer, (0..<6).map { (personalID($0), Int64(10 + $0), true) })
        // A record that is not a citizen document is dead-lettered without being posted.
        _ = try await producer.send(ProducerRecord(topic: FeedHeaders.topic, key: Array("not-an-id".utf8), value: Array("{}".utf8),
                                                   headers: [KafkaHeader(FeedHeaders.version, "99")]))
        let task = Task { try await pusher.run() }
        let dlq = try Consumer(config: KafkaTesting.consumerConfig(world.cluster, group: "dlq-reader"))
        try await dlq.subscribe([FeedHeaders.deadLetterTopic])
        let letters = try await KafkaTesting.consume(dlq, count: 2)
        try await eventually("the other documents") { sink.documents.count == 5 }
        XCTAssertNil(sink.documents[refused])
        let byCode = Dictionary(uniqueKeysWithValues: letters.map { ($0.headerText(DeadLetterHeaders.errorCode) ?? "?", $0) })
        let http = try XCTUnwrap(byCode["http.422"])
        XCTAssertEqual(http.key, Array(refused.utf8), "original key")
        XCTAssertEqual(http.headerText(FeedHeaders.version), "13", "original headers")
        XCTAssertTrue(http.headerText(FeedPusher.responseBodyHeader)?.contains("unknown citizen") ?? false)
        XCTAssertEqual(http.headerText(FeedPusher.responseStatusHeader), "422")
        XCTAssertEqual(http.headerText(DeadLetterHeaders.sourceTopic), FeedHeaders.topic)
        XCTAssertNotNil(http.headerText(DeadLetterHeaders.errorDetail))
        XCTAssertNotNil(byCode["feed.badKey"])
        try await eventually("dead letters counted") { pusher.counters.snapshot.deadLettered == ["http.422": 1, "feed.badKey": 1] }
        let samples = try PrometheusParser.samples(PrometheusText.render(pusher.metricFamilies()))
        XCTAssertEqual(samples["hssk_consumed_total"], 7)
        XCTAssertEqual(samples[#"hssk_feed_pushed_total{operation="upsert"}"#], 5)
        XCTAssertGreaterThanOrEqual(samples[#"hssk_feed_push_total{result="rejected"}"#] ?? 0, 1)
        XCTAssertEqual(samples[#"hssk_dead_lettered_total{code="http.422"}"#], 1)
        task.cancel()
        _ = await task.result
        try await dlq.close()
        try await consumer.close()
        try await producer.close()
        sink.stop()
        await world.close()
    }

    /// The last check before data leaves hssk (DESIGN §9): a document on the feed that still carries an
    /// HIV diagnosis code or an ARV medicine, however it got there, is never posted; it is dead-lettered
    /// and the other documents arrive. The log names the record, never the rule next to it (that would
    /// tell whose document carried what): the rules are counted in the metrics.
    func testADocumentCarryingRestrictedDataIsNeverPosted() async throws {
        let world = try await FeedWorld()
        let sink = try FeedSink(FeedSinkConfiguration())
        let lines = Mutex<[String]>([])
        let (pusher, consumer, producer) = try pusher(world, endpoint: FeedEndpointConfiguration(url: sink.url),
                                                      log: EventLog { line in lines.withLock { $0.append(line) } })
        func document(_ n: Int, _ body: String) -> ProducerRecord {
            ProducerRecord(topic: FeedHeaders.topic, key: Array(personalID(n).utf8),
                           value: Array(#"{"personalId":"\#(personalID(n))","version":\#(n + 1),"schemaVersion":1,\#(body)}"#.utf8),
                           headers: [KafkaHeader(FeedHeaders.version, String(n + 1))])
        }
        let visit = #""facilityCode":"01001","arrivalTime":"2025-05-02""#
        let result = try await producer.sendAll([
            document(0, #""visits":[{\#(visit),"diagnoses":[{"code":"J18.9","text":"Viêm phổi"}],"medicines":[{"name":"Paracetamol 500mg"}]}]"#),
            document(1, #""visits":[{\#(visit),"diagnoses":[{"code":"J18.9"},{"code":"B20.1"}]}]"#),
            document(2, #""history":{"diseases":[{"code":"Z21"}]}"#),
            document(3, #""visits":[{\#(visit),"medicines":[{"name":"TLD","dosage":"1 viên ARV mỗi tối"}]}]"#),
        ])
        XCTAssertTrue(result.allDelivered)
        let dlq = try Consumer(config: KafkaTesting.consumerConfig(world.cluster, group: "dlq-reader"))
        try await dlq.subscribe([FeedHeaders.deadLetterTopic])
        let task = Task { try await pusher.run() }
        // Dead letters are produced after their batch was posted: once all three are there, nothing else will be.
        let letters = try await KafkaTesting.consume(dlq, count: 3)
        try await eventually("the clean document") { sink.documents[personalID(0)] != nil }
        XCTAssertEqual(letters.map { $0.headerText(DeadLetterHeaders.errorCode) }, Array(repeating: "feed.restrictedData", count: 3))
        // The dead letters disclose nothing: no personal ID as key, no document, no rule in the detail.
        for letter in letters {
            let key = String(decoding: letter.key ?? [], as: UTF8.self)
            XCTAssertTrue(key.hasPrefix(FeedHeaders.topic + "/"), "key \(key)")
            XCTAssertFalse((1...3).map(personalID).contains { key.contains($0) })
            XCTAssertNil(letter.value)
            let detail = letter.headerText(DeadLetterHeaders.errorDetail) ?? ""
            XCTAssertFalse(detail.contains("hiv") || detail.contains("arv") || detail.contains("B20") || detail.contains("Z21"), detail)
        }
        XCTAssertEqual(Set(sink.documents.keys), [personalID(0)], "no document with restricted data was posted")
        try await eventually("dead letters counted") { pusher.counters.snapshot.deadLettered == ["feed.restrictedData": 3] }
        XCTAssertEqual(pusher.counters.snapshot.refusedRestricted, ["guard:icd10": 2, "guard:arv": 1])
        let refusals = lines.withLock { $0 }.filter { $0.contains(#""event":"feed.restrictedData""#) }
        XCTAssertEqual(refusals.count, 3, "\(refusals)")
        XCTAssertFalse(refusals.contains { $0.contains("guard:") || $0.contains("\"rule\"") }, "\(refusals)")
        task.cancel()
        _ = await task.result
        try await dlq.close()
        try await consumer.close()
        try await producer.close()
        sink.stop()
        await world.close()
    }

    func testWrongCredentialsAreRetriedNeverDeadLettered() async throws {
        let world = try await FeedWorld()
        let sink = try FeedSink({ var c = FeedSinkConfiguration(); c.signingKey = key; c.bearerToken = "right"; return c }())
        let lines = LogLines()
        let (pusher, consumer, producer) = try pusher(world, endpoint: FeedEndpointConfiguration(url: sink.url, bearerToken: "wrong", signingKey: key),
                                                      log: lines.log)
        try await produce(producer, [(personalID(1), 5, true)])
        let task = Task { try await pusher.run() }
        try await eventually("refused attempts") { sink.report.unauthorized >= 3 }
        task.cancel()
        _ = await task.result
        XCTAssertEqual(sink.report.items, 0)
        XCTAssertTrue(lines.all.contains { $0.contains("http.401") })
        XCTAssertFalse(lines.all.joined().contains("wrong"), "the token never appears in the log")
        XCTAssertFalse(lines.all.contains { $0.contains("feed.push.deadLettered") })
        try await consumer.close()
        try await producer.close()
        sink.stop()
        await world.close()
    }

    func testTheReceiverVerifiesSignaturesAndReportsDuplicatesAndStaleVersions() async throws {
        let sink = try FeedSink({ var c = FeedSinkConfiguration(); c.signingKey = key; return c }())
        defer { sink.stop() }
        let endpoint = FeedEndpoint(FeedEndpointConfiguration(url: sink.url, signingKey: key))
        func item(_ version: Int64) -> FeedItem {
            FeedItem(operation: .upsert, personalId: personalID(1), version: version,
                     document: Array(#"{"personalId":"\#(personalID(1))","version":\#(version)}"#.utf8))
        }
        let first = await endpoint.post(FeedWire.body([item(5), item(7)]))
        XCTAssertEqual(first, .accepted(status: 200))
        _ = await endpoint.post(FeedWire.body([item(7), item(6)]))
        XCTAssertEqual(sink.report.duplicates, 1)
        XCTAssertEqual(sink.report.outOfOrder, 1)
        XCTAssertEqual(sink.arrivals[personalID(1)], [5, 7, 7, 6])
        // A stale signature (replay) and a tampered body are refused.
        let old = await endpoint.post(FeedWire.body([item(8)]), now: Date().addingTimeInterval(-3600))
        XCTAssertEqual(old, .retry(reason: "http.401 (check the endpoint's credentials)"))
        let body = FeedWire.body([item(9)])
        let timestamp = String(Int64(Date().timeIntervalSince1970))
        XCTAssertTrue(FeedWire.verify(signature: FeedWire.signature(body: body, timestamp: timestamp, key: key), timestamp: timestamp, body: body,
                                      key: key, now: Date()))
        XCTAssertFalse(FeedWire.verify(signature: FeedWire.signature(body: body, timestamp: timestamp, key: key), timestamp: timestamp,
                                       body: body + [32], key: key, now: Date()))
        // Items must be consistent: the idempotency key, the document's own ID and version.
        var bad = item(10)
        bad.document = Array(#"{"personalId":"\#(personalID(2))","version":10}"#.utf8)
        let malformed = await endpoint.post(FeedWire.body([bad]))
        XCTAssertEqual(malformed, .rejected(status: 400, body: Array(#"{"error":"not a push request"}"#.utf8)))
        var boolean = item(1)
        boolean.document = Array(#"{"personalId":"\#(personalID(1))","version":true}"#.utf8)
        let notANumber = await endpoint.post(FeedWire.body([boolean]))
        XCTAssertEqual(notANumber, .rejected(status: 400, body: Array(#"{"error":"not a push request"}"#.utf8)), "true is not version 1")
        XCTAssertEqual(sink.report.malformed, 2)
        // The receiver keeps each document's bytes as sent, whatever they contain.
        let tricky = Array(#"{ "history" : [ { "text" : "a } ] \" { \\" } , [ ] ] , "personalId":"\#(personalID(3))","version":4 }"#.utf8)
        let stored = await endpoint.post(FeedWire.body([FeedItem(operation: .upsert, personalId: personalID(3), version: 4, document: tricky)]))
        XCTAssertEqual(stored, .accepted(status: 200))
        XCTAssertEqual(sink.documents[personalID(3)], tricky)
        XCTAssertEqual(sink.report.unauthorized, 1)
    }

    func testStatusesMapToRetryOrRefusal() {
        XCTAssertEqual(PushOutcome.of(status: 204, body: []), .accepted(status: 204))
        for status in [500, 502, 503, 504, 408, 425, 429, 401, 403, 301, 307] {
            guard case .retry = PushOutcome.of(status: status, body: []) else { return XCTFail("\(status) must be retried") }
        }
        for status in [400, 404, 409, 413, 422] {
            XCTAssertEqual(PushOutcome.of(status: status, body: [1]), .rejected(status: status, body: [1]))
        }
    }

    func testAnUnreachableEndpointIsRetried() async {
        let endpoint = FeedEndpoint(FeedEndpointConfiguration(url: URL(string: "http://127.0.0.1:9/feed")!))
        guard case .retry = await endpoint.post(FeedWire.body([])) else { return XCTFail("a refused connection is transient") }
    }

    // MARK: - End to end

    func testFromTheStoreToTheReceiverThroughAnOutage() async throws {
        let world = try await FeedWorld()
        let out = world.directory.appendingPathComponent("received.jsonl")
        let sink = try FeedSink({ var c = FeedSinkConfiguration(); c.signingKey = key; c.output = out; return c }())
        sink.failNext(5)
        let publisherProducer = try world.producer()
        var publisherConfiguration = FeedPublisherConfiguration()
        publisherConfiguration.idleWait = .milliseconds(20)
        let publisher = FeedPublisher(store: world.store, producer: publisherProducer, configuration: publisherConfiguration, log: .silent)
        let (pusher, consumer, pusherProducer) = try pusher(world, endpoint: FeedEndpointConfiguration(url: sink.url, signingKey: key))
        let services = Task {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await publisher.run() }
                group.addTask { try await pusher.run() }
                try await group.waitForAll()
            }
        }
        // Twelve persons, each with a visit carrying restricted data and a later dose.
        var persons: [PersonID] = []
        for n in 0..<12 {
            var visit = FeedFixtures.visit("LK-\(n)", patient: FeedFixtures.patient(personalID: personalID(n)),
                                           diagnoses: [Diagnosis(code: "J18.9", text: "Viêm phổi"), Diagnosis(code: "B24", text: "HIV")])
            visit.medicines = [Medicine(name: "Tenofovir 300mg"), Medicine(name: "Paracetamol 500mg")]
            persons.append(try await world.newPerson(.visit(visit), personalID: personalID(n)))
        }
        for (n, person) in persons.enumerated() {
            try await world.ingest(.vaccination(FeedFixtures.dose("D-\(n)", person: FeedFixtures.patient(personalID: personalID(n)))), person: .existing(person))
        }
        // Person 0 is merged into person 1 (the absorbed key is deleted at the receiver).
        _ = try await world.store.merge(persons[0], into: persons[1], reason: "duplicate", actor: "reviewer")
        try await eventually("all documents at the receiver") {
            sink.documents.count == 11 && (1..<12).allSatisfy { n in
                (try? JSONDecoder().decode(CitizenDocument.self, from: Data(sink.documents[personalID(n)] ?? [])))?.history?.vaccinations?.count == (n == 1 ? 2 : 1)
            }
        }
        services.cancel()
        _ = await services.result
        XCTAssertNil(sink.documents[personalID(0)], "the absorbed key was deleted")
        XCTAssertEqual(sink.report.failedOnPurpose, 5)
        XCTAssertEqual(sink.report.outOfOrder, 0)
        for (person, versions) in sink.arrivals { XCTAssertEqual(versions, versions.sorted(), person) }
        let received = try String(contentsOf: out, encoding: .utf8)
        XCTAssertFalse(received.isEmpty)
        for forbidden in ["B24", "HIV", "Tenofovir"] { XCTAssertFalse(received.contains(forbidden), "\(forbidden) left hssk") }
        XCTAssertTrue(received.contains("Paracetamol 500mg"))
        try await consumer.close()
        try await pusherProducer.close()
        try await publisherProducer.close()
        sink.stop()
        await world.close()
    }
}
