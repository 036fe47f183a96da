import Foundation
import XCTest

/// `hssk dlq` against `hssk broker`: dead letters are written with kcat (headers and all, as ingest
/// writes them), then listed, shown and replayed; kcat reads the source topic back.
final class DLQCommandTests: XCTestCase {
    /// Produces one record with kcat; `headers` as `name=value`.
    func produce(_ bootstrap: String, topic: String, key: String, value: String, headers: [String]) throws {
        let input = FileManager.default.temporaryDirectory.appendingPathComponent("dlq-\(UUID().uuidString).txt")
        defer { try? FileManager.default.removeItem(at: input) }
        try Data("\(key)|\(value)\n".utf8).write(to: input)
        let produced = try runCommand("/usr/bin/kcat", ["-b", bootstrap, "-P", "-t", topic, "-K", "|", "-l"] + headers.flatMap { ["-H", $0] } + [input.path])
        XCTAssertEqual(produced.status, 0, produced.output)
    }

    /// The dead-letter headers ingest adds.
    func deadLetterHeaders(code: String, sourceTopic: String, partition: Int, offset: Int) -> [String] {
        ["hssk-error-code=\(code)",
         #"hssk-error-detail=[{"code":"\#(code)","field":"patient.personalId","message":{"en":"Century digit does not match the birth year.","vi":"Chữ số thế kỷ không khớp năm sinh."}}]"#,
         "hssk-source-topic=\(sourceTopic)", "hssk-source-partition=\(partition)", "hssk-source-offset=\(offset)",
         "hssk-failed-at=2025-05-10T08:15:00Z"]
    }

    func testListShowAndReplayThroughTheCommandLine() throws {
        let broker = try RunningProcess(hssk, ["broker", "--brokers", "1"])
        defer { broker.terminate() }
        let bootstrap = String(try broker.waitForLine(prefix: "bootstrap: ").dropFirst("bootstrap: ".count))
        let original = ["ce_id=e-1", "ce_source=01001_lt_bnv", "hssk-signature=\(String(repeating: "ab", count: 32))"]
        try produce(bootstrap, topic: "hssk.visits.v1.dlq", key: "01001:LK-1", value: #"{"episodeKey":"LK-1"}"#,
                    headers: original + deadLetterHeaders(code: "personalId.centuryDigitMismatch", sourceTopic: "hssk.visits.v1", partition: 4, offset: 17))
        try produce(bootstrap, topic: "hssk.visits.v1.dlq", key: "01001:LK-2", value: #"{"episodeKey":"LK-2"}"#,
                    headers: ["ce_id=e-2"] + deadLetterHeaders(code: "signature.invalid", sourceTopic: "hssk.citizen-feed.v1", partition: 0, offset: 3))
        let connection = ["--bootstrap", bootstrap, "--topic", "hssk.visits.v1"]

        let listed = try runCommand(hssk, ["dlq", "list"] + connection)
        XCTAssertEqual(listed.status, 0, listed.output)
        XCTAssertTrue(listed.output.contains("0/0  2025-05-10T08:15:00Z  personalId.centuryDigitMismatch  hssk.visits.v1[4]@17  01001:LK-1"), listed.output)
        XCTAssertTrue(listed.output.contains("0/1  2025-05-10T08:15:00Z  signature.invalid  hssk.citizen-feed.v1[0]@3  01001:LK-2"), listed.output)
        XCTAssertTrue(listed.output.contains("2 dead letter(s) on hssk.visits.v1.dlq"), listed.output)
        let json = try runCommand(hssk, ["dlq", "list", "--bootstrap", bootstrap, "--topic", "hssk.visits.v1.dlq", "--code", "signature.invalid", "--json"])
        XCTAssertEqual(json.status, 0, json.output)
        let objects = json.output.split(separator: "\n").filter { $0.hasPrefix("{") }
        XCTAssertEqual(objects.count, 1, json.output)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(objects[0].utf8)) as? [String: Any])
        XCTAssertEqual(object["key"] as? String, "01001:LK-2")
        XCTAssertEqual(object["offset"] as? Int, 1)

        let shown = try runCommand(hssk, ["dlq", "show"] + connection + ["--partition", "0", "--offset", "0"])
        XCTAssertEqual(shown.status, 0, shown.output)
        for expected in ["error code:   personalId.centuryDigitMismatch", "  ce_source: 01001_lt_bnv", "  patient.personalId  personalId.centuryDigitMismatch",
                         "    en: Century digit does not match the birth year.", "    vi: Chữ số thế kỷ không khớp năm sinh.", #"{"episodeKey":"LK-1"}"#] {
            XCTAssertTrue(shown.output.contains(expected), "\(expected) in\n\(shown.output)")
        }
        let nothing = try runCommand(hssk, ["dlq", "show"] + connection + ["--partition", "0", "--offset", "5"])
        XCTAssertEqual(nothing.status, 1, nothing.output)
        XCTAssertEqual(try runCommand(hssk, ["dlq", "show"] + connection).status, 64)

        let dry = try runCommand(hssk, ["dlq", "replay"] + connection + ["--all", "--dry-run"])
        XCTAssertEqual(dry.status, 1, "one letter is refused: \(dry.output)")
        XCTAssertTrue(dry.output.contains("would replay 0/0 → hssk.visits.v1[4]"), dry.output)
        XCTAssertTrue(dry.output.contains("refused 0/1: replay.sourceTopicMismatch"), dry.output)
        let empty = try runCommand("/usr/bin/kcat", ["-b", bootstrap, "-C", "-t", "hssk.visits.v1", "-o", "beginning", "-e", "-q"])
        XCTAssertEqual(empty.output.trimmingCharacters(in: .whitespacesAndNewlines), "", "a dry run sends nothing")

        let one = try runCommand(hssk, ["dlq", "replay"] + connection + ["--partition", "0", "--offset", "0"])
        XCTAssertEqual(one.status, 0, one.output)
        XCTAssertTrue(one.output.contains("replayed 0/0 → hssk.visits.v1[4]@0"), one.output)
        let refused = try runCommand(hssk, ["dlq", "replay"] + connection + ["--code", "signature.invalid"])
        XCTAssertEqual(refused.status, 1, refused.output)
        XCTAssertTrue(refused.output.contains("0 replayed, 1 refused"), refused.output)
        XCTAssertEqual(try runCommand(hssk, ["dlq", "replay"] + connection).status, 64, "a replay needs a selection")
        XCTAssertEqual(try runCommand(hssk, ["dlq", "replay"] + connection + ["--all", "--code", "x"]).status, 64)
        let help = try runCommand(hssk, ["dlq", "replay", "--help"])
        XCTAssertEqual(help.status, 0)
        XCTAssertTrue(help.output.contains("hssk-replay-of"), help.output)

        let source = try runCommand("/usr/bin/kcat", ["-b", bootstrap, "-C", "-t", "hssk.visits.v1", "-o", "beginning", "-e", "-q", "-f", "%p|%k|%s|%h\\n"])
        XCTAssertEqual(source.status, 0, source.output)
        let lines = source.output.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines, ["4|01001:LK-1|{\"episodeKey\":\"LK-1\"}|" + (original + ["hssk-replay-of=hssk.visits.v1.dlq/0/0"]).joined(separator: ",")],
                       "only the letter of this topic came back: original key, value and headers, no dead-letter headers")
        let feed = try runCommand("/usr/bin/kcat", ["-b", bootstrap, "-C", "-t", "hssk.citizen-feed.v1", "-o", "beginning", "-e", "-q"])
        XCTAssertEqual(feed.output.trimmingCharacters(in: .whitespacesAndNewlines), "", "nothing was injected into another topic")
    }
}
