import Foundation
import XCTest

/// Drives the built `hssk` executable and kcat, a real Kafka client, as an operator would.
final class CommandLineTests: XCTestCase {
    func testBrokerServesKcatAndTopicsCheckAndApply() throws {
        let broker = try RunningProcess(hssk, ["broker", "--brokers", "3"])
        defer { broker.terminate() }
        let bootstrap = try broker.waitForLine(prefix: "bootstrap: ").dropFirst("bootstrap: ".count)

        let metadata = try runCommand("/usr/bin/kcat", ["-b", String(bootstrap), "-L", "-m", "10"])
        XCTAssertEqual(metadata.status, 0, metadata.output)
        XCTAssertTrue(metadata.output.contains("3 brokers"), metadata.output)
        XCTAssertTrue(metadata.output.contains("topic \"hssk.visits.v1\" with 6 partitions"), metadata.output)
        XCTAssertTrue(metadata.output.contains("topic \"hssk.citizen-feed.v1\""), metadata.output)

        let produced = try runCommand("/bin/sh", ["-c", "printf 'k1:hello\\n' | /usr/bin/kcat -b \(bootstrap) -P -t hssk.visits.v1 -K :"])
        XCTAssertEqual(produced.status, 0, produced.output)
        let consumed = try runCommand("/usr/bin/kcat", ["-b", String(bootstrap), "-C", "-t", "hssk.visits.v1", "-o", "beginning", "-e", "-q", "-f", "%k=%s\\n"])
        XCTAssertEqual(consumed.output.trimmingCharacters(in: .whitespacesAndNewlines), "k1=hello")

        let check = try runCommand(hssk, ["topics", "check", "--bootstrap", String(bootstrap)])
        XCTAssertEqual(check.status, 0, check.output)
        XCTAssertTrue(check.output.contains("13 up to date, 0 problem(s)"), check.output)
        let apply = try runCommand(hssk, ["topics", "apply", "--bootstrap", String(bootstrap)])
        XCTAssertEqual(apply.status, 0, apply.output)
        XCTAssertTrue(apply.output.contains("0 created"), apply.output)

        broker.terminate()
        XCTAssertEqual(broker.waitForExit(), 0, "SIGTERM must shut the broker down cleanly")
        XCTAssertTrue(broker.output.contains("broker stopped"))
    }

    func testTopicsCheckReportsDriftAndExitsNonZero() throws {
        let broker = try RunningProcess(hssk, ["broker", "--brokers", "1", "--partitions", "2"])
        defer { broker.terminate() }
        let bootstrap = try broker.waitForLine(prefix: "bootstrap: ").dropFirst("bootstrap: ".count)
        let check = try runCommand(hssk, ["topics", "check", "--bootstrap", String(bootstrap)])
        XCTAssertEqual(check.status, 1, check.output)
        XCTAssertTrue(check.output.contains("DRIFT     hssk.visits.v1: partitions is 2, expected 6"), check.output)
        XCTAssertTrue(check.output.contains("replication.factor is 1, expected 3"), check.output)
    }

    func testUsageErrorsAreClearAndHelpExistsForEveryCommand() throws {
        let unknown = try runCommand(hssk, ["broker", "--brokers", "zero"])
        XCTAssertEqual(unknown.status, 64)
        XCTAssertTrue(unknown.output.contains("--brokers must be a whole number from 1 to 32, not 'zero'"), unknown.output)
        let missing = try runCommand(hssk, ["topics", "check"])
        XCTAssertEqual(missing.status, 64)
        XCTAssertTrue(missing.output.contains("--bootstrap is required"), missing.output)
        let noCommand = try runCommand(hssk, ["frobnicate"])
        XCTAssertEqual(noCommand.status, 64)
        for command in [[], ["broker"], ["topics"], ["topics", "apply"], ["topics", "check"], ["linkage-eval"], ["bench"]] {
            let help = try runCommand(hssk, command + ["--help"])
            XCTAssertEqual(help.status, 0, "\(command)")
            XCTAssertTrue(help.output.contains("Usage: hssk"), "\(command): \(help.output)")
        }
    }

    func testLinkageEvalWritesTheIssuesJSONKeys() throws {
        let febrl = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Data/febrl/dataset1.csv").path
        let json = FileManager.default.temporaryDirectory.appendingPathComponent("linkage-\(UUID().uuidString).json")
        defer { try? FileManager.default.removeItem(at: json) }
        let result = try runCommand(hssk, ["linkage-eval", "--febrl", febrl, "--json", json.path])
        XCTAssertEqual(result.status, 0, result.output)
        XCTAssertTrue(result.output.contains("| dataset1.csv | 1.0000 |"), result.output)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: json)) as? [String: Any])
        XCTAssertEqual(Set(object.keys), ["precision", "recall", "f1", "pairs_compared", "records_per_s", "reviews_opened", "records_unlinked",
                                          "persons_created"])
        let missing = try runCommand(hssk, ["linkage-eval", "--febrl", "/nonexistent.csv"])
        XCTAssertEqual(missing.status, 1)
        XCTAssertTrue(missing.output.contains("/nonexistent.csv"), missing.output)
    }

    /// The synthetic Vietnamese population, linked record by record in the order the sources send it
    /// (issue 6 targets: precision ≥ 0.999, recall ≥ 0.97).
    func testLinkageEvalOnTheSyntheticPopulation() throws {
        let json = FileManager.default.temporaryDirectory.appendingPathComponent("synthetic-\(UUID().uuidString).json")
        defer { try? FileManager.default.removeItem(at: json) }
        let result = try runCommand(hssk, ["linkage-eval", "--synthetic", "4000", "--seed", "5", "--json", json.path])
        XCTAssertEqual(result.status, 0, result.output)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: json)) as? [String: Any])
        XCTAssertGreaterThanOrEqual(try XCTUnwrap(object["precision"] as? Double), 0.999, result.output)
        XCTAssertGreaterThanOrEqual(try XCTUnwrap(object["recall"] as? Double), 0.97, result.output)
    }

    func testBadCatalogueIsAClearError() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("catalogue-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try Data(#"{"name": "x.v1", "partitions": 3}"#.utf8).write(to: folder.appendingPathComponent("x.v1.json"))
        let result = try runCommand(hssk, ["broker", "--topics-dir", folder.path])
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.output.contains("topic catalogue x.v1.json: missing field"), result.output)
    }
}

/// `hssk publish`: dry runs (exit 0 and 1), usage errors (exit 2) and a real publish to `hssk broker`.
final class PublishCommandTests: XCTestCase {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    var xml130: URL { root.appendingPathComponent("Tests/SourceAdaptersTests/Fixtures/xml130") }
    var folder: URL!
    var keyFile: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("publish-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        keyFile = folder.appendingPathComponent("01001_lt_bnv.key")
        try Data("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n".utf8).write(to: keyFile)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: folder)
    }

    /// The catalogue's valid visit example of facility 01001 as one JSON Lines line, plus `extra` lines.
    func jsonLines(extra: [String] = []) throws -> URL {
        let example = root.appendingPathComponent("topics/examples/hssk.visits.v1/valid/inpatient-complete.json")
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: example))
        let line = String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)
        let file = folder.appendingPathComponent("visits.jsonl")
        try Data(([line, ""] + extra).joined(separator: "\n").utf8).write(to: file)
        return file
    }

    func testDryRunExitCodes() throws {
        let base = ["publish", "visits", "--account", "01001_lt_bnv", "--key-file", keyFile.path, "--dry-run"]
        let valid = try runCommand(hssk, base + ["--xml130", xml130.appendingPathComponent("valid-4750.xml").path])
        XCTAssertEqual(valid.status, 0, valid.output)
        XCTAssertTrue(valid.output.contains("visit: 1 valid, 0 rejected"), valid.output)

        let defects = try runCommand(hssk, base + ["--xml130", xml130.appendingPathComponent("defects.xml").path])
        XCTAssertEqual(defects.status, 1, defects.output)
        XCTAssertTrue(defects.output.contains("defects.xml HOSO #2 MA_LK=?: XML1.NOIDUNGFILE xml130.base64"), defects.output)
        XCTAssertTrue(defects.output.contains("visit: 2 valid, 10 rejected"), defects.output)

        let lines = try runCommand(hssk, base + [try jsonLines(extra: ["{\"schemaVersion\": 1}"]).path])
        XCTAssertEqual(lines.status, 1, lines.output)
        XCTAssertTrue(lines.output.contains("rejected visits.jsonl:3"), lines.output)
        XCTAssertTrue(lines.output.contains("visit: 1 valid, 1 rejected"), lines.output)

        let truncated = try runCommand(hssk, base + ["--xml130", xml130.appendingPathComponent("truncated.xml").path])
        XCTAssertEqual(truncated.status, 1, truncated.output)
        XCTAssertTrue(truncated.output.contains("xml130.truncated"), truncated.output)

        let usage = try runCommand(hssk, ["publish", "visits", "--account", "01001_lt_bnv", "--dry-run", "x.jsonl"])
        XCTAssertEqual(usage.status, 2, usage.output)
        XCTAssertTrue(usage.output.contains("--key-file is required"), usage.output)
        let noBroker = try runCommand(hssk, ["publish", "doses", "--account", "01001_lt_bnv", "--key-file", keyFile.path, "x.jsonl"])
        XCTAssertEqual(noBroker.status, 2, noBroker.output)
        let help = try runCommand(hssk, ["publish", "visits", "--help"])
        XCTAssertEqual(help.status, 0)
        XCTAssertTrue(help.output.contains("--xml130"), help.output)
    }

    func testPublishToTheBrokerAndReadBackWithKcat() throws {
        let broker = try RunningProcess(hssk, ["broker", "--brokers", "1"])
        defer { broker.terminate() }
        let bootstrap = String(try broker.waitForLine(prefix: "bootstrap: ").dropFirst("bootstrap: ".count))
        let published = try runCommand(hssk, ["publish", "visits", "--bootstrap", bootstrap, "--account", "01001_lt_bnv",
                                              "--key-file", keyFile.path, "--xml130", xml130.appendingPathComponent("valid-4750.xml").path])
        XCTAssertEqual(published.status, 0, published.output)
        XCTAssertTrue(published.output.contains("visit: 1 published, 0 rejected, 0 failed"), published.output)
        let lines = try runCommand(hssk, ["publish", "visits", "--bootstrap", bootstrap, "--account", "01001_lt_bnv",
                                          "--key-file", keyFile.path, try jsonLines(extra: ["{}"]).path])
        XCTAssertEqual(lines.status, 1, lines.output)
        XCTAssertTrue(lines.output.contains("visit: 1 published, 1 rejected, 0 failed"), lines.output)
        let consumed = try runCommand("/usr/bin/kcat", ["-b", bootstrap, "-C", "-t", "hssk.visits.v1", "-o", "beginning", "-e", "-q",
                                                        "-f", "%k %h\\n"])
        XCTAssertEqual(consumed.status, 0, consumed.output)
        XCTAssertEqual(consumed.output.split(separator: "\n").count, 2, consumed.output)
        XCTAssertTrue(consumed.output.contains("01001:LK2024-000123 "), consumed.output)
        XCTAssertTrue(consumed.output.contains("ce_source=01001_lt_bnv"), consumed.output)
        XCTAssertTrue(consumed.output.contains("hssk-signature="), consumed.output)

        let unreachable = try runCommand(hssk, ["publish", "visits", "--bootstrap", "127.0.0.1:1", "--account", "01001_lt_bnv",
                                                "--key-file", keyFile.path, try jsonLines().path])
        XCTAssertEqual(unreachable.status, 2, unreachable.output)
    }
}

/// The `hssk` binary next to this test bundle.
var hssk: String {
    Bundle.main.bundleURL.appendingPathComponent("hssk").path
}

/// Runs a command to completion; output is stdout and stderr together. `environment`, when given,
/// replaces the inherited one.
func runCommand(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) throws -> (status: Int32, output: String) {
    let process = RunningProcess.make(executable, arguments)
    if let environment { process.environment = environment }
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// Runs a command to completion with stdout and stderr kept apart (outputs of a few lines only).
func runCommandSeparately(_ executable: String, _ arguments: [String]) throws -> (status: Int32, out: String, err: String) {
    let process = RunningProcess.make(executable, arguments)
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    // Outputs are a few lines: reading one pipe to its end before the other cannot fill a buffer.
    let stdout = out.fileHandleForReading.readDataToEndOfFile()
    let stderr = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self))
}

/// A long-running child process whose output is collected line by line.
final class RunningProcess: @unchecked Sendable {
    // Safety: `collected` is only touched under `lock`; `process` is only used from the test's thread.
    private let process: Process
    private let lock = NSLock()
    private var collected = ""

    static func make(_ executable: String, _ arguments: [String]) -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        return process
    }

    init(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) throws {
        process = RunningProcess.make(executable, arguments)
        if !environment.isEmpty { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        pipe.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let data = handle.availableData
            guard let self, !data.isEmpty else { return }
            self.lock.withLock { self.collected += String(decoding: data, as: UTF8.self) }
        }
        try process.run()
    }

    var output: String { lock.withLock { collected } }

    func waitForLine(prefix: String, timeout: TimeInterval = 30) throws -> String {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let line = output.split(separator: "\n").first(where: { $0.hasPrefix(prefix) }) { return String(line) }
            if !process.isRunning { break }
            Thread.sleep(forTimeInterval: 0.05)
        }
        throw NSError(domain: "hsskTests", code: 1, userInfo: [NSLocalizedDescriptionKey: "no '\(prefix)' line; output:\n\(output)"])
    }

    func terminate() {
        if process.isRunning { process.terminate() }
    }

    /// Sends SIGINT, as Ctrl-C on a terminal does.
    func interrupt() {
        if process.isRunning { process.interrupt() }
    }

    /// True until the process has exited.
    var isRunning: Bool { process.isRunning }

    /// Sends SIGKILL: the process dies at once, without any cleanup (a crash).
    func kill9() {
        if process.isRunning { _ = kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    func waitForExit() -> Int32 {
        process.waitUntilExit()
        Thread.sleep(forTimeInterval: 0.1)  // let the last output arrive
        return process.terminationStatus
    }
}
