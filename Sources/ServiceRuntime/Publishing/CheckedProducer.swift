import Kafka

extension Producer {
    /// An idempotent producer whose cluster answered a metadata request for `topic`: a wrong address,
    /// a missing topic or an account that may not describe it is an error at start, not a silent
    /// retry loop (`hssk publish`, `feed publish`, `dlq replay`).
    public static func checked(client: KafkaClientConfig, topic: String, messageTimeoutMs: Int? = nil) async throws -> Producer {
        let admin = try Admin(config: client, timeout: .seconds(10))
        guard try await admin.findTopics([topic])[topic] != nil else {
            throw KafkaError.operation("metadata", .unknownTopicOrPartition,
                                       detail: "topic \(topic) does not exist or this account may not describe it (its Kafka ACLs)")
        }
        var config = ProducerConfig(bootstrapServers: client.bootstrapServers)
        config.client = client
        if let messageTimeoutMs { config.messageTimeoutMs = messageTimeoutMs }
        return try Producer(config: config)
    }
}
