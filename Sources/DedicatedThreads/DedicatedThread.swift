import Foundation
import Synchronization

/// A dedicated OS thread that runs blocking C calls (librdkafka, SQLite, libpq) in submission order,
/// so that they never occupy a thread of Swift's cooperative pool. Callers hop once per batch.
public final class DedicatedThread: Sendable {
    private let queue = JobQueue()
    private let finished = DispatchSemaphore(value: 0)
    private let closedError: any Error & Sendable

    /// Starts the thread; `closedError` is what `run` throws once the thread has stopped.
    public init(name: String, closedError: any Error & Sendable) {
        self.closedError = closedError
        let queue = self.queue
        let thread = Thread { [finished] in
            queue.drain()
            finished.signal()
        }
        thread.name = name
        thread.start()
    }

    /// Runs `body` on the thread and returns its result to the awaiting task.
    public func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let accepted = queue.submit { continuation.resume(with: Result { try body() }) }
            if !accepted { continuation.resume(throwing: closedError) }
        }
    }

    /// Runs `body` on the thread without waiting for it.
    public func submit(_ body: @escaping @Sendable () -> Void) {
        _ = queue.submit(body)
    }

    /// Runs `body` on the thread, or right here if the thread has stopped.
    public func submitOrRun(_ body: @escaping @Sendable () -> Void) {
        if !queue.submit(body) { body() }
    }

    /// Lets already-submitted work finish, then ends the thread; later submissions are refused.
    public func stop() { queue.close() }

    /// Like `stop`, then waits until the thread has run everything submitted (call once).
    public func stopAndWait() {
        queue.close()
        finished.wait()
    }

    deinit { queue.close() }
}

private final class JobQueue: Sendable {
    private struct State {
        var jobs: [@Sendable () -> Void] = []
        var closed = false
    }
    private let state = Mutex(State())
    private let available = DispatchSemaphore(value: 0)

    func submit(_ job: @escaping @Sendable () -> Void) -> Bool {
        let accepted = state.withLock { state -> Bool in
            guard !state.closed else { return false }
            state.jobs.append(job)
            return true
        }
        if accepted { available.signal() }
        return accepted
    }

    func close() {
        let wasClosed = state.withLock { state -> Bool in
            defer { state.closed = true }
            return state.closed
        }
        if !wasClosed { available.signal() }
    }

    func drain() {
        while true {
            available.wait()
            let (jobs, closed) = state.withLock { state -> ([@Sendable () -> Void], Bool) in
                defer { state.jobs.removeAll(keepingCapacity: true) }
                return (state.jobs, state.closed)
            }
            for job in jobs { job() }
            if closed { return }
        }
    }
}
