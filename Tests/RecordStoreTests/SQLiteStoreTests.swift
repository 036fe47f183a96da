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
    func testRelationsAndLaterLinks() async throws { try await contract.relationsAndLaterLinks() }
    func testRefusesNewerSchema() async throws { try await contract.refusesNewerSchema() }
    func testLockedStoreIsTransient() async throws { try await contract.lockedStoreIsTransient() }
    func testBlockMembersSnapshotsAndSweepPages() async throws { try await contract.blockMembersSnapshotsAndSweepPages() }
    func testMergeClosesSupersededIdentifiers() async throws { try await contract.mergeClosesSupersededIdentifiers() }
    func testMatchModelSettings() async throws { try await contract.matchModelSettings() }
    func testMatchModelMigration() async throws { try await contract.matchModelMigration() }
    func testBatchReissueClosesPersonalIDs() async throws { try await contract.batchReissueClosesPersonalIDs() }
}
