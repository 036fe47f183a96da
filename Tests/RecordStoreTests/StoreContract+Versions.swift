import Foundation
import HealthModel
@testable import RecordStore
import XCTest

/// Versions of one source key (DESIGN §6: per key the latest offset wins): a correction back to
/// earlier content is the current version; a replay of a stored offset changes nothing.
extension StoreContract {
    func correctionBackToEarlierContent() async throws {
        let (store, location, person) = try await seeded()
        let a = Fixtures.visit("LK-20")
        var b = a
        b.dischargeDiagnosis = "Đã khỏi"
        func apply(_ record: IncomingRecord) async throws -> RecordOutcome {
            try await store.apply(StoreBatch(records: [record])).records[0]
        }
        let r1 = try await apply(try Fixtures.incoming(a, offset: 10, partition: 1, person: .existing(person)))
        let r2 = try await apply(try Fixtures.incoming(b, offset: 11, partition: 1, person: .existing(person)))
        let r3 = try await apply(try Fixtures.incoming(a, offset: 12, partition: 1, person: .existing(person)))
        guard case .stored(let id1) = r1, case .superseded(let id2, _) = r2,
              case .superseded(let id3, let previous3) = r3 else { return XCTFail("outcomes \(r1) \(r2) \(r3)") }
        XCTAssertEqual(previous3, id2, "A again after B supersedes B")
        var versions = try await store.sourceVersions(topic: "hssk.visits.v1", key: a.kafkaKey)
        XCTAssertEqual(versions.map(\.id), [id1, id2, id3])
        XCTAssertEqual(versions.map(\.version), [1, 2, 3])
        XCTAssertEqual(versions.map(\.supersededBy), [id2, id3, nil])
        XCTAssertEqual(versions[2].original, Array(try RecordDecoder.encode(a)))
        let raw = try fixture.rawConnection(location)
        defer { raw.close() }
        func derivedVisit() throws -> [Int64?] {
            try raw.query("SELECT v.source_record_id FROM visit v JOIN source_record s ON s.id = v.source_record_id WHERE s.id IN (?, ?, ?)",
                          [.int(id1), .int(id2), .int(id3)]).map { $0[0].int }
        }
        XCTAssertEqual(try derivedVisit(), [id3], "the derived row follows the correction")
        let file = try await store.personFile(person)
        XCTAssertEqual(file?.records.filter { $0.coordinates.offset >= 10 }.map(\.id), [id3])
        XCTAssertEqual(file?.records.first { $0.id == id3 }?.original, Array(try RecordDecoder.encode(a)))

        // Replays of stored offsets change nothing and never make an old version current again.
        let before = try await store.contentDigest()
        let replayB = try await apply(try Fixtures.incoming(b, offset: 11, partition: 1, person: .existing(person)))
        XCTAssertEqual(replayB, .duplicate(id: id2))
        let replayA = try await apply(try Fixtures.incoming(a, offset: 10, partition: 1, person: .existing(person)))
        XCTAssertEqual(replayA, .duplicate(id: id1))
        let replayA3 = try await apply(try Fixtures.incoming(a, offset: 12, partition: 1, person: .existing(person)))
        XCTAssertEqual(replayA3, .duplicate(id: id3))
        // The current content sent again at a later offset (a resend) is a duplicate of the current version.
        let resend = try await apply(try Fixtures.incoming(a, offset: 13, partition: 1, person: .existing(person)))
        XCTAssertEqual(resend, .duplicate(id: id3))
        let after = try await store.contentDigest()
        for table in ["source_record", "visit", "person", "identifier"] {
            XCTAssertEqual(before[table], after[table], "a replay changed \(table)")
        }
        versions = try await store.sourceVersions(topic: "hssk.visits.v1", key: a.kafkaKey)
        XCTAssertEqual(versions.map(\.supersededBy), [id2, id3, nil])

        // The same inside one batch: A, B, A of another key, then B once more (a new version again).
        let c = Fixtures.visit("LK-21")
        var d = c
        d.dischargeDiagnosis = "Đỡ"
        let batch = try await store.apply(StoreBatch(records: [
            try Fixtures.incoming(c, offset: 20, partition: 1), try Fixtures.incoming(d, offset: 21, partition: 1), try Fixtures.incoming(c, offset: 22, partition: 1),
            try Fixtures.incoming(c, offset: 23, partition: 1), try Fixtures.incoming(d, offset: 24, partition: 1)]))
        guard case .stored(let c1) = batch.records[0], case .superseded(let d2, let p2) = batch.records[1],
              case .superseded(let c3, let p3) = batch.records[2], case .superseded(let d4, let p4) = batch.records[4] else {
            return XCTFail("\(batch.records)")
        }
        XCTAssertEqual([p2, p3, p4], [c1, d2, c3])
        XCTAssertEqual(batch.records[3], .duplicate(id: c3))
        let inBatch = try await store.sourceVersions(topic: "hssk.visits.v1", key: c.kafkaKey)
        XCTAssertEqual(inBatch.map(\.version), [1, 2, 3, 4])
        XCTAssertEqual(inBatch.map(\.supersededBy), [d2, c3, d4, nil])

        // An insurance card corrected back: its state is the fold of the whole history, the correction included.
        var issued = cardChange(.issued, "2025-01-01", validTo: "2025-12-31")
        issued.registeredFacility = "01001"
        var wrong = issued
        wrong.kind = .changed
        wrong.validTo = "2026-06-30"
        for (offset, change) in [issued, wrong, issued].enumerated() {
            _ = try await store.apply(StoreBatch(records: [try incomingCard(change, offset: Int64(30 + offset), person: .existing(person))]))
        }
        let card = try await store.insuranceCard(bhxhNumber: Plain.bhxh)
        XCTAssertEqual(card?.state.validTo, "2025-12-31", "the card follows the correction back")
        XCTAssertEqual(card?.state.changes, 3)
        XCTAssertEqual(card?.state, InsuranceCardState.fold([issued, wrong, issued]))
        let replayedCard = try await store.apply(StoreBatch(records: [try incomingCard(wrong, offset: 31, person: .existing(person))]))
        XCTAssertEqual(replayedCard.duplicates, 1, "a replay of the superseded change is not a fourth change")
        let cardAfterReplay = try await store.insuranceCard(bhxhNumber: Plain.bhxh)
        XCTAssertEqual(cardAfterReplay?.state.validTo, "2025-12-31")
        XCTAssertEqual(cardAfterReplay?.state.changes, 3)

        // (Records here are applied without consumer offsets, on a partition no group reads, as a tool would.)
        let report = try await store.verify()
        XCTAssertEqual(report.problems, [])
        await store.close()
    }
}
