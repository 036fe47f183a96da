import Foundation
import HSSKTesting
import HealthModel
@testable import Ingest
import Kafka
import RecordStore
@testable import ServiceRuntime
import SyntheticPopulation
import XCTest

/// The operator's loop: records of a locked account are dead-lettered; after `unlock`, replaying the
/// dead letters stores them; replaying them again changes nothing.
final class IngestReplayTests: XCTestCase {
    func testReplayAfterUnlockStoresOnceEvenWhenRepeated() async throws {
        let scenario = try IngestScenario(partitions: 2)
        let store = try await RecordStores.open(try TestStores.freshLocation(.sqlite), keys: try KeyRing.generate())
        try await scenario.registerAccounts(in: store)
        let account = "01001_lt_bvbm"
        _ = try await store.setAccountLocked(named: account, locked: true, actor: "tester")
        var generator = PopulationGenerator(citizens: 120, seed: 4)
        generator.noise = .none
        let records = generator.generate().records.filter { $0.sender == account }
        XCTAssertGreaterThan(records.count, 5)

        let service = IngestService(configuration: scenario.configuration(), store: store, log: .silent)
        let running = Task { try await service.run() }
        var published = try await scenario.publish(records)
        let first = try await scenario.waitUntilProcessed(store, ends: IngestScenario.ends(published))
        XCTAssertTrue(first)
        XCTAssertEqual(service.counters.snapshot.deadLettered, ["sender.accountLocked": records.count])

        _ = try await store.setAccountLocked(named: account, locked: false, actor: "tester")
        try await Task.sleep(for: .milliseconds(400))  // past the service's account cache
        var client = KafkaClientConfig(bootstrapServers: scenario.cluster.bootstrapServers)
        client.logLevel = 3
        let reader = try DeadLetterReader(client: client)
        let letters = try await reader.readAll(try DeadLetterTopic("hssk.visits.v1"), filter: DeadLetterFilter(code: "sender.accountLocked"))
        try await reader.close()
        XCTAssertEqual(letters.count, records.filter { $0.record.kind == .visit }.count)
        var producerConfig = ProducerConfig(bootstrapServers: scenario.cluster.bootstrapServers)
        producerConfig.client.logLevel = 3
        let producer = try Producer(config: producerConfig)
        for round in 1...2 {
            let outcomes = try await DeadLetterReplayer(producer: producer).replay(letters)
            for (letter, outcome) in zip(letters, outcomes) {
                guard case .replayed(let report) = outcome else { return XCTFail("round \(round): \(outcome)") }
                published.append(IngestScenario.Published(record: ProducerRecord(topic: report.topic, key: letter.key, value: letter.value),
                                                          partition: report.partition, offset: report.offset, expectedCode: nil))
            }
            let processed = try await scenario.waitUntilProcessed(store, ends: IngestScenario.ends(published))
            XCTAssertTrue(processed, "round \(round)")
        }
        try await producer.close()
        running.cancel()
        try await running.value

        let counters = service.counters.snapshot
        XCTAssertEqual(counters.stored, letters.count, "stored once")
        XCTAssertEqual(counters.duplicates, letters.count, "the second replay changed nothing")
        for letter in letters {
            let key = String(decoding: letter.key ?? [], as: UTF8.self)
            let versions = try await store.sourceVersions(topic: "hssk.visits.v1", key: key)
            XCTAssertEqual(versions.count, 1, key)
            XCTAssertEqual(versions.first?.original, letter.value)
        }
        await store.close()
        scenario.cluster.shutdown()
    }

    /// A visit corrected and then corrected back (A, B, A at increasing offsets): the third is a new
    /// version and the current one, not a duplicate of the superseded first (DESIGN §6).
    func testCorrectionBackToEarlierContentIsCurrent() async throws {
        let scenario = try IngestScenario(partitions: 2)
        let store = try await RecordStores.open(try TestStores.freshLocation(.sqlite), keys: try KeyRing.generate())
        try await scenario.registerAccounts(in: store)
        var generator = PopulationGenerator(citizens: 20, seed: 5)
        generator.noise = .none
        let first = try XCTUnwrap(generator.generate().records.first {
            if case .visit(let visit) = $0.record { return $0.truth.isAcceptable && visit.patient.personalId != nil }
            return false
        })
        guard case .visit(let a) = first.record else { return XCTFail("not a visit") }
        var b = a
        b.dischargeDiagnosis = "Đã khỏi, hẹn tái khám"
        var corrected = first
        corrected.record = .visit(b)

        let service = IngestService(configuration: scenario.configuration(), store: store, log: .silent)
        let running = Task { try await service.run() }
        var published: [IngestScenario.Published] = []
        // One at a time: the order on the partition is the order here.
        for record in [first, corrected, first] { published += try await scenario.publish([record]) }
        let processed = try await scenario.waitUntilProcessed(store, ends: IngestScenario.ends(published))
        running.cancel()
        try await running.value
        XCTAssertTrue(processed)

        XCTAssertEqual(service.counters.snapshot.stored, 3)
        XCTAssertEqual(service.counters.snapshot.duplicates, 0)
        let versions = try await store.sourceVersions(topic: "hssk.visits.v1", key: a.kafkaKey)
        XCTAssertEqual(versions.map(\.version), [1, 2, 3])
        XCTAssertEqual(versions.map(\.coordinates.offset), published.map(\.offset))
        XCTAssertEqual(versions.last?.original, published[0].record.value)
        XCTAssertNil(versions.last?.supersededBy)
        guard versions.count == 3 else { return XCTFail("versions \(versions.map(\.version))") }
        let person = try XCTUnwrap(versions.last?.person)
        let loaded = try await store.personFile(person)
        let file = try XCTUnwrap(loaded)
        XCTAssertTrue(file.records.contains { $0.id == versions[2].id }, "the person's file shows the correction back")
        XCTAssertFalse(file.records.contains { $0.id == versions[1].id })
        let feed = try await store.pendingOutbox(kind: OutboxKinds.citizenFeed, limit: 100)
        XCTAssertTrue(feed.contains { $0.key == String(person.rawValue) }, "the citizen feed is told to rebuild the person")
        await store.close()
        scenario.cluster.shutdown()
    }
}
