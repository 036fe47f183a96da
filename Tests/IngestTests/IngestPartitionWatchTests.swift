import Foundation
import HSSKTesting
import HealthModel
@testable import Ingest
import Kafka
import RecordStore
@testable import SourceAdapters
import SyntheticPopulation
import XCTest

/// Health that tells the truth (issue #16): records that expired before they were read stop their
/// partition loudly until an operator decides; a partition that does not advance while records wait,
/// and a cluster that cannot be reached, make `/healthz` not ready with the reason.
final class IngestPartitionWatchTests: XCTestCase {
    private func visits(_ scenario: IngestScenario, _ count: Int, prefix: String, padding: Int = 0) throws -> [(ProducerRecord, String?)] {
        var generator = PopulationGenerator(citizens: max(40, count), seed: 21)
        generator.noise = .none
        let bases = generator.generate().records.filter { $0.record.kind == .visit }
        return try (0..<count).map { n in
            guard case .visit(var visit) = bases[n % bases.count].record else { throw StoreError.backend("not a visit") }
            visit.episodeKey = "\(prefix)-\(n)"
            // Padding as trailing JSON whitespace: still a valid record, just a large one.
            let value = Array(try RecordDecoder.encode(.visit(visit))) + [UInt8](repeating: 32, count: padding)
            var message = scenario.sources.message(value: value, key: visit.kafkaKey, kind: .visit, sender: bases[n % bases.count].sender)
            message.partition = 0
            return (message, nil)
        }
    }

    private func configuration(_ scenario: IngestScenario) -> IngestConfiguration {
        var configuration = scenario.configuration()
        configuration.watchInterval = .milliseconds(300)
        configuration.stallLimit = .seconds(2)
        return configuration
    }

    private func waitFor(_ what: String, timeout: Duration = .seconds(30), _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while !(try await condition()) {
            guard ContinuousClock.now < deadline else { return XCTFail("timed out waiting for \(what)") }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    /// Ingest was down while its next records expired: it used to start at the log start without a
    /// word. Now the partition stops, `/healthz` names the exact offsets, and only an accepted gap
    /// (audited, in the store) lets it go on.
    func testExpiredRecordsStopThePartitionUntilTheGapIsAccepted() async throws {
        let scenario = try IngestScenario(brokers: 1, partitions: 1)
        let store = try await RecordStores.open(try TestStores.freshLocation(.sqlite), keys: try KeyRing.generate())
        try await scenario.registerAccounts(in: store)
        let first = try await scenario.publish(try visits(scenario, 10, prefix: "A"))
        let before = IngestService(configuration: configuration(scenario), store: store, log: .silent)
        let runningBefore = Task { try await before.run() }
        let done = try await scenario.waitUntilProcessed(store, ends: IngestScenario.ends(first))
        XCTAssertTrue(done)
        runningBefore.cancel()
        try await runningBefore.value

        // While ingest is down, 7 MB arrive: the embedded cluster keeps about 5 MB per partition.
        let later = try await scenario.publish(try visits(scenario, 70, prefix: "B", padding: 100 * 1024), maxMessageBytes: 2 * 1024 * 1024)
        let partition = Kafka.TopicPartition("hssk.visits.v1", 0)
        let consumer = try Consumer(config: KafkaTesting.consumerConfig(scenario.cluster, group: "probe"))
        let low = try await consumer.watermarks(partition).low
        try await consumer.close()
        XCTAssertGreaterThan(low, 10, "records after the stored position must have expired for this test")

        let service = IngestService(configuration: configuration(scenario), store: store, log: .silent)
        let running = Task { try await service.run() }
        try await waitFor("the gap to be reported") { service.health.status().reasons.contains("partition.retentionGap") }
        let detail = service.health.status().details["partition.retentionGap"] ?? ""
        XCTAssertTrue(detail.contains("hssk.visits.v1/0: offsets 10..<\(low) (\(low - 10) records)"), detail)
        try await Task.sleep(for: .seconds(1))
        let stored = try await store.offsets(group: "hssk-ingest", partitions: [RecordStore.TopicPartition("hssk.visits.v1", 0)])
        XCTAssertEqual(stored.values.first, 10, "nothing was skipped without a decision")

        try await store.acceptGap(group: "hssk-ingest", partition: RecordStore.TopicPartition("hssk.visits.v1", 0), from: 10, to: low,
                                  actor: "op.test", reason: "test: records expired while ingest was down")
        let kept = later.filter { $0.offset >= low }
        let resumed = try await scenario.waitUntilProcessed(store, ends: IngestScenario.ends(kept), timeout: .seconds(30))
        XCTAssertTrue(resumed, "the partition did not resume after the gap was accepted")
        try await waitFor("the gap condition to clear") { !service.health.status().reasons.contains("partition.retentionGap") }
        running.cancel()
        try await running.value
        let problems = try await scenario.check(first + kept, store: store, deadLetters: [])
        XCTAssertTrue(problems.isEmpty, "\(problems.prefix(5))")
        let report = try await store.verify()
        XCTAssertEqual(report.problems, [])
        await store.close()
        scenario.cluster.shutdown()
    }

    /// Records wait while the store is locked for longer than the stall limit: not ready, with the
    /// partition and offset; ready again once it moves.
    func testStalledPartitionIsNotReadyWithTheReason() async throws {
        let scenario = try IngestScenario(brokers: 1, partitions: 1)
        let location = try TestStores.freshLocation(.sqlite)
        let store = try await RecordStores.open(location, keys: try KeyRing.generate())
        try await scenario.registerAccounts(in: store)
        let service = IngestService(configuration: configuration(scenario), store: store, log: .silent)
        let running = Task { try await service.run() }
        let first = try await scenario.publish(try visits(scenario, 5, prefix: "A"))
        let done = try await scenario.waitUntilProcessed(store, ends: IngestScenario.ends(first))
        XCTAssertTrue(done)
        let locker = try await TestStores.holdSQLiteWriteLock(location, seconds: 8)
        let waiting = try await scenario.publish(try visits(scenario, 5, prefix: "B"))
        try await waitFor("the stall to be reported", timeout: .seconds(15)) { service.health.status().reasons.contains("partition.stalled") }
        let detail = service.health.status().details["partition.stalled"] ?? ""
        XCTAssertTrue(detail.contains("hssk.visits.v1/0 at offset 5: 5 records wait"), detail)
        try await locker.released()
        let all = try await scenario.waitUntilProcessed(store, ends: IngestScenario.ends(first + waiting))
        XCTAssertTrue(all)
        try await waitFor("the stall to clear") { !service.health.status().reasons.contains("partition.stalled") }
        running.cancel()
        try await running.value
        await store.close()
        scenario.cluster.shutdown()
    }

    /// The only broker is down: not ready (`kafka.unavailable`), ready again when it is back — even
    /// with no record flowing to tell.
    func testUnreachableClusterIsNotReady() async throws {
        let scenario = try IngestScenario(brokers: 1, partitions: 1)
        let store = try await RecordStores.open(try TestStores.freshLocation(.sqlite), keys: try KeyRing.generate())
        try await scenario.registerAccounts(in: store)
        let service = IngestService(configuration: configuration(scenario), store: store, log: .silent)
        let running = Task { try await service.run() }
        try await waitFor("ingest to be ready") { service.health.status().ready }
        try scenario.cluster.setBrokerDown(1)
        try await waitFor("the outage to show", timeout: .seconds(30)) { service.health.status().reasons.contains("kafka.unavailable") }
        try scenario.cluster.setBrokerUp(1)
        try await waitFor("the recovery to show", timeout: .seconds(30)) { service.health.status().ready }
        running.cancel()
        try await running.value
        await store.close()
        scenario.cluster.shutdown()
    }
}
