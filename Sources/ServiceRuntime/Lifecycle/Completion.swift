import Synchronization

/// A one-time signal that tasks can wait for with a time limit (unlike `Task.value`, whose waiters
/// cannot stop waiting): a service waits for its batch in the store stage and, if that takes long,
/// goes on polling so that the group keeps it.
package final class Completion: Sendable {
    private struct State {
        var done = false
        var waiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
        var cancelled: Set<UInt64> = []
        var next: UInt64 = 0
    }
    private let state = Mutex(State())

    /// Not complete yet.
    package init() {}

    /// Signals every waiter, now and later.
    package func complete() {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.done = true
            defer { state.waiters.removeAll() }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    /// True once `complete` was called.
    var isComplete: Bool { state.withLock { $0.done } }

    /// Waits until completed (true) or `timeout` passed (false).
    package func wait(upTo timeout: Duration) async -> Bool {
        if isComplete { return true }
        return await withTaskGroup(of: Bool.self) { group in
            group.addTask { await self.wait(); return self.isComplete }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return self.isComplete
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first || isComplete
        }
    }

    /// Waits until completed or cancelled.
    private func wait() async {
        let id = state.withLock { state -> UInt64 in
            state.next += 1
            return state.next
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state -> Bool in
                    if state.done || state.cancelled.remove(id) != nil { return true }
                    state.waiters[id] = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
                if let waiter = state.waiters.removeValue(forKey: id) { return waiter }
                if !state.done { state.cancelled.insert(id) }
                return nil
            }
            waiter?.resume()
        }
    }
}
