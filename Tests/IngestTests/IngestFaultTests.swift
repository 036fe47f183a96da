import Foundation
import HSSKTesting
import HealthModel
@testable import Ingest
import Kafka
import RecordStore
import SyntheticPopulation
import XCTest

/// Transient failures (a broker down, request errors, the store unavailable) are retried: no record
/// is skipped, none goes to the dead-letter topics, and the outcome equals a run without faults.
final class IngestFaultTests: XCTestCase {
    /// Ends a fault (after however long it should last).
    typealias FaultEnd = @Sendable () async throws -> Void

    /// Runs ingest over a population, starts the fault with `begin` (which returns once the fault is in
    /// effect), publishes the second half while it lasts, then checks the outcome.
    private func run(_ backend: TestStores.Backend, citizens: Int = 600, partitions: Int = 4,
                     begin: @Sendable (IngestScenario, String) async throws -> FaultEnd) async throws -> IngestCounters.Snapshot {
        let scenario = try IngestScenario(partitions: partitions)
        let location = try TestStores.freshLocation(backend)
        let store = try await RecordStores.open(location, keys: try KeyRing.generate())
        try await scenario.registerAccounts(in: store)
        let population = PopulationGenerator(citizens: citizens, seed: 3).generate()
        let service = IngestService(configuration: scenario.configuration(), store: store, log: .silent)
        let running = Task { try await service.run() }
        let half = population.records.count / 2
        var published = try await scenario.publish(Array(population.records.prefix(half)))
        let firstHalf = try await scenario.waitUntilProcessed(store, ends: IngestScenario.ends(published))
        XCTAssertTrue(firstHalf)
        // The second half arrives while the fault lasts.
        let end = try await begin(scenario, location)
        let ending = Task { try await end() }
        published += try await scenario.publish(Array(population.records.dropFirst(half)))
        try await ending.value
        let processed = try await scenario.waitUntilProcessed(store, ends: IngestScenario.ends(published), timeout: .seconds(150))
        running.cancel()
        try await running.value
        XCTAssertTrue(processed, "not everything was processed")
        let letters = try await scenario.deadLetters(atLeast: published.filter { $0.expectedCode != nil }.count)
        let problems = try await scenario.check(published, store: store, deadLetters: letters)
        XCTAssertTrue(problems.isEmpty, "\(problems.count) problems, first: \(problems.prefix(5))")
        await store.close()
        scenario.cluster.shutdown()
        return service.counters.snapshot
    }

    func testBrokerDownAndRequestErrors() async throws {
        let counters = try await run(.sqlite) { scenario, _ in
            // Errors on the requests ingest makes (fetch, produce of dead letters, commits), then a broker down.
            scenario.cluster.pushRequestErrors(.fetch, Array(repeating: .notLeaderForPartition, count: 5))
            scenario.cluster.pushRequestErrors(.produce, Array(repeating: .notEnoughReplicas, count: 5))
            scenario.cluster.pushRequestErrors(.offsetCommit, Array(repeating: .requestTimedOut, count: 3))
            try scenario.cluster.setBrokerDown(2)
            return {
                try await Task.sleep(for: .seconds(3))
                try scenario.cluster.setBrokerUp(2)
            }
        }
        XCTAssertGreaterThan(counters.stored, 0)
    }

    func testSQLiteStoreLockedForLongerThanItsBusyTimeout() async throws {
        let counters = try await run(.sqlite) { _, location in
            // Another process holds the database's write lock beyond the store's 15 s busy timeout.
            let lock = try await TestStores.holdSQLiteWriteLock(location, seconds: 20)
            return { try await lock.released() }
        }
        XCTAssertGreaterThan(counters.retries, 0, "the outage was never felt")
    }

    func testPostgresUnreachableForAWhile() async throws {
        let counters = try await run(.postgres) { _, location in
            let database = try XCTUnwrap(URLComponents(string: location)?.path.dropFirst()).description
            let admin = try XCTUnwrap(ProcessInfo.processInfo.environment["HSSK_TEST_POSTGRES_URL"])
            // Refuse new connections and cut the existing ones: the store's connection is lost.
            try TestStores.run("psql", ["--quiet", "--no-psqlrc", "--dbname", admin, "--command", """
                ALTER DATABASE \(database) ALLOW_CONNECTIONS false;
                SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '\(database)' AND pid <> pg_backend_pid();
                """])
            return {
                try await Task.sleep(for: .seconds(5))
                try TestStores.run("psql", ["--quiet", "--no-psqlrc", "--dbname", admin, "--command", "ALTER DATABASE \(database) ALLOW_CONNECTIONS true"])
            }
        }
        XCTAssertGreaterThan(counters.retries, 0, "the outage was never felt")
    }

    /// A process killed again and again in the middle of a batch (the host restarting, the OOM killer)
    /// makes the batch's partitions be read record by record; the records themselves are innocent and
    /// must be stored. They used to be dead-lettered as `poisonPill`: a record tried alone counted the
    /// batch's attempts too, so the first record of every partition in those batches was condemned.
    func testKillsMidBatchCondemnNoRecord() async throws {
        let scenario = try IngestScenario(partitions: 2)
        let store = try await RecordStores.open(try TestStores.freshLocation(.sqlite), keys: try KeyRing.generate())
        try await scenario.registerAccounts(in: store)
        var generator = PopulationGenerator(citizens: 60, seed: 8)
        generator.noise = .none
        let published = try await scenario.publish(generator.generate().records.filter { $0.record.kind == .visit }.prefix(40).map { $0 })
        let ends = IngestScenario.ends(published)
        XCTAssertEqual(ends.count, 2)
        // What six SIGKILLs while the first batch was in flight leave in the store.
        let configuration = scenario.configuration()
        for _ in 0..<2 * configuration.maxAttempts {
            _ = try await store.recordAttempts(group: configuration.group, starts: ends.mapValues { _ in 0 })
        }
        let service = IngestService(configuration: configuration, store: store, log: .silent)
        let running = Task { try await service.run() }
        let processed = try await scenario.waitUntilProcessed(store, ends: ends)
        running.cancel()
        try await running.value
        XCTAssertTrue(processed)
        XCTAssertEqual(service.counters.snapshot.deadLetteredTotal, 0, "innocent records dead-lettered: \(service.counters.snapshot)")
        let problems = try await scenario.check(published, store: store, deadLetters: [])
        XCTAssertTrue(problems.isEmpty, "\(problems.count) problems, first: \(problems.prefix(5))")
        await store.close()
        scenario.cluster.shutdown()
    }
}
