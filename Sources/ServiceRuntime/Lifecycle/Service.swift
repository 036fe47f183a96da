import Foundation
import Synchronization

/// A long-running part of hssk (broker, ingest, feed publisher, ...). Cancellation means shutdown:
/// finish the current unit of work, release resources, return.
public protocol Service: Sendable {
    /// A short name for logs.
    var name: String { get }
    /// Runs until cancelled or failed.
    func run() async throws
}

/// Runs services together until SIGINT/SIGTERM, then cancels them and waits for each to finish.
public enum ServiceRunner {
    /// Runs `services`; returns normally after SIGINT/SIGTERM, rethrows the first failure.
    public static func run(_ services: [any Service]) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for service in services { group.addTask { try await service.run() } }
            group.addTask {
                if await TerminationSignal.wait() { throw CancellationError() }
            }
            do {
                // Services run until cancelled; the first one to return or throw ends the whole set.
                try await group.next()
                group.cancelAll()
            } catch is CancellationError {
                group.cancelAll()
            } catch {
                group.cancelAll()
                throw error
            }
        }
    }

    /// Runs `body` to its end, or until SIGINT/SIGTERM: then `body` is cancelled, awaited (it cleans
    /// up) and the result is nil.
    public static func untilTerminated<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T? {
        try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await body() }
            group.addTask {
                _ = await TerminationSignal.wait()
                return nil
            }
            do {
                // The first to finish: the body's result, or the signal's nil.
                let first = try await group.next() ?? nil
                group.cancelAll()
                return first
            } catch is CancellationError where TerminationSignal.arrived {
                return nil
            }
        }
    }
}

/// SIGINT/SIGTERM through the self-pipe pattern: the handler only writes one byte (async-signal-safe),
/// whichever thread the kernel picks; one thread reads it and wakes every waiter.
enum TerminationSignal {
    private struct Waiters {
        var signalled = false
        var nextID = 0
        var pending: [Int: CheckedContinuation<Bool, Never>] = [:]
        /// Waiters cancelled before they registered: they return at once.
        var cancelled: Set<Int> = []
    }

    private static let waiters = Mutex(Waiters())

    /// Read end and write end; created before any handler can run.
    private static let pipeEnds: [Int32] = {
        var ends: [Int32] = [-1, -1]
        _ = pipe(&ends)
        return ends
    }()

    /// Installs the handlers and starts the reading thread, once.
    private static let started: Void = {
        _ = pipeEnds
        let thread = Thread {
            var byte: UInt8 = 0
            while true {
                guard read(pipeEnds[0], &byte, 1) == 1 else {
                    if errno == EINTR { continue }
                    return
                }
                let woken = waiters.withLock { state in
                    state.signalled = true
                    defer { state.pending = [:] }
                    return Array(state.pending.values)
                }
                for continuation in woken { continuation.resume(returning: true) }
            }
        }
        thread.name = "hssk-signals"
        thread.start()
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { _ in
            var byte: UInt8 = 1
            _ = write(TerminationSignal.pipeEnds[1], &byte, 1)
        }
        sigemptyset(&action.sa_mask)
        sigaction(SIGINT, &action, nil)
        sigaction(SIGTERM, &action, nil)
    }()

    /// Whether SIGINT or SIGTERM has arrived.
    static var arrived: Bool { waiters.withLock { $0.signalled } }

    /// True once a signal arrived; false if the waiting task is cancelled first (a task group that
    /// waits for its children must not hang on a signal that never comes).
    static func wait() async -> Bool {
        _ = started
        let id = waiters.withLock { state -> Int in
            state.nextID += 1
            return state.nextID
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
                let now: Bool? = waiters.withLock { state in
                    if state.signalled { return true }
                    if state.cancelled.remove(id) != nil { return false }
                    state.pending[id] = continuation
                    return nil
                }
                if let now { continuation.resume(returning: now) }
            }
        } onCancel: {
            let continuation = waiters.withLock { state -> CheckedContinuation<Bool, Never>? in
                if let continuation = state.pending.removeValue(forKey: id) { return continuation }
                state.cancelled.insert(id)
                return nil
            }
            continuation?.resume(returning: false)
        }
    }
}
