import Foundation
import ServiceRuntime
import Synchronization
import Tooling

let demoCommand = Command(
    name: "demo", summary: "The whole pipeline in one process on the embedded cluster, checked against a synthetic population's ground truth.",
    usage: "demo [--citizens 2000] [--seed S] [--store PATH|URL] [--keys FILE] [--json FILE]",
    details: """
    Starts the embedded Kafka cluster with the topic catalogue, opens a fresh store, registers the
    synthetic sources' accounts, runs ingest, the citizen feed (publisher, pusher and the reference
    receiver) and the insurance sync, and publishes the population as its sources would (signed, and
    unsigned or forged where the ground truth says so). When everything is processed it prints what was
    published, stored and dead-lettered, the persons, feed documents and supplements, throughput, batch
    latency and linkage precision/recall. Exit 1 unless stored + dead-lettered = published.
    A SQLite store is recreated on each run (only a file an earlier demo made), with fresh keys in
    demo-keys.json next to it (mode 0600). A PostgreSQL database must be empty; its keys are
    ./var/demo-keys.json (reused if present) or --keys. The services' JSON logs go to demo.log next to
    the store (./var for a URL).
    """,
    options: [
        Option(name: "citizens", value: "N", help: "Citizens in the synthetic population.", defaultValue: "2000"),
        Option(name: "seed", value: "S", help: "Population seed.", defaultValue: "2026"),
        Option(name: "store", value: "PATH|URL", help: "SQLite file or postgres:// URL.", defaultValue: "./var/demo.sqlite"),
        Option(name: "keys", value: "FILE", help: "Key file to use.", defaultValue: "a fresh demo-keys.json next to the store"),
        Option(name: "brokers", value: "N", help: "Brokers of the embedded cluster.", defaultValue: "3"),
        Option(name: "json", value: "FILE", help: "Also write the summary as JSON."),
    ],
    run: { arguments in
        var demo = DemoRun()
        demo.citizens = try arguments.int("citizens", default: 2_000, in: 10...1_000_000)
        demo.seed = UInt64(try arguments.int("seed", default: 2026, in: 0...Int.max))
        demo.store = arguments.string("store") ?? "var/demo.sqlite"
        demo.keyFile = arguments.string("keys")
        demo.brokers = try arguments.int("brokers", default: 3, in: 1...9)
        // A live line on a terminal; plain lines (every two seconds) when the output is a file or a pipe.
        let terminal = isatty(1) == 1
        let lastPlain = PlainLineClock()
        let run = demo
        // Ctrl-C stops the services, closes the store and the cluster, and says so (exit 130).
        let outcome = try await ServiceRunner.untilTerminated {
            try await run.run { line in
                if terminal {
                    FileHandle.standardOutput.write(Data(("\r\u{1B}[K" + line).utf8))
                } else if lastPlain.last.withLock({ last in
                    guard ContinuousClock.now - last >= .seconds(2) else { return false }
                    last = .now
                    return true
                }) {
                    printLine(line)
                }
            }
        }
        if terminal { FileHandle.standardOutput.write(Data("\n".utf8)) }
        guard let summary = outcome else {
            printLine("interrupted: services stopped, store closed; the next 'hssk demo' starts over")
            return 130
        }
        printLine(DemoRun.describe(summary))
        if let path = arguments.string("json") {
            guard FileManager.default.createFile(atPath: path, contents: try DemoRun.json(summary)) else {
                throw UsageError(description: "cannot write --json \(path)")
            }
        }
        return summary.nothingLost ? 0 : 1
    })

/// When the last plain progress line was printed.
private final class PlainLineClock: Sendable {
    let last = Mutex(ContinuousClock.now - .seconds(10))
}
