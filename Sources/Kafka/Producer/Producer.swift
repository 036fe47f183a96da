import CRdKafka
import Foundation
import Synchronization

/// An idempotent Kafka producer (`enable.idempotence=true`, `acks=all`).
///
/// Sending never blocks a cooperative thread: enqueueing is non-blocking, a full local queue makes the
/// sender sleep briefly (back-pressure), and delivery reports are served by a dedicated poll thread
/// that resumes the waiting task (single sends) or counts reports (bulk sends).
public final class Producer: Sendable {
    private let handle: NativeHandle
    private let topics = Mutex<[String: NativeHandle]>([:])
    private let poller: PollThread
    private let blocking: KafkaThread
    private let closed = Atomic<Bool>(false)

    /// Creates the producer and starts its poll thread.
    public init(config: ProducerConfig) throws {
        let conf = try makeNativeConfig(try config.entries(), properties: config.client.properties, fixed: ProducerConfig.fixed)
        rd_kafka_conf_set_dr_msg_cb(conf) { _, message, _ in
            guard let message, let opaque = message.pointee._private else { return }
            Unmanaged<DeliveryTarget>.fromOpaque(opaque).takeRetainedValue().complete(message)
        }
        handle = try makeClient(RD_KAFKA_PRODUCER, conf)
        poller = PollThread(handle: handle, name: "hssk-producer-poll")
        blocking = KafkaThread(name: "hssk-producer")
    }

    deinit {
        guard !closed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        // Not closed by the owner: tear down without flushing, off the caller's thread.
        let handle = handle, poller = poller
        blocking.submit {
            poller.stopAndWait()
            rd_kafka_destroy(handle.pointer)
        }
        blocking.stop()
    }

    /// Sends one record and returns where it landed once the cluster acknowledged it.
    public func send(_ record: ProducerRecord) async throws -> DeliveryReport {
        while true {
            let report: DeliveryReport? = try await withCheckedThrowingContinuation { continuation in
                let target = Unmanaged.passRetained(DeliveryTarget(.single(continuation)))
                let err = enqueue(record, opaque: target.toOpaque())
                if err == RD_KAFKA_RESP_ERR_NO_ERROR { return }
                target.release()
                if err == RD_KAFKA_RESP_ERR__QUEUE_FULL {
                    continuation.resume(returning: nil)
                } else {
                    continuation.resume(throwing: enqueueError(err, record))
                }
            }
            if let report { return report }
            try await Task.sleep(for: .milliseconds(1))
        }
    }

    /// Queues many records without waiting for each, then waits for all delivery reports (collected in
    /// bulk on the poll thread). Records that still failed after librdkafka's retries are listed by key.
    public func sendAll<S: Sequence>(_ records: S) async throws -> BulkDeliveryResult where S.Element == ProducerRecord {
        let tracker = BulkDeliveryTracker()
        let target = DeliveryTarget(.bulk(tracker))
        for record in records {
            while true {
                let opaque = Unmanaged.passRetained(target)
                let err = enqueue(record, opaque: opaque.toOpaque())
                if err == RD_KAFKA_RESP_ERR_NO_ERROR {
                    tracker.queued()
                    break
                }
                opaque.release()
                guard err == RD_KAFKA_RESP_ERR__QUEUE_FULL else { throw enqueueError(err, record) }
                try await Task.sleep(for: .milliseconds(1))
            }
        }
        return await tracker.wait()
    }

    /// Waits until every queued record has been acknowledged or has failed.
    public func flush(timeout: Duration = .seconds(30)) async throws {
        let handle = handle
        let ms = Int32(clamping: timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        let err = try await blocking.run { rd_kafka_flush(handle.pointer, ms) }
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaError.operation("flush", KafkaErrorCode(err), detail: "\(rd_kafka_outq_len(handle.pointer)) records still in flight")
        }
    }

    /// The fatal error raised by the client, if any (the idempotent producer can no longer guarantee
    /// ordering without duplicates: recreate the producer).
    public var fatalError: KafkaError? { fatalClientError(of: handle) }

    /// Records queued locally or in flight.
    public var inFlightCount: Int { Int(rd_kafka_outq_len(handle.pointer)) }

    /// Flushes, then releases the client. Further sends fail with `KafkaError.closed`.
    public func close(timeout: Duration = .seconds(30)) async throws {
        let flushError: Error?
        do { try await flush(timeout: timeout); flushError = nil } catch { flushError = error }
        guard !closed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        let handle = handle, poller = poller
        let cached = topics.withLock { topics in defer { topics.removeAll() }; return Array(topics.values) }
        try await blocking.run {
            poller.stopAndWait()
            for topic in cached { rd_kafka_topic_destroy(topic.pointer) }
            rd_kafka_destroy(handle.pointer)
        }
        blocking.stop()
        if let flushError { throw flushError }
    }

    private func enqueue(_ record: ProducerRecord, opaque: UnsafeMutableRawPointer) -> rd_kafka_resp_err_t {
        guard !closed.load(ordering: .acquiring) else { return RD_KAFKA_RESP_ERR__DESTROY }
        guard let topic = topicHandle(record.topic) else { return RD_KAFKA_RESP_ERR__INVALID_ARG }
        let headers = makeHeaders(record.headers)
        let err = withOptionalBytes(record.key) { key, keyLength in
            withOptionalBytes(record.value) { value, valueLength in
                hssk_produce(handle.pointer, topic.pointer, record.partition ?? -1,
                             key, keyLength, value, valueLength, headers, opaque)
            }
        }
        // On failure the caller keeps ownership of the headers.
        if err != RD_KAFKA_RESP_ERR_NO_ERROR, let headers { rd_kafka_headers_destroy(headers) }
        return err
    }

    private func enqueueError(_ err: rd_kafka_resp_err_t, _ record: ProducerRecord) -> KafkaError {
        if closed.load(ordering: .acquiring) { return .closed }
        if let fatal = fatalClientError(of: handle) { return fatal }
        return .delivery(KafkaErrorCode(err), topic: record.topic, partition: record.partition ?? -1)
    }

    private func topicHandle(_ name: String) -> NativeHandle? {
        topics.withLock { topics in
            if let cached = topics[name] { return cached }
            guard let rkt = rd_kafka_topic_new(handle.pointer, name, nil) else { return nil }
            let topic = NativeHandle(pointer: rkt)
            topics[name] = topic
            return topic
        }
    }
}

private func makeHeaders(_ headers: [KafkaHeader]) -> OpaquePointer? {
    guard !headers.isEmpty, let list = rd_kafka_headers_new(headers.count) else { return nil }
    for header in headers {
        if let value = header.value {
            value.withUnsafeBytes { _ = rd_kafka_header_add(list, header.key, -1, $0.baseAddress, $0.count) }
        } else {
            _ = rd_kafka_header_add(list, header.key, -1, nil, 0)
        }
    }
    return list
}

private func withOptionalBytes<T>(_ bytes: [UInt8]?, _ body: (UnsafeRawPointer?, Int) -> T) -> T {
    guard let bytes else { return body(nil, 0) }
    return bytes.withUnsafeBytes { body($0.baseAddress, $0.count) }
}

/// Serves librdkafka's callbacks (delivery reports) on a dedicated thread until stopped.
final class PollThread: Sendable {
    private let running = Atomic<Bool>(true)
    private let exited = DispatchSemaphore(value: 0)

    init(handle: NativeHandle, name: String) {
        let thread = Thread { [self] in
            while running.load(ordering: .acquiring) { rd_kafka_poll(handle.pointer, 50) }
            exited.signal()
        }
        thread.name = name
        thread.start()
    }

    func stopAndWait() {
        guard running.exchange(false, ordering: .acquiringAndReleasing) else { return }
        exited.wait()
    }
}
