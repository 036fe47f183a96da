import Foundation
import HealthModel
import RecordStore
import XCTest

/// `hssk keys generate`, `verify`, `backup` and `restore` as an operator runs them, on a SQLite store.
final class StoreCommandTests: XCTestCase {
    func testBackupRestoreVerifyThroughTheCommandLine() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("hssk-store-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let keyFile = folder.appendingPathComponent("keys.json").path
        let storePath = folder.appendingPathComponent("store.sqlite").path
        let restoredPath = folder.appendingPathComponent("restored.sqlite").path

        let generated = try runHSSK(["keys", "generate", "--out", keyFile])
        XCTAssertEqual(generated.status, 0, generated.output)
        XCTAssertFalse(generated.output.contains("\"blindIndex\""), "a key written to a file is not also printed")

        // A store with one visit, written through the API as ingest will.
        let store = try await RecordStores.open(storePath, keys: try KeyRing(contentsOf: keyFile))
        var patient = PersonDetails(fullName: "Nguyễn Văn An", birthDate: "1958-03-07", sex: 1, personalId: "001058012345")
        patient.phone = "0912345678"
        let visit = VisitRecord(facilityCode: "01001", episodeKey: "LK-1", patientId: "BN-1", patient: patient, visitType: "01",
                                admissionTime: "2025-09-01T08:00", diagnoses: [Diagnosis(code: "J06.9")])
        var batch = StoreBatch()
        batch.records = [IncomingRecord(record: .visit(visit), original: Array(try RecordDecoder.encode(visit)),
                                        coordinates: KafkaCoordinates(topic: "hssk.visits.v1", partition: 0, offset: 0),
                                        sender: "01001_lt_bvbm", person: nil)]
        _ = try await store.apply(batch)
        let digest = try await store.contentDigest()
        await store.close()

        let verified = try runHSSK(["verify", "--store", storePath, "--keys", keyFile])
        XCTAssertEqual(verified.status, 0, verified.output)

        let backup = try runHSSK(["backup", "--store", storePath, "--to", folder.appendingPathComponent("backups").path, "--keys", keyFile])
        XCTAssertEqual(backup.status, 0, backup.output)
        let backupFile = try XCTUnwrap(backup.output.split(separator: "\n").map(String.init).first { $0.hasSuffix(".sqlite") })
        let bytes = try Data(contentsOf: URL(fileURLWithPath: backupFile.trimmingCharacters(in: .whitespaces)))
        for plaintext in ["Nguyễn Văn An", "001058012345", "0912345678"] {
            XCTAssertNil(bytes.range(of: Data(plaintext.utf8)), "\(plaintext) in the backup")
        }

        let restored = try runHSSK(["restore", "--from", backupFile.trimmingCharacters(in: .whitespaces), "--store", restoredPath, "--keys", keyFile])
        XCTAssertEqual(restored.status, 0, restored.output)
        let reopened = try await RecordStores.open(restoredPath, keys: try KeyRing(contentsOf: keyFile), mustExist: true)
        let restoredDigest = try await reopened.contentDigest()
        await reopened.close()
        // Identical contents; the audit log alone grows, by the operator's restore itself.
        XCTAssertEqual(restoredDigest.filter { $0.key != "audit_log" }, digest.filter { $0.key != "audit_log" })
        XCTAssertEqual(restoredDigest["audit_log"]?.prefix(2), "2:")
        XCTAssertEqual(digest["audit_log"]?.prefix(2), "1:")
        let restoredVerified = try runHSSK(["verify", "--store", restoredPath, "--keys", keyFile])
        XCTAssertEqual(restoredVerified.status, 0, restoredVerified.output)

        let otherKeys = folder.appendingPathComponent("other.json").path
        XCTAssertEqual(try runHSSK(["keys", "generate", "--out", otherKeys]).status, 0)
        let wrong = try runHSSK(["verify", "--store", storePath, "--keys", otherKeys])
        XCTAssertNotEqual(wrong.status, 0, "a wrong key must not verify")
        XCTAssertFalse(wrong.output.isEmpty)
    }

    /// Key files are owner-only from the moment they exist (even under a permissive umask), and an
    /// existing file or symbolic link at the path is refused, never replaced or followed.
    func testKeyFilesAreOwnerOnlyFromTheStartAndNeverReplaceALink() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("hssk-key-files-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        func path(_ name: String) -> String { folder.appendingPathComponent(name).path }
        func mode(_ path: String) throws -> Int { try XCTUnwrap(FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int) }
        func isLink(_ path: String) -> Bool { (try? FileManager.default.destinationOfSymbolicLink(atPath: path)) != nil }
        let saved = umask(0)  // the child inherits it: the file's mode must not come from the umask
        defer { umask(saved) }

        let keyFile = path("keys.json")
        XCTAssertEqual(try runHSSK(["keys", "generate", "--out", keyFile]).status, 0)
        XCTAssertEqual(try mode(keyFile), 0o600)
        let original = try Data(contentsOf: URL(fileURLWithPath: keyFile))
        let again = try runHSSK(["keys", "generate", "--out", keyFile])
        XCTAssertNotEqual(again.status, 0, "an existing key file is never overwritten")
        XCTAssertTrue(again.output.contains("exists"), again.output)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: keyFile)), original)

        // A link planted where the key file will go (dangling: nothing exists at its target yet).
        let planted = path("planted.json"), target = path("elsewhere.json")
        try FileManager.default.createSymbolicLink(atPath: planted, withDestinationPath: target)
        let linked = try runHSSK(["keys", "generate", "--out", planted])
        XCTAssertNotEqual(linked.status, 0, "a symbolic link at --out is refused: \(linked.output)")
        XCTAssertTrue(isLink(planted), "the link is left as it was")
        XCTAssertFalse(FileManager.default.fileExists(atPath: target), "nothing written through it")

        // Rotation replaces the file it was given, atomically, still 0600; through a link it refuses
        // before re-encrypting anything (it would replace the link, and the file it names would keep the old keys).
        let storePath = path("store.sqlite")
        let store = try await RecordStores.open(storePath, keys: try KeyRing(contentsOf: keyFile))
        await store.close()
        let rotated = try runHSSK(["keys", "rotate", "--store", storePath, "--keys", keyFile])
        XCTAssertEqual(rotated.status, 0, rotated.output)
        XCTAssertEqual(try mode(keyFile), 0o600)
        XCTAssertEqual(try KeyRing(contentsOf: keyFile).keyIDs.count, 2)
        let link = path("keys-link.json")
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: keyFile)
        let rotatedKeys = try Data(contentsOf: URL(fileURLWithPath: keyFile))
        let throughLink = try runHSSK(["keys", "rotate", "--store", storePath, "--keys", link])
        XCTAssertNotEqual(throughLink.status, 0, "rotation through a symbolic link is refused: \(throughLink.output)")
        XCTAssertTrue(isLink(link), "the link is left as it was")
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: keyFile)), rotatedKeys, "the key file is unchanged")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.contains(".tmp") }, [], "no temporary file left")
    }
}

/// Runs the built `hssk`; output is stdout and stderr together.
private func runHSSK(_ arguments: [String]) throws -> (status: Int32, output: String) {
    try runCommand(hssk, arguments)
}
