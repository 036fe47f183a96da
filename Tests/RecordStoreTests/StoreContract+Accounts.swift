import Foundation
import HealthModel
@testable import RecordStore
import XCTest

/// Interop account administration, on both backends.
extension StoreContract {
    /// `(actor, action)` of the audit rows about `account`, in order.
    func accountAudit(_ location: String, _ account: String) throws -> [String] {
        let raw = try fixture.rawConnection(location)
        defer { raw.close() }
        return try raw.query("SELECT actor, action FROM audit_log WHERE subject = ? ORDER BY seq", [.text("account:\(account)")])
            .map { "\(try $0.text(0)) \(try $0.text(1))" }
    }

    func accountLifecycle() async throws {
        let location = try await fixture.freshLocation()
        let store = try await open(location)
        let key = Array("first-signing-key-of-01001-lt-bn".utf8)
        let created = try await store.createAccount(InteropAccount(name: "01001_lt_bnv", facility: "01001", signingKey: key), actor: "op.lan")
        XCTAssertTrue(created)
        let again = try await store.createAccount(InteropAccount(name: "01001_lt_bnv", facility: "01999", signingKey: [1, 2, 3]), actor: "op.lan")
        XCTAssertFalse(again, "an existing account is never overwritten by a creation")
        _ = try await store.createAccount(InteropAccount(name: "bhxh_lt_hn", facility: "BHXH", signingKey: Array(repeating: 5, count: 32)), actor: "op.lan")
        _ = try await store.createAccount(InteropAccount(name: "01I29_lt_tc", facility: "01I29", keyReference: "vault:hssk/01I29"), actor: "op.lan")

        let listed = try await store.accounts()
        XCTAssertEqual(listed.map(\.name), ["01001_lt_bnv", "01I29_lt_tc", "bhxh_lt_hn"])
        XCTAssertEqual(listed.map(\.facility), ["01001", "01I29", "BHXH"])
        XCTAssertTrue(listed.allSatisfy { $0.signingKey == nil }, "a listing carries no keys")
        XCTAssertTrue(listed.allSatisfy { $0.createdAt != nil && $0.lastSeen == nil && !$0.locked })
        let stored = try await store.account(named: "01001_lt_bnv")
        XCTAssertEqual(stored?.signingKey, key)
        XCTAssertEqual(stored?.facility, "01001")
        XCTAssertEqual(stored?.keyReference, nil)

        let locked = try await store.setAccountLocked(named: "01001_lt_bnv", locked: true, actor: "op.lan")
        XCTAssertEqual(locked, .changed)
        let lockedAgain = try await store.setAccountLocked(named: "01001_lt_bnv", locked: true, actor: "op.lan")
        XCTAssertEqual(lockedAgain, .unchanged)
        let isLocked = try await store.account(named: "01001_lt_bnv")?.locked
        XCTAssertEqual(isLocked, true)
        let unknown = try await store.setAccountLocked(named: "01001_lt_xx", locked: true, actor: "op.lan")
        XCTAssertEqual(unknown, .unknownAccount)
        let unlocked = try await store.setAccountLocked(named: "01001_lt_bnv", locked: false, actor: "op.binh")
        XCTAssertEqual(unlocked, .changed)
        let afterUnlock = try await store.account(named: "01001_lt_bnv")
        XCTAssertEqual(afterUnlock?.locked, false)
        XCTAssertNotNil(afterUnlock?.lastSeen, "unlocking restarts the inactivity period")

        let newKey = Array("second-signing-key-of-01001-lt-b".utf8)
        let rotated = try await store.replaceSigningKey(named: "01001_lt_bnv", with: newKey, actor: "op.binh")
        XCTAssertEqual(rotated, .changed)
        let rotatedKey = try await store.account(named: "01001_lt_bnv")?.signingKey
        XCTAssertEqual(rotatedKey, newKey)
        let rotatedUnknown = try await store.replaceSigningKey(named: "nobody", with: newKey, actor: "op.binh")
        XCTAssertEqual(rotatedUnknown, .unknownAccount)

        XCTAssertEqual(try accountAudit(location, "01001_lt_bnv"),
                       ["op.lan create-account", "op.lan lock-account", "op.binh unlock-account", "op.binh rotate-account-key"],
                       "one audit row per real change, with the operator as actor")
        let report = try await store.verify()
        XCTAssertTrue(report.ok, "\(report.problems)")
        await store.close()
        let bytes = try fixture.rawBytes(location)
        XCTAssertEqual(occurrences(of: "first-signing-key", in: bytes), 0, "signing keys are encrypted at rest")
        XCTAssertEqual(occurrences(of: "second-signing-key", in: bytes), 0, "signing keys are encrypted at rest")
    }

    func lockInactiveAccounts() async throws {
        let location = try await fixture.freshLocation()
        let store = try await open(location)
        for name in ["01001_lt_old", "01001_lt_seen", "01001_lt_new", "01001_lt_stale", "01001_lt_shut"] {
            _ = try await store.createAccount(InteropAccount(name: name, facility: "01001", signingKey: Array(repeating: 1, count: 32)),
                                              actor: "setup")
        }
        _ = try await store.setAccountLocked(named: "01001_lt_shut", locked: true, actor: "setup")
        // Back-date what the clock cannot: created long ago and never seen; created long ago but seen
        // today; created today; seen long ago; locked and old.
        let raw = try fixture.rawConnection(location)
        let old = "2020-01-01T00:00:00.000Z"
        try raw.execute("UPDATE account SET created_at = ? WHERE name IN ('01001_lt_old', '01001_lt_seen', '01001_lt_stale', '01001_lt_shut')", [.text(old)])
        try raw.execute("UPDATE account SET last_seen_at = ? WHERE name IN ('01001_lt_stale', '01001_lt_shut')", [.text("2024-01-01T00:00:00.000Z")])
        raw.close()
        try await store.touchAccount(named: "01001_lt_seen")

        let cutoff = Date().addingTimeInterval(-90 * 86_400)
        let lockedNames = try await store.lockInactiveAccounts(unusedSince: cutoff, actor: "cron")
        XCTAssertEqual(lockedNames, ["01001_lt_old", "01001_lt_stale"])
        let state = Dictionary(uniqueKeysWithValues: try await store.accounts().map { ($0.name, $0.locked) })
        XCTAssertEqual(state, ["01001_lt_old": true, "01001_lt_seen": false, "01001_lt_new": false, "01001_lt_stale": true, "01001_lt_shut": true])
        XCTAssertEqual(try accountAudit(location, "01001_lt_old").last, "cron lock-inactive-account")
        XCTAssertEqual(try accountAudit(location, "01001_lt_shut").filter { $0.hasPrefix("cron") }, [], "an already locked account is left alone")
        let second = try await store.lockInactiveAccounts(unusedSince: cutoff, actor: "cron")
        XCTAssertEqual(second, [], "a second run finds nothing more to lock")
        let report = try await store.verify()
        XCTAssertTrue(report.ok, "\(report.problems)")
        await store.close()
    }
}

/// Text the C APIs would cut short, on both backends.
extension StoreContract {
    /// Runs `body` and checks it was refused with `invalidRequest` naming the NUL character.
    func assertRefusesNUL<T>(_ what: String, _ body: () async throws -> T, file: StaticString = #filePath, line: UInt = #line) async {
        do {
            let value = try await body()
            XCTFail("\(what): text with NUL must be refused, not cut short; got \(value)", file: file, line: line)
        } catch let error as StoreError {
            guard case .invalidRequest(let message) = error, message.contains("NUL") else {
                return XCTFail("\(what): \(error)", file: file, line: line)
            }
        } catch {
            XCTFail("\(what): \(error)", file: file, line: line)
        }
    }

    func textWithNULIsRefused() async throws {
        let location = try await fixture.freshLocation()
        let store = try await open(location)
        let key = Array(repeating: UInt8(7), count: 32)
        _ = try await store.createAccount(InteropAccount(name: "01001_lt_bnv", facility: "01001", signingKey: key), actor: "op.lan")
        // SQLite and libpq read text as C strings: "01001_lt_bnv\0x" would look up 01001_lt_bnv.
        await assertRefusesNUL("look-up") { try await store.account(named: "01001_lt_bnv\u{0}x")?.name }
        await assertRefusesNUL("lock") { try await store.setAccountLocked(named: "01001_lt_bnv\u{0}", locked: true, actor: "op.lan") }
        await assertRefusesNUL("touch") { try await store.touchAccount(named: "01001_lt_bnv\u{0}x") }
        await assertRefusesNUL("create") {
            try await store.createAccount(InteropAccount(name: "01002_lt_x\u{0}y", facility: "01002", signingKey: key), actor: "op.lan")
        }
        await assertRefusesNUL("a list of ids") { try await store.supplements(ids: ["s-1", "s-2\u{0}"]).count }
        let accounts = try await store.accounts()
        XCTAssertEqual(accounts.map(\.name), ["01001_lt_bnv"], "nothing was created")
        XCTAssertEqual(accounts.first?.locked, false, "the account named before the NUL was not locked")
        XCTAssertNil(accounts.first?.lastSeen, "nor touched")
        let report = try await store.verify()
        XCTAssertTrue(report.ok, "\(report.problems)")
        await store.close()
    }
}

/// Accounts looked up in one call, on both backends.
extension StoreContract {
    func batchedAccountLookup() async throws {
        let store = try await open(try await fixture.freshLocation())
        let key = Array(repeating: UInt8(9), count: 32)
        let names = ["01001_lt_bnv", "01I29_lt_tc", "bhxh_lt_hn"]
        for name in names {
            _ = try await store.createAccount(InteropAccount(name: name, facility: String(name.prefix { $0 != "_" }).uppercased(), signingKey: key),
                                              actor: "op.lan")
        }
        _ = try await store.setAccountLocked(named: "01I29_lt_tc", locked: true, actor: "op.lan")
        // More names than one statement's list holds, most of them unknown.
        let asked = Set(names + (0..<250).map { "01001_lt_n\($0)" } + ["01001_LT_BNV", "'; DROP TABLE account; --"])
        let found = try await store.accounts(named: asked)
        XCTAssertEqual(found.keys.sorted(), names.sorted(), "exactly the existing accounts, compared byte for byte")
        XCTAssertEqual(found["01001_lt_bnv"]?.signingKey, key, "with their keys")
        XCTAssertEqual(found["01I29_lt_tc"]?.locked, true)
        let single = try await store.account(named: "bhxh_lt_hn")
        XCTAssertEqual(found["bhxh_lt_hn"], single, "the same account as a single look-up gives")
        let none = try await store.accounts(named: [])
        XCTAssertEqual(none, [:])
        await assertRefusesNUL("a name with NUL among others") { try await store.accounts(named: ["01001_lt_bnv", "01001_lt_bnv\u{0}x"]) }
        await store.close()
    }
}
