import Foundation
import HealthModel
@testable import RecordStore
import XCTest

/// The person index's stored match model, on both backends.
extension StoreContract {
    func matchModelSettings() async throws {
        let (store, location, _) = try await seeded()
        let none = try await store.matchModel()
        XCTAssertNil(none, "a store without an estimate has no model")

        let first = StoredMatchModel(modelJSON: #"{"m":[[0,1]],"u":[[0,1]]}"#, estimatedAt: "2026-11-21T23:00:00.000Z", pairs: 12_345)
        try await store.saveMatchModel(first, actor: "op.lan")
        let read = try await store.matchModel()
        XCTAssertEqual(read, first)
        let second = StoredMatchModel(modelJSON: #"{"m":[[0,2]],"u":[[0,2]]}"#, estimatedAt: "2026-11-22T01:00:00.000Z", pairs: 99)
        try await store.saveMatchModel(second, actor: "op.binh")
        let replaced = try await store.matchModel()
        XCTAssertEqual(replaced, second, "re-estimating replaces the row")
        let other = try await store.matchModel(named: "other")
        XCTAssertNil(other)

        let report = try await store.verify()
        XCTAssertTrue(report.ok, "\(report.problems)")
        XCTAssertEqual(report.schemaVersion, Migrations.currentVersion)
        await store.close()

        let raw = try fixture.rawConnection(location)
        let audit = try raw.query("SELECT actor, action, detail FROM audit_log WHERE subject = ? ORDER BY seq", [.text("match_model:person-index")])
            .map { "\(try $0.text(0)) \(try $0.text(1)) \(try $0.text(2))" }
        raw.close()
        XCTAssertEqual(audit, ["op.lan save-match-model estimated_at=2026-11-21T23:00:00.000Z pairs=12345 replaced=none",
                               "op.binh save-match-model estimated_at=2026-11-22T01:00:00.000Z pairs=99 replaced=2026-11-21T23:00:00.000Z"])
    }

    /// A store written by the previous schema (3) gains the match_model table on open and verifies.
    func matchModelMigration() async throws {
        let (store, location, _) = try await seeded()
        await store.close()
        let raw = try fixture.rawConnection(location)
        for table in ["match_model", "consumer_range", "dead_letter", "relay_lease"] { try raw.executeScript("DROP TABLE \(table)") }
        // A later step that cannot run twice (it adds a column) is undone too; the others re-run harmlessly.
        try raw.executeScript("ALTER TABLE insurance_supplement DROP COLUMN answer_received_at")
        try raw.execute("UPDATE schema_meta SET value = '3' WHERE name = 'schema_version'", [])
        raw.close()
        let reopened = try await open(location)
        let none = try await reopened.matchModel()
        XCTAssertNil(none)
        try await reopened.saveMatchModel(StoredMatchModel(modelJSON: "{}", estimatedAt: "2026-11-21T23:00:00.000Z", pairs: 1), actor: "op.lan")
        let report = try await reopened.verify()
        XCTAssertTrue(report.ok, "\(report.problems)")
        XCTAssertEqual(report.schemaVersion, Migrations.currentVersion)
        await reopened.close()
    }
}
