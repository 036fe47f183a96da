import Foundation
import HealthModel
@testable import RecordStore
import XCTest

/// The reads the person index scales on, on both backends.
extension StoreContract {
    /// Blocks larger than the limit are not returned (nor read whole); snapshots and sweep pages hold
    /// active persons only.
    func blockMembersSnapshotsAndSweepPages() async throws {
        let store = try await open(try await fixture.freshLocation())
        var identity: [IdentityChange] = []
        for local in 1...5 {
            identity.append(.newPerson(local: local, Demographics(fullName: "Nguyễn Văn An", birthDate: "1980-03-0\(local)", sex: 1)))
            identity.append(.addBlockingKeys(.new(local: local), ["k:big"] + (local <= 2 ? ["k:small"] : []) + (local == 3 ? ["k:one"] : [])))
        }
        let created = try await store.apply(StoreBatch(identity: identity)).newPersons
        let p = (1...5).map { created[$0] ?? PersonID(0) }
        _ = try await store.merge(p[3], into: p[4], reason: "test", actor: "test")

        let blocks = try await store.blockMembers(["k:big", "k:small", "k:one", "k:none"], maxBlockSize: 3)
        XCTAssertNil(blocks["k:big"], "a block above the limit is unselective")
        XCTAssertEqual(blocks["k:small"], [p[0], p[1]])
        XCTAssertEqual(blocks["k:one"], [p[2]])
        XCTAssertNil(blocks["k:none"])
        let all = try await store.blockMembers(["k:big"], maxBlockSize: 5)
        XCTAssertEqual(Set(all["k:big"] ?? []), Set(p), "rows stay with the merged person when the survivor has the key")

        let snapshots = try await store.personSnapshots([p[0], p[3]])
        XCTAssertEqual(Array(snapshots.keys), [p[0]], "a merged person has no snapshot")
        XCTAssertEqual(snapshots[p[0]]?.demographics?.birthDate, "1980-03-01")

        let first = try await store.activePersons(after: nil, limit: 2)
        XCTAssertEqual(first.map(\.id), [p[0], p[1]])
        let rest = try await store.activePersons(after: p[1], limit: 10)
        XCTAssertEqual(rest.map(\.id), [p[2], p[4]], "merged persons are not swept")
        await store.close()
    }

    /// New personal IDs for more stored persons than one statement closes at once: each stored active
    /// number closes on the date the batch's first new one starts, a second new number in the same
    /// batch closes the first, and nothing else changes (the rules of one change at a time).
    func batchReissueClosesPersonalIDs() async throws {
        let store = try await open(try await fixture.freshLocation())
        let count = 70
        func number(_ prefix: String, _ i: Int) -> String { prefix + String(format: "%06d", i) }
        var identity: [IdentityChange] = []
        for local in 1...count {
            identity.append(.newPerson(local: local, Demographics(fullName: "Nguyễn Văn An", birthDate: "1980", sex: 1)))
            identity.append(.addIdentifier(.new(local: local), IdentifierEntry(.personalId, number("001080", local), validFrom: "2016-01-01", source: "t")))
            identity.append(.addIdentifier(.new(local: local), IdentifierEntry(.phone, number("090000", local), source: "t")))
        }
        let created = try await store.apply(StoreBatch(identity: identity)).newPersons
        let persons = (1...count).map { created[$0] ?? PersonID(0) }
        var reissue: [IdentityChange] = []
        for (i, person) in persons.enumerated() where i % 7 != 0 {
            reissue.append(.addIdentifier(.existing(person), IdentifierEntry(.personalId, number("002080", i + 1), validFrom: "2025-0\(1 + i % 9)-01", source: "t")))
            if i == 1 {
                reissue.append(.addIdentifier(.existing(person), IdentifierEntry(.personalId, number("003080", i + 1), validFrom: "2025-12-01", source: "t")))
            }
        }
        _ = try await store.apply(StoreBatch(identity: reissue))
        for (i, person) in persons.enumerated() {
            let stored = try await store.person(person)
            let personal = (stored?.identifiers ?? []).filter { $0.type == .personalId }.map { "\($0.value) \($0.validTo ?? "-")" }
            let expected: [String]
            if i % 7 == 0 {
                expected = ["\(number("001080", i + 1)) -"]
            } else if i == 1 {
                expected = ["\(number("001080", 2)) 2025-02-01", "\(number("002080", 2)) 2025-12-01", "\(number("003080", 2)) -"]
            } else {
                expected = ["\(number("001080", i + 1)) 2025-0\(1 + i % 9)-01", "\(number("002080", i + 1)) -"]
            }
            XCTAssertEqual(personal, expected, "person \(i + 1)")
            XCTAssertEqual((stored?.identifiers ?? []).filter { $0.type == .phone }.map(\.validTo), [nil])
        }
        let old = try await store.findPersons(.personalId, number("001080", 5), includeHistoric: true)
        XCTAssertEqual(old.map(\.person), [persons[4]], "a closed number still finds its person")
        let report = try await store.verify()
        XCTAssertEqual(report.problems, [])
        await store.close()
    }

    /// A merge leaves one active value of each single-valued identifier type: the survivor's, or the
    /// one the caller names (a re-issue's new number); the other is closed, still finds the person, and
    /// undo reopens it on its own person.
    func mergeClosesSupersededIdentifiers() async throws {
        let store = try await open(try await fixture.freshLocation())
        func entry(_ type: IdentifierType, _ value: String) -> IdentifierEntry { IdentifierEntry(type, value, source: "test") }
        let created = try await store.apply(StoreBatch(identity: [
            .newPerson(local: 1, Demographics(fullName: "Nguyễn Văn An", birthDate: "1980-03-07", sex: 1)),
            .newPerson(local: 2, Demographics(fullName: "Nguyễn Văn An", birthDate: "1980-03-07", sex: 1)),
            .addIdentifier(.new(local: 1), entry(.personalId, "001080012345")), .addIdentifier(.new(local: 1), entry(.bhxhNumber, "0123456789")),
            .addIdentifier(.new(local: 2), entry(.personalId, "001080067890")), .addIdentifier(.new(local: 2), entry(.bhxhNumber, "0987654321")),
            .addIdentifier(.new(local: 2), entry(.legacyId, "012345678")),
        ])).newPersons
        guard let a = created[1], let b = created[2] else { return XCTFail("\(created)") }
        func active(_ person: PersonID) async throws -> Set<String> {
            Set(try await store.person(person)?.identifiers.filter { $0.validTo == nil }.map { "\($0.type.rawValue):\($0.value)" } ?? [])
        }

        let first = try await store.merge(b, into: a, reason: "test", actor: "test")
        let afterFirst = try await active(a)
        XCTAssertEqual(afterFirst, ["personalId:001080012345", "bhxhNumber:0123456789", "legacyId:012345678"],
                       "the survivor's single-valued identifiers stay active; other types move as they are")
        let closed = try await store.findPersons(.personalId, "001080067890", includeHistoric: true)
        XCTAssertEqual(closed.map(\.person), [a], "a closed number still finds the person")
        XCTAssertEqual(closed.map(\.active), [false])
        try await store.undoMerge(first, actor: "test")
        let restored = try await active(b)
        XCTAssertEqual(restored, ["personalId:001080067890", "bhxhNumber:0987654321", "legacyId:012345678"], "undo reopens what the merge closed")
        let restoredA = try await active(a)
        XCTAssertEqual(restoredA, ["personalId:001080012345", "bhxhNumber:0123456789"])

        // A re-issue: the absorbed person holds the new number, which the reviewer keeps.
        let second = try await store.merge(b, into: a, reason: "re-issue", actor: "test", keepingActive: [IdentifierKey(.personalId, "001080067890")])
        let afterSecond = try await active(a)
        XCTAssertEqual(afterSecond, ["personalId:001080067890", "bhxhNumber:0123456789", "legacyId:012345678"])
        let old = try await store.findPersons(.personalId, "001080012345", includeHistoric: true)
        XCTAssertEqual(old.map(\.active), [false], "the old number is closed")
        try await store.undoMerge(second, actor: "test")
        let again = try await active(a)
        XCTAssertEqual(again, ["personalId:001080012345", "bhxhNumber:0123456789"])
        await store.close()
    }
}
