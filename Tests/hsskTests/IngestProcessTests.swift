import Foundation
import HSSKTesting
import HealthModel
import Kafka
import RecordStore
import SyntheticPopulation
import XCTest

/// `hssk ingest` as a process, treated as production treats it: killed with SIGKILL at random
/// moments and restarted, crashed by a record, run twice in one group. Afterwards the store holds
/// every valid record exactly once and the dead-letter topics every invalid one.
final class IngestProcessTests: XCTestCase {
    // PostgreSQL gets the same and more from `make test`'s `hssk chaos` (50+ SIGKILLs with publishing
    // alongside, server restarts, every record accounted for): this fixed scenario runs on SQLite only.
    func testKill9RecoverySQLite() async throws { try await kill9Recovery(.sqlite) }

    /// Everything one run needs: cluster, store, keys, and the command line of an ingest process.
    struct Setup {
        let scenario: IngestScenario
        let location: String
        let keyFile: String
        let keys: KeyRing

        init(partitions: Int, backend: TestStores.Backend) async throws {
            // Enough partitions that 20,000 records stay within the embedded cluster's ~5 MB per partition.
            scenario = try IngestScenario(partitions: partitions)
            location = try TestStores.freshLocation(backend)
            (keyFile, keys) = try TestStores.keyFile()
            let store = try await RecordStores.open(location, keys: keys)
            try await scenario.registerAccounts(in: store)
            await store.close()
        }

        func ingest(environment: [String: String] = [:]) throws -> RunningProcess {
            try RunningProcess(hssk, ["ingest", "--bootstrap", scenario.cluster.bootstrapServers, "--store", location, "--keys", keyFile,
                                      "--batch", "500", "--kafka", "session.timeout.ms=3000", "--kafka", "heartbeat.interval.ms=300",
                                      "--kafka", "log_level=3"], environment: environment)
        }

        /// Opens the store, waits until ingest stored offsets up to `ends`, returns whether it did.
        func waitUntilProcessed(_ published: [IngestScenario.Published], timeout: Duration = .seconds(150)) async throws -> Bool {
            let store = try await RecordStores.open(location, keys: keys)
            let done = try await scenario.waitUntilProcessed(store, ends: IngestScenario.ends(published), timeout: timeout)
            await store.close()
            return done
        }

        /// How many records the store's offsets say are processed.
        func processedCount(_ published: [IngestScenario.Published]) async throws -> Int64 {
            let store = try await RecordStores.open(location, keys: keys)
            let ends = IngestScenario.ends(published)
            let stored = try await store.offsets(group: "hssk-ingest", partitions: Array(ends.keys))
            await store.close()
            return stored.values.reduce(0, +)
        }

        /// The outcome check of `IngestScenario`, on a freshly opened store.
        func problems(_ published: [IngestScenario.Published]) async throws -> [String] {
            let store = try await RecordStores.open(location, keys: keys)
            let letters = try await scenario.deadLetters(atLeast: published.filter { $0.expectedCode != nil }.count)
            let problems = try await scenario.check(published, store: store, deadLetters: letters)
            let report = try await store.verify()
            await store.close()
            return problems + report.problems
        }
    }

    func kill9Recovery(_ backend: TestStores.Backend) async throws {
        let setup = try await Setup(partitions: 12, backend: backend)
        let population = PopulationGenerator(citizens: 8_500, seed: 21).generate()
        let records = Array(population.records.prefix(20_000))
        XCTAssertEqual(records.count, 20_000)
        let published = try await setup.scenario.publish(records)
        XCTAssertEqual(published.count, records.count)

        // At least ten SIGKILLs at random moments: every other one during start-up or group join, the
        // others in the middle of the work (once the process has stored something).
        var kills = 0
        var progress: [Int64] = []
        var generator = SystemRandomNumberGenerator()
        while kills < 10 {
            let before = progress.last ?? 0
            let process = try setup.ingest()
            if kills % 2 == 0 {
                try await Task.sleep(for: .milliseconds(Int.random(in: 100...1_500, using: &generator)))
            } else {
                let deadline = ContinuousClock.now + .seconds(30)
                while try await setup.processedCount(published) == before, ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(50))
                }
                try await Task.sleep(for: .milliseconds(Int.random(in: 0...400, using: &generator)))
            }
            XCTAssertTrue(process.isRunning, "ingest exited by itself:\n\(process.output.suffix(2_000))")
            process.kill9()
            kills += 1
            progress.append(try await setup.processedCount(published))
        }
        // The kills must have hit a working process, not only an idle or finished one.
        let midRun = zip([0] + progress, progress).filter { before, after in after > before && after < Int64(published.count) }.count
        XCTAssertGreaterThanOrEqual(midRun, 4, "processed after each kill: \(progress)")
        print("kill -9 (\(backend)): records processed after each kill \(progress) of \(published.count)")
        let last = try setup.ingest()
        let done = try await setup.waitUntilProcessed(published)
        last.terminate()
        XCTAssertEqual(last.waitForExit(), 0, "SIGTERM must end ingest cleanly:\n\(last.output.suffix(2_000))")
        XCTAssertTrue(done, "not everything was processed after \(kills) kills")
        XCTAssertTrue(last.output.contains("\"event\":\"ingest.stopped\""), "no shutdown summary")
        let problems = try await setup.problems(published)
        XCTAssertTrue(problems.isEmpty, "\(problems.count) problems, first: \(problems.prefix(5))")
        setup.scenario.cluster.shutdown()
    }

    /// SIGTERM always ends ingest with status 0, also while it is joining the group: librdkafka 2.0.2
    /// aborted (`Assertion 'assignor_state' failed`) when a member that had joined was destroyed before
    /// its first assignment, in 7 of 37 SIGTERMs of the run.
    func testSigtermAlwaysExitsZeroEvenWhileJoining() async throws {
        let setup = try await Setup(partitions: 6, backend: .sqlite)
        let member = try setup.ingest()
        try await Task.sleep(for: .seconds(2))
        var generator = SystemRandomNumberGenerator()
        var statuses: [Int32] = []
        for _ in 0..<16 {
            let joining = try setup.ingest()
            try await Task.sleep(for: .milliseconds(Int.random(in: 50...1_500, using: &generator)))
            joining.terminate()
            let status = joining.waitForExit()
            statuses.append(status)
            XCTAssertEqual(status, 0, "SIGTERM ended ingest with \(status):\n\(joining.output.suffix(1_500))")
        }
        member.terminate()
        XCTAssertEqual(member.waitForExit(), 0, member.output.suffix(1_500).description)
        print("SIGTERM while joining: exit statuses \(statuses)")
        setup.scenario.cluster.shutdown()
    }

    /// A record that crashes the process every time it is processed is dead-lettered as `poisonPill`
    /// after a bounded number of restarts (the attempts are counted in the store), and everything
    /// around it is stored.
    func testPoisonPillIsDeadLetteredAfterRepeatedCrashes() async throws {
        let setup = try await Setup(partitions: 2, backend: .sqlite)
        var generator = PopulationGenerator(citizens: 150, seed: 5)
        generator.noise = .none
        let records = generator.generate().records
        let poison = records[records.count / 2]
        var published = try await setup.scenario.publish(records.filter { $0.record.kafkaKey != poison.record.kafkaKey })
        let crashKey = poison.record.kafkaKey
        let poisonMessage = try await setup.scenario.publish([(try setup.scenario.sources.producerRecord(poison), "poisonPill")])
        published += poisonMessage
        published += try await setup.scenario.publish(Array(records.prefix(20)).map {
            var record = $0
            if case .visit(var visit) = record.record { visit.episodeKey += "-after"; record.record = .visit(visit) }
            return record
        }.filter { $0.record.kind == .visit })

        var crashes = 0
        var finished = false
        while !finished && crashes <= 12 {
            let process = try setup.ingest(environment: ["HSSK_FAILPOINT_CRASH_KEY": crashKey])
            let deadline = ContinuousClock.now + .seconds(60)
            while process.isRunning, ContinuousClock.now < deadline {
                if try await setup.processedCount(published) >= Int64(IngestScenario.ends(published).values.reduce(0, +)) { finished = true; break }
                try await Task.sleep(for: .milliseconds(100))
            }
            if finished {
                // The dead letters too: after a crash the relay's lease runs out before a successor sends them.
                let delivered = try await setup.waitUntilProcessed(published, timeout: .seconds(90))
                XCTAssertTrue(delivered, "dead letters not delivered:\n\(process.output.suffix(2_000))")
            }
            if process.isRunning {
                process.terminate()
                XCTAssertEqual(process.waitForExit(), 0)
            } else {
                crashes += 1
            }
        }
        XCTAssertTrue(finished, "not finished after \(crashes) crashes")
        // 3 attempts as a batch, then alone: the record before it may go first, then 3 + 3 at its own offset.
        XCTAssertGreaterThanOrEqual(crashes, 3)
        XCTAssertLessThanOrEqual(crashes, 10)
        let problems = try await setup.problems(published)
        XCTAssertTrue(problems.isEmpty, "\(problems.count) problems, first: \(problems.prefix(5))")
        setup.scenario.cluster.shutdown()
    }

    /// Two `hssk ingest` processes in one group, with rebalances while records keep arriving (the second
    /// joins, later the first leaves on SIGTERM): every valid record is still stored exactly once.
    func testTwoProcessesInOneGroupWithRebalances() async throws {
        let setup = try await Setup(partitions: 6, backend: .postgres)
        let records = PopulationGenerator(citizens: 2_500, seed: 9).generate().records
        let chunks = stride(from: 0, to: records.count, by: records.count / 4).map { Array(records[$0..<min($0 + records.count / 4, records.count)]) }
        var published: [IngestScenario.Published] = []
        let first = try setup.ingest()
        published += try await setup.scenario.publish(chunks[0])
        let firstProgress = try await setup.processedCount(published)
        let second = try setup.ingest()
        for chunk in chunks.dropFirst() {
            published += try await setup.scenario.publish(chunk)
            try await Task.sleep(for: .seconds(2))
        }
        first.terminate()
        XCTAssertEqual(first.waitForExit(), 0, "first ingest:\n\(first.output.suffix(2_000))")
        let done = try await setup.waitUntilProcessed(published)
        second.terminate()
        XCTAssertEqual(second.waitForExit(), 0, "second ingest:\n\(second.output.suffix(2_000))")
        XCTAssertTrue(done)
        // Both did part of the work, and the partitions moved between them.
        for process in [first, second] {
            XCTAssertTrue(process.output.contains("\"event\":\"partitions.assigned\""), process.output.suffix(1_000).description)
        }
        XCTAssertTrue(first.output.contains("\"event\":\"partitions.revoked\""))
        let finalProgress = try await setup.processedCount(published)
        XCTAssertGreaterThan(finalProgress, firstProgress)
        let problems = try await setup.problems(published)
        XCTAssertTrue(problems.isEmpty, "\(problems.count) problems, first: \(problems.prefix(5))")
        setup.scenario.cluster.shutdown()
    }
}
