import Foundation
import XCTest

/// The insurance part of the store suite on SQLite files.
final class SQLiteInsuranceStoreTests: XCTestCase {
    let contract = StoreContract(fixture: SQLiteFixture())

    func testCardStateFollowsEffectiveTime() async throws { try await contract.cardStateFollowsEffectiveTime() }
    func testCardStatesOfManyCardsInOneBatch() async throws { try await contract.cardStatesOfManyCardsInOneBatch() }
    func testSupplementLedger() async throws { try await contract.supplementLedger() }
    func testSupplementAnswersOnlyMoveForward() async throws { try await contract.supplementAnswersOnlyMoveForward() }
}

/// The insurance part of the store suite on PostgreSQL; fails (never skips) without `HSSK_TEST_POSTGRES_URL`.
final class PostgresInsuranceStoreTests: XCTestCase {
    private func run(file: StaticString = #filePath, line: UInt = #line, _ body: (StoreContract) async throws -> Void) async throws {
        guard let url = ProcessInfo.processInfo.environment["HSSK_TEST_POSTGRES_URL"], !url.isEmpty else {
            return XCTFail("HSSK_TEST_POSTGRES_URL is not set: run via scripts/with-postgres or make test", file: file, line: line)
        }
        try await body(StoreContract(fixture: PostgresFixture(baseURL: url)))
    }

    func testCardStateFollowsEffectiveTime() async throws { try await run { try await $0.cardStateFollowsEffectiveTime() } }
    func testCardStatesOfManyCardsInOneBatch() async throws { try await run { try await $0.cardStatesOfManyCardsInOneBatch() } }
    func testSupplementLedger() async throws { try await run { try await $0.supplementLedger() } }
    func testSupplementAnswersOnlyMoveForward() async throws { try await run { try await $0.supplementAnswersOnlyMoveForward() } }
}
