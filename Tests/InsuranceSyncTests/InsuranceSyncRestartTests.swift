import Foundation
import HSSKTesting
import HealthModel
@testable import InsuranceSync
import Kafka
import RecordStore
@testable import Tooling
import XCTest

/// A sync that stopped after recording its decisions and before producing them (a crash between the
/// two) sends them on its next start, under the ids it recorded, so BHXH sees the same supplements.
final class InsuranceSyncRestartTests: XCTestCase {
    func testPendingSupplementsGoOutAfterARestartUnderTheirIDs() async throws {
        let cluster = try EmbeddedCluster(brokers: 1)
        for topic in [SimulatedBHXH.supplementsTopic, SimulatedBHXH.acksTopic] {
            try cluster.createTopic(topic, partitions: 3, replicationFactor: 1)
        }
        let store = try await RecordStores.open(try TestStores.freshLocation(.sqlite), keys: try KeyRing.generate())
        let evidence = InsuranceSupplement.Evidence(topic: "hssk.visits.v1", sender: "01001_lt_bvbm", recordKey: "01001:LK-1",
                                                    recordType: "visit", time: "2025-09-10T08:00")
        let decided = [("0123456789", "0912000001"), ("0123456700", "0912000002")].enumerated().map { index, pair in
            InsuranceSupplement(supplementId: "SUP-before-crash-\(index)", bhxhNumber: pair.0, generatedAt: "2025-10-01T01:00:00.000Z",
                                field: .phone, value: pair.1, evidence: evidence)
        }
        let planned = try await store.planSupplements(decided.map {
            SupplementDraft(supplementID: $0.supplementId, bhxhNumber: $0.bhxhNumber, field: $0.field.rawValue, value: $0.value, payload: $0.encoded())
        }, outboxDone: [])
        XCTAssertEqual(planned.count, 2)

        var configuration = InsuranceSyncConfiguration(bootstrapServers: cluster.bootstrapServers)
        configuration.kafkaProperties = ["log_level": "3"]
        let sync = InsuranceSync(configuration: configuration, store: store, log: .silent)
        let running = Task { try await sync.run() }
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline, !(try await store.pendingSupplements(limit: 1)).isEmpty {
            try await Task.sleep(for: .milliseconds(50))
        }
        running.cancel()
        try await running.value

        let sim = try SimulatedBHXH(bootstrap: cluster.bootstrapServers, sources: try SyntheticSources(), partitions: 3, phoneLocked: [])
        let received = try await sim.round(effectiveAt: "2026-10-01").received
        XCTAssertEqual(received.map(\.supplement).sorted { $0.supplementId < $1.supplementId }, decided)
        XCTAssertEqual(Set(received.compactMap(\.ceID)), Set(decided.map(\.supplementId)))
        let ledger = try await store.supplements(ids: decided.map(\.supplementId))
        XCTAssertEqual(ledger.values.map(\.status), [.sent, .sent])
        XCTAssertEqual(sync.counters.snapshot.sent, 2)
        try await sim.close()
        await store.close()
        cluster.shutdown()
    }
}
