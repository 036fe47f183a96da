import CRdKafka
import Synchronization

/// A consumer-group member (`cooperative-sticky`) with no auto commit and no auto offset store.
///
/// All librdkafka consumer calls run on the consumer's own thread; `poll` hops there once per batch.
public final class Consumer: Sendable {
    private let handle: NativeHandle
    private let thread: KafkaThread
    private let context: RebalanceContext
    private let closed = Atomic<Bool>(false)

    /// Creates the consumer; it joins the group on `subscribe`.
    public init(config: ConsumerConfig, hooks: RebalanceHooks = RebalanceHooks()) throws {
        let conf = try makeNativeConfig(try config.entries(), properties: config.client.properties, fixed: ConsumerConfig.fixed)
        let context = RebalanceContext(hooks: hooks)
        rd_kafka_conf_set_opaque(conf, Unmanaged.passUnretained(context).toOpaque())
        rd_kafka_conf_set_rebalance_cb(conf) { rk, event, list, opaque in
            guard let rk, let list, let opaque else { return }
            Unmanaged<RebalanceContext>.fromOpaque(opaque).takeUnretainedValue().rebalance(rk, event, list)
        }
        handle = try makeClient(RD_KAFKA_CONSUMER, conf)
        rd_kafka_poll_set_consumer(handle.pointer)
        self.context = context
        thread = KafkaThread(name: "hssk-consumer")
    }

    deinit {
        guard !closed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        let handle = handle, context = context
        thread.submit {
            rd_kafka_consumer_close(handle.pointer)
            rd_kafka_destroy(handle.pointer)
            _ = context  // the rebalance callback may run until destroy returns
        }
        thread.stop()
    }

    /// Subscribes to `topics`; assignment follows through the rebalance hooks during `poll`.
    public func subscribe(_ topics: [String]) async throws {
        try await onThread { handle in
            let list = makePartitionList(topics.map { (TopicPartition($0, -1), Int64(RD_KAFKA_OFFSET_INVALID)) })
            defer { rd_kafka_topic_partition_list_destroy(list) }
            let err = rd_kafka_subscribe(handle.pointer, list)
            guard err == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError.operation("subscribe", KafkaErrorCode(err), detail: "") }
        }
    }

    /// Returns up to `maxRecords` records, waiting at most `timeout` for the first one.
    ///
    /// Records of partitions revoked while this batch was collected are dropped: their new owner
    /// reads them again from the offsets the caller stored.
    public func poll(maxRecords: Int = 1_000, timeout: Duration = .milliseconds(100)) async throws -> [ConsumerRecord] {
        let context = context
        let timeoutMs = Int32(clamping: timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        return try await onThread { handle in try pollBatch(handle, context, maxRecords, timeoutMs) }
    }

    /// Commits next-offsets to the group (used by hssk for lag monitoring, not for positioning).
    public func commit(_ offsets: [TopicPartition: Int64]) async throws {
        guard !offsets.isEmpty else { return }
        try await onThread { handle in
            let list = makePartitionList(offsets.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
            defer { rd_kafka_topic_partition_list_destroy(list) }
            let err = rd_kafka_commit(handle.pointer, list, 0)
            guard err == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError.operation("commit", KafkaErrorCode(err), detail: "") }
        }
    }

    /// The group's committed next-offsets for `partitions` (absent when none was committed).
    public func committed(_ partitions: [TopicPartition], timeout: Duration = .seconds(10)) async throws -> [TopicPartition: Int64] {
        let timeoutMs = Int32(clamping: timeout.components.seconds * 1000)
        return try await onThread { handle in
            let list = makePartitionList(partitions.map { ($0, Int64(RD_KAFKA_OFFSET_INVALID)) })
            defer { rd_kafka_topic_partition_list_destroy(list) }
            let err = rd_kafka_committed(handle.pointer, list, timeoutMs)
            guard err == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError.operation("committed", KafkaErrorCode(err), detail: "") }
            return Dictionary(uniqueKeysWithValues: readPartitionList(list).filter { $0.1 >= 0 })
        }
    }

    /// Stops fetching from `partitions` until `resume` (back-pressure); the assignment is kept.
    public func pause(_ partitions: [TopicPartition]) async throws {
        try await changeFlow(partitions, pause: true)
    }

    /// Resumes fetching from paused partitions.
    public func resume(_ partitions: [TopicPartition]) async throws {
        try await changeFlow(partitions, pause: false)
    }

    /// The partitions currently assigned to this member.
    public var assignment: Set<TopicPartition> { context.state.withLock { $0.assignment } }

    /// Leaves the group cleanly (revoke hook, then LeaveGroup) and releases the client.
    public func close() async throws {
        guard !closed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        let handle = handle, context = context
        try await thread.run {
            let err = rd_kafka_consumer_close(handle.pointer)
            rd_kafka_destroy(handle.pointer)
            _ = context
            guard err == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError.operation("close", KafkaErrorCode(err), detail: "") }
        }
        thread.stop()
    }

    private func changeFlow(_ partitions: [TopicPartition], pause: Bool) async throws {
        try await onThread { handle in
            let list = makePartitionList(partitions.map { ($0, Int64(RD_KAFKA_OFFSET_INVALID)) })
            defer { rd_kafka_topic_partition_list_destroy(list) }
            let err = pause ? rd_kafka_pause_partitions(handle.pointer, list) : rd_kafka_resume_partitions(handle.pointer, list)
            guard err == RD_KAFKA_RESP_ERR_NO_ERROR else {
                throw KafkaError.operation(pause ? "pause" : "resume", KafkaErrorCode(err), detail: "")
            }
        }
    }

    private func onThread<T: Sendable>(_ body: @escaping @Sendable (NativeHandle) throws -> T) async throws -> T {
        guard !closed.load(ordering: .acquiring) else { throw KafkaError.closed }
        let handle = handle
        return try await thread.run { try body(handle) }
    }
}

private func pollBatch(_ handle: NativeHandle, _ context: RebalanceContext, _ maxRecords: Int, _ timeoutMs: Int32) throws -> [ConsumerRecord] {
    context.state.withLock { $0.revokedSincePoll.removeAll() }
    var records: [ConsumerRecord] = []
    records.reserveCapacity(min(maxRecords, 4_096))
    var topicNames: [OpaquePointer: String] = [:]
    var wait = timeoutMs
    while records.count < maxRecords, let message = rd_kafka_consumer_poll(handle.pointer, wait) {
        defer { rd_kafka_message_destroy(message) }
        wait = 0
        let err = message.pointee.err
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else {
            if let fatal = fatalClientError(of: handle) { throw fatal }
            continue  // informational (broker down, EOF): librdkafka recovers by itself
        }
        records.append(makeRecord(message, &topicNames))
    }
    let (revoked, failure) = context.state.withLock { ($0.revokedSincePoll, $0.hookFailure) }
    if let failure { throw KafkaError.assignmentHookFailed(reason: failure) }
    if !revoked.isEmpty { records.removeAll { revoked.contains($0.topicPartition) } }
    return records
}

private func makeRecord(_ message: UnsafeMutablePointer<rd_kafka_message_t>, _ topicNames: inout [OpaquePointer: String]) -> ConsumerRecord {
    let m = message.pointee
    let topic: String
    if let rkt = m.rkt {
        if let known = topicNames[rkt] {
            topic = known
        } else {
            topic = String(cString: rd_kafka_topic_name(rkt))
            topicNames[rkt] = topic
        }
    } else {
        topic = ""
    }
    let key = m.key.map { Array(UnsafeRawBufferPointer(start: $0, count: m.key_len)) }
    let value = m.payload.map { Array(UnsafeRawBufferPointer(start: $0, count: m.len)) }
    var headers: [KafkaHeader] = []
    var list: OpaquePointer?
    if rd_kafka_message_headers(message, &list) == RD_KAFKA_RESP_ERR_NO_ERROR, let list {
        let count = rd_kafka_header_cnt(list)
        headers.reserveCapacity(count)
        for index in 0..<count {
            var name: UnsafePointer<CChar>?
            var bytes: UnsafeRawPointer?
            var size = 0
            guard rd_kafka_header_get_all(list, index, &name, &bytes, &size) == RD_KAFKA_RESP_ERR_NO_ERROR, let name else { continue }
            headers.append(KafkaHeader(key: String(cString: name),
                                       value: bytes.map { Array(UnsafeRawBufferPointer(start: $0, count: size)) }))
        }
    }
    var timestampType = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE
    let timestamp = rd_kafka_message_timestamp(message, &timestampType)
    return ConsumerRecord(topic: topic, partition: m.partition, offset: m.offset, key: key, value: value,
                          headers: headers, timestampMs: timestamp >= 0 ? timestamp : nil)
}
