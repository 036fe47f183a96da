import Foundation
import Kafka
import RecordStore
import Services

// hssk feed publish / push / sink: the citizen feed (docs/citizen-feed.md).

private let kafkaOption = Option(name: "kafka", value: "KEY=VALUE", help: "Any librdkafka setting, e.g. security.protocol=sasl_ssl (repeatable).",
                                 repeatable: true)

let feedCommand = Command(
    name: "feed", summary: "The citizen feed: publish documents from the store, push them to the citizen app, or receive them (tests, demo).",
    usage: "feed <publish|push|sink> [options]", options: [],
    subcommands: [feedPublishCommand])

let feedPublishCommand = Command(
    name: "publish", summary: "Build citizen documents from the store's outbox and produce them to hssk.citizen-feed.v1 (runs until SIGTERM).",
    usage: "feed publish --bootstrap B --store PATH|URL [--keys FILE] [--restricted FILE]",
    details: """
    Each changed person's document is rebuilt from the store (allowlisted fields, restricted data
    removed), keyed by the active personal ID, versioned by the outbox id; the person's other personal
    IDs get tombstones. What the restricted-data filter removed is logged as counts per rule.
    Logs are JSON lines on stderr. Exit 0 after SIGINT/SIGTERM, 1 on a fatal error.
    """,
    options: [
        Option(name: "bootstrap", value: "HOST:PORT,...", help: "Kafka brokers."),
        Option(name: "store", value: "PATH|URL", help: "SQLite file or postgres:// URL of the store."),
        Option(name: "keys", value: "FILE", help: "Key file (JSON); else \(KeyRing.environmentVariable) or \(KeyRing.fileEnvironmentVariable)."),
        Option(name: "restricted", value: "FILE",
               help: "Restricted-data list (JSON: icd10, atc, ingredients, terms); adds to the legal minimum.", defaultValue: "built-in list"),
        Option(name: "topic", value: "NAME", help: "Feed topic.", defaultValue: FeedHeaders.topic),
        Option(name: "batch", value: "N", help: "Outbox rows per round.", defaultValue: "500"),
        kafkaOption,
    ],
    run: { arguments in
        guard let bootstrap = arguments.string("bootstrap") else { throw UsageError(description: "--bootstrap is required") }
        guard let location = arguments.string("store") else { throw UsageError(description: "--store is required") }
        var configuration = FeedPublisherConfiguration()
        configuration.batchSize = try arguments.int("batch", default: 500, in: 1...10_000)
        configuration.topic = arguments.string("topic") ?? FeedHeaders.topic
        if let path = arguments.string("restricted") {
            do {
                configuration.builder = CitizenDocumentBuilder(filter: RestrictedDataFilter(policy: try RestrictedDataPolicy(contentsOf: URL(fileURLWithPath: path))))
            } catch { throw UsageError(description: "--restricted: \(error)") }
        }
        let producer = try await feedProducer(bootstrap: bootstrap, properties: try kafkaProperties(arguments.strings("kafka")),
                                              topic: configuration.topic)
        let store = try await RecordStores.open(location, keys: try KeyRing.load(path: arguments.string("keys")), mustExist: true)
        do {
            try await ServiceRunner.run([FeedPublisher(store: store, producer: producer, configuration: configuration)])
        } catch {
            try? await producer.close(timeout: .seconds(10))
            await store.close()
            throw error
        }
        try await producer.close(timeout: .seconds(30))
        await store.close()
        return 0
    })

/// An idempotent producer whose cluster answered a metadata request for `topic` (a wrong address or
/// a missing topic is an error at start, not a silent retry loop).
func feedProducer(bootstrap: String, properties: [String: String], topic: String) async throws -> Producer {
    var client = KafkaClientConfig(bootstrapServers: bootstrap)
    client.properties = properties
    client.logLevel = 3
    let admin = try Admin(config: client, timeout: .seconds(10))
    guard try await admin.describeTopics([topic])[topic] != nil else {
        throw KafkaError.operation("metadata", .unknownTopicOrPartition, detail: "topic \(topic) does not exist (hssk topics apply)")
    }
    var config = ProducerConfig(bootstrapServers: bootstrap)
    config.client = client
    return try Producer(config: config)
}
