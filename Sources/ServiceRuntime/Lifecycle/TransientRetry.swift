import Foundation
import Kafka
import RecordStore
import Synchronization

/// Set once when a service is asked to stop; read by the loops that must give up then.
package final class StopFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    /// A flag not set.
    package init() {}
    /// True once `set` was called.
    package var isSet: Bool { flag.load(ordering: .acquiring) }
    /// Asks every reader to stop.
    package func set() { flag.store(true, ordering: .releasing) }
}

/// How the services wait out what is only unavailable for a while (the store, the cluster): retry
/// with jittered exponential back-off, never skip, and give up only when the service stops — then
/// nothing was committed and nothing is lost.
package struct TransientRetry: Sendable {
    let policy: RetryPolicy
    let stopping: StopFlag
    let log: EventLog
    /// Shows `store.unavailable` while the store is retried; each back-off step counts as progress.
    let health: HealthReporter
    /// Counts each retry (for the service's counters).
    let onRetry: @Sendable () -> Void

    /// Creates a retry loop for one service.
    package init(policy: RetryPolicy, stopping: StopFlag, log: EventLog, health: HealthReporter, onRetry: @escaping @Sendable () -> Void) {
        self.policy = policy
        self.stopping = stopping
        self.log = log
        self.health = health
        self.onRetry = onRetry
    }

    /// Runs `body` until the store answers; transient store errors are logged and retried.
    package func untilStoreAnswers<T: Sendable>(_ what: String, _ body: @Sendable () async throws -> T) async throws -> T {
        var failures = 0
        while true {
            do {
                let value = try await body()
                if failures > 0 { health.clear(.storeUnavailable) }
                return value
            } catch let error as StoreError where error.isTransient {
                health.set(.storeUnavailable)
                log.event(.warning, "store.unavailable", ["during": .text(what), "error": .text(String(describing: error))])
                try await backOff(&failures)
            }
        }
    }

    /// Sleeps before retry number `failures` and counts it; throws `CancellationError` when stopping.
    package func backOff(_ failures: inout Int) async throws {
        guard !stopping.isSet else { throw CancellationError() }
        onRetry()
        health.beat()
        try? await Task.sleep(for: policy.delay(attempt: failures))
        failures += 1
        guard !stopping.isSet else { throw CancellationError() }
    }
}
