import CRdKafka
import Synchronization

/// A broker as listed in cluster metadata.
public struct BrokerInfo: Sendable, Hashable {
    public var id: Int32
    public var host: String
    public var port: Int32
}

/// Kafka's Admin API: topic metadata, configs and creation on a real cluster.
///
/// Note: librdkafka's embedded mock cluster (Debian's 2.0.x) answers metadata but not CreateTopics or
/// DescribeConfigs: `EmbeddedCluster` creates its topics through the mock API, and configs it cannot
/// report are described as unknown (`configs == nil`), never as matching.
public final class Admin: TopicAdministrator {
    private let handle: NativeHandle
    private let thread: KafkaThread
    /// Request timeout of each admin call.
    public let timeoutMs: Int32

    /// Connects an admin client.
    public init(config: KafkaClientConfig, timeout: Duration = .seconds(30)) throws {
        let conf = try makeNativeConfig(try config.entries(), properties: config.properties, fixed: [])
        handle = try makeClient(RD_KAFKA_PRODUCER, conf)
        thread = KafkaThread(name: "hssk-admin")
        timeoutMs = Int32(clamping: timeout.components.seconds * 1000)
    }

    private let destroyed = Atomic<Bool>(false)

    // Waits for librdkafka's threads to end: a process that returned while one was still in a TLS
    // handshake crashed on exit (SIGSEGV in 3 of 25 failed handshakes).
    deinit { releaseClient() }

    /// Releases the client now, waiting until it is gone: for owners that must disconnect first.
    func releaseClient() {
        guard !destroyed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        let handle = handle
        thread.submit { rd_kafka_destroy(handle.pointer) }
        thread.stopAndWait()
    }

    /// The brokers of the cluster.
    public func brokers() async throws -> [BrokerInfo] {
        try await withMetadata { metadata in
            (0..<Int(metadata.pointee.broker_cnt)).map { index in
                let broker = metadata.pointee.brokers[index]
                return BrokerInfo(id: broker.id, host: String(cString: broker.host), port: broker.port)
            }
        }
    }

    /// The named topics that exist, with their partitions and replicas but not their configs: needs only
    /// Describe on each topic (what every service's ACLs grant). A topic the account may not describe
    /// is absent, as a missing one is.
    public func findTopics(_ names: [String]) async throws -> [String: TopicDescription] {
        try await findTopicsAndABroker(names).topics
    }

    /// Like `findTopics`, plus the topics' configs: needs DescribeConfigs too (the operators' account).
    public func describeTopics(_ names: [String]) async throws -> [String: TopicDescription] {
        var (topics, anyBroker) = try await findTopicsAndABroker(names)
        if let anyBroker, !topics.isEmpty {
            do {
                for (name, configs) in try await describeConfigs(Array(topics.keys), broker: anyBroker) { topics[name]?.configs = configs }
            } catch KafkaError.operation(_, .unsupportedFeature, _) {
                // The broker cannot report configs (the embedded mock cluster): they stay unknown (nil).
            }
        }
        return topics
    }

    private func findTopicsAndABroker(_ names: [String]) async throws -> (topics: [String: TopicDescription], anyBroker: Int32?) {
        let wanted = Set(names)
        return try await withMetadata { metadata -> ([String: TopicDescription], Int32?) in
            var found: [String: TopicDescription] = [:]
            for index in 0..<Int(metadata.pointee.topic_cnt) {
                let topic = metadata.pointee.topics[index]
                let name = String(cString: topic.topic)
                guard wanted.contains(name), topic.err == RD_KAFKA_RESP_ERR_NO_ERROR else { continue }
                let replicas = (0..<Int(topic.partition_cnt)).map { Int(topic.partitions[$0].replica_cnt) }
                found[name] = TopicDescription(name: name, partitions: Int(topic.partition_cnt),
                                               replicationFactor: replicas.min() ?? 0, configs: nil)
            }
            return (found, metadata.pointee.broker_cnt > 0 ? metadata.pointee.brokers[0].id : nil)
        }
    }

    public func createTopics(_ specs: [TopicSpec]) async throws {
        guard !specs.isEmpty else { return }
        let handle = handle, timeoutMs = timeoutMs
        try await thread.run {
            var errbuf = [CChar](repeating: 0, count: 512)
            var newTopics: [OpaquePointer?] = []
            defer { for topic in newTopics { rd_kafka_NewTopic_destroy(topic) } }
            for spec in specs {
                guard let topic = rd_kafka_NewTopic_new(spec.name, Int32(spec.partitions), Int32(spec.replicationFactor), &errbuf, errbuf.count) else {
                    throw KafkaError.topic(spec.name, KafkaErrorCode(RD_KAFKA_RESP_ERR__INVALID_ARG), detail: cString(errbuf))
                }
                newTopics.append(topic)
                for (key, value) in spec.configs { rd_kafka_NewTopic_set_config(topic, key, value) }
            }
            let event = try adminRequest(handle, timeoutMs) { options, queue in
                newTopics.withUnsafeMutableBufferPointer { rd_kafka_CreateTopics(handle.pointer, $0.baseAddress, $0.count, options, queue) }
            }
            defer { rd_kafka_event_destroy(event) }
            var count = 0
            guard let results = rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(event), &count) else { return }
            for index in 0..<count {
                let result = results[index]
                let err = rd_kafka_topic_result_error(result)
                guard err != RD_KAFKA_RESP_ERR_NO_ERROR, err != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS else { continue }
                throw KafkaError.topic(String(cString: rd_kafka_topic_result_name(result)), KafkaErrorCode(err),
                                       detail: rd_kafka_topic_result_error_string(result).map { String(cString: $0) } ?? "")
            }
        }
    }

    /// Topic configs as broker `broker` reports them (DescribeConfigs). Any broker can answer for topics;
    /// asking one directly, not the controller, also gets a prompt "unsupported" from brokers without the API.
    public func describeConfigs(_ topics: [String], broker: Int32) async throws -> [String: [String: String]] {
        let handle = handle, timeoutMs = timeoutMs
        return try await thread.run {
            var resources = topics.map { rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, $0) }
            defer { for resource in resources { rd_kafka_ConfigResource_destroy(resource) } }
            let event = try adminRequest(handle, timeoutMs, broker: broker) { options, queue in
                resources.withUnsafeMutableBufferPointer { rd_kafka_DescribeConfigs(handle.pointer, $0.baseAddress, $0.count, options, queue) }
            }
            defer { rd_kafka_event_destroy(event) }
            var described: [String: [String: String]] = [:]
            var count = 0
            guard let results = rd_kafka_DescribeConfigs_result_resources(rd_kafka_event_DescribeConfigs_result(event), &count) else { return described }
            for index in 0..<count {
                let resource = results[index]
                let name = String(cString: rd_kafka_ConfigResource_name(resource))
                let err = rd_kafka_ConfigResource_error(resource)
                guard err == RD_KAFKA_RESP_ERR_NO_ERROR else {
                    throw KafkaError.topic(name, KafkaErrorCode(err), detail: rd_kafka_ConfigResource_error_string(resource).map { String(cString: $0) } ?? "")
                }
                var entryCount = 0
                var configs: [String: String] = [:]
                if let entries = rd_kafka_ConfigResource_configs(resource, &entryCount) {
                    for entryIndex in 0..<entryCount {
                        let entry = entries[entryIndex]
                        guard rd_kafka_ConfigEntry_is_sensitive(entry) == 0, let value = rd_kafka_ConfigEntry_value(entry) else { continue }
                        configs[String(cString: rd_kafka_ConfigEntry_name(entry))] = String(cString: value)
                    }
                }
                described[name] = configs
            }
            return described
        }
    }

    private func withMetadata<T: Sendable>(_ body: @escaping @Sendable (UnsafePointer<rd_kafka_metadata>) -> T) async throws -> T {
        let handle = handle, timeoutMs = timeoutMs
        return try await thread.run {
            var metadata: UnsafePointer<rd_kafka_metadata>?
            // All topics, never one by name: asking for a missing topic can auto-create it.
            let err = rd_kafka_metadata(handle.pointer, 1, nil, &metadata, timeoutMs)
            guard err == RD_KAFKA_RESP_ERR_NO_ERROR, let metadata else {
                throw KafkaError.operation("metadata", KafkaErrorCode(err), detail: "")
            }
            defer { rd_kafka_metadata_destroy(metadata) }
            return body(metadata)
        }
    }
}

/// Runs one admin request and waits for its result event (caller destroys it). Blocking: call on a KafkaThread.
private func adminRequest(_ handle: NativeHandle, _ timeoutMs: Int32, broker: Int32? = nil,
                          _ send: (OpaquePointer?, OpaquePointer?) -> Void) throws -> OpaquePointer {
    var errbuf = [CChar](repeating: 0, count: 512)
    let options = rd_kafka_AdminOptions_new(handle.pointer, RD_KAFKA_ADMIN_OP_ANY)
    defer { rd_kafka_AdminOptions_destroy(options) }
    _ = rd_kafka_AdminOptions_set_request_timeout(options, timeoutMs, &errbuf, errbuf.count)
    if let broker { _ = rd_kafka_AdminOptions_set_broker(options, broker, &errbuf, errbuf.count) }
    let queue = rd_kafka_queue_new(handle.pointer)
    defer { rd_kafka_queue_destroy(queue) }
    send(options, queue)
    guard let event = rd_kafka_queue_poll(queue, timeoutMs + 1_000) else {
        throw KafkaError.operation("admin request", KafkaErrorCode(RD_KAFKA_RESP_ERR__TIMED_OUT), detail: "no answer from the cluster")
    }
    let err = rd_kafka_event_error(event)
    guard err == RD_KAFKA_RESP_ERR_NO_ERROR else {
        let detail = rd_kafka_event_error_string(event).map { String(cString: $0) } ?? ""
        rd_kafka_event_destroy(event)
        throw KafkaError.operation("admin request", KafkaErrorCode(err), detail: detail)
    }
    return event
}
