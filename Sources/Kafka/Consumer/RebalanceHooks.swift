import CRdKafka
import Synchronization

/// What the caller does when the group hands partitions over.
///
/// Both hooks run on the consumer's own thread, between batches, while librdkafka waits: keep them
/// short (one store query). Exactly-once processing keeps offsets in the store and seeks there on
/// assignment; Kafka's committed offsets then serve only lag monitoring.
public struct RebalanceHooks: Sendable {
    /// Returns, for newly assigned partitions, the next offset to read. A partition left out starts
    /// from the group's committed offset, else from `autoOffsetReset`. Throwing stops the consumer.
    public var startingOffsets: @Sendable ([TopicPartition]) throws -> [TopicPartition: Int64]
    /// Told which partitions were taken away (revoked or lost). Records of these collected by the poll
    /// in progress are dropped. On a cooperative revocation the group gives them to their new owner
    /// only after this returns, so a service may wait here (bounded) for its work in flight on them;
    /// lost partitions may already belong to another member.
    public var revoked: @Sendable ([TopicPartition]) -> Void

    public init(startingOffsets: @escaping @Sendable ([TopicPartition]) throws -> [TopicPartition: Int64] = { _ in [:] },
                revoked: @escaping @Sendable ([TopicPartition]) -> Void = { _ in }) {
        self.startingOffsets = startingOffsets
        self.revoked = revoked
    }
}

/// State shared between the consumer and librdkafka's rebalance callback (passed as the client's opaque).
final class RebalanceContext: Sendable {
    struct State {
        /// Assigned partitions and where the consumer reads each.
        var positions: [TopicPartition: PartitionPosition] = [:]
        /// Bumped by every assignment, revocation and seek: a poll compares it after each record.
        var generation: UInt64 = 0
        /// The last epoch handed out.
        var lastEpoch: UInt64 = 0
        /// True once `subscribe` joined a group.
        var subscribed = false
        /// The topics subscribed to (for `rejoin`).
        var topics: [String] = []
        /// True once the group delivered a first assignment (possibly empty).
        var assignedOnce = false
        var hookFailure: String?
        /// Client errors reported by librdkafka's error callback since the last poll (raw codes, once each).
        var clientErrors: [Int32] = []

        var assignment: Set<TopicPartition> { Set(positions.keys) }

        /// Positions `partitions` at the given offsets (negative: logical, the offset is learnt from the first record).
        mutating func position(_ offsets: [(TopicPartition, Int64)]) {
            for (partition, offset) in offsets {
                lastEpoch += 1
                positions[partition] = PartitionPosition(next: offset >= 0 ? offset : nil, epoch: lastEpoch)
            }
            generation += 1
        }

        /// Forgets `partitions` (revoked or lost).
        mutating func remove(_ partitions: [TopicPartition]) {
            for partition in partitions { positions[partition] = nil }
            generation += 1
        }
    }
    let hooks: RebalanceHooks
    let state = Mutex(State())

    init(hooks: RebalanceHooks) { self.hooks = hooks }

    func rebalance(_ rk: OpaquePointer, _ event: rd_kafka_resp_err_t, _ list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>) {
        // NULL when the member is no longer part of a group (a revocation while it closes, found by
        // `hssk chaos`): then the whole assignment goes, which the eager call does.
        let protocolName = rd_kafka_rebalance_protocol(rk).map { String(cString: $0) }
        let cooperative = protocolName.map { $0 == "COOPERATIVE" } ?? (event == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS)
        let partitions = readPartitionList(list).map(\.0)
        switch event {
        case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
            do {
                let offsets = try hooks.startingOffsets(partitions)
                for index in 0..<Int(list.pointee.cnt) {
                    if let offset = offsets[partitions[index]] { list.pointee.elems[index].offset = offset }
                }
            } catch {
                // Without the caller's offsets we could re-read or skip records: take nothing, stop.
                state.withLock { $0.hookFailure = String(describing: error) }
                return
            }
            let assigned = readPartitionList(list)
            // Positions first: a record of these partitions can only arrive after the assign call.
            state.withLock { state in
                state.position(assigned)
                state.assignedOnce = true
            }
            if cooperative {
                if let error = rd_kafka_incremental_assign(rk, list) { recordFailure(error) }
            } else {
                rd_kafka_assign(rk, list)
            }
            // librdkafka keeps an application pause on a partition across its revocation and a later
            // re-assignment (only its own pause is reset): a partition paused by a service that then
            // lost it would come back paused and never be read again (found by `hssk chaos`). A
            // partition assigned is always read; a service pauses it again if it must.
            rd_kafka_resume_partitions(rk, list)
        case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS:
            // Forget the positions before the hook runs: a record of these partitions collected in the
            // poll now in progress is dropped, and the new owner reads it again from the stored offsets.
            state.withLock { $0.remove(partitions) }
            hooks.revoked(partitions)
            if cooperative {
                if let error = rd_kafka_incremental_unassign(rk, list) { recordFailure(error) }
            } else {
                rd_kafka_assign(rk, nil)
            }
        default:
            let lost = state.withLock { state in
                defer { state.remove(Array(state.positions.keys)) }
                return Array(state.positions.keys)
            }
            if !lost.isEmpty { hooks.revoked(lost) }
            rd_kafka_assign(rk, nil)
        }
    }

    private func recordFailure(_ error: OpaquePointer) {
        let message = String(cString: rd_kafka_error_string(error))
        rd_kafka_error_destroy(error)
        state.withLock { $0.hookFailure = message }
    }
}
