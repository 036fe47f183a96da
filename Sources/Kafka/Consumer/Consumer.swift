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
        // Client errors (brokers unreachable, …) reach the application only through this callback;
        // each poll reports the ones seen since the last (`ConsumerBatch.clusterErrors`).
        rd_kafka_conf_set_error_cb(conf) { _, err, _, opaque in
            guard let opaque else { return }
            Unmanaged<RebalanceContext>.fromOpaque(opaque).takeUnretainedValue().state.withLock { state in
                if !state.clientErrors.contains(err) { state.clientErrors.append(err) }
            }
        }
        let handle = try makeClient(RD_KAFKA_CONSUMER, conf)
        rd_kafka_poll_set_consumer(handle.pointer)
        self.context = context
        client = ConsumerClient(handle: handle, context: context)
    }

    deinit {
        guard !closed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        let client = client, context = context
        thread.submit {
            // See `close`: never destroy a member that joined and was not assigned yet.
            if context.state.withLock({ $0.subscribed && !$0.assignedOnce }) { client.neverDestroy() }
            rd_kafka_consumer_close(client.handle.pointer)
        }
    }

    /// Subscribes to `topics`; assignment follows through the rebalance hooks during `poll`.
    public func subscribe(_ topics: [String]) async throws {
        let context = context
        try await onThread { handle in
            let list = makePartitionList(topics.map { (TopicPartition($0, -1), Int64(RD_KAFKA_OFFSET_INVALID)) })
            defer { rd_kafka_topic_partition_list_destroy(list) }
            let err = rd_kafka_subscribe(handle.pointer, list)
            guard err == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError.operation("subscribe", KafkaErrorCode(err), detail: "") }
            context.state.withLock {
                $0.subscribed = true
                $0.topics = topics
            }
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
            context.state.withLock { state in
                state.remove(Array(state.positions.keys))
                state.position(offsets.map { ($0.key, $0.value) })
            }
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

    /// Returns up to `maxRecords` records, waiting at most `timeout` for the first one, with the offsets
    /// they cover per partition (`ConsumerBatch.ranges`).
    ///
    /// Records of a partition repositioned while the batch was collected (revoked, re-assigned, sought)
    /// count only from the new position; records collected before are dropped, and their new owner
    /// (or this consumer, re-assigned) reads them again from the offsets the caller stored.
    public func poll(maxRecords: Int = 1_000, timeout: Duration = .milliseconds(100)) async throws -> ConsumerBatch {
        let client = client
        let timeoutMs = Int32(clamping: timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        return try await onThread { _ in try pollBatch(client, maxRecords, timeoutMs) }
    }

    /// Moves the reading position of assigned partitions (others are ignored); records polled from
    /// the old position are not returned any more (`stalePartitions` names the batches they were in).
    ///
    /// A partition whose fetcher stopped because its position was out of range (with
    /// `auto.offset.reset=error`) cannot be sought (`_STATE`): `rejoin` restarts it. When a seek
    /// fails, the partitions' positions are unknown until their next record: a batch then starts at
    /// its first record, and a caller that keeps its own positions refuses it unless that is where it stands.
    public func seek(_ positions: [TopicPartition: Int64]) async throws {
        let context = context
        try await onThread { handle in
            let assigned = context.state.withLock { state -> [(TopicPartition, Int64)] in
                let entries = positions.filter { state.positions[$0.key] != nil }.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
                state.position(entries)
                return entries
            }
            guard !assigned.isEmpty else { return }
            let list = makePartitionList(assigned)
            defer { rd_kafka_topic_partition_list_destroy(list) }
            var failure: KafkaError?
            if let error = rd_kafka_seek_partitions(handle.pointer, list, 10_000) {
                let code = KafkaErrorCode(rawValue: rd_kafka_error_code(error).rawValue)
                failure = .operation("seek", code, detail: String(cString: rd_kafka_error_string(error)))
                rd_kafka_error_destroy(error)
            } else if let failed = readPartitionErrors(list).first(where: { $0.1 != RD_KAFKA_RESP_ERR_NO_ERROR }) {
                failure = .operation("seek", KafkaErrorCode(failed.1), detail: "\(failed.0)")
            }
            if let failure {
                context.state.withLock { $0.position(assigned.map { ($0.0, -1) }) }
                throw failure
            }
        }
    }

    /// Leaves the group and joins it again with the same topics: every partition of this member is
    /// revoked and assigned anew through the hooks (so positioned from the caller's offsets), which
    /// also restarts a partition stopped out of range. Safe whatever rebalance is pending.
    public func rejoin() async throws {
        let context = context
        try await onThread { handle in
            let topics = context.state.withLock { $0.topics }
            guard !topics.isEmpty else { return }
            var err = rd_kafka_unsubscribe(handle.pointer)
            guard err == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError.operation("unsubscribe", KafkaErrorCode(err), detail: "") }
            let list = makePartitionList(topics.map { (TopicPartition($0, -1), Int64(RD_KAFKA_OFFSET_INVALID)) })
            defer { rd_kafka_topic_partition_list_destroy(list) }
            err = rd_kafka_subscribe(handle.pointer, list)
            guard err == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError.operation("subscribe", KafkaErrorCode(err), detail: "") }
        }
    }

    /// Seeks each partition of `batch` that is still positioned as when it was read back to the
    /// batch's start, so that its records are read again (e.g. a batch set aside, not processed).
    public func rewind(_ batch: ConsumerBatch) async throws {
        let stale = stalePartitions(batch.ranges)
        try await seek(batch.ranges.filter { !stale.contains($0.key) }.mapValues(\.from))
    }

    /// The partitions among `ranges` that were repositioned since those ranges were read (revoked,
    /// re-assigned or sought): their records must not be applied, the consumer reads them again from
    /// the new position.
    public func stalePartitions(_ ranges: [TopicPartition: OffsetRange]) -> Set<TopicPartition> {
        context.state.withLock { state in
            Set(ranges.filter { state.positions[$0.key]?.epoch != $0.value.epoch }.keys)
        }
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

    /// Each assigned partition's low and high watermarks as last seen in fetch responses (local
    /// state, no request); partitions not fetched yet are left out.
    public func cachedWatermarks() async throws -> [TopicPartition: (low: Int64, high: Int64)] {
        let assigned = assignment
        return try await onThread { handle in
            var marks: [TopicPartition: (low: Int64, high: Int64)] = [:]
            for partition in assigned {
                var low: Int64 = -1, high: Int64 = -1
                if rd_kafka_get_watermark_offsets(handle.pointer, partition.topic, partition.partition, &low, &high) == RD_KAFKA_RESP_ERR_NO_ERROR,
                   high >= 0 {
                    marks[partition] = (low, high)
                }
            }
            return marks
        }
    }

    /// Asks the cluster for its metadata: true when a broker answered within `timeout`.
    public func probe(timeout: Duration = .seconds(2)) async throws -> Bool {
        let timeoutMs = Int32(clamping: timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        return try await onThread { handle in
            var metadata: UnsafePointer<rd_kafka_metadata>?
            let err = rd_kafka_metadata(handle.pointer, 0, nil, &metadata, timeoutMs)
            if let metadata { rd_kafka_metadata_destroy(metadata) }
            return err == RD_KAFKA_RESP_ERR_NO_ERROR
        }
    }

    /// The partitions currently assigned to this member.
    public var assignment: Set<TopicPartition> { context.state.withLock { $0.assignment } }

    /// Leaves the group cleanly (revoke hook, then LeaveGroup) and releases the client.
    ///
    /// librdkafka 2.0.2 (Debian 12) aborts when a cooperative-sticky member is destroyed after joining
    /// and before its first assignment (its issue #4312, fixed upstream in 2.3 by PR #4381). So a
    /// member that joined but was never assigned first waits up to `assignmentWait` for its first
    /// assignment; if none comes, it leaves and its handle is never destroyed (the process is about
    /// to end; the leak is one client).
    public func close(assignmentWait: Duration = .seconds(10)) async throws {
        guard !closed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        let client = client, context = context
        let waitMs = Int(assignmentWait.components.seconds * 1000 + assignmentWait.components.attoseconds / 1_000_000_000_000_000)
        try await thread.run {
            if context.state.withLock({ $0.subscribed && !$0.assignedOnce }) {
                let deadline = ContinuousClock.now + .milliseconds(waitMs)
                while !context.state.withLock({ $0.assignedOnce }), ContinuousClock.now < deadline {
                    // Serves the group's callbacks; records (there are none before an assignment) are let go.
                    if let message = rd_kafka_consumer_poll(client.handle.pointer, 100) { rd_kafka_message_destroy(message) }
                }
                if !context.state.withLock({ $0.assignedOnce }) { client.neverDestroy() }
            }
            let err = rd_kafka_consumer_close(client.handle.pointer)
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

    /// See `Consumer.close`: set when destroying the handle could abort the process.
    private let leaked = Atomic<Bool>(false)

    /// Keeps the handle (and the callback state it points to) alive until the process ends.
    func neverDestroy() { leaked.store(true, ordering: .releasing) }

    deinit {
        let handle = handle, context = context
        if leaked.load(ordering: .acquiring) {
            thread.stop()
            LeakedClients.keep(handle, context)
            return
        }
        thread.submitOrRun {
            rd_kafka_destroy(handle.pointer)
            withExtendedLifetime(context) {}
        }
        thread.stop()
    }
}

/// Consumer handles that must never be destroyed (see `Consumer.close`), with the rebalance state
/// their callbacks point to, kept reachable for the rest of the process.
private enum LeakedClients {
    private static let kept = Mutex<[(NativeHandle, RebalanceContext)]>([])
    static func keep(_ handle: NativeHandle, _ context: RebalanceContext) { kept.withLock { $0.append((handle, context)) } }
}

private func pollBatch(_ client: ConsumerClient, _ maxRecords: Int, _ timeoutMs: Int32) throws -> ConsumerBatch {
    let handle = client.handle, context = client.context
    var (positions, generation) = context.state.withLock { ($0.positions, $0.generation) }
    var assembly = BatchAssembly()
    var messages: [UnsafeMutablePointer<rd_kafka_message_t>] = []
    var headerLists: [OpaquePointer?] = []
    var slotOf: [Int] = []  // per message
    messages.reserveCapacity(min(maxRecords, 4_096))
    headerLists.reserveCapacity(min(maxRecords, 4_096))
    slotOf.reserveCapacity(min(maxRecords, 4_096))
    var slots: [SlotKey: Int?] = [:]
    var last: (key: SlotKey, slot: Int?)?
    var topicNames: [OpaquePointer: String] = [:]
    var outOfRange: [TopicPartition: Int64] = [:]
    var clusterErrors: [KafkaErrorCode] = []
    func topicName(_ rkt: OpaquePointer?) -> String {
        guard let rkt else { return "" }
        if let known = topicNames[rkt] { return known }
        let name = String(cString: rd_kafka_topic_name(rkt))
        topicNames[rkt] = name
        return name
    }
    /// A rebalance or seek served inside the last poll call: drop what was collected for the partitions it moved.
    func reconcile() {
        let current = context.state.withLock { $0.generation == generation ? nil : ($0.positions, $0.generation) }
        guard let current else { return }
        (positions, generation) = current
        let closed = Set(assembly.reconcile(with: positions))
        slots.removeAll(keepingCapacity: true)
        last = nil
        guard !closed.isEmpty else { return }
        var kept = 0
        for index in messages.indices {
            if closed.contains(slotOf[index]) {
                rd_kafka_message_destroy(messages[index])
                continue
            }
            messages[kept] = messages[index]
            headerLists[kept] = headerLists[index]
            slotOf[kept] = slotOf[index]
            kept += 1
        }
        messages.removeLast(messages.count - kept)
        headerLists.removeLast(headerLists.count - kept)
        slotOf.removeLast(slotOf.count - kept)
    }
    var wait = timeoutMs
    while messages.count < maxRecords, let message = rd_kafka_consumer_poll(handle.pointer, wait) {
        wait = 0
        reconcile()
        let m = message.pointee
        guard m.err == RD_KAFKA_RESP_ERR_NO_ERROR else {
            if m.err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET, m.rkt != nil {
                outOfRange[TopicPartition(topicName(m.rkt), m.partition)] = m.offset
            } else if m.err != RD_KAFKA_RESP_ERR__PARTITION_EOF, !clusterErrors.contains(KafkaErrorCode(m.err)) {
                clusterErrors.append(KafkaErrorCode(m.err))
            }
            rd_kafka_message_destroy(message)
            if let fatal = fatalClientError(of: handle) {
                for kept in messages { rd_kafka_message_destroy(kept) }
                throw fatal
            }
            continue  // informational (broker down, EOF): librdkafka recovers by itself
        }
        let key = SlotKey(rkt: m.rkt, partition: m.partition)
        let slot: Int?
        if let last, last.key == key {
            slot = last.slot
        } else if let known = slots[key] {
            slot = known
        } else {
            let partition = TopicPartition(topicName(m.rkt), m.partition)
            slot = assembly.open(partition, at: positions[partition])
            slots[key] = slot
        }
        last = (key, slot)
        guard let slot, assembly.take(m.offset, slot: slot) else {
            rd_kafka_message_destroy(message)
            continue
        }
        // Parse headers here, on the consumer thread, so that records only ever read them.
        var list: OpaquePointer?
        headerLists.append(rd_kafka_message_headers(message, &list) == RD_KAFKA_RESP_ERR_NO_ERROR ? list : nil)
        messages.append(message)
        slotOf.append(slot)
    }
    // The last call (the one that returned nothing) may have served a rebalance too.
    reconcile()
    let ranges = assembly.ranges
    let (failure, errors) = context.state.withLock { state -> (String?, [Int32]) in
        // The next batch of each partition starts where this one ends (unless repositioned meanwhile).
        for (partition, range) in ranges where state.positions[partition]?.epoch == range.epoch {
            state.positions[partition]?.next = range.next
        }
        defer { state.clientErrors.removeAll() }
        return (state.hookFailure, state.clientErrors)
    }
    for raw in errors where !clusterErrors.contains(KafkaErrorCode(rawValue: raw)) { clusterErrors.append(KafkaErrorCode(rawValue: raw)) }
    let batch = PolledBatch(messages: messages, headerLists: headerLists, client: client)
    if let failure { throw KafkaError.assignmentHookFailed(reason: failure) }
    var records: [ConsumerRecord] = []
    records.reserveCapacity(messages.count)
    for (index, message) in messages.enumerated() {
        let m = message.pointee
        var timestampType = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE
        let timestamp = rd_kafka_message_timestamp(message, &timestampType)
        records.append(ConsumerRecord(topic: topicName(m.rkt), partition: m.partition, offset: m.offset,
                                      timestampMs: timestamp >= 0 ? timestamp : nil, batch: batch, index: index))
    }
    return ConsumerBatch(records: records, ranges: ranges, outOfRange: outOfRange, clusterErrors: clusterErrors)
}

/// A partition as librdkafka's messages name it: the topic handle's address and the partition number
/// (cheaper to hash per record than the topic's name).
private struct SlotKey: Hashable {
    let rkt: OpaquePointer?
    let partition: Int32
}
