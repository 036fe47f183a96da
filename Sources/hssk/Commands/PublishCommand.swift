import Foundation
import HealthModel
import Kafka
import ServiceRuntime
import SourceAdapters

private let publishOptions = [
    Option(name: "bootstrap", value: "HOST:PORT,...", help: "Kafka brokers (not needed with --dry-run)."),
    Option(name: "account", value: "NAME", help: "Interop account, e.g. 01032_lt_bnv (ce_source)."),
    Option(name: "key-file", value: "FILE", help: "The account's signing key: one line, hex or base64 (≥ 16 bytes)."),
    Option(name: "dry-run", value: nil, help: "Validate and sign only; send nothing."),
    Option(name: "topics-dir", value: "DIR", help: "Topic catalogue folder.", defaultValue: "$HSSK_TOPICS_DIR, ./topics, or the build's source tree"),
    Option(name: "kafka", value: "KEY=VALUE", help: "Any librdkafka setting, e.g. security.protocol=sasl_ssl (repeatable).", repeatable: true),
]

private let exitDetails = """
Exit status: 0 all records published (or valid with --dry-run), 1 some records rejected, 2 usage or
connection error. Rejections are listed on stderr with the field, code and message; progress too.
"""

private func publishSubcommand(_ name: String, _ kind: RecordKind, summary: String, xml: Bool = false) -> Command {
    var options = publishOptions
    if xml { options.append(Option(name: "xml130", value: nil, help: "FILEs are XML 130 (GIAMDINHHS) files, not JSON Lines.")) }
    return Command(name: name, summary: summary,
                   usage: "publish \(name) [--bootstrap B] --account A --key-file K [--dry-run]\(xml ? " [--xml130]" : "") FILE...",
                   details: exitDetails, options: options, usageExitCode: 2,
                   run: { try await runPublish($0, kind: kind) })
}

let publishCommand = Command(
    name: "publish", summary: "Publish source records (JSON Lines, or XML 130 for visits), signed as an interop account.",
    usage: "publish <visits|doses|cards|registry> --bootstrap B --account A --key-file K FILE...",
    details: exitDetails, options: [],
    subcommands: [
        publishSubcommand("visits", .visit, summary: "Visits (hssk.visits.v1) from JSON Lines or --xml130 files.", xml: true),
        publishSubcommand("doses", .vaccination, summary: "Vaccine doses (hssk.vaccinations.v1) from JSON Lines."),
        publishSubcommand("cards", .insuranceCard, summary: "Insurance card changes (hssk.insurance.cards.v1) from JSON Lines."),
        publishSubcommand("registry", .registryEvent, summary: "Registry events (hssk.registry.v1) from JSON Lines."),
    ],
    usageExitCode: 2)

/// Counts over all files.
private struct Tally {
    var published = 0
    var rejected = 0
    var failed = 0
}

private func runPublish(_ arguments: ParsedArguments, kind: RecordKind) async throws -> Int32 {
    let dryRun = arguments.flag("dry-run")
    guard let accountText = arguments.string("account") else { throw UsageError(description: "--account is required") }
    let account: InteropAccountName
    do { account = try InteropAccountName(parsing: accountText) } catch { throw UsageError(description: error.message.en) }
    guard let keyPath = arguments.string("key-file") else { throw UsageError(description: "--key-file is required") }
    let key: SigningKey
    do { key = try SigningKey(contentsOf: URL(fileURLWithPath: keyPath)) } catch { throw UsageError(description: "--key-file: \(error)") }
    guard !arguments.positional.isEmpty else { throw UsageError(description: "give at least one FILE") }
    let bootstrap = arguments.string("bootstrap")
    if !dryRun && bootstrap == nil { throw UsageError(description: "--bootstrap is required (or use --dry-run)") }

    var topics = SourceTopics.defaults
    if let catalogue = try? TopicCatalogue.load(from: arguments.string("topics-dir").map { URL(fileURLWithPath: $0) } ?? TopicCatalogue.defaultDirectory()) {
        topics = SourceTopics.named(by: catalogue)
    }
    var producer: Producer?
    if !dryRun, let bootstrap {
        let client = try kafkaClient(arguments, bootstrap: bootstrap)
        do {
            // A producer whose cluster answered for the topic, so that a wrong address is exit 2 at once.
            producer = try await Producer.checked(client: client, topic: topics[kind] ?? "", messageTimeoutMs: 30_000)
        } catch {
            printError("hssk publish: cannot reach Kafka at \(bootstrap): \(error)")
            return 2
        }
    }
    let publisher = SourcePublisher(account: account, key: key, producer: producer, topics: topics)
    var tally = Tally()
    for path in arguments.positional {
        let url = URL(fileURLWithPath: path)
        do {
            if arguments.flag("xml130") {
                try await publishXML130(url, publisher: publisher, tally: &tally)
            } else {
                try await publishJSONLines(url, kind: kind, publisher: publisher, tally: &tally)
            }
        } catch let error as XML130Error {
            printError("rejected \(error)")
            tally.rejected += 1
        } catch let error as JSONLinesReader.ReadError {
            printError("rejected \(path): \(error)")
            tally.rejected += 1
        } catch let error as KafkaError {
            printError("hssk publish: Kafka error: \(error)")
            try? await producer?.close(timeout: .seconds(5))
            return 2
        }
    }
    try? await producer?.close(timeout: .seconds(30))
    let verb = dryRun ? "valid" : "published"
    printLine("\(kind.rawValue): \(tally.published) \(verb), \(tally.rejected) rejected, \(tally.failed) failed")
    if tally.failed > 0 { return 2 }
    return tally.rejected > 0 ? 1 : 0
}

private func report(_ results: [PublishResult], labels: [String], showWarnings: Bool = true, tally: inout Tally) {
    for (result, label) in zip(results, labels) {
        switch result.outcome {
        case .published, .validated:
            tally.published += 1
            for w in result.warnings where showWarnings { printError("warning \(label) \(result.key ?? ""): \(w.path) \(w.code): \(w.message.en)") }
        case .rejected(let issues):
            tally.rejected += 1
            for e in issues.errors { printError("rejected \(label) \(result.key ?? ""): \(e.path) \(e.code): \(e.message.en) / \(e.message.vi)") }
        case .failed(let reason):
            tally.failed += 1
            printError("failed \(label) \(result.key ?? ""): \(reason)")
        }
    }
}

private func publishJSONLines(_ url: URL, kind: RecordKind, publisher: SourcePublisher, tally: inout Tally) async throws {
    let reader = try JSONLinesReader(file: url)
    var seen = 0
    while let batch = try reader.nextBatch(maxLines: 1_000) {
        let results = try await publisher.publish(jsonLines: batch.map(\.data), kind: kind)
        report(results, labels: batch.map { "\(url.lastPathComponent):\($0.number)" }, tally: &tally)
        seen += batch.count
        printError("progress \(url.lastPathComponent): \(seen) lines")
    }
}

private func publishXML130(_ url: URL, publisher: SourcePublisher, tally: inout Tally) async throws {
    var seen = 0
    for try await batch in XML130Reader.batches(file: url) {
        var sendable: [(XML130Episode, CanonicalRecord)] = []
        for episode in batch {
            let label = "\(episode.file) HOSO #\(episode.index) MA_LK=\(episode.episodeKey ?? "?")"
            if let canonical = episode.canonical {
                sendable.append((episode, canonical))
                for w in episode.issues.warnings { printError("warning \(label): \(w.path) \(w.code): \(w.message.en)") }
            } else {
                tally.rejected += 1
                for e in episode.issues.errors { printError("rejected \(label): \(e.path) \(e.code): \(e.message.en) / \(e.message.vi)") }
            }
        }
        let results = try await publisher.publish(canonical: sendable.map(\.1))
        report(results, labels: sendable.map { "\($0.0.file) HOSO #\($0.0.index)" }, showWarnings: false, tally: &tally)
        seen += batch.count
        printError("progress \(url.lastPathComponent): \(seen) episodes")
    }
}
