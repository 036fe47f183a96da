@testable import RecordStore
import XCTest

/// The shared store suite on SQLite files.
final class SQLiteStoreTests: XCTestCase {
    let contract = StoreContract(fixture: SQLiteFixture())

    func testBatchIdentityLookup() async throws { try await contract.batchIdentityLookup() }
    func testProcessingAttempts() async throws { try await contract.processingAttempts() }
    func testOffsetFencing() async throws { try await contract.offsetFencing() }
    func testAtomicBatchWithOffsets() async throws { try await contract.atomicBatchWithOffsets() }
    func testIdempotentReapply() async throws { try await contract.idempotentReapply() }
    func testSupersedingVersions() async throws { try await contract.supersedingVersions() }
    func testCorrectionBackToEarlierContent() async throws { try await contract.correctionBackToEarlierContent() }
    func testOutboxQuarantine() async throws { try await contract.outboxQuarantine() }
    func testIdentifierHistory() async throws { try await contract.identifierHistory() }
    func testMergeAndUndo() async throws { try await contract.mergeAndUndo() }
    func testReviewTasks() async throws { try await contract.reviewTasks() }
    func testAuditChainDetectsTampering() async throws { try await contract.auditChainDetectsTampering() }
    func testEncryptionAtRest() async throws { try await contract.encryptionAtRest() }
    func testWrongKeyIsAClearError() async throws { try await contract.wrongKeyIsAClearError() }
    func testKeyRotation() async throws { try await contract.keyRotation() }
    func testBackupRestoreIdenticalContents() async throws { try await contract.backupRestoreIdenticalContents() }
    func testConcurrentWriters() async throws { try await contract.concurrentWriters() }
    func testMustExistRefusesAnEmptyLocation() async throws { try await contract.mustExistRefusesAnEmptyLocation() }
    func testPersonFileAndFeedMessages() async throws { try await contract.personFileAndFeedMessages() }
    func testOutboxOrderAndAccounts() async throws { try await contract.outboxOrderAndAccounts() }
    func testAccountLifecycle() async throws { try await contract.accountLifecycle() }
    func testLockInactiveAccounts() async throws { try await contract.lockInactiveAccounts() }
    func testTextWithNULIsRefused() async throws { try await contract.textWithNULIsRefused() }
    func testBatchedAccountLookup() async throws { try await contract.batchedAccountLookup() }
    func testRelationsAndLaterLinks() async throws { try await contract.relationsAndLaterLinks() }
    func testRefusesNewerSchema() async throws { try await contract.refusesNewerSchema() }
    func testLockedStoreIsTransient() async throws { try await contract.lockedStoreIsTransient() }
    func testBlockMembersSnapshotsAndSweepPages() async throws { try await contract.blockMembersSnapshotsAndSweepPages() }
    func testMergeClosesSupersededIdentifiers() async throws { try await contract.mergeClosesSupersededIdentifiers() }
    func testMatchModelSettings() async throws { try await contract.matchModelSettings() }
    func testMatchModelMigration() async throws { try await contract.matchModelMigration() }
    func testBatchReissueClosesPersonalIDs() async throws { try await contract.batchReissueClosesPersonalIDs() }
    func testPositionsNeverSkip() async throws { try await contract.positionsNeverSkip() }
    func testVerifyFindsGapsInPositions() async throws { try await contract.verifyFindsGapsInPositions() }
    func testAcceptedGapIsRecorded() async throws { try await contract.acceptedGapIsRecorded() }
    func testBackwardResetStartsANewLog() async throws { try await contract.backwardResetStartsANewLog() }
    func testDeadLettersAndRelayLease() async throws { try await contract.deadLettersAndRelayLease() }
    func testPositionsMigration() async throws { try await contract.positionsMigration() }
    func testSwappedCiphertextsAreDetected() async throws { try await contract.swappedCiphertextsAreDetected() }
    func testRotationKeepsRowBinding() async throws { try await contract.rotationKeepsRowBinding() }
    func testColumnBoundStoreIsBoundOnOpen() async throws { try await contract.columnBoundStoreIsBoundOnOpen() }
    func testPartlyBoundStoreIsCompletedOnOpen() async throws { try await contract.partlyBoundStoreIsCompletedOnOpen() }
    func testWrongKeyLeavesAnOldStoreUntouched() async throws { try await contract.wrongKeyLeavesAnOldStoreUntouched() }

    /// A full disk is transient (wait, retry), not a reason to exit: under systemd or Kubernetes an
    /// exit becomes a restart storm. Simulated with SQLite's page limit on the store's own connection.
    func testFullDiskIsTransientAndRecovers() async throws {
        let location = try await SQLiteFixture().freshLocation()
        let store = try await RecordStores.open(location, keys: Fixtures.keys)
        let sqlite = try XCTUnwrap(store as? SQLStore)
        try await sqlite.onThread { engine in
            let pages = try engine.db.queryOne("PRAGMA page_count", [])?.int(0) ?? 0
            _ = try engine.db.query("PRAGMA max_page_count = \(pages + 2)", [])
        }
        let records = try (0..<200).map { try Fixtures.incoming(Fixtures.visit("LK-\($0)"), offset: Int64($0)) }
        let batch = StoreBatch(records: records, offsets: [Fixtures.offset(200, from: 0)])
        do {
            _ = try await store.apply(batch)
            XCTFail("the batch fit in two pages")
        } catch let error as StoreError {
            guard case .full = error else { return XCTFail("expected .full, got \(error)") }
            XCTAssertTrue(error.isTransient)
        }
        let nothing = try await store.offsets(group: "hssk-ingest", partitions: [TopicPartition("hssk.visits.v1", 0)])
        XCTAssertTrue(nothing.isEmpty, "nothing was written")
        try await sqlite.onThread { engine in _ = try engine.db.query("PRAGMA max_page_count = 1073741823", []) }
        _ = try await store.apply(batch)
        let report = try await store.verify()
        XCTAssertEqual(report.problems, [])
        await store.close()
    }

    /// The writer never checkpoints inside a commit (its automatic checkpoints are off): the store's
    /// checkpointer thread copies committed pages into the database file beside it.
    func testCheckpointsRunBesideTheWriter() async throws {
        let location = try await SQLiteFixture().freshLocation()
        let store = try await RecordStores.open(location, keys: Fixtures.keys)
        let sqlite = try XCTUnwrap(store as? SQLiteStore)
        let automatic = try await sqlite.onThread { engine in try engine.db.queryOne("PRAGMA wal_autocheckpoint", [])?.int(0) }
        XCTAssertEqual(automatic, 0, "the writer's own checkpoints are off")
        func fileSize() -> Int { ((try? FileManager.default.attributesOfItem(atPath: sqlite.path)[.size]) as? Int) ?? 0 }
        let before = fileSize()
        for batch in 0..<4 {
            let records = try (0..<250).map { try Fixtures.incoming(Fixtures.visit("LK-\(batch)-\($0)"), offset: Int64(batch * 250 + $0)) }
            _ = try await store.apply(StoreBatch(records: records, offsets: [Fixtures.offset(Int64(batch * 250 + 250), from: Int64(batch * 250))]))
        }
        // Only a checkpoint moves pages from the WAL into the file; the writer no longer makes any.
        let deadline = ContinuousClock.now + .seconds(10)
        while fileSize() < before + 500_000, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
        XCTAssertGreaterThan(fileSize(), before + 500_000, "pages reached the database file while the store was open")
        let report = try await store.verify()
        XCTAssertEqual(report.problems, [])
        await store.close()
    }
}
