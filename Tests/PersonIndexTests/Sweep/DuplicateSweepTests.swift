import Foundation
import HSSKTesting
import HealthModel
import Linkage
@testable import PersonIndex
import RecordStore
import XCTest

/// `DuplicateSweep` on both backends: a proven duplicate (same birth certificate) is merged, a probable
/// one goes to review once, twins and namesakes with other identifiers are ruled out, a dry run
/// changes nothing, and a second sweep raises nothing again.
final class DuplicateSweepTests: XCTestCase {
    func testSweepSQLite() async throws { try await sweep(.sqlite) }
    func testSweepPostgres() async throws { try await sweep(.postgres) }

    private func person(_ local: Int, _ name: String, _ birth: String, commune: String, address: String, phone: String? = nil,
                        _ identifiers: [(IdentifierType, String)]) -> [IdentityChange] {
        let ref = PersonRef.new(local: local)
        let demographics = Demographics(fullName: name, birthDate: birth, sex: 1, phone: phone, address: address, communeCode: commune)
        return [.newPerson(local: local, demographics), .addBlockingKeys(ref, IncrementalLinker.blockingKeys(PersonProfile(stored: demographics)))]
            + identifiers.map { .addIdentifier(ref, IdentifierEntry($0.0, $0.1, source: "test")) }
    }

    func sweep(_ backend: TestStores.Backend) async throws {
        let store = try await RecordStores.open(try TestStores.freshLocation(backend), keys: try KeyRing.generate())
        // Created in this order, so ids grow down the list: the later of a pair is the possible duplicate.
        let changes = person(1, "Lê Minh Khang", "2025-10-05", commune: "00301", address: "Số 9 Kim Mã", [(.birthCertificate, "GKS-1")])
            + person(2, "Nguyễn Văn An", "1980-03-07", commune: "00256", address: "Số 1 Phố Huế", phone: "0912345678", [(.personalId, "001080012345")])
            + person(3, "Trần Văn Bình", "1975-01-01", commune: "00100", address: "Số 5 Láng Hạ", [(.personalId, "001075000001")])
            // Two ingest processes each created the newborn of one birth registration.
            + person(4, "Lê Minh Khang", "2025-10-05", commune: "00301", address: "Số 9 Kim Mã", [(.personalId, "001225000009"), (.birthCertificate, "GKS-1")])
            // Known once without any identifier.
            + person(5, "Nguyễn Văn An", "1980-03-07", commune: "00256", address: "Số 77 Kim Mã", [])
            // A namesake with another personal ID, and a twin with another birth certificate.
            + person(6, "Trần Văn Bình", "1975-01-01", commune: "00100", address: "Số 5 Láng Hạ", [(.personalId, "001075000002")])
            + person(7, "Lê Minh Khôi", "2025-10-05", commune: "00301", address: "Số 9 Kim Mã", [(.birthCertificate, "GKS-2")])
        let created = try await store.apply(StoreBatch(identity: changes)).newPersons
        let p = (1...7).map { created[$0] ?? PersonID(0) }

        var sweep = DuplicateSweep(store: store, actor: "op.lan")
        sweep.pageSize = 2
        let dry = try await sweep.run(dryRun: true)
        let untouched = try await store.person(p[3])
        XCTAssertNil(untouched?.mergedInto, "a dry run merges nothing")
        let noTasks = try await store.reviewTasks(includeResolved: true)
        XCTAssertTrue(noTasks.isEmpty, "a dry run opens nothing")

        let first = try await sweep.run()
        XCTAssertEqual(first, dry, "the dry run reported what the sweep did")
        XCTAssertEqual(first.persons, 7)
        XCTAssertEqual(first.merged, 1)
        XCTAssertEqual(first.reviewsOpened, 1)
        XCTAssertEqual(first.vetoed, 2, "namesake and twin ruled out by their identifiers")
        let merged = try await store.person(p[3])
        XCTAssertEqual(merged?.mergedInto, p[0], "the later newborn merged into the earlier")
        let merges = try await store.merges(involving: p[0])
        XCTAssertEqual(merges.map(\.reason), ["dedup: same birthCertificate"])
        XCTAssertEqual(merges.map(\.actor), ["op.lan"])
        let tasks = try await store.reviewTasks(includeResolved: false)
        XCTAssertEqual(tasks.map(\.kind), ["possibleDuplicate"])
        XCTAssertEqual(tasks.first?.persons, [p[4], p[1]])
        XCTAssertEqual(ReviewEvidence(json: tasks.first?.evidence ?? "")?.rule, "dedup")
        let feed = try await store.pendingOutbox(kind: OutboxKinds.citizenFeed, limit: 100).compactMap { PersonChange(payload: $0.payload) }
        XCTAssertEqual(feed.map(\.reason), [.merge], "the feed is told of the merge")

        let second = try await sweep.run()
        XCTAssertEqual(second.merged, 0)
        XCTAssertEqual(second.reviewsOpened, 0)
        XCTAssertEqual(second.alreadyInReview, 1, "a pair in review is not raised again")
        let after = try await store.reviewTasks(includeResolved: true)
        XCTAssertEqual(after.count, 1)
        await store.close()
    }
}
