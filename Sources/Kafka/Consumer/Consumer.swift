import CRdKafka
import Foundation
import Synchronization

/// A consumer-group member (`cooperative-sticky`) with no auto commit and no auto offset store.
///
/// All librdkafka consumer calls run on the consumer's own thread; `poll` hops there once per batch.
public final class Consumer: Sendable {
    private let client: ConsumerClient
    private var handle: NativeHandle { client.handle }
    private var thread: KafkaThread { client.thread }
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
        let handle = try makeClient(RD_KAFKA_CONSUMER, conf)
        rd_kafka_poll_set_consumer(handle.pointer)
        self.context = context
        client = ConsumerClient(handle: handle, context: context)
    }

    deinit {
        guard !closed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        let handle = handle
        thread.submit { rd_kafka_consumer_close(handle.pointer) }
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

    /// Reads `offsets`' partitions from the given next offsets without joining the group (no
    /// rebalances, nothing committed), replacing any earlier `assign`; `[:]` stops reading. Tools use
    /// it to read a topic from a known position; never mix it with `subscribe` on one consumer.
    public func assign(_ offsets: [TopicPartition: Int64]) async throws {
        let context = context
        try await onThread { handle in
            let list = makePartitionList(offsets.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
            defer { rd_kafka_topic_partition_list_destroy(list) }
            let err = rd_kafka_assign(handle.pointer, list)
            guard err == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError.operation("assign", KafkaErrorCode(err), detail: "") }
            context.state.withLock { $0.assignment = Set(offsets.keys) }
        }
    }

    /// The partition's low watermark (oldest offset still kept) and high watermark (the offset the next
    /// record will get), asked of its leader: `high - low` records are readable now.
    public func watermarks(_ partition: TopicPartition, timeout: Duration = .seconds(10)) async throws -> (low: Int64, high: Int64) {
        let timeoutMs = Int32(clamping: timeout.components.seconds * 1000)
        return try await onThread { handle in
            var low: Int64 = 0, high: Int64 = 0
            let err = rd_kafka_query_watermark_offsets(handle.pointer, partition.topic, partition.partition, &low, &high, timeoutMs)
            guard err == RD_KAFKA_RESP_ERR_NO_ERROR else {
                throw KafkaError.operation("watermarks", KafkaErrorCode(err), detail: "\(partition): \(KafkaErrorCode(err))")
            }
            return (low, high)
        }
    }

    /// Returns up to `maxRecords` records, waiting at most `timeout` for the first one.
    ///
    /// Records of partitions revoked while this batch was collected are dropped: their new owner
    /// reads them again from the offsets the caller stored.
    public func poll(maxRecords: Int = 1_000, timeout: Duration = .milliseconds(100)) async throws -> [ConsumerRecord] {
        let client = client
        let timeoutMs = Int32(clamping: timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        return try await onThread { _ in try pollBatch(client, maxRecords, timeoutMs) }
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

    /// Records not yet polled, per assigned partition: the high watermark of the latest fetch response
    /// minus the consumer's position. Local state only (no request to the cluster); partitions whose
    /// position or watermark is not known yet are left out.
    public func lag() async throws -> [TopicPartition: Int64] {
        let assigned = assignment
        guard !assigned.isEmpty else { return [:] }
        return try await onThread { handle in
            let list = makePartitionList(assigned.sorted().map { ($0, Int64(RD_KAFKA_OFFSET_INVALID)) })
            defer { rd_kafka_topic_partition_list_destroy(list) }
            guard rd_kafka_position(handle.pointer, list) == RD_KAFKA_RESP_ERR_NO_ERROR else { return [:] }
            var lag: [TopicPartition: Int64] = [:]
            for (partition, position) in readPartitionList(list) where position >= 0 {
                var low: Int64 = 0, high: Int64 = 0
                guard rd_kafka_get_watermark_offsets(handle.pointer, partition.topic, partition.partition, &low, &high) == RD_KAFKA_RESP_ERR_NO_ERROR,
                      high >= 0 else { continue }
                lag[partition] = max(0, high - position)
            }
            return lag
        }
    }

    /// The partitions currently assigned to this member.
    public var assignment: Set<TopicPartition> { context.state.withLock { $0.assignment } }

    /// Leaves the group cleanly (revoke hook, then LeaveGroup) and releases the client.
    public func close() async throws {
        guard !closed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        let handle = handle
        try await thread.run {
            let err = rd_kafka_consumer_close(handle.pointer)
            guard err == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError.operation("close", KafkaErrorCode(err), detail: "") }
        }
        // The handle itself is destroyed with `client`, once no polled batch refers to it.
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

/// Owns the librdkafka consumer handle and its thread. Polled batches hold it too, so the handle is
/// destroyed (on its thread, after their messages) only when the consumer and every batch are gone.
final class ConsumerClient: Sendable {
    let handle: NativeHandle
    let thread = KafkaThread(name: "hssk-consumer")
    let context: RebalanceContext  // the rebalance callback's opaque: must outlive the handle

    init(handle: NativeHandle, context: RebalanceContext) {
        self.handle = handle
        self.context = context
    }

    deinit {
        let handle = handle, context = context
        thread.submitOrRun {
            rd_kafka_destroy(handle.pointer)
            withExtendedLifetime(context) {}
        }
        thread.stop()
    }
}

private func pollBatch(_ client: ConsumerClient, _ maxRecords: Int, _ timeoutMs: Int32) throws -> [ConsumerRecord] {
    let handle = client.handle, context = client.context
    context.state.withLock { $0.revokedSincePoll.removeAll() }
    var messages: [UnsafeMutablePointer<rd_kafka_message_t>] = []
    var headerLists: [OpaquePointer?] = []
    messages.reserveCapacity(min(maxRecords, 4_096))
    headerLists.reserveCapacity(min(maxRecords, 4_096))
    var wait = timeoutMs
    while messages.count < maxRecords, let message = rd_kafka_consumer_poll(handle.pointer, wait) {
        wait = 0
        guard message.pointee.err == RD_KAFKA_RESP_ERR_NO_ERROR else {
            rd_kafka_message_destroy(message)
            if let fatal = fatalClientError(of: handle) {
                for kept in messages { rd_kafka_message_destroy(kept) }
                throw fatal
            }
            continue  // informational (broker down, EOF): librdkafka recovers by itself
        }
        // Parse headers here, on the consumer thread, so that records only ever read them.
        var list: OpaquePointer?
        headerLists.append(rd_kafka_message_headers(message, &list) == RD_KAFKA_RESP_ERR_NO_ERROR ? list : nil)
        messages.append(message)
    }
    let (revoked, failure) = context.state.withLock { ($0.revokedSincePoll, $0.hookFailure) }
    let batch = PolledBatch(messages: messages, headerLists: headerLists, client: client)
    if let failure { throw KafkaError.assignmentHookFailed(reason: failure) }
    var topicNames: [OpaquePointer: String] = [:]
    var records: [ConsumerRecord] = []
    records.reserveCapacity(messages.count)
    for (index, message) in messages.enumerated() {
        let m = message.pointee
        var topic = ""
        if let rkt = m.rkt {
            if let known = topicNames[rkt] {
                topic = known
            } else {
                topic = String(cString: rd_kafka_topic_name(rkt))
                topicNames[rkt] = topic
            }
        }
        if !revoked.isEmpty && revoked.contains(TopicPartition(topic, m.partition)) { continue }
        var timestampType = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE
        let timestamp = rd_kafka_message_timestamp(message, &timestampType)
        records.append(ConsumerRecord(topic: topic, partition: m.partition, offset: m.offset,
                                      timestampMs: timestamp >= 0 ? timestamp : nil, batch: batch, index: index))
    }
    return records
}
