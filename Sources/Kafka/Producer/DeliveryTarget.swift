import CRdKafka
import Synchronization

/// What a delivery report resumes: one awaiting `send`, or the tracker of a bulk `sendAll`.
/// Passed to librdkafka as the per-message opaque (retained once per queued message).
final class DeliveryTarget: Sendable {
    enum Kind: Sendable {
        case single(CheckedContinuation<DeliveryReport?, any Error>)
        case bulk(BulkDeliveryTracker)
    }
    let kind: Kind
    init(_ kind: Kind) { self.kind = kind }

    func complete(_ message: UnsafePointer<rd_kafka_message_t>) {
        let err = message.pointee.err
        let topic = String(cString: rd_kafka_topic_name(message.pointee.rkt))
        let partition = message.pointee.partition
        switch kind {
        case let .single(continuation):
            if err == RD_KAFKA_RESP_ERR_NO_ERROR {
                continuation.resume(returning: DeliveryReport(topic: topic, partition: partition, offset: message.pointee.offset))
            } else {
                continuation.resume(throwing: KafkaError.delivery(KafkaErrorCode(err), topic: topic, partition: partition))
            }
        case let .bulk(tracker):
            if err == RD_KAFKA_RESP_ERR_NO_ERROR {
                tracker.delivered()
            } else {
                var key: [UInt8]?
                if let bytes = message.pointee.key {
                    key = Array(UnsafeRawBufferPointer(start: bytes, count: message.pointee.key_len))
                }
                tracker.failed(BulkDeliveryResult.Failure(topic: topic, partition: partition, key: key, code: KafkaErrorCode(err)))
            }
        }
    }
}

/// The outcome of a bulk send: how many records the cluster acknowledged and which failed.
public struct BulkDeliveryResult: Sendable {
    /// One record the cluster did not acknowledge, identified by its key.
    public struct Failure: Sendable, Hashable {
        public var topic: String
        public var partition: Int32
        public var key: [UInt8]?
        public var code: KafkaErrorCode
    }
    public var delivered: Int
    public var failures: [Failure]
    public var allDelivered: Bool { failures.isEmpty }
}

/// Counts the delivery reports of one bulk send and wakes its caller when the last one arrives.
final class BulkDeliveryTracker: Sendable {
    private struct State {
        var queued = 0
        var delivered = 0
        var failures: [BulkDeliveryResult.Failure] = []
        var queueingDone = false
        var waiter: CheckedContinuation<BulkDeliveryResult, Never>?
        var isComplete: Bool { queueingDone && delivered + failures.count == queued }
        var result: BulkDeliveryResult { BulkDeliveryResult(delivered: delivered, failures: failures) }
    }
    private let state = Mutex(State())

    func queued() { state.withLock { $0.queued += 1 } }
    func delivered() { finish { $0.delivered += 1 } }
    func failed(_ failure: BulkDeliveryResult.Failure) { finish { $0.failures.append(failure) } }

    /// Waits until every queued record has a report.
    func wait() async -> BulkDeliveryResult {
        await withCheckedContinuation { continuation in
            let ready = state.withLock { state -> BulkDeliveryResult? in
                state.queueingDone = true
                if state.isComplete { return state.result }
                state.waiter = continuation
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }

    private func finish(_ update: (inout State) -> Void) {
        let wake = state.withLock { state -> (CheckedContinuation<BulkDeliveryResult, Never>, BulkDeliveryResult)? in
            update(&state)
            guard state.isComplete, let waiter = state.waiter else { return nil }
            state.waiter = nil
            return (waiter, state.result)
        }
        if let (waiter, result) = wake { waiter.resume(returning: result) }
    }
}
