import Kafka
import ServiceRuntime

/// `hssk broker`: the embedded Kafka cluster with hssk's topics, for one machine.
public struct EmbeddedBroker: Service {
    public let name = "broker"
    public let cluster: EmbeddedCluster
    /// What creating the topics found and did.
    public let topicReport: TopicEnsureReport

    /// Starts `brokers` brokers and creates `topics`. A replication factor larger than the cluster is
    /// reduced to its size (the catalogue is written for production clusters).
    public init(brokers: Int, topics: [TopicSpec]) async throws {
        cluster = try EmbeddedCluster(brokers: brokers)
        topicReport = try await cluster.ensureTopics(topics.map { spec in
            var spec = spec
            spec.replicationFactor = min(spec.replicationFactor, brokers)
            return spec
        })
    }

    public func run() async throws {
        // The brokers run on librdkafka's threads; this task only keeps the cluster alive until shutdown.
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(3600))
        }
        cluster.shutdown()
    }
}
