import Foundation
import Synchronization

/// Ends the process when one unit of processing runs past its deadline: a record that hangs the
/// service is then counted by the restart like one that crashes it (poison-pill detection).
final class Watchdog: Sendable {
    private let deadline = Atomic<Int64>(0)
    private let stopped = Atomic<Bool>(false)
    private let limit: Duration
    private let onExpiry: @Sendable () -> Void

    init(limit: Duration, onExpiry: @escaping @Sendable () -> Void) {
        self.limit = limit
        self.onExpiry = onExpiry
        let thread = Thread { [self] in
            while !stopped.load(ordering: .acquiring) {
                Thread.sleep(forTimeInterval: 0.5)
                let due = deadline.load(ordering: .acquiring)
                if due > 0, Self.now() > due { onExpiry() }
            }
        }
        thread.name = "hssk-watchdog"
        thread.start()
    }

    /// Runs `body` under the deadline.
    func guarding<T>(_ body: () async throws -> T) async rethrows -> T {
        let nanos = limit.components.seconds * 1_000_000_000 + limit.components.attoseconds / 1_000_000_000
        deadline.store(Self.now() + nanos, ordering: .releasing)
        defer { deadline.store(0, ordering: .releasing) }
        return try await body()
    }

    func stop() { stopped.store(true, ordering: .releasing) }

    private static func now() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }
}
