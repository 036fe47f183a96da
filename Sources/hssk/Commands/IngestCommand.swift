import Foundation
import HealthModel
import Ingest
import RecordStore
import ServiceRuntime
import SourceAdapters

let ingestCommand = Command(
    name: "ingest", summary: "Consume the source topics into the health-record store, exactly once (DESIGN.md §6).",
    usage: "ingest --bootstrap HOST:PORT --store PATH|URL [--group hssk-ingest] [--topic NAME ...] [--keys FILE] [--batch N] [--kafka KEY=VALUE ...] [--admin HOST:PORT]",
    details: """
    Per batch: authenticate (ce_source account, hssk-signature), decode, validate, link each record to one
    person, then one store transaction with records, identity changes, outbox rows, dead letters and the
    offsets the batch covers (applied only where the store's position is the batch's start: offsets never
    skip). Dead letters go to <topic>.dlq after the commit, exactly once. An unavailable store or broker is
    retried with back-off, never skipped; records that expired before they were read stop their partition
    until 'hssk offsets accept-gap'. Several processes may share a group. Logs are JSON lines on stderr with
    codes and Kafka coordinates only. SIGINT/SIGTERM: finish the batch, leave, exit 0.
    """,
    options: [
        Option(name: "bootstrap", value: "HOST:PORT", help: "Kafka bootstrap servers."),
        Option(name: "store", value: "PATH|URL", help: "SQLite file or postgres:// URL of the store (created if missing)."),
        Option(name: "keys", value: "FILE", help: "Store key file (JSON); else \(KeyRing.environmentVariable) or \(KeyRing.fileEnvironmentVariable)."),
        Option(name: "group", value: "NAME", help: "Consumer group (the store keeps its offsets under it).", defaultValue: "hssk-ingest"),
        Option(name: "topic", value: "NAME", help: "Source topic to read instead of the catalogue's four (repeatable; its kind comes from its name).",
               repeatable: true),
        Option(name: "batch", value: "N", help: "Records per batch (one transaction).", defaultValue: "2000", range: 1...50_000),
        Option(name: "kafka", value: "KEY=VALUE", help: "A librdkafka property for both clients, e.g. security.protocol=SASL_SSL (repeatable).",
               repeatable: true),
        adminOption,
    ],
    run: { arguments in
        let location = try required(arguments, "store")
        var configuration = IngestConfiguration(bootstrapServers: try required(arguments, "bootstrap"))
        configuration.group = arguments.string("group") ?? configuration.group
        configuration.maxBatchRecords = try arguments.int("batch", default: 2_000)
        configuration.kafkaProperties = try kafkaProperties(arguments.strings("kafka"))
        let topics = arguments.strings("topic")
        if !topics.isEmpty {
            var chosen: [RecordKind: String] = [:]
            for topic in topics {
                guard let kind = SourceTopics.defaults.first(where: { topic.hasPrefix($0.value) })?.key else {
                    throw UsageError(description: "--topic \(topic): not one of \(SourceTopics.defaults.values.sorted().joined(separator: ", "))")
                }
                chosen[kind] = topic
            }
            configuration.topics = chosen
        }
        try await withServiceStore(location, keys: try keyRing(arguments)) { store in
            try await ServiceRunner.run(try withAdminEndpoint(IngestService(configuration: configuration, store: store), arguments))
        }
        return 0
    })
