import Foundation
import HSSKTesting
import HealthModel
@testable import Ingest
import Kafka
import RecordStore
import SyntheticPopulation
import XCTest

/// Members join and leave the group while records are published and batches are in flight: every
/// rebalance revokes partitions mid-batch. Nothing may be lost or applied twice (issue #16 lost 285
/// records this way), and the store's ranges must account for every offset.
final class IngestChurnTests: XCTestCase {
    private func churn(_ backend: TestStores.Backend) async throws {
        let scenario = try IngestScenario(partitions: 6)
        let store = try await RecordStores.open(try TestStores.freshLocation(backend), keys: try KeyRing.generate())
        try await scenario.registerAccounts(in: store)
        let population = PopulationGenerator(citizens: 700, seed: 16).generate()
        var configuration = scenario.configuration()
        configuration.maxBatchRecords = 150
        configuration.revokeWait = .seconds(3)

        var members: [(IngestService, Task<Void, any Error>)] = []
        func join() {
            let service = IngestService(configuration: configuration, store: store, log: .silent)
            members.append((service, Task { try await service.run() }))
        }
        join()
        let records = population.records
        let publishing = Task {
            var published: [IngestScenario.Published] = []
            for chunk in stride(from: 0, to: records.count, by: 150) {
                published += try await scenario.publish(Array(records[chunk..<min(chunk + 150, records.count)]))
                try await Task.sleep(for: .milliseconds(250))
            }
            return published
        }
        var generator = SystemRandomNumberGenerator()
        var changes = 0
        while !publishing.isCancelled, changes < 14 {
            try await Task.sleep(for: .milliseconds(Int64.random(in: 600...1_500, using: &generator)))
            if members.count < 3 && (members.count == 1 || Bool.random(using: &generator)) {
                join()
            } else {
                let (_, task) = members.remove(at: Int.random(in: 0..<members.count, using: &generator))
                task.cancel()
                try await task.value  // a graceful leave: finish the batch, commit, leave the group
            }
            changes += 1
        }
        let published = try await publishing.value
        let processed = try await scenario.waitUntilProcessed(store, ends: IngestScenario.ends(published), timeout: .seconds(120))
        for (_, task) in members {
            task.cancel()
            try await task.value
        }
        XCTAssertTrue(processed, "not everything was processed")
        let letters = try await scenario.deadLetters(atLeast: published.filter { $0.expectedCode != nil }.count)
        let problems = try await scenario.check(published, store: store, deadLetters: letters)
        XCTAssertTrue(problems.isEmpty, "\(problems.count) problems, first: \(problems.prefix(5))")
        let twice = Dictionary(grouping: letters) { "\($0.sourceTopic)/\($0.sourcePartition)/\($0.sourceOffset)" }.filter { $0.value.count > 1 }
        XCTAssertTrue(twice.isEmpty, "dead-lettered more than once: \(twice.keys.prefix(5))")
        let report = try await store.verify()
        XCTAssertEqual(report.problems, [])
        await store.close()
        scenario.cluster.shutdown()
    }

    func testMembersJoiningAndLeavingMidBatchLoseNothingSQLite() async throws { try await churn(.sqlite) }
    func testMembersJoiningAndLeavingMidBatchLoseNothingPostgres() async throws { try await churn(.postgres) }
}
