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
}

/// Runs the built `hssk`; output is stdout and stderr together.
private func runHSSK(_ arguments: [String]) throws -> (status: Int32, output: String) {
    try runCommand(hssk, arguments)
}
