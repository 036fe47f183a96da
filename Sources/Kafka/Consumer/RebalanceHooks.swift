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
    /// Told which partitions were taken away (revoked or lost); records of these already polled are dropped.
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
        var assignment: Set<TopicPartition> = []
        var revokedSincePoll: Set<TopicPartition> = []
        var hookFailure: String?
    }
    let hooks: RebalanceHooks
    let state = Mutex(State())

    init(hooks: RebalanceHooks) { self.hooks = hooks }

    func rebalance(_ rk: OpaquePointer, _ event: rd_kafka_resp_err_t, _ list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>) {
        let cooperative = String(cString: rd_kafka_rebalance_protocol(rk)) == "COOPERATIVE"
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
            if cooperative {
                if let error = rd_kafka_incremental_assign(rk, list) { recordFailure(error) }
            } else {
                rd_kafka_assign(rk, list)
            }
            state.withLock { $0.assignment.formUnion(partitions) }
        case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS:
            hooks.revoked(partitions)
            if cooperative {
                if let error = rd_kafka_incremental_unassign(rk, list) { recordFailure(error) }
            } else {
                rd_kafka_assign(rk, nil)
            }
            state.withLock { state in
                state.assignment.subtract(partitions)
                state.revokedSincePoll.formUnion(partitions)
            }
        default:
            rd_kafka_assign(rk, nil)
            state.withLock { state in
                state.revokedSincePoll.formUnion(state.assignment)
                state.assignment.removeAll()
            }
        }
    }

    private func recordFailure(_ error: OpaquePointer) {
        let message = String(cString: rd_kafka_error_string(error))
        rd_kafka_error_destroy(error)
        state.withLock { $0.hookFailure = message }
    }
}
