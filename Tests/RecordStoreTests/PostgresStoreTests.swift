import Foundation
import XCTest

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

    func testAtomicBatchWithOffsets() async throws { try await run { try await $0.atomicBatchWithOffsets() } }
    func testIdempotentReapply() async throws { try await run { try await $0.idempotentReapply() } }
    func testSupersedingVersions() async throws { try await run { try await $0.supersedingVersions() } }
    func testIdentifierHistory() async throws { try await run { try await $0.identifierHistory() } }
    func testMergeAndUndo() async throws { try await run { try await $0.mergeAndUndo() } }
    func testReviewTasks() async throws { try await run { try await $0.reviewTasks() } }
    func testAuditChainDetectsTampering() async throws { try await run { try await $0.auditChainDetectsTampering() } }
    func testEncryptionAtRest() async throws { try await run { try await $0.encryptionAtRest() } }
    func testWrongKeyIsAClearError() async throws { try await run { try await $0.wrongKeyIsAClearError() } }
    func testKeyRotation() async throws { try await run { try await $0.keyRotation() } }
    func testBackupRestoreIdenticalContents() async throws { try await run { try await $0.backupRestoreIdenticalContents() } }
    func testConcurrentWriters() async throws { try await run { try await $0.concurrentWriters() } }
    func testRefusesNewerSchema() async throws { try await run { try await $0.refusesNewerSchema() } }
}
