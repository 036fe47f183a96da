import CRdKafka
import Synchronization

/// Kafka request types, for fault injection (`EmbeddedCluster.pushRequestErrors`).
public enum KafkaAPI: Int16, Sendable, CaseIterable {
    case produce = 0, fetch = 1, listOffsets = 2, metadata = 3, offsetCommit = 8, offsetFetch = 9
    case findCoordinator = 10, joinGroup = 11, heartbeat = 12, leaveGroup = 13, syncGroup = 14
    case initProducerID = 22
}

/// librdkafka's mock cluster: a real Kafka-protocol server with N brokers on loopback ports, inside
/// this process. The embedded default for `hssk broker`, `hssk demo` and the tests; it can inject faults.
///
/// Limits of librdkafka 2.0's mock: data lives in memory only; each partition keeps only its most
/// recent ~5 MB (`partitionLogBytes`) and silently drops older records, so consumers must keep up or
/// topics need enough partitions; no Admin API (topics are created here); no topic configs.
public final class EmbeddedCluster: TopicAdministrator {
    /// How much of each partition's log the mock keeps (measured: 5 MB with librdkafka 2.0.2).
    public static let partitionLogBytes = 5 * 1024 * 1024
    /// Consumer settings for latency on this cluster: the mock answers a fetch that found nothing only
    /// after `fetch.wait.max.ms`, even when records arrive meanwhile (Apache Kafka answers as soon as
    /// they do), so librdkafka's 500 ms default would add up to half a second per consumer hop
    /// (measured with `hssk bench feed` at 400 visits/s: p50 928 ms with the default, 174 ms with this).
    public static let consumerProperties = ["fetch.wait.max.ms": "20"]

    /// `host:port,...` of the brokers.
    public let bootstrapServers: String
    /// Broker ids are 1...brokerCount.
    public let brokerCount: Int
    private let owner: NativeHandle
    private let cluster: NativeHandle
    private let metadata: Admin
    private let destroyed = Atomic<Bool>(false)

    /// Starts a cluster with `brokers` brokers.
    public init(brokers: Int = 3) throws {
        guard (1...32).contains(brokers) else {
            throw KafkaError.invalidConfiguration(key: "brokers", value: String(brokers), reason: "the embedded cluster takes 1 to 32 brokers")
        }
        // The mock cluster lives inside a client handle; that handle never connects anywhere, so its
        // "no bootstrap.servers" notice is silenced.
        let conf = try makeNativeConfig([("log_level", "3")], properties: [:], fixed: [])
        owner = try makeClient(RD_KAFKA_PRODUCER, conf)
        guard let mock = rd_kafka_mock_cluster_new(owner.pointer, Int32(brokers)) else {
            rd_kafka_destroy(owner.pointer)
            throw KafkaError.clientCreation(reason: "librdkafka could not start the mock cluster")
        }
        cluster = NativeHandle(pointer: mock)
        bootstrapServers = String(cString: rd_kafka_mock_cluster_bootstraps(mock))
        brokerCount = brokers
        var adminConfig = KafkaClientConfig(bootstrapServers: bootstrapServers)
        adminConfig.clientID = "hssk-embedded-admin"
        do {
            metadata = try Admin(config: adminConfig, timeout: .seconds(10))
        } catch {
            rd_kafka_mock_cluster_destroy(mock)
            rd_kafka_destroy(owner.pointer)
            throw error
        }
    }

    deinit { shutdown() }

    /// Stops the brokers. Clients still connected see the cluster go away.
    public func shutdown() {
        guard !destroyed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        metadata.releaseClient()  // before the brokers go, so that it does not report them down
        rd_kafka_mock_cluster_destroy(cluster.pointer)
        rd_kafka_destroy(owner.pointer)
    }

    /// Creates a topic. The mock keeps no topic configs, and it places min(3, brokers) replicas
    /// whatever factor is asked (librdkafka 2.0): `describeTopics` reports what it really did.
    public func createTopic(_ name: String, partitions: Int, replicationFactor: Int) throws {
        guard replicationFactor <= brokerCount else {
            throw KafkaError.topic(name, KafkaErrorCode(RD_KAFKA_RESP_ERR_INVALID_REPLICATION_FACTOR),
                                   detail: "replication factor \(replicationFactor) exceeds the \(brokerCount) embedded brokers")
        }
        let err = rd_kafka_mock_topic_create(cluster.pointer, name, Int32(partitions), Int32(replicationFactor))
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError.topic(name, KafkaErrorCode(err), detail: "") }
    }

    public func describeTopics(_ names: [String]) async throws -> [String: TopicDescription] {
        try await metadata.describeTopics(names)
    }

    public func createTopics(_ specs: [TopicSpec]) async throws {
        for spec in specs { try createTopic(spec.name, partitions: spec.partitions, replicationFactor: spec.replicationFactor) }
    }

    /// Takes broker `id` down: its connections close and new ones are refused.
    public func setBrokerDown(_ id: Int32) throws {
        try check(rd_kafka_mock_broker_set_down(cluster.pointer, id), "broker \(id) down")
    }

    /// Brings broker `id` back.
    public func setBrokerUp(_ id: Int32) throws {
        try check(rd_kafka_mock_broker_set_up(cluster.pointer, id), "broker \(id) up")
    }

    /// Makes the next requests of type `api` (on any broker) fail with `errors`, one error per request.
    public func pushRequestErrors(_ api: KafkaAPI, _ errors: [KafkaErrorCode]) {
        let codes = errors.map { rd_kafka_resp_err_t(rawValue: $0.rawValue) }
        codes.withUnsafeBufferPointer { rd_kafka_mock_push_request_errors_array(cluster.pointer, api.rawValue, $0.count, $0.baseAddress) }
    }

    /// Makes broker `id` the coordinator of consumer group `group`.
    public func setGroupCoordinator(_ group: String, broker id: Int32) throws {
        try check(rd_kafka_mock_coordinator_set(cluster.pointer, "group", group, id), "coordinator of \(group): \(id)")
    }

    /// Moves the leadership of a partition to broker `id`.
    public func setPartitionLeader(_ topic: String, _ partition: Int32, broker id: Int32) throws {
        try check(rd_kafka_mock_partition_set_leader(cluster.pointer, topic, partition, id), "\(topic)[\(partition)] leader \(id)")
    }

    /// The brokers as the cluster's metadata lists them.
    public func brokers() async throws -> [BrokerInfo] { try await metadata.brokers() }

    private func check(_ err: rd_kafka_resp_err_t, _ what: String) throws {
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError.operation(what, KafkaErrorCode(err), detail: "") }
    }
}
