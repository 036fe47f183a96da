import Foundation
import Synchronization

/// Ends the process when a unit of processing runs past its deadline: a record that hangs the
/// service is then counted by the restart like one that crashes it (poison-pill detection).
/// Several units may be guarded at once (the two pipeline stages).
final class Watchdog: Sendable {
    private struct State {
        var deadlines: [UInt64: Int64] = [:]
        var nextToken: UInt64 = 0
    }
    private let state = Mutex(State())
    private let stopped = Atomic<Bool>(false)
    private let limit: Duration

    init(limit: Duration, onExpiry: @escaping @Sendable () -> Void) {
        self.limit = limit
        // The thread holds the watchdog until `stop`; it checks twice a second.
        let thread = Thread { [self] in
            while !stopped.load(ordering: .acquiring) {
                Thread.sleep(forTimeInterval: 0.5)
                let earliest = state.withLock { $0.deadlines.values.min() }
                if let earliest, Self.now() > earliest { onExpiry() }
            }
        }
        thread.name = "hssk-watchdog"
        thread.start()
    }

    /// Runs `body` under the deadline.
    func guarding<T>(_ body: () async throws -> T) async rethrows -> T {
        let nanos = limit.components.seconds * 1_000_000_000 + limit.components.attoseconds / 1_000_000_000
        let token = state.withLock { state -> UInt64 in
            state.nextToken += 1
            state.deadlines[state.nextToken] = Self.now() + nanos
            return state.nextToken
        }
        defer { _ = state.withLock { $0.deadlines.removeValue(forKey: token) } }
        return try await body()
    }

    func stop() { stopped.store(true, ordering: .releasing) }

    private static func now() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }
}
