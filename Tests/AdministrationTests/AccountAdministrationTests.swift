@testable import Administration
import Foundation
import HealthModel
import RecordStore
@testable import ServiceRuntime
import XCTest

/// `AccountAdministration` on a real SQLite store (the store's own behaviour is covered for both
/// backends by the RecordStore contract tests).
final class AccountAdministrationTests: XCTestCase {
    var folder: URL!
    var store: (any HealthRecordStore)!
    var admin: AccountAdministration!

    override func setUp() async throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("accounts-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        store = try await RecordStores.open(folder.appendingPathComponent("store.sqlite").path, keys: try KeyRing.generate())
        admin = AccountAdministration(store: store, actor: "op.lan")
    }

    override func tearDown() async throws {
        await store?.close()
        try? FileManager.default.removeItem(at: folder)
    }

    func testAddDerivesTheFacilityAndIssuesAKeyThePublisherAccepts() async throws {
        let (account, key) = try await admin.add("01001_LT_BNV")
        XCTAssertEqual(account.name, "01001_lt_bnv", "the name is stored in its normal form")
        XCTAssertEqual(account.facility, "01001")
        XCTAssertEqual(key.bytes.count, 32)
        let stored = try await store.account(named: "01001_lt_bnv")
        XCTAssertEqual(stored?.signingKey, key.bytes)
        // What the operator hands over is what `hssk publish --key-file` reads back.
        XCTAssertEqual(key.keyFileText.count, 64)
        XCTAssertEqual(try SigningKey(text: key.keyFileText + "\n").bytes, key.bytes)
        let other = try await admin.add("01001_lt_tc", facility: "01001")
        XCTAssertNotEqual(other.key.bytes, key.bytes, "every account gets its own random key")

        let bhxh = try await admin.add("bhxh_lt_hn")
        XCTAssertEqual(bhxh.account.facility, "BHXH")
        let bhxhGiven = try await admin.add("bhxh_lt_hcm", facility: "bhxh")
        XCTAssertEqual(bhxhGiven.account.facility, "BHXH")
        let entry = try await admin.add("01I29_anv", facility: "01i29")
        XCTAssertEqual(entry.account.facility, "01I29", "a data-entry account belongs to its facility too")
        let names = try await admin.list().map(\.name)
        XCTAssertEqual(names, ["01001_lt_bnv", "01001_lt_tc", "01I29_anv", "bhxh_lt_hcm", "bhxh_lt_hn"])
    }

    func testAddRefusesBadNamesOtherFacilitiesAndExistingAccounts() async throws {
        await assertRefusal(.invalidName) { _ = try await self.admin.add("bv_bach_mai") }
        await assertRefusal(.invalidName) { _ = try await self.admin.add("01001-lt-bnv") }
        await assertRefusal(.facilityMismatch) { _ = try await self.admin.add("01001_lt_bnv", facility: "01002") }
        await assertRefusal(.facilityMismatch) { _ = try await self.admin.add("bhxh_lt_hn", facility: "01001") }
        let (_, key) = try await admin.add("01001_lt_bnv")
        await assertRefusal(.exists) { _ = try await self.admin.add("01001_lt_bnv") }
        let kept = try await store.account(named: "01001_lt_bnv")?.signingKey
        XCTAssertEqual(kept, key.bytes, "a refused add leaves the existing key alone")
        let all = try await admin.list()
        XCTAssertEqual(all.count, 1)
    }

    func testKeyFileIsPrivateNeverOverwrittenAndOnlyKeptForAStoredKey() async throws {
        let file = folder.appendingPathComponent("01001_lt_bnv.key").path
        let (_, key) = try await admin.add("01001_lt_bnv", keyFile: file)
        let mode = try XCTUnwrap(FileManager.default.attributesOfItem(atPath: file)[.posixPermissions] as? Int)
        XCTAssertEqual(mode, 0o600)
        XCTAssertEqual(try SigningKey(contentsOf: URL(fileURLWithPath: file)).bytes, key.bytes)

        // An existing file is never overwritten, and then no account is created either.
        await assertRefusal(.keyFile) { _ = try await self.admin.add("01001_lt_tc", keyFile: file) }
        let created = try await store.account(named: "01001_lt_tc")
        XCTAssertNil(created)
        XCTAssertEqual(try SigningKey(contentsOf: URL(fileURLWithPath: file)).bytes, key.bytes)

        // A refused add removes the key file it had written.
        let orphan = folder.appendingPathComponent("again.key").path
        await assertRefusal(.exists) { _ = try await self.admin.add("01001_lt_bnv", keyFile: orphan) }
        XCTAssertFalse(FileManager.default.fileExists(atPath: orphan))
        let unknown = folder.appendingPathComponent("unknown.key").path
        await assertRefusal(.unknown) { _ = try await self.admin.rotateKey("01001_lt_zz", keyFile: unknown) }
        XCTAssertFalse(FileManager.default.fileExists(atPath: unknown))
    }

    func testRotateLockUnlockAndLockInactive() async throws {
        let (_, first) = try await admin.add("01001_lt_bnv")
        let rotated = try await admin.rotateKey("01001_lt_BNV")
        XCTAssertNotEqual(rotated.bytes, first.bytes)
        let stored = try await store.account(named: "01001_lt_bnv")?.signingKey
        XCTAssertEqual(stored, rotated.bytes)

        let locked = try await admin.lock("01001_lt_bnv")
        XCTAssertTrue(locked)
        let lockedAgain = try await admin.lock("01001_lt_bnv")
        XCTAssertFalse(lockedAgain, "locking a locked account changes nothing")
        let unlocked = try await admin.unlock("01001_lt_bnv")
        XCTAssertTrue(unlocked)
        await assertRefusal(.unknown) { _ = try await self.admin.lock("01001_lt_nobody") }

        _ = try await admin.add("01002_lt_abc")
        let none = try await admin.lockInactive()
        XCTAssertEqual(none, [], "accounts created today are not inactive")
        let later = try await admin.lockInactive(days: 90, now: Date().addingTimeInterval(91 * 86_400))
        XCTAssertEqual(later, ["01001_lt_bnv", "01002_lt_abc"], "91 days later both are unused for more than 90 days")
        let accounts = try await admin.list()
        XCTAssertTrue(accounts.allSatisfy(\.locked))
    }

    /// The refusals by kind, to match without spelling out their payloads.
    enum Refusal { case invalidName, facilityMismatch, exists, unknown, keyFile }

    func assertRefusal(_ expected: Refusal, file: StaticString = #filePath, line: UInt = #line, _ body: () async throws -> Void) async {
        do {
            try await body()
            XCTFail("expected \(expected)", file: file, line: line)
        } catch let error as AccountAdministrationError {
            let kind: Refusal? = switch error {
            case .invalidName: .invalidName
            case .facilityMismatch: .facilityMismatch
            case .exists: .exists
            case .unknown: .unknown
            case .keyFile: .keyFile
            case .randomUnavailable: nil
            }
            XCTAssertEqual(kind, expected, "\(error)", file: file, line: line)
        } catch {
            XCTFail("expected \(expected), got \(error)", file: file, line: line)
        }
    }
}
