import Foundation
import Kafka
import Services

let brokerCommand = Command(
    name: "broker", summary: "Run the embedded Kafka cluster (librdkafka's mock cluster) on loopback ports.",
    usage: "broker [--brokers 3] [--partitions 6] [--topic NAME ...]",
    details: """
    Prints 'bootstrap: <host:port,...>' on its own line once the topics exist, then runs until
    SIGINT/SIGTERM. Any Kafka client can connect, e.g. 'kcat -b <bootstrap> -L'. The mock cluster keeps
    data in memory only and does not implement the Admin API: topics are created here, not by clients.
    """,
    options: [
        Option(name: "brokers", value: "N", help: "Number of brokers.", defaultValue: "3"),
        Option(name: "partitions", value: "N", help: "Partitions of each topic.", defaultValue: "6"),
        Option(name: "topic", value: "NAME", help: "A topic to create (repeatable).", repeatable: true),
    ],
    run: { arguments in
        let brokers = try arguments.int("brokers", default: 3, in: 1...32)
        let partitions = try arguments.int("partitions", default: 6, in: 1...1_000)
        let topics = arguments.strings("topic").map { TopicSpec(name: $0, partitions: partitions, replicationFactor: 3) }
        let broker = try await EmbeddedBroker(brokers: brokers, topics: topics)
        for name in broker.topicReport.created { printLine("topic: \(name) (\(partitions) partitions)") }
        printLine("bootstrap: \(broker.cluster.bootstrapServers)")
        try await ServiceRunner.run([broker])
        printLine("broker stopped")
        return 0
    })
