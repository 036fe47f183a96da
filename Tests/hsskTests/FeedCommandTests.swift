import Foundation
import HealthModel
import RecordStore
import XCTest

/// `hssk feed publish | push | sink` as an operator runs them: a store filled as ingest fills it, the
/// embedded broker, the three processes, SIGTERM at the end.
final class FeedCommandTests: XCTestCase {
    var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("feed-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: folder)
    }

    /// A store with one identified person whose visit carries restricted data, and the outbox message.
    func seedStore(keys: URL) async throws -> URL {
        let location = folder.appendingPathComponent("store.sqlite")
        let store = try await RecordStores.open(location.path, keys: try KeyRing(contentsOf: keys.path))
        let patient = PersonDetails(fullName: "Nguyễn Văn An", birthDate: "1958-03-07", sex: 1, personalId: "001058012345")
        var visit = VisitRecord(facilityCode: "01001", episodeKey: "LK-1", patientId: "BN-1", patient: patient, visitType: "01",
                                admissionTime: "2025-05-02T08:15", diagnoses: [Diagnosis(code: "J18.9", text: "Viêm phổi"), Diagnosis(code: "B20")])
        visit.medicines = [Medicine(name: "Lamivudin 150mg"), Medicine(name: "Paracetamol 500mg")]
        _ = try await store.apply(StoreBatch(
            records: [IncomingRecord(record: .visit(visit), original: Array(try RecordDecoder.encode(visit)),
                                     coordinates: KafkaCoordinates(topic: "hssk.visits.v1", partition: 0, offset: 0), sender: "01001_lt_bnv",
                                     person: .new(local: 1))],
            identity: [.newPerson(local: 1, Demographics(fullName: "Nguyễn Văn An", birthDate: "1958-03-07", sex: 1)),
                       .addIdentifier(.new(local: 1), IdentifierEntry(.personalId, "001058012345", source: "01001:LK-1"))],
            outbox: [PersonChange(reason: .record, topic: "hssk.visits.v1", partition: 0, offset: 0).message(for: .new(local: 1))]))
        await store.close()
        return location
    }

    func testPublishPushAndSinkEndToEnd() async throws {
        let keys = folder.appendingPathComponent("keys.json")
        let generated = try runCommand(hssk, ["keys", "generate", "--out", keys.path])
        XCTAssertEqual(generated.status, 0, generated.output)
        let store = try await seedStore(keys: keys)
        let hmac = folder.appendingPathComponent("feed.key"), token = folder.appendingPathComponent("feed.token")
        try Data("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n".utf8).write(to: hmac)
        try Data("s3cret-token-value\n".utf8).write(to: token)
        let out = folder.appendingPathComponent("received.jsonl")

        let broker = try RunningProcess(hssk, ["broker", "--brokers", "1", "--partitions", "2"])
        defer { broker.terminate() }
        let bootstrap = String(try broker.waitForLine(prefix: "bootstrap: ").dropFirst("bootstrap: ".count))
        let sink = try RunningProcess(hssk, ["feed", "sink", "--port", "0", "--out", out.path, "--key-file", hmac.path,
                                             "--token-file", token.path, "--fail-next", "2"])
        defer { sink.terminate() }
        let url = String(try sink.waitForLine(prefix: "listening: ").dropFirst("listening: ".count))
        let publisher = try RunningProcess(hssk, ["feed", "publish", "--bootstrap", bootstrap, "--store", store.path, "--keys", keys.path])
        defer { publisher.terminate() }
        let pusher = try RunningProcess(hssk, ["feed", "push", "--bootstrap", bootstrap, "--endpoint", url, "--key-file", hmac.path,
                                               "--token-file", token.path])
        defer { pusher.terminate() }

        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline, !((try? String(contentsOf: out, encoding: .utf8)) ?? "").contains("001058012345") {
            try await Task.sleep(for: .milliseconds(100))
        }
        let received = try String(contentsOf: out, encoding: .utf8)
        XCTAssertTrue(received.contains(#""idempotencyKey":"001058012345:"#), received + pusher.output + publisher.output)
        XCTAssertTrue(received.contains("Paracetamol 500mg"))
        for forbidden in ["B20", "Lamivudin"] { XCTAssertFalse(received.contains(forbidden), "\(forbidden) left hssk") }

        for process in [pusher, publisher, sink] { process.terminate() }
        XCTAssertEqual(pusher.waitForExit(), 0, pusher.output)
        XCTAssertEqual(publisher.waitForExit(), 0, publisher.output)
        XCTAssertEqual(sink.waitForExit(), 0, sink.output)
        XCTAssertTrue(sink.output.contains("received: 1 items (1 documents, 0 deletions), 0 duplicates, 0 out of order"), sink.output)
        XCTAssertTrue(sink.output.contains("2 failed on purpose, 0 unauthorized"), sink.output)
        XCTAssertTrue(publisher.output.contains(#""event":"feed.restricted.removed""#), publisher.output)
        XCTAssertTrue(pusher.output.contains(#""event":"feed.push.retry""#), pusher.output)
        for process in [pusher, publisher] {
            XCTAssertFalse(process.output.contains("s3cret-token-value"), "no secret in logs")
            XCTAssertFalse(process.output.contains("Nguyễn Văn An"), "no name in logs")
            XCTAssertFalse(process.output.contains("001058012345"), "no personal ID in logs")
        }
    }

    func testUsageErrors() throws {
        let noEndpoint = try runCommand(hssk, ["feed", "push", "--bootstrap", "127.0.0.1:1"])
        XCTAssertEqual(noEndpoint.status, 64)
        // Errors name the whole command: `hssk feed publish` was once reported as `hssk publish`.
        XCTAssertTrue(noEndpoint.output.hasPrefix("hssk feed push: --endpoint must be an http(s) URL"), noEndpoint.output)
        let badPolicy = folder.appendingPathComponent("restricted.json")
        try Data(#"{"icd10": ["nonsense"]}"#.utf8).write(to: badPolicy)
        let policy = try runCommand(hssk, ["feed", "publish", "--bootstrap", "127.0.0.1:1", "--store", "x", "--restricted", badPolicy.path])
        XCTAssertEqual(policy.status, 64)
        XCTAssertTrue(policy.output.hasPrefix("hssk feed publish: "), policy.output)
        XCTAssertTrue(policy.output.contains("'nonsense' is not an ICD-10 code"), policy.output)
        let emptyToken = folder.appendingPathComponent("empty.token")
        try Data().write(to: emptyToken)
        let sink = try runCommand(hssk, ["feed", "sink", "--port", "0", "--out", folder.appendingPathComponent("o").path, "--token-file", emptyToken.path])
        XCTAssertEqual(sink.status, 64)
        XCTAssertTrue(sink.output.contains("must hold the token on its first line"), sink.output)
        for command in [["feed"], ["feed", "publish"], ["feed", "push"], ["feed", "sink"]] {
            let help = try runCommand(hssk, command + ["--help"])
            XCTAssertEqual(help.status, 0, "\(command)")
            XCTAssertTrue(help.output.contains("Usage: hssk feed"), "\(command): \(help.output)")
        }
    }
}
