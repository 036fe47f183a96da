import Foundation
import XCTest

/// Settings from the command line, the environment and a config file, as an operator meets them:
/// through the built binary (`hssk config show`, `hssk config check`, a service refusing a bad file).
final class ConfigCommandTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("hssk-config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    func write(_ name: String, _ text: String) throws -> String {
        let url = directory.appendingPathComponent(name)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    /// Runs hssk with `environment` added (HSSK_* variables of the test runner removed first).
    func run(_ arguments: [String], environment: [String: String] = [:]) throws -> (status: Int32, output: String) {
        try runCommand(hssk, arguments, environment: ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("HSSK_") }.merging(environment) { $1 })
    }

    /// The `config show` line of `option`, spaces collapsed.
    func line(_ output: String, _ option: String) -> String {
        let found = output.split(separator: "\n").first { $0.hasPrefix(option + " ") } ?? ""
        return found.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
    }

    func testCommandLineBeatsEnvironmentBeatsFileBeatsDefault() throws {
        let file = try write("hssk.json", """
            {"common": {"bootstrap": "file-common:9092", "store": "/var/lib/hssk/file.sqlite", "group": "common-group"},
             "ingest": {"group": "file-group", "batch": 1500, "topic": ["hssk.visits.v1", "hssk.vaccinations.v1"], "admin": "127.0.0.1:9464"},
             "insurance sync": {"rescan": true}}
            """)
        let shown = try run(["config", "show", "--config", file, "ingest", "--batch", "700"],
                            environment: ["HSSK_GROUP": "env-group", "HSSK_BATCH": "900", "HSSK_KAFKA": "client.id=a\nsocket.timeout.ms=5000\n"])
        XCTAssertEqual(shown.status, 0, shown.output)
        XCTAssertEqual(line(shown.output, "batch"), "batch 700 (cli)")
        XCTAssertEqual(line(shown.output, "group"), "group env-group (env HSSK_GROUP)")
        XCTAssertEqual(line(shown.output, "bootstrap"), "bootstrap file-common:9092 (file)")
        XCTAssertEqual(line(shown.output, "topic"), "topic hssk.visits.v1, hssk.vaccinations.v1 (file)")
        XCTAssertEqual(line(shown.output, "admin"), "admin 127.0.0.1:9464 (file)")
        XCTAssertEqual(line(shown.output, "kafka"), "kafka client.id=a, socket.timeout.ms=5000 (env HSSK_KAFKA)", "one value per line")
        XCTAssertEqual(line(shown.output, "keys"), "keys (unset) (default)")

        // HSSK_CONFIG names the file; the section of another command does not leak into this one.
        let sync = try run(["config", "show", "insurance", "sync"], environment: ["HSSK_CONFIG": file])
        XCTAssertEqual(sync.status, 0, sync.output)
        XCTAssertEqual(line(sync.output, "group"), "group common-group (file)")
        XCTAssertEqual(line(sync.output, "rescan"), "rescan true (file)")
        XCTAssertEqual(line(sync.output, "admin"), "admin off (default)")
        let defaults = try run(["config", "show", "feed", "push"])
        XCTAssertEqual(line(defaults.output, "batch"), "batch 200 (default)")
        XCTAssertEqual(line(defaults.output, "timeout"), "timeout 30 (default)")
    }

    func testConfigCheckNamesEveryProblem() throws {
        let secret = try write("kafka-password", "s3cr3t-Value\n")
        let keys = try write("keys.json", "{}")
        let good = try write("good.json", """
            {"common": {"bootstrap": "kafka-1:9093", "store": "postgres://hssk@db/hssk", "keys": "\(keys)",
                        "kafka": ["security.protocol=SASL_SSL"], "kafka-secret": ["sasl.password=\(secret)"]},
             "ingest": {"batch": 2000, "admin": "127.0.0.1:9464"},
             "feed push": {"endpoint": "https://citizen.example/feed", "timeout": 30, "admin": "127.0.0.1:9466"}}
            """)
        let ok = try run(["config", "check", good])
        XCTAssertEqual(ok.status, 0, ok.output)
        XCTAssertEqual(ok.output, "ok\n")

        let bad = try write("bad.json", """
            {"common": {"bootstrapp": "x"}, "ingset": {"batch": 1},
             "ingest": {"batch": 0, "admin": "localhost:9464", "kafka": "a=b", "keys": "/nonexistent/keys.json", "config": "/etc/other.json"},
             "feed push": {"timeout": true, "kafka-secret": ["sasl.password=/nonexistent/secret"], "endpoint": "ftp://x"},
             "insurance sync": {"rescan": "yes"}, "feed publish": ["not", "an", "object"]}
            """)
        let checked = try run(["config", "check", bad])
        XCTAssertEqual(checked.status, 1, checked.output)
        let expected = [
            #"section "common", key "bootstrapp": not an option of any command"#,
            #"section "ingset": not a command"#,
            #"section "ingest", key "batch": must be a whole number from 1 to 50000, not '0'"#,
            #"section "ingest", key "admin": --admin must be IPv4:PORT"#,
            #"section "ingest", key "kafka": must be an array of strings"#,
            #"section "ingest", key "keys": file /nonexistent/keys.json does not exist or is not readable"#,
            #"section "ingest", key "config": a config file cannot name another config file"#,
            #"section "feed push", key "timeout": must be a string or a number"#,
            #"section "feed push", key "kafka-secret": sasl.password: file /nonexistent/secret does not exist"#,
            #"section "feed push", key "endpoint": must be an http(s) URL"#,
            #"section "insurance sync", key "rescan": must be true or false"#,
            #"section "feed publish": must be a JSON object"#,
        ]
        let lines = checked.output.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, expected.count, checked.output)
        for problem in expected {
            XCTAssertTrue(lines.contains { $0.hasPrefix(bad + ": ") && $0.contains(problem) }, "missing: \(problem)\n\(checked.output)")
        }
        let notJSON = try run(["config", "check", try write("broken.json", "{\"ingest\": ")])
        XCTAssertEqual(notJSON.status, 1)
        XCTAssertTrue(notJSON.output.contains("broken.json: not valid JSON"), notJSON.output)

        // A service refuses to start on a file with a typo, naming file, section and key.
        let refused = try run(["ingest", "--config", bad])
        XCTAssertEqual(refused.status, 64, refused.output)
        XCTAssertTrue(refused.output.contains(#"bad.json: section "common", key "bootstrapp": not an option of any command"#), refused.output)
        let badEnvironment = try run(["config", "show", "insurance", "sync"], environment: ["HSSK_RESCAN": "maybe"])
        XCTAssertEqual(badEnvironment.status, 64)
        XCTAssertTrue(badEnvironment.output.contains("HSSK_RESCAN must be true or false, not 'maybe'"), badEnvironment.output)
    }

    func testKafkaSecretsAreReadFromFilesAndNeverShown() throws {
        let secret = try write("kafka-password", "s3cr3t-Value\n")
        let shown = try run(["config", "show", "feed", "publish", "--kafka", "sasl.username=hssk_feed", "--kafka", "sasl.password=inline-Pa55",
                             "--kafka-secret", "ssl.key.password=\(secret)", "--store", "postgres://hssk:db-Pa55@db:5432/hssk"])
        XCTAssertEqual(shown.status, 0, shown.output)
        XCTAssertFalse(shown.output.contains("inline-Pa55"), shown.output)
        XCTAssertFalse(shown.output.contains("db-Pa55"), shown.output)
        XCTAssertFalse(shown.output.contains("s3cr3t"), shown.output)
        XCTAssertEqual(line(shown.output, "kafka"), "kafka sasl.username=hssk_feed, sasl.password=**** (cli)")
        XCTAssertEqual(line(shown.output, "store"), "store postgres://hssk:****@db:5432/hssk (cli)")
        XCTAssertEqual(line(shown.output, "kafka-secret"), "kafka-secret ssl.key.password=\(secret) (cli)")

        let empty = try write("empty", "\n")
        let refused = try run(["topics", "check", "--bootstrap", "127.0.0.1:1", "--kafka-secret", "sasl.password=\(empty)"])
        XCTAssertEqual(refused.status, 64, refused.output)
        XCTAssertTrue(refused.output.contains("--kafka-secret sasl.password: \(empty) is empty"), refused.output)
        let twice = try run(["topics", "check", "--bootstrap", "127.0.0.1:1", "--kafka", "sasl.password=x", "--kafka-secret", "sasl.password=\(secret)"])
        XCTAssertEqual(twice.status, 64, twice.output)
        XCTAssertFalse(twice.output.contains("s3cr3t"), twice.output)

        // The value reaches librdkafka without its line break: "plaintext\n" would be refused as a protocol.
        let protocolFile = try write("protocol", "plaintext\n")
        let broker = try RunningProcess(hssk, ["broker", "--brokers", "3"])
        defer { broker.terminate() }
        let bootstrap = String(try broker.waitForLine(prefix: "bootstrap: ").dropFirst("bootstrap: ".count))
        let check = try run(["topics", "check", "--bootstrap", bootstrap, "--kafka-secret", "security.protocol=\(protocolFile)"])
        XCTAssertEqual(check.status, 0, check.output)
    }

    /// docs/configuration.md has a line for every option of the long-running services.
    func testConfigurationDocNamesEveryServiceOption() throws {
        let docs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("docs/configuration.md")
        let text = try String(contentsOf: docs, encoding: .utf8)
        // The example file is valid as far as loading judges (its secret files live on the servers).
        let example = try XCTUnwrap(text.components(separatedBy: "```json\n").dropFirst().first?.components(separatedBy: "```").first)
        let shown = try run(["config", "show", "--config", try write("example.json", example), "feed", "push"])
        XCTAssertEqual(shown.status, 0, shown.output)
        XCTAssertEqual(line(shown.output, "admin"), "admin 127.0.0.1:9466 (file)")
        // One Kafka identity per service, the users of deploy/compose/kafka-acls.txt, on the client port.
        let sections = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(example.utf8)) as? [String: [String: Any]])
        XCTAssertNil(sections["common"]?["kafka"], "a Kafka identity in common would be shared by every service")
        XCTAssertNil(sections["common"]?["kafka-secret"], "a password file in common would be shared by every service")
        XCTAssertTrue((sections["common"]?["bootstrap"] as? String)?.split(separator: ",").allSatisfy { $0.hasSuffix(":9092") } == true)
        for (section, user) in ["ingest": "hssk-ingest", "feed publish": "hssk-feed-publish", "feed push": "hssk-feed-push", "insurance sync": "hssk-insurance-sync"] {
            XCTAssertTrue((sections[section]?["kafka"] as? [String])?.contains("sasl.username=\(user)") == true, section)
            XCTAssertTrue((sections[section]?["kafka-secret"] as? [String])?.contains { $0.hasPrefix("sasl.password=") && $0.contains(user) } == true, section)
        }
        for command in [["ingest"], ["feed", "publish"], ["feed", "push"], ["insurance", "sync"]] {
            let help = try run(command + ["--help"])
            let options = help.output.split(separator: "\n").compactMap { line -> String? in
                let trimmed = line.drop { $0 == " " }
                guard trimmed.hasPrefix("--"), let name = trimmed.dropFirst(2).split(separator: " ").first, name != "help" else { return nil }
                return String(name)
            }
            XCTAssertGreaterThan(options.count, 3, "\(command)")
            for option in options {
                let variable = "HSSK_" + option.uppercased().replacingOccurrences(of: "-", with: "_")
                XCTAssertTrue(text.contains("| `\(command.joined(separator: " "))` | `--\(option)`"), "docs/configuration.md: no row for \(command) --\(option)")
                if !["keys", "config"].contains(option) { XCTAssertTrue(text.contains(variable), "docs/configuration.md: \(variable) missing") }
            }
        }
    }
}
