import CRdKafka
import Synchronization

/// What a delivery report resumes: one awaiting `send`, or the tracker of a bulk `sendAll`.
///
/// It travels as librdkafka's per-message opaque. A single send's target is retained once for its one
/// message. A bulk target is passed unretained, tagged in the pointer's low bit (objects are 16-byte
/// aligned): `sendAll` keeps it alive until the last report, and the hot path saves two atomic
/// reference-count operations per record.
final class DeliveryTarget: Sendable {
    enum Kind: Sendable {
        case single(CheckedContinuation<DeliveryReport?, any Error>)
        case bulk(BulkDeliveryTracker)
    }
    let kind: Kind
    init(_ kind: Kind) { self.kind = kind }

    private static let bulkTag = 1

    /// The opaque for one message of a single send (retained; released by `complete`).
    func retainedOpaque() -> UnsafeMutableRawPointer { Unmanaged.passRetained(self).toOpaque() }

    /// The opaque for every message of a bulk send (unretained; the caller keeps the target alive).
    func bulkOpaque() -> UnsafeMutableRawPointer { Unmanaged.passUnretained(self).toOpaque() + Self.bulkTag }

    /// Undoes `retainedOpaque` for a message librdkafka did not accept.
    static func releaseUnqueued(_ opaque: UnsafeMutableRawPointer) {
        if Int(bitPattern: opaque) & bulkTag == 0 { Unmanaged<DeliveryTarget>.fromOpaque(opaque).release() }
    }

    /// Called from the delivery-report callback.
    static func complete(_ opaque: UnsafeMutableRawPointer, _ message: UnsafePointer<rd_kafka_message_t>) {
        if Int(bitPattern: opaque) & bulkTag != 0 {
            Unmanaged<DeliveryTarget>.fromOpaque(opaque - bulkTag).takeUnretainedValue().complete(message)
        } else {
            Unmanaged<DeliveryTarget>.fromOpaque(opaque).takeRetainedValue().complete(message)
        }
    }

    private func complete(_ message: UnsafePointer<rd_kafka_message_t>) {
        let err = message.pointee.err
        if case let .bulk(tracker) = kind, err == RD_KAFKA_RESP_ERR_NO_ERROR {
            tracker.finished(nil)  // the hot path: no topic name, no allocation
            return
        }
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
            let key = message.pointee.key.map { Array(UnsafeRawBufferPointer(start: $0, count: message.pointee.key_len)) }
            tracker.finished(BulkDeliveryResult.Failure(topic: topic, partition: partition, key: key, code: KafkaErrorCode(err)))
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
/// Successes only touch an atomic counter; the lock is for failures and the final wake-up.
final class BulkDeliveryTracker: Sendable {
    private struct State {
        var failures: [BulkDeliveryResult.Failure] = []
        var waiter: CheckedContinuation<BulkDeliveryResult, Never>?
    }
    private let state = Mutex(State())
    private let reports = Atomic<Int>(0)
    /// Number of queued records once queueing is over; `Int.max` until then.
    private let expected = Atomic<Int>(Int.max)

    /// Records one delivery report (`failure == nil` for a success).
    func finished(_ failure: BulkDeliveryResult.Failure?) {
        if let failure { state.withLock { $0.failures.append(failure) } }
        let count = reports.add(1, ordering: .acquiringAndReleasing).newValue
        if count == expected.load(ordering: .acquiring) { wake() }
    }

    /// Waits until all `queued` records have a report.
    func wait(queued: Int) async -> BulkDeliveryResult {
        await withCheckedContinuation { continuation in
            // The waiter is in place before `expected` is published, so whoever sees the last report wakes it.
            state.withLock { $0.waiter = continuation }
            expected.store(queued, ordering: .releasing)
            if reports.load(ordering: .acquiring) == queued { wake() }
        }
    }

    private func wake() {
        let taken = state.withLock { state -> (CheckedContinuation<BulkDeliveryResult, Never>, [BulkDeliveryResult.Failure])? in
            guard let waiter = state.waiter else { return nil }
            state.waiter = nil
            return (waiter, state.failures)
        }
        guard let (waiter, failures) = taken else { return }
        waiter.resume(returning: BulkDeliveryResult(delivered: reports.load(ordering: .acquiring) - failures.count, failures: failures))
    }
}
