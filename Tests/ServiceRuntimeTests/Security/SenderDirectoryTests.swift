import Foundation
import HSSKTesting
import HealthModel
import RecordStore
@testable import ServiceRuntime
import Synchronization
import XCTest

/// The accounts ingest authenticates against, with a stand-in store that counts its calls: names made
/// up by a sender cost no query and no memory, the rest of a batch costs one call, the cache stays bounded.
final class SenderDirectoryTests: XCTestCase {
    /// A real store (SQLite) holding `accounts`, seen through a wrapper that counts look-up calls and
    /// the names asked for.
    final class CountingAccounts: SenderAccountStore {
        let store: any HealthRecordStore
        private let asked = Mutex<[Int]>([])

        init(_ accounts: [InteropAccount]) async throws {
            store = try await RecordStores.open(try TestStores.freshLocation(.sqlite), keys: try KeyRing.generate())
            for account in accounts { try await store.saveAccount(account) }
        }

        /// Names asked for, per call.
        var calls: [Int] { asked.withLock { $0 } }

        func accounts(named names: Set<String>) async throws -> [String: InteropAccount] {
            asked.withLock { $0.append(names.count) }
            return try await store.accounts(named: names)
        }

        func touchAccount(named name: String) async throws { try await store.touchAccount(named: name) }
    }

    let known = InteropAccount(name: "01001_lt_bnv", facility: "01001", signingKey: Array(repeating: 7, count: 32))

    func testTenThousandJunkNamesCostNoQueryAndNoMemory() async throws {
        let store = try await CountingAccounts([known])
        let directory = SenderDirectory(store: store, ttl: .seconds(60))
        // Anything a header can carry that no account can be named: wrong shape, wrong case, spaces,
        // NUL, other scripts, huge.
        var names: Set<String> = ["", " ", "_", "01001", "01001_lt_", "01001_LT_BNV", " 01001_lt_bnv", "01001_lt_bnv\u{0}x", "01001_lt_bnv ",
                                  "01001_lt_b nv", "01001_lt_bnv_x", "bhxh_lt_", "BHXH_lt_hn", "01001_lt_bñv", String(repeating: "a", count: 100_000)]
        var n = 0
        while names.count < 10_000 {
            names.insert(["junk-\(n)", "01001_lt_x-\(n)", "01001_lt_\(n)!", "x_\(n)_y_z", "\(n)"][n % 5])
            n += 1
        }
        XCTAssertEqual(names.count, 10_000)
        let found = try await directory.senders(named: names.union([known.name]))
        XCTAssertEqual(found.count, 10_001, "every name answered")
        XCTAssertTrue(names.allSatisfy { name in found[name].map { $0 == nil } == true }, "junk is an unknown account")
        XCTAssertEqual(found[known.name]??.name.value, known.name)
        XCTAssertEqual(store.calls, [1], "one call, for the one name that can be an account")
        XCTAssertEqual(directory.cachedCount, 1, "junk is not remembered")
        // Again: from the cache, still no query for the junk.
        _ = try await directory.senders(named: names.union([known.name]))
        XCTAssertEqual(store.calls, [1])
    }

    func testWellFormedUnknownNamesAreLookedUpTogetherAndTheCacheStaysBounded() async throws {
        let store = try await CountingAccounts([known])
        let directory = SenderDirectory(store: store, ttl: .seconds(3), capacity: 100)
        _ = try await directory.senders(named: [known.name])
        // Names that could be accounts but are not: each batch's are asked for in one call.
        for round in 0..<10 {
            let names = Set((0..<1_000).map { "01001_lt_r\(round)n\($0)" })
            let found = try await directory.senders(named: names)
            XCTAssertTrue(found.count == names.count && found.values.allSatisfy { $0 == nil })
            XCTAssertLessThanOrEqual(directory.cachedCount, 100, "round \(round)")
        }
        XCTAssertEqual(store.calls, [1] + Array(repeating: 1_000, count: 10), "one call per batch, never one per name")
        // Unknown names are evicted before accounts: the known account is still cached.
        let again = try await directory.senders(named: [known.name])
        XCTAssertEqual(again[known.name]??.name.value, known.name)
        XCTAssertEqual(store.calls.count, 11)
        // Unknown names expire like accounts (an account added meanwhile is found), and expired
        // entries are the first to go.
        try await Task.sleep(for: .milliseconds(3_100))
        _ = try await directory.senders(named: ["01001_lt_r0n1"])
        XCTAssertEqual(store.calls.last, 1, "an expired unknown name is asked for again")
        _ = try await directory.senders(named: Set((0..<50).map { "01001_lt_late\($0)" }))
        XCTAssertEqual(directory.cachedCount, 51, "over capacity, every expired entry went and no fresh one")
        let fresh = try await directory.senders(named: ["01001_lt_late1", "01001_lt_r0n1"])
        XCTAssertEqual(fresh.count, 2)
        XCTAssertEqual(store.calls.count, 13, "fresh entries are answered from the cache")
    }
}
