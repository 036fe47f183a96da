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
}
