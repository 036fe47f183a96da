import Foundation
import HealthModel
import RecordStore
import XCTest

/// `hssk insurance report` as an operator runs it on a SQLite store, and the usage errors of `insurance`.
final class InsuranceCommandTests: XCTestCase {
    /// Runs the built binary; stdout and stderr apart.
    private func run(_ arguments: [String]) throws -> (status: Int32, out: String, err: String) {
        try runCommandSeparately(hssk, arguments)
    }

    func testReportCountsCardsPersonsAndSupplements() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("hssk-insurance-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let keys = folder.appendingPathComponent("keys.json").path
        let storePath = folder.appendingPathComponent("store.sqlite").path
        XCTAssertEqual(try run(["keys", "generate", "--out", keys]).status, 0)

        // Two cards, one linked to a new person; one supplement rejected by BHXH.
        let store = try await RecordStores.open(storePath, keys: try KeyRing(contentsOf: keys))
        var records: [IncomingRecord] = []
        for (offset, bhxh) in ["0123456789", "0123456700"].enumerated() {
            var card = InsuranceCardChange(kind: .issued, cardCode: "DN401" + bhxh, bhxhNumber: bhxh,
                                           holder: PersonDetails(fullName: "Nguyễn Văn An", birthDate: "1958-03-07", sex: 1), effectiveAt: "2025-01-01")
            card.validFrom = "2025-01-01"
            card.validTo = "2025-12-31"
            records.append(IncomingRecord(record: .insuranceCard(card), original: Array(try RecordDecoder.encode(card)),
                                          coordinates: KafkaCoordinates(topic: "hssk.insurance.cards.v1", partition: 0, offset: Int64(offset)),
                                          sender: "bhxh_lt_hn", person: offset == 0 ? .new(local: 1) : nil))
        }
        _ = try await store.apply(StoreBatch(records: records, identity: [.newPerson(local: 1, Demographics(fullName: "Nguyễn Văn An"))]))
        _ = try await store.planSupplements([SupplementDraft(supplementID: "S1", bhxhNumber: "0123456789", field: "phone", value: "0912345678",
                                                             payload: [])], outboxDone: [])
        try await store.markSupplementsSent(["S1"])
        _ = try await store.recordSupplementAnswers([SupplementAnswer(supplementID: "S1", accepted: false, reasonCode: "DT01", reason: "x")], deadLetters: [],
                                                    offsets: [], actor: "test")
        await store.close()

        let json = try run(["insurance", "report", "--store", storePath, "--keys", keys, "--day", "2025-06-01", "--json"])
        XCTAssertEqual(json.status, 0, json.err)
        let report = try JSONDecoder().decode(InsuranceReport.self, from: Data(json.out.utf8))
        XCTAssertEqual(report.day, "2025-06-01")
        XCTAssertEqual([report.persons, report.personsWithValidCard, report.personsWithoutValidCard], [1, 1, 0])
        XCTAssertEqual([report.cards, report.cardsNotLinked, report.cardsSuspended], [2, 1, 0])
        XCTAssertEqual(report.openDiscrepancies, ["phone": 1])
        XCTAssertEqual([report.supplements.sent, report.supplements.rejected, report.supplements.accepted, report.supplements.pending], [1, 1, 0, 0])
        let text = try run(["insurance", "report", "--store", storePath, "--keys", keys, "--day", "2026-06-01"])
        XCTAssertEqual(text.status, 0, text.err)
        XCTAssertTrue(text.out.contains("without a valid card       1"), text.out)
        XCTAssertTrue(text.out.contains("open discrepancies           phone 1"), text.out)
        for plaintext in ["Nguyễn Văn An", "0123456789", "0912345678"] {
            XCTAssertFalse(json.out.contains(plaintext) || text.out.contains(plaintext), "\(plaintext) in the report")
        }

        let badDay = try run(["insurance", "report", "--store", storePath, "--keys", keys, "--day", "01/06/2025"])
        XCTAssertEqual(badDay.status, 64)
        XCTAssertTrue(badDay.err.contains("--day must be YYYY-MM-DD"), badDay.err)
        let noStore = try run(["insurance", "report", "--store", folder.appendingPathComponent("missing.sqlite").path, "--keys", keys])
        XCTAssertEqual(noStore.status, 1, "a mistyped --store is an error, not an empty report")
        let noBootstrap = try run(["insurance", "sync", "--store", storePath])
        XCTAssertEqual(noBootstrap.status, 64)
        XCTAssertTrue(noBootstrap.err.contains("--bootstrap is required"), noBootstrap.err)
        for command in [["insurance"], ["insurance", "sync"], ["insurance", "report"]] {
            let help = try run(command + ["--help"])
            XCTAssertEqual(help.status, 0)
            XCTAssertTrue(help.out.contains("Usage: hssk insurance"), help.out)
        }
    }
}
