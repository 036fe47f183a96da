import Foundation
import HealthModel
import Linkage
import RecordStore
import XCTest

/// `hssk review` and `hssk persons` as an operator runs them on a SQLite store holding a possible
/// duplicate and a record held back by an identifier conflict.
final class ReviewCommandTests: XCTestCase {
    var folder: URL!
    var keys: String!
    var store: String!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("review-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        keys = folder.appendingPathComponent("keys.json").path
        store = folder.appendingPathComponent("store.sqlite").path
        XCTAssertEqual(try runCommand(hssk, ["keys", "generate", "--out", keys]).status, 0)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: folder)
    }

    /// Runs `hssk ARGS --store S --keys K`.
    func run(_ arguments: [String]) throws -> (status: Int32, output: String) {
        try runCommand(hssk, arguments + ["--store", store, "--keys", keys])
    }

    /// Two persons that may be one (task 1) and a visit held back between two persons (task 2).
    func seed() async throws -> (first: PersonID, second: PersonID) {
        let opened = try await RecordStores.open(store, keys: try KeyRing(contentsOf: keys))
        var patient = PersonDetails(fullName: "Nguyễn Văn An", birthDate: "1980-03-07", sex: 1, personalId: "001080012345", bhxhNumber: "0987654321")
        patient.address = Address(text: "Số 1 Phố Huế", provinceCode: "01", communeCode: "00256")
        let record = VisitRecord(facilityCode: "01001", episodeKey: "LK-9", patientId: "BN-9", patient: patient, visitType: "01",
                                 admissionTime: "2025-09-01T08:00", diagnoses: [Diagnosis(code: "J06.9", text: "Viêm họng")])
        let visit = SourceRecord.visit(record)
        let held = IncomingRecord(record: visit, original: Array(try RecordDecoder.encode(record)),
                                  coordinates: KafkaCoordinates(topic: "hssk.visits.v1", partition: 0, offset: 5), sender: "01001_lt_bvbm")
        let evidence = #"{"reason":"the record's identifiers belong to different persons","record":{"kind":"visit","key":"\#(visit.kafkaKey)","offset":5,"partition":0,"topic":"hssk.visits.v1"},"rule":"identifier"}"#
        let result = try await opened.apply(StoreBatch(records: [held], identity: [
            .newPerson(local: 1, Demographics(fullName: "Nguyễn Văn An", birthDate: "1980-03-07", sex: 1, communeCode: "00256")),
            .addIdentifier(.new(local: 1), IdentifierEntry(.personalId, "001080012345", source: "test")),
            .addBlockingKeys(.new(local: 1), IncrementalLinker.blockingKeys(PersonProfile(patient))),
            .addBlockingKeys(.new(local: 2), IncrementalLinker.blockingKeys(PersonProfile(patient))),
            .newPerson(local: 2, Demographics(fullName: "Nguyễn Văn An", birthDate: "1980", sex: 1, communeCode: "00256")),
            .addIdentifier(.new(local: 2), IdentifierEntry(.bhxhNumber, "0987654321", source: "test")),
            .openReview(ReviewTaskDraft(kind: "possibleDuplicate", persons: [.new(local: 2), .new(local: 1)],
                                        evidence: #"{"rule":"probabilistic","score":12.5,"runnerUp":null,"weights":{"name":8.6}}"#)),
            .openReview(ReviewTaskDraft(kind: "identifierConflict", persons: [.new(local: 1), .new(local: 2)], evidence: evidence)),
        ]))
        await opened.close()
        return (try XCTUnwrap(result.newPersons[1]), try XCTUnwrap(result.newPersons[2]))
    }

    func testOperatorListsShowsDecidesAndUndoes() async throws {
        let (first, second) = try await seed()
        let list = try run(["review", "list"])
        XCTAssertEqual(list.status, 0, list.output)
        XCTAssertTrue(list.output.contains("possibleDuplicate") && list.output.contains("identifierConflict"), list.output)
        XCTAssertTrue(list.output.contains("visit hssk.visits.v1/0@5"), list.output)
        XCTAssertTrue(list.output.contains("2 task(s)"), list.output)

        let show = try run(["review", "show", "2"])
        XCTAssertEqual(show.status, 0, show.output)
        XCTAssertTrue(show.output.contains("as sent: Nguyễn Văn An"), show.output)
        XCTAssertTrue(show.output.contains("bhxhNumber        0987654321"), show.output)
        XCTAssertTrue(show.output.contains("decide: hssk review link 2 --person P | new 2"), show.output)

        XCTAssertEqual(try run(["review", "link", "1"]).status, 64, "--person is required")
        XCTAssertEqual(try run(["review", "show", "99"]).status, 1, "unknown task")
        let linked = try run(["review", "link", "1", "--person", "\(first)", "--actor", "op.lan"])
        XCTAssertEqual(linked.status, 0, linked.output)
        let mergeID = try XCTUnwrap(linked.output.range(of: #"merge (\d+);"#, options: .regularExpression).map { linked.output[$0].dropFirst(6).dropLast() })
        let again = try run(["review", "link", "1", "--person", "\(first)"])
        XCTAssertEqual(again.status, 1)
        XCTAssertTrue(again.output.contains("already resolved"), again.output)
        let stale = try run(["review", "link", "2", "--person", "\(second)"])
        XCTAssertEqual(stale.status, 1, "a merged person takes nothing: \(stale.output)")

        let person = try run(["persons", "show", "\(first)"])
        XCTAssertEqual(person.status, 0, person.output)
        XCTAssertTrue(person.output.contains("0987654321") && person.output.contains("merge \(mergeID): \(second) into \(first) by op.lan"), person.output)
        let undone = try run(["persons", "undo-merge", String(mergeID), "--actor", "op.lan"])
        XCTAssertEqual(undone.status, 0, undone.output)
        XCTAssertEqual(try run(["persons", "undo-merge", String(mergeID)]).status, 1, "undone once")

        let linkedRecord = try run(["review", "link", "2", "--person", "p\(second.rawValue)", "--actor", "op.lan"])
        XCTAssertEqual(linkedRecord.status, 0, linkedRecord.output)
        XCTAssertTrue(linkedRecord.output.contains("linked to \(second)"), linkedRecord.output)
        let resolved = try run(["review", "list", "--all"])
        XCTAssertTrue(resolved.output.contains("split") == false && resolved.output.contains("link: record"), resolved.output)
        let open = try run(["review", "list"])
        XCTAssertTrue(open.output.contains("0 task(s)"), open.output)
    }

    func testDedupReportsAndRaisesNothingTwice() async throws {
        _ = try await seed()
        let dry = try run(["dedup", "--dry-run", "--json"])
        XCTAssertEqual(dry.status, 0, dry.output)
        // stderr (merged here) first says which match model the sweep scores with, as a one-line JSON log.
        XCTAssertTrue(dry.output.contains(#""event":"matchModel.loaded""#) && dry.output.contains(#""source":"defaults""#), dry.output)
        let json = try XCTUnwrap(dry.output.range(of: "{\n").map { String(dry.output[$0.lowerBound...]) })
        let report = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        XCTAssertEqual(report["persons"] as? Int, 2)
        XCTAssertEqual(report["alreadyInReview"] as? Int, 1, "the seeded pair is in review already: \(json)")
        XCTAssertEqual(report["reviewsOpened"] as? Int, 0)
        let swept = try run(["dedup", "--actor", "op.lan"])
        XCTAssertEqual(swept.status, 0, swept.output)
        XCTAssertTrue(swept.output.contains("sent to review:       0"), swept.output)
        XCTAssertEqual(try run(["dedup", "extra"]).status, 64)
    }

    /// Two persons are far too few to estimate m/u on: refused with a reason, exit 1, nothing saved.
    func testDedupEstimateRefusesATinyStore() async throws {
        _ = try await seed()
        let refused = try run(["dedup", "--estimate", "--actor", "op.lan"])
        XCTAssertEqual(refused.status, 1, refused.output)
        XCTAssertTrue(refused.output.contains("too little data for a meaningful estimate: 2 persons"), refused.output)
        XCTAssertTrue(refused.output.contains("name") && refused.output.contains("(0.8000)"), "the table shows the defaults: \(refused.output)")
        let json = try run(["dedup", "--estimate", "--dry-run", "--json"])
        XCTAssertEqual(json.status, 1, json.output)
        let body = try XCTUnwrap(json.output.range(of: "{\n").map { String(json.output[$0.lowerBound...]) }.flatMap { $0.components(separatedBy: "\n}").first.map { $0 + "\n}" } })
        let report = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])
        XCTAssertEqual(report["saved"] as? Bool, false)
        XCTAssertEqual(report["persons"] as? Int, 2)
        XCTAssertNotNil((report["fields"] as? [String: Any])?["birthDate"])
        let opened = try await RecordStores.open(store, keys: try KeyRing(contentsOf: keys))
        let stored = try await opened.matchModel()
        XCTAssertNil(stored, "nothing saved")
        await opened.close()
    }
}
