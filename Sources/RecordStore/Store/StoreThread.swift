import Foundation
import Synchronization

/// A dedicated OS thread that runs blocking SQLite / libpq calls in submission order, so that they
/// never occupy a thread of Swift's cooperative pool (the same idea as the Kafka module's thread).
/// One hop per operation (a whole batch), never per row.
final class StoreThread: Sendable {
    private let queue = StoreJobQueue()

    init(name: String) {
        let queue = self.queue
        let thread = Thread { queue.drain() }
        thread.name = name
        thread.start()
    }

    /// Runs `body` on the thread and returns its result to the awaiting task.
    func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let accepted = queue.submit { continuation.resume(with: Result { try body() }) }
            if !accepted { continuation.resume(throwing: StoreError.closed) }
        }
    }

    /// Runs `body` on the thread without waiting for it.
    func submit(_ body: @escaping @Sendable () -> Void) {
        _ = queue.submit(body)
    }

    /// Lets already-submitted work finish, then ends the thread; later submissions are refused.
    func stop() { queue.close() }

    deinit { queue.close() }
}

private final class StoreJobQueue: Sendable {
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
