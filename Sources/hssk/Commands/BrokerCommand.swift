import Foundation
import Kafka
import ServiceRuntime
import Tooling

let brokerCommand = Command(
    name: "broker", summary: "Run the embedded Kafka cluster (librdkafka's mock cluster) on loopback ports.",
    usage: "broker [--brokers 3] [--partitions 6] [--topics-dir DIR] [--topic NAME ...]",
    details: """
    Creates the catalogue's topics (topics/*.json; replication reduced to the number of brokers) and any
    extra --topic. Prints 'bootstrap: <host:port,...>' on its own line once they exist, then runs until
    SIGINT/SIGTERM. Any Kafka client can connect, e.g. 'kcat -b <bootstrap> -L'. The mock cluster keeps
    data in memory only and does not implement the Admin API: topics are created here, not by clients.
    """,
    options: [
        Option(name: "brokers", value: "N", help: "Number of brokers.", defaultValue: "3"),
        Option(name: "partitions", value: "N", help: "Partitions of each topic.", defaultValue: "the catalogue's, else 6"),
        Option(name: "topics-dir", value: "DIR", help: "Topic catalogue folder.", defaultValue: "$HSSK_TOPICS_DIR, ./topics, or the build's source tree"),
        Option(name: "no-catalogue", value: nil, help: "Create only the --topic topics."),
        Option(name: "topic", value: "NAME", help: "An extra topic to create (repeatable).", repeatable: true),
    ],
    run: { arguments in
        let brokers = try arguments.int("brokers", default: 3, in: 1...32)
        var topics: [TopicSpec] = []
        if !arguments.flag("no-catalogue") {
            let directory = arguments.string("topics-dir").map { URL(fileURLWithPath: $0) } ?? TopicCatalogue.defaultDirectory()
            topics = try TopicCatalogue.load(from: directory).specs
        }
        topics += arguments.strings("topic").map { TopicSpec(name: $0, partitions: 6, replicationFactor: 3) }
        if arguments.string("partitions") != nil {
            let partitions = try arguments.int("partitions", default: 6, in: 1...1_000)
            topics = topics.map { var spec = $0; spec.partitions = partitions; return spec }
        }
        let broker = try await EmbeddedBroker(brokers: brokers, topics: topics)
        for spec in topics { printLine("topic: \(spec.name) (\(spec.partitions) partitions)") }
        printLine("bootstrap: \(broker.cluster.bootstrapServers)")
        try await ServiceRunner.run([broker])
        printLine("broker stopped")
        return 0
    })
