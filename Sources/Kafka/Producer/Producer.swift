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
    /// Whether the client is closed, and its topic handles. Every enqueue holds this lock (it never
    /// blocks), so no enqueue can overlap the teardown of the handle.
    private let state = Mutex<(closed: Bool, topics: [String: NativeHandle])>((false, [:]))
    private let poller: PollThread
    private let blocking: KafkaThread

    /// Creates the producer and starts its poll thread.
    public init(config: ProducerConfig) throws {
        let conf = try makeNativeConfig(try config.entries(), properties: config.client.properties, fixed: ProducerConfig.fixed)
        rd_kafka_conf_set_dr_msg_cb(conf) { _, message, _ in
            guard let message, let opaque = message.pointee._private else { return }
            DeliveryTarget.complete(opaque, message)
        }
        handle = try makeClient(RD_KAFKA_PRODUCER, conf)
        poller = PollThread(handle: handle, name: "hssk-producer-poll")
        blocking = KafkaThread(name: "hssk-producer")
    }

    deinit {
        guard let topics = markClosed() else { return }
        // Not closed by the owner: tear down without flushing, off the caller's thread.
        let handle = handle, poller = poller
        blocking.submit {
            poller.stopAndWait()
            for topic in topics { rd_kafka_topic_destroy(topic.pointer) }
            rd_kafka_destroy(handle.pointer)
        }
        blocking.stop()
    }

    /// Sends one record and returns where it landed once the cluster acknowledged it; when `deadline`
    /// is given, the record is handed to librdkafka only before it (else `.messageTimedOut`, never sent).
    public func send(_ record: ProducerRecord, enqueueBy deadline: ContinuousClock.Instant? = nil) async throws -> DeliveryReport {
        while true {
            let report: DeliveryReport? = try await withCheckedThrowingContinuation { continuation in
                // Checked right before the enqueue (also after waiting for queue space), where it counts.
                if let deadline, ContinuousClock.now >= deadline {
                    continuation.resume(throwing: KafkaError.operation("produce", .messageTimedOut, detail: "not queued before its deadline"))
                    return
                }
                let opaque = DeliveryTarget(.single(continuation)).retainedOpaque()
                let err = enqueue(record, opaque: opaque)
                if err == RD_KAFKA_RESP_ERR_NO_ERROR { return }
                DeliveryTarget.releaseUnqueued(opaque)
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

    /// Queues many records without waiting for each, then waits for all delivery reports. Records that
    /// still failed after librdkafka's retries are listed by key.
    ///
    /// The records are queued from the producer's own thread, which also serves the delivery reports:
    /// one hop per call, and allocation and release of every record stay on one thread, as in a C loop.
    public func sendAll(_ records: [ProducerRecord]) async throws -> BulkDeliveryResult {
        let tracker = BulkDeliveryTracker()
        let target = DeliveryTarget(.bulk(tracker))
        let queueing: Result<Int, KafkaError> = await withCheckedContinuation { continuation in
            let accepted = poller.submit { [self] in continuation.resume(returning: self.queueAll(records, opaque: target.bulkOpaque())) }
            if !accepted { continuation.resume(returning: .failure(.closed)) }
        }
        let queued: Int
        switch queueing {
        case let .success(count): queued = count
        case let .failure(error): queued = error.queuedBeforeFailure
        }
        let result = await tracker.wait(queued: queued)
        // librdkafka held the target unretained until the last report, so it must live until here.
        withExtendedLifetime(target) {}
        if case let .failure(error) = queueing { throw error }
        return result
    }

    /// Runs on the producer thread: queues records, serving delivery reports while the queue is full.
    private func queueAll(_ records: [ProducerRecord], opaque: UnsafeMutableRawPointer) -> Result<Int, KafkaError> {
        for (index, record) in records.enumerated() {
            while true {
                let err = enqueue(record, opaque: opaque)
                if err == RD_KAFKA_RESP_ERR_NO_ERROR { break }
                guard err == RD_KAFKA_RESP_ERR__QUEUE_FULL else { return .failure(.partiallyQueued(index, enqueueError(err, record))) }
                rd_kafka_poll(handle.pointer, 1)
            }
            rd_kafka_poll(handle.pointer, 0)
        }
        return .success(records.count)
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
        guard let topics = markClosed() else { return }
        let handle = handle, poller = poller
        try await blocking.run {
            poller.stopAndWait()
            for topic in topics { rd_kafka_topic_destroy(topic.pointer) }
            rd_kafka_destroy(handle.pointer)
        }
        blocking.stop()
        if let flushError { throw flushError }
    }

    /// Sets the closed flag and hands over the topic handles; nil if it was closed already.
    private func markClosed() -> [NativeHandle]? {
        state.withLock { state in
            guard !state.closed else { return nil }
            state.closed = true
            defer { state.topics.removeAll() }
            return Array(state.topics.values)
        }
    }

    /// Queues one record without blocking (librdkafka copies key and value).
    private func enqueue(_ record: ProducerRecord, opaque: UnsafeMutableRawPointer) -> rd_kafka_resp_err_t {
        state.withLock { state in
            guard !state.closed else { return RD_KAFKA_RESP_ERR__DESTROY }
            guard let topic = state.topics[record.topic] ?? newTopic(record.topic, &state.topics) else { return RD_KAFKA_RESP_ERR__INVALID_ARG }
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
    }

    private func enqueueError(_ err: rd_kafka_resp_err_t, _ record: ProducerRecord) -> KafkaError {
        if state.withLock({ $0.closed }) { return .closed }
        if let fatal = fatalClientError(of: handle) { return fatal }
        return .delivery(KafkaErrorCode(err), topic: record.topic, partition: record.partition ?? -1)
    }

    private func newTopic(_ name: String, _ topics: inout [String: NativeHandle]) -> NativeHandle? {
        guard let rkt = rd_kafka_topic_new(handle.pointer, name, nil) else { return nil }
        let topic = NativeHandle(pointer: rkt)
        topics[name] = topic
        return topic
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

/// The producer's own thread: serves librdkafka's callbacks (delivery reports) and runs the jobs
/// submitted to it (bulk queueing) until stopped.
final class PollThread: Sendable {
    private let handle: NativeHandle
    private let running = Atomic<Bool>(true)
    private let jobs = Mutex<[@Sendable () -> Void]>([])
    private let exited = DispatchSemaphore(value: 0)

    init(handle: NativeHandle, name: String) {
        self.handle = handle
        let thread = Thread { [self] in
            while running.load(ordering: .acquiring) {
                for job in jobs.withLock({ jobs in defer { jobs.removeAll() }; return jobs }) { job() }
                rd_kafka_poll(handle.pointer, 50)
            }
            exited.signal()
        }
        thread.name = name
        thread.start()
    }

    /// Runs `job` on the thread soon (it interrupts a waiting poll); false once stopped.
    func submit(_ job: @escaping @Sendable () -> Void) -> Bool {
        guard running.load(ordering: .acquiring) else { return false }
        jobs.withLock { $0.append(job) }
        rd_kafka_yield(handle.pointer)
        return true
    }

    func stopAndWait() {
        guard running.exchange(false, ordering: .acquiringAndReleasing) else { return }
        rd_kafka_yield(handle.pointer)
        exited.wait()
    }
}
