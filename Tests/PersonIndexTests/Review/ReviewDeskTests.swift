import Foundation
import HSSKTesting
import HealthModel
@testable import PersonIndex
@testable import RecordStore
import SyntheticPopulation
import XCTest

/// Review decisions on both backends: merges and their undo, held-back records linked or made new
/// persons, refusals, the audit trail with the operator, and the citizen feed told of each change.
final class ReviewDeskTests: XCTestCase {
    func testDuplicateLinkMergesAndUndoRestoresSQLite() async throws { try await duplicateLinkMergesAndUndoRestores(.sqlite) }
    func testDuplicateLinkMergesAndUndoRestoresPostgres() async throws { try await duplicateLinkMergesAndUndoRestores(.postgres) }
    func testHeldBackRecordsAreLinkedOrMadeNewPersonsSQLite() async throws { try await heldBackRecordsAreLinkedOrMadeNewPersons(.sqlite) }
    func testHeldBackRecordsAreLinkedOrMadeNewPersonsPostgres() async throws { try await heldBackRecordsAreLinkedOrMadeNewPersons(.postgres) }

    static let address = Address(text: "Số 1 Phố Huế, Hà Nội", provinceCode: "01", communeCode: "00256")

    static func card(_ pid: String, bhxh: String, name: String = "Nguyễn Văn An", sex: Int = 1) -> (SourceRecord, String) {
        var holder = PersonDetails(fullName: name, birthDate: "1980-03-07", sex: sex, personalId: pid)
        holder.address = address
        return (.insuranceCard(InsuranceCardChange(kind: .renewed, cardCode: "DN401" + bhxh, bhxhNumber: bhxh, holder: holder, effectiveAt: "2025-08-01")),
                SyntheticAccounts.socialSecurity)
    }

    static func visit(_ episode: String, pid: String?, bhxh: String?, sex: Int = 1) -> (SourceRecord, String) {
        var patient = PersonDetails(fullName: "Nguyễn Văn An", birthDate: "1980-03-07", sex: sex, personalId: pid, bhxhNumber: bhxh)
        patient.address = address
        return (.visit(VisitRecord(facilityCode: "01001", episodeKey: episode, patientId: "BN-\(episode)", patient: patient, visitType: "01",
                                   admissionTime: "2025-09-01T08:00", diagnoses: [Diagnosis(code: "J06.9", text: "Viêm họng")])), "01001_lt_bvbm")
    }

    /// `actor action` of the audit rows, in order.
    func audit(_ location: String, _ backend: TestStores.Backend) throws -> [String] {
        let raw: SQLConnection = backend == .sqlite ? try SQLiteConnection(path: location) : try PostgresConnection(url: location)
        defer { raw.close() }
        return try raw.query("SELECT actor, action FROM audit_log ORDER BY seq", []).map { "\(try $0.text(0)) \(try $0.text(1))" }
    }

    /// The citizen-feed changes queued, as (person, reason, other).
    func feed(_ store: any HealthRecordStore) async throws -> [String] {
        try await store.pendingOutbox(kind: OutboxKinds.citizenFeed, limit: 1_000).compactMap { entry in
            PersonChange(payload: entry.payload).map { "p\(entry.key) \($0.reason.rawValue)" + ($0.other.map { " p\($0)" } ?? "") }
        }
    }

    func duplicateLinkMergesAndUndoRestores(_ backend: TestStores.Backend) async throws {
        let location = try TestStores.freshLocation(backend)
        let store = try await RecordStores.open(location, keys: try KeyRing.generate())
        // Records with a re-issued number came before the registry's event: two persons, one task.
        let old = "001080012345", new = "001080067890"
        try await PersonIndexFixture.link([Self.card(old, bhxh: "0123456789")], into: store)
        let second = try await PersonIndexFixture.link([Self.visit("LK-1", pid: new, bhxh: nil)], into: store, firstOffset: 1).persons
        var event = RegistryEvent(stationCode: "01I29", eventId: "ID-1", kind: .newPersonalIdIssued, occurredAt: "2025-09-10",
                                  person: PersonDetails(fullName: "Nguyễn Văn An", birthDate: "1980-03-07", sex: 1, personalId: new))
        event.newPersonalId = NewPersonalIDDetails(oldPersonalId: old, newPersonalId: new, reason: .other, cancelledAt: "2025-08-20")
        let first = try await PersonIndexFixture.link([(.registryEvent(event), SyntheticAccounts.station.account)], into: store, firstOffset: 2).persons
        guard let kept = first.first ?? nil, let duplicate = second.first ?? nil else { return XCTFail("\(first) \(second)") }
        let tasks = try await store.reviewTasks(includeResolved: false)
        XCTAssertEqual(tasks.map(\.kind), ["possibleDuplicate"])
        XCTAssertEqual(tasks.first?.persons, [duplicate, kept], "the person to merge away comes first")
        let taskID = try XCTUnwrap(tasks.first?.id)
        let before = try await feed(store).count

        let desk = ReviewDesk(store: store, actor: "op.lan")
        let shown = try await desk.reviewCase(taskID)
        XCTAssertEqual(shown.evidence?.rule, "reissue")
        XCTAssertEqual(shown.decoded?.kafkaKey, event.kafkaKey, "the task names the record that raised it")
        do {
            _ = try await desk.link(taskID, to: duplicate)
            XCTFail("a person cannot be linked to itself")
        } catch ReviewDeskError.samePerson {}
        let decision = try await desk.link(taskID, to: kept)
        guard case .merged(let mergeID, duplicate, kept) = decision else { return XCTFail("\(decision)") }
        let merged = try await store.person(duplicate)
        XCTAssertEqual(merged?.mergedInto, kept)
        let survivor = try await store.person(kept)
        XCTAssertEqual(Set(survivor?.identifiers.filter { $0.type == .personalId }.map(\.value) ?? []), [old, new])
        XCTAssertEqual(survivor?.identifiers.filter { $0.type == .personalId && $0.validTo == nil }.map(\.value), [new],
                       "the re-issue's new number is the active one, the old one closed")
        let resolved = try await store.reviewTasks(includeResolved: true)
        XCTAssertEqual(resolved.first?.resolution?.hasPrefix("link: merge \(mergeID)"), true)
        do {
            _ = try await desk.split(taskID)
            XCTFail("a resolved task is not decided twice")
        } catch ReviewDeskError.alreadyResolved {}

        try await store.undoMerge(mergeID, actor: "op.lan")
        let restored = try await store.person(duplicate)
        XCTAssertNil(restored?.mergedInto)
        let changes = try await feed(store).dropFirst(before)
        XCTAssertEqual(Array(changes), ["\(kept) merge \(duplicate)", "\(kept) undoMerge \(duplicate)", "\(duplicate) undoMerge \(kept)"])
        let rows = try audit(location, backend)
        XCTAssertEqual(rows.suffix(3), ["op.lan merge", "op.lan resolve-review", "op.lan undo-merge"])
        await store.close()
    }

    func heldBackRecordsAreLinkedOrMadeNewPersons(_ backend: TestStores.Backend) async throws {
        let location = try TestStores.freshLocation(backend)
        let store = try await RecordStores.open(location, keys: try KeyRing.generate())
        let x = "001080012345", y = "001180067890"
        let a = try await PersonIndexFixture.link([Self.card(x, bhxh: "0123456789")], into: store).persons[0]
        let b = try await PersonIndexFixture.link([Self.card(y, bhxh: "0987654321", name: "Trần Thị Mai", sex: 2)], into: store, firstOffset: 1).persons[0]
        // One record names A's personal ID and B's BHXH number; another A's number with another sex.
        let held = try await PersonIndexFixture.link([Self.visit("LK-2", pid: x, bhxh: "0987654321"), Self.visit("LK-3", pid: x, bhxh: nil, sex: 2)],
                                                     into: store, firstOffset: 2)
        XCTAssertEqual(held.persons, [nil, nil], "conflicting records are held back unlinked")
        guard let a, let b else { return XCTFail("no persons") }
        let tasks = try await store.reviewTasks(includeResolved: false)
        XCTAssertEqual(tasks.map(\.kind), ["identifierConflict", "sexConflict"])
        XCTAssertEqual(tasks.map(\.persons), [[a, b], [a]])
        let desk = ReviewDesk(store: store, actor: "op.lan")
        let before = try await feed(store).count

        do {
            _ = try await desk.link(tasks[0].id, to: PersonID(9_999))
            XCTFail("an unknown person is refused")
        } catch ReviewDeskError.personUnavailable {}
        let linked = try await desk.link(tasks[0].id, to: a)
        guard case .recordLinked(let recordID, a) = linked else { return XCTFail("\(linked)") }
        let visits = try await store.sourceVersions(topic: PersonIndexFixture.topics[.visit] ?? "", key: Self.visit("LK-2", pid: nil, bhxh: nil).0.kafkaKey)
        XCTAssertEqual(visits.map(\.id), [recordID])
        XCTAssertEqual(visits.map(\.person), [a])

        do {
            _ = try await desk.split(tasks[1].id)
            XCTFail("split is for duplicates")
        } catch ReviewDeskError.notApplicable {}
        let made = try await desk.makeNewPerson(tasks[1].id)
        guard case .newPerson(let created, _) = made else { return XCTFail("\(made)") }
        XCTAssertFalse([a, b].contains(created))
        let newcomer = try await store.person(created)
        XCTAssertEqual(newcomer?.recordCount, 1)
        XCTAssertFalse(newcomer?.identifiers.contains { $0.type == .personalId } ?? true, "A's personal ID stays A's")
        XCTAssertEqual(newcomer?.identifiers.map(\.type), [.facilityPatientId], "identifiers nobody holds are taken")
        let remaining = try await store.reviewTasks(includeResolved: false)
        XCTAssertTrue(remaining.isEmpty)
        let changes = try await feed(store).dropFirst(before)
        XCTAssertEqual(Array(changes), ["\(a) record", "\(created) record"])
        let rows = try audit(location, backend).filter { $0.hasPrefix("op.lan") }
        XCTAssertEqual(rows, ["op.lan apply", "op.lan review-link", "op.lan resolve-review", "op.lan apply", "op.lan review-new", "op.lan resolve-review"])
        await store.close()
    }
}
