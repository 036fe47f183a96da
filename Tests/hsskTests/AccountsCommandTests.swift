import Foundation
import RecordStore
import XCTest

/// `hssk accounts` as an operator runs it, on a SQLite store; the issued key is then used by
/// `hssk publish` as the hospital would use it.
final class AccountsCommandTests: XCTestCase {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    var folder: URL!
    var keys: String!
    var store: String!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("accounts-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        keys = folder.appendingPathComponent("keys.json").path
        store = folder.appendingPathComponent("store.sqlite").path
        XCTAssertEqual(try runCommand(hssk, ["keys", "generate", "--out", keys]).status, 0)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: folder)
    }

    /// Runs `hssk accounts ARGS --store S --keys K`, stdout and stderr apart.
    func accounts(_ arguments: [String]) throws -> (status: Int32, out: String, err: String) {
        try runCommandSeparately(hssk, ["accounts"] + arguments + ["--store", store, "--keys", keys])
    }

    /// The key stored for `name`, as hex.
    func storedKey(_ name: String) async throws -> String? {
        let opened = try await RecordStores.open(store, keys: try KeyRing(contentsOf: keys), mustExist: true)
        let account = try await opened.account(named: name)
        await opened.close()
        return account?.signingKey.map { $0.map { String(format: "%02x", $0) }.joined() }
    }

    func testAddPrintsAKeyOnceThatPublishAcceptsAndNothingIsOverwritten() async throws {
        let missing = try accounts(["add", "01001_lt_bnv"])
        XCTAssertEqual(missing.status, 1, "a mistyped --store is not a new store without --new-store: \(missing.err)")

        let added = try accounts(["add", "01001_lt_bnv", "--new-store", "--actor", "op.lan"])
        XCTAssertEqual(added.status, 0, added.err)
        let key = added.out.trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertNotNil(key.range(of: "^[0-9a-f]{64}$", options: .regularExpression), "stdout is the key alone, as hex: \(added.out)")
        XCTAssertTrue(added.err.contains("shown only this once"), added.err)
        let stored = try await storedKey("01001_lt_bnv")
        XCTAssertEqual(stored, key)

        // The hospital's side: the printed key, saved to a file, signs what `hssk publish` sends.
        let keyFile = folder.appendingPathComponent("01001_lt_bnv.key")
        try Data((key + "\n").utf8).write(to: keyFile)
        let example = root.appendingPathComponent("topics/examples/hssk.visits.v1/valid/inpatient-complete.json")
        let line = try JSONSerialization.data(withJSONObject: try JSONSerialization.jsonObject(with: Data(contentsOf: example)))
        let visits = folder.appendingPathComponent("visits.jsonl")
        try line.write(to: visits)
        let published = try runCommand(hssk, ["publish", "visits", "--dry-run", "--account", "01001_lt_bnv", "--key-file", keyFile.path, visits.path])
        XCTAssertEqual(published.status, 0, published.output)
        XCTAssertTrue(published.output.contains("visit: 1 valid"), published.output)

        let again = try accounts(["add", "01001_lt_bnv"])
        XCTAssertEqual(again.status, 1)
        XCTAssertTrue(again.err.contains("exists already"), again.err)
        XCTAssertEqual(again.out, "", "a refused add prints no key")
        let unchanged = try await storedKey("01001_lt_bnv")
        XCTAssertEqual(unchanged, key)

        let badName = try accounts(["add", "benh_vien_bach_mai"])
        XCTAssertEqual(badName.status, 64, badName.err)
        XCTAssertTrue(badName.err.contains("<facility>_lt_<initials>"), badName.err)
        let mismatch = try accounts(["add", "01001_lt_tc", "--facility", "01002"])
        XCTAssertEqual(mismatch.status, 64, mismatch.err)
        let noName = try accounts(["add"])
        XCTAssertEqual(noName.status, 64, noName.err)
    }

    func testKeyOutListLockUnlockRotateAndLockInactive() async throws {
        XCTAssertEqual(try accounts(["add", "01001_lt_bnv", "--new-store"]).status, 0)
        let keyOut = folder.appendingPathComponent("bhxh_lt_hn.key").path
        let bhxh = try accounts(["add", "bhxh_lt_hn", "--key-out", keyOut])
        XCTAssertEqual(bhxh.status, 0, bhxh.err)
        XCTAssertEqual(bhxh.out, "", "with --key-out the key is not printed")
        let mode = try XCTUnwrap(FileManager.default.attributesOfItem(atPath: keyOut)[.posixPermissions] as? Int)
        XCTAssertEqual(mode, 0o600)
        let written = try String(contentsOfFile: keyOut, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let bhxhKey = try await storedKey("bhxh_lt_hn")
        XCTAssertEqual(written, bhxhKey)
        let overwrite = try accounts(["add", "bhxh_lt_hcm", "--key-out", keyOut])
        XCTAssertEqual(overwrite.status, 1, "an existing key file is never overwritten")
        let notCreated = try await storedKey("bhxh_lt_hcm")
        XCTAssertNil(notCreated)

        let listed = try accounts(["list"])
        XCTAssertEqual(listed.status, 0, listed.err)
        let rows = listed.out.split(separator: "\n").map(String.init)
        XCTAssertEqual(rows.count, 3, listed.out)
        XCTAssertTrue(rows[0].hasPrefix("NAME"), listed.out)
        XCTAssertTrue(rows[1].hasPrefix("01001_lt_bnv") && rows[1].contains("01001") && rows[1].contains(" no "), rows[1])
        XCTAssertTrue(rows[2].hasPrefix("bhxh_lt_hn") && rows[2].contains("BHXH"), rows[2])
        XCTAssertFalse(listed.out.contains(written), "list never shows keys")

        XCTAssertTrue(try accounts(["lock", "01001_lt_bnv"]).out.contains("account 01001_lt_bnv locked"))
        XCTAssertTrue(try accounts(["lock", "01001_lt_bnv"]).out.contains("already locked"))
        XCTAssertTrue(try accounts(["list"]).out.split(separator: "\n")[1].contains(" yes "))
        let unknown = try accounts(["unlock", "01001_lt_xyz"])
        XCTAssertEqual(unknown.status, 1)
        XCTAssertTrue(unknown.err.contains("there is no account 01001_lt_xyz"), unknown.err)
        XCTAssertEqual(try accounts(["unlock", "01001_lt_bnv"]).status, 0)

        let before = try await storedKey("01001_lt_bnv")
        let rotated = try accounts(["rotate-key", "01001_lt_bnv", "--actor", "op.binh"])
        XCTAssertEqual(rotated.status, 0, rotated.err)
        let newKey = rotated.out.trimmingCharacters(in: .whitespacesAndNewlines)
        let after = try await storedKey("01001_lt_bnv")
        XCTAssertEqual(after, newKey)
        XCTAssertNotEqual(after, before)
        XCTAssertEqual(try accounts(["rotate-key", "01001_lt_zz"]).status, 1)

        let inactive = try accounts(["lock-inactive", "--days", "30"])
        XCTAssertEqual(inactive.status, 0, inactive.err)
        XCTAssertTrue(inactive.err.contains("0 account(s) locked (unused for 30 days)"), inactive.err)
        XCTAssertEqual(try accounts(["lock-inactive", "--days", "0"]).status, 64)
        let verified = try runCommand(hssk, ["verify", "--store", store, "--keys", keys])
        XCTAssertEqual(verified.status, 0, "every change kept the audit chain intact: \(verified.output)")
        XCTAssertEqual(try runCommand(hssk, ["accounts", "lock-inactive", "--help"]).status, 0)
    }
}
