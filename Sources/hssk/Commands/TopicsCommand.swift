import Foundation
import Kafka
import ServiceRuntime

private let topicsDirectoryOption = Option(name: "topics-dir", value: "DIR", help: "Topic catalogue folder.",
                                           defaultValue: "$HSSK_TOPICS_DIR, ./topics, or the build's source tree")

private let connectionOptions = [
    Option(name: "bootstrap", value: "HOST:PORT,...", help: "Kafka brokers."),
    topicsDirectoryOption,
    Option(name: "kafka", value: "KEY=VALUE", help: "Any librdkafka setting, e.g. security.protocol=sasl_ssl (repeatable).", repeatable: true),
]

let topicsCommand = Command(
    name: "topics", summary: "Create or check hssk's Kafka topics from the catalogue (topics/).",
    usage: "topics <apply|check|docs> [options]", options: [],
    subcommands: [
        Command(name: "apply", summary: "Create missing topics; report settings that differ (exit 1 on drift).",
                usage: "topics apply --bootstrap B [--topics-dir DIR]", options: connectionOptions,
                run: { try await reconcileTopics($0, create: true) }),
        Command(name: "check", summary: "Report missing topics and settings that differ; exit 1 on any.",
                usage: "topics check --bootstrap B [--topics-dir DIR]", options: connectionOptions,
                run: { try await reconcileTopics($0, create: false) }),
        Command(name: "docs", summary: "Write the topic reference (Markdown) generated from the catalogue; no broker needed.",
                usage: "topics docs [--output FILE] [--topics-dir DIR]",
                details: "docs/topics.md is this command's output; a test fails when it differs from the catalogue.",
                options: [topicsDirectoryOption, Option(name: "output", value: "FILE", help: "Write here instead of standard output.")],
                run: writeTopicReference),
    ])

private func writeTopicReference(_ arguments: ParsedArguments) throws -> Int32 {
    let directory = arguments.string("topics-dir").map { URL(fileURLWithPath: $0) } ?? TopicCatalogue.defaultDirectory()
    let markdown = TopicReference.markdown(try TopicCatalogue.load(from: directory))
    guard let output = arguments.string("output") else {
        print(markdown, terminator: "")
        return 0
    }
    try Data(markdown.utf8).write(to: URL(fileURLWithPath: output), options: .atomic)
    print("wrote \(output)")
    return 0
}

private func reconcileTopics(_ arguments: ParsedArguments, create: Bool) async throws -> Int32 {
    guard let bootstrap = arguments.string("bootstrap") else { throw UsageError(description: "--bootstrap is required") }
    let directory = arguments.string("topics-dir").map { URL(fileURLWithPath: $0) } ?? TopicCatalogue.defaultDirectory()
    let catalogue = try TopicCatalogue.load(from: directory)
    let admin = try Admin(config: try kafkaClient(arguments, bootstrap: bootstrap))
    let report = create ? try await admin.ensureTopics(catalogue.specs) : try await admin.checkTopics(catalogue.specs)
    for name in report.created { print("created   \(name)") }
    for name in report.upToDate { print("ok        \(name)") }
    for name in report.missing { print("MISSING   \(name)") }
    for drift in report.drift { print("DRIFT     \(drift)") }
    if !report.configsUnverified.isEmpty {
        print("note      the cluster does not report topic configs (the embedded cluster cannot): configs of \(report.configsUnverified.count) topic(s) not verified")
    }
    let problems = report.missing.count + report.drift.count
    print("\(catalogue.entries.count) topics: \(report.created.count) created, \(report.upToDate.count) up to date, \(problems) problem(s)")
    return problems == 0 ? 0 : 1
}
