import Chaos
import Foundation

let chaosCommand = Command(
    name: "chaos", summary: "Prove exactly-once: kill, stop and add ingest processes, fail brokers and the store, mix in hostile records; then account for every record.",
    usage: "chaos [--kills 50] [--records 20000] [--members 3] [--store PATH|URL] [--restart-store CMD] [--bootstrap B] [--seed S] [--work DIR] [--json FILE]",
    details: """
    On the embedded 3-broker cluster (or --bootstrap), publishes a synthetic population with hostile
    records mixed in while it runs up to --members 'hssk ingest' processes of one group and the citizen
    feed ('hssk feed publish' and 'push' to a receiver inside this process). At random every 0.5–2 s it
    SIGKILLs a member (and starts another), SIGTERMs one, adds one, takes a broker down, makes requests
    fail, locks the store (SQLite) or holds its write lock, cuts its connections or restarts it
    (PostgreSQL, with --restart-store). Then it lets everything drain and checks: every record on the
    source topics stored exactly once with the last version of each key current, or dead-lettered
    exactly once with its code; 'verify' clean; the feed's receiver holding each person's latest
    document; every SIGTERM ended with status 0 and no process exited by itself. Prints
    'chaos: kills K, published P, stored S, dead-lettered D, lost L, duplicated U'.
    Exit 0 only when nothing was lost, duplicated, stale or wrongly coded and every check held.
    """,
    options: [
        Option(name: "kills", value: "N", help: "SIGKILLs of ingest processes, at least.", defaultValue: "50", range: 0...100_000),
        Option(name: "records", value: "N", help: "Source records to publish (plus hostile ones).", defaultValue: "20000", range: 100...5_000_000),
        Option(name: "members", value: "N", help: "Ingest processes at most at once.", defaultValue: "3", range: 1...16),
        Option(name: "store", value: "PATH|URL", help: "SQLite file or postgres:// URL of an EMPTY database.", defaultValue: "WORK/chaos.sqlite"),
        Option(name: "restart-store", value: "CMD", help: "Shell command that restarts the PostgreSQL server (adds restarts to the store faults)."),
        Option(name: "bootstrap", value: "HOST:PORT,...", help: "An existing cluster (topics from 'hssk topics apply'; no broker faults) instead of the embedded one."),
        Option(name: "kafka", value: "KEY=VALUE", help: "A librdkafka property for every client, e.g. security settings (repeatable).", repeatable: true),
        Option(name: "seed", value: "S", help: "Seed of the population and the run's choices.", defaultValue: "2026", range: 0...Int.max),
        Option(name: "work", value: "DIR", help: "Folder for the store, keys, logs of every process and the report.", defaultValue: "./var/chaos"),
        Option(name: "json", value: "FILE", help: "Also write the report as JSON."),
    ],
    run: { arguments in
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var chaos = ChaosRun(executable: executable, workDirectory: arguments.string("work") ?? "./var/chaos")
        chaos.kills = try arguments.int("kills", default: 50)
        chaos.records = try arguments.int("records", default: 20_000)
        chaos.members = try arguments.int("members", default: 3)
        chaos.seed = UInt64(try arguments.int("seed", default: 2026))
        chaos.store = arguments.string("store")
        chaos.restartStoreCommand = arguments.string("restart-store")
        chaos.bootstrap = arguments.string("bootstrap")
        chaos.kafkaProperties = try kafkaProperties(arguments.strings("kafka"))
        let report = try await chaos.run { printError($0) }
        if let json = arguments.string("json") {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(report).write(to: URL(fileURLWithPath: json))
        }
        for (label, items) in [("lost", report.findings.lost), ("duplicated", report.findings.duplicated), ("wrong code", report.findings.wrongCode),
                               ("stale", report.findings.stale), ("bad ending", report.badEndings), ("verify", report.verifyProblems),
                               ("feed", report.feedProblems), ("retention", report.retention), ("exited by itself", report.selfExits)] {
            for item in items.prefix(10) { printLine("  \(label): \(item)") }
            if items.count > 10 { printLine("  \(label): … \(items.count - 10) more") }
        }
        if !report.drained { printLine("  not everything was processed within the drain timeout") }
        printLine("  \(report.backend): \(report.terminations) SIGTERMs, \(report.membersAdded) members added, \(report.brokerFaults) broker faults, \(report.requestFaults) request-error faults, \(report.storeFaults) store faults, \(report.feedKills) feed kills; \(report.hostile) hostile records; \(report.replays) replays recognised; \(report.feedDocuments) feed documents; \(String(format: "%.0f", report.seconds)) s")
        printLine(report.line)
        return report.passed ? 0 : 1
    })
