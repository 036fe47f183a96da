import Foundation
import XCTest
@testable import RecordStore

/// The shared store suite on a real PostgreSQL server (`scripts/with-postgres swift test`).
///
/// Without `HSSK_TEST_POSTGRES_URL` every test FAILS (never skips), so a CI run that could not start
/// PostgreSQL cannot pass silently.
final class PostgresStoreTests: XCTestCase {
    /// Runs one contract case, or fails it when no server was provided.
    private func run(file: StaticString = #filePath, line: UInt = #line, _ body: (StoreContract) async throws -> Void) async throws {
        guard let url = ProcessInfo.processInfo.environment["HSSK_TEST_POSTGRES_URL"], !url.isEmpty else {
            return XCTFail("HSSK_TEST_POSTGRES_URL is not set: run via scripts/with-postgres or make test", file: file, line: line)
        }
        try await body(StoreContract(fixture: PostgresFixture(baseURL: url)))
    }

    func testBatchIdentityLookup() async throws { try await run { try await $0.batchIdentityLookup() } }
    func testProcessingAttempts() async throws { try await run { try await $0.processingAttempts() } }
    func testOffsetFencing() async throws { try await run { try await $0.offsetFencing() } }
    func testAtomicBatchWithOffsets() async throws { try await run { try await $0.atomicBatchWithOffsets() } }
    func testIdempotentReapply() async throws { try await run { try await $0.idempotentReapply() } }
    func testSupersedingVersions() async throws { try await run { try await $0.supersedingVersions() } }
    func testCorrectionBackToEarlierContent() async throws { try await run { try await $0.correctionBackToEarlierContent() } }
    func testOutboxQuarantine() async throws { try await run { try await $0.outboxQuarantine() } }
    func testIdentifierHistory() async throws { try await run { try await $0.identifierHistory() } }
    func testMergeAndUndo() async throws { try await run { try await $0.mergeAndUndo() } }
    func testReviewTasks() async throws { try await run { try await $0.reviewTasks() } }
    func testAuditChainDetectsTampering() async throws { try await run { try await $0.auditChainDetectsTampering() } }
    func testEncryptionAtRest() async throws { try await run { try await $0.encryptionAtRest() } }
    func testWrongKeyIsAClearError() async throws { try await run { try await $0.wrongKeyIsAClearError() } }
    func testKeyRotation() async throws { try await run { try await $0.keyRotation() } }
    func testBackupRestoreIdenticalContents() async throws { try await run { try await $0.backupRestoreIdenticalContents() } }
    func testConcurrentWriters() async throws { try await run { try await $0.concurrentWriters() } }
    func testMustExistRefusesAnEmptyLocation() async throws { try await run { try await $0.mustExistRefusesAnEmptyLocation() } }
    func testPersonFileAndFeedMessages() async throws { try await run { try await $0.personFileAndFeedMessages() } }
    func testOutboxOrderAndAccounts() async throws { try await run { try await $0.outboxOrderAndAccounts() } }
    func testAccountLifecycle() async throws { try await run { try await $0.accountLifecycle() } }
    func testLockInactiveAccounts() async throws { try await run { try await $0.lockInactiveAccounts() } }
    func testTextWithNULIsRefused() async throws { try await run { try await $0.textWithNULIsRefused() } }
    func testBatchedAccountLookup() async throws { try await run { try await $0.batchedAccountLookup() } }
    func testRelationsAndLaterLinks() async throws { try await run { try await $0.relationsAndLaterLinks() } }
    func testRefusesNewerSchema() async throws { try await run { try await $0.refusesNewerSchema() } }
    func testLockedStoreIsTransient() async throws { try await run { try await $0.lockedStoreIsTransient() } }
    func testBlockMembersSnapshotsAndSweepPages() async throws { try await run { try await $0.blockMembersSnapshotsAndSweepPages() } }
    func testMergeClosesSupersededIdentifiers() async throws { try await run { try await $0.mergeClosesSupersededIdentifiers() } }
    func testMatchModelSettings() async throws { try await run { try await $0.matchModelSettings() } }
    func testMatchModelMigration() async throws { try await run { try await $0.matchModelMigration() } }
    func testBatchReissueClosesPersonalIDs() async throws { try await run { try await $0.batchReissueClosesPersonalIDs() } }
    func testPositionsNeverSkip() async throws { try await run { try await $0.positionsNeverSkip() } }
    func testVerifyFindsGapsInPositions() async throws { try await run { try await $0.verifyFindsGapsInPositions() } }
    func testAcceptedGapIsRecorded() async throws { try await run { try await $0.acceptedGapIsRecorded() } }
    func testBackwardResetStartsANewLog() async throws { try await run { try await $0.backwardResetStartsANewLog() } }
    func testDeadLettersAndRelayLease() async throws { try await run { try await $0.deadLettersAndRelayLease() } }
    func testPositionsMigration() async throws { try await run { try await $0.positionsMigration() } }
    func testSwappedCiphertextsAreDetected() async throws { try await run { try await $0.swappedCiphertextsAreDetected() } }
    func testRotationKeepsRowBinding() async throws { try await run { try await $0.rotationKeepsRowBinding() } }
    func testColumnBoundStoreIsBoundOnOpen() async throws { try await run { try await $0.columnBoundStoreIsBoundOnOpen() } }
    func testPartlyBoundStoreIsCompletedOnOpen() async throws { try await run { try await $0.partlyBoundStoreIsCompletedOnOpen() } }
    func testWrongKeyLeavesAnOldStoreUntouched() async throws { try await run { try await $0.wrongKeyLeavesAnOldStoreUntouched() } }

    /// A dropped server connection is `.connectionLost` (transient) and the next call reconnects.
    func testLostConnectionIsTransientAndRecovers() async throws {
        try await run { contract in
            let location = try await contract.fixture.freshLocation()
            let store = try await RecordStores.open(location, keys: Fixtures.keys)
            _ = try await store.apply(StoreBatch(records: [try Fixtures.incoming(Fixtures.visit("LK-C1"), offset: 0)], offsets: [Fixtures.offset(1)]))
            let admin = try contract.fixture.rawConnection(location)
            try admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()", [])
            admin.close()
            try await Task.sleep(for: .milliseconds(200)) // let the server close the session
            let batch = StoreBatch(records: [try Fixtures.incoming(Fixtures.visit("LK-C2"), offset: 1)], offsets: [Fixtures.offset(2)])
            do {
                _ = try await store.apply(batch)
                XCTFail("apply succeeded on a terminated connection")
            } catch let error as StoreError {
                XCTAssertTrue(error.isTransient, "\(error)")
            }
            let retried = try await store.apply(batch)
            XCTAssertEqual(retried.records.count, 1)
            let offsets = try await store.offsets(group: "hssk-ingest", partitions: [TopicPartition("hssk.visits.v1", 0)])
            XCTAssertEqual(offsets[TopicPartition("hssk.visits.v1", 0)], 2)
            await store.close()
        }
    }

    /// A server that vanishes without closing the connection must not hold the store thread for
    /// ever: keepalives and a TCP user timeout are on by default, and the URL can still override them.
    func testConnectionsDetectAVanishedServer() async throws {
        try await run { contract in
            let location = try await contract.fixture.freshLocation()
            let connection = try PostgresConnection(url: location)
            XCTAssertEqual(connection.option("keepalives"), "1")
            XCTAssertEqual(connection.option("tcp_user_timeout"), "60000")
            XCTAssertEqual(connection.option("connect_timeout"), "10")
            connection.close()
            let separator = location.contains("?") ? "&" : "?"
            let overridden = try PostgresConnection(url: location + separator + "tcp_user_timeout=5000")
            XCTAssertEqual(overridden.option("tcp_user_timeout"), "5000", "the URL's own parameter wins")
            XCTAssertEqual(overridden.option("keepalives_idle"), "30")
            overridden.close()
        }
    }
}
