import Foundation
import Synchronization

/// What ingest has done since it started; read by the shutdown summary and the metrics endpoint.
public final class IngestCounters: Sendable {
    /// A copy of the counters at one moment.
    public struct Snapshot: Sendable, Hashable, Codable {
        /// Records polled.
        public var consumed = 0
        /// Records stored (new or newer versions).
        public var stored = 0
        /// Records already stored with the same content (replays).
        public var duplicates = 0
        /// Dead letters written, by error code.
        public var deadLettered: [String: Int] = [:]
        /// Persons created, records linked to known persons, review tasks opened.
        public var personsCreated = 0
        public var linked = 0
        public var reviews = 0
        /// Transient failures retried.
        public var retries = 0
        /// Batches applied.
        public var batches = 0
        /// Batch latency buckets (upper bound in ms → count), from poll to commit.
        public var latencyBuckets: [Int: Int] = [:]
        /// Sum of batch latencies in ms.
        public var latencySumMs = 0.0

        /// Dead letters of every code.
        public var deadLetteredTotal: Int { deadLettered.values.reduce(0, +) }
    }

    /// Upper bounds of the latency histogram in milliseconds (the last bucket is +Inf).
    public static let latencyBoundsMs = [5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, Int.max]

    private let state = Mutex(Snapshot())

    /// Creates zeroed counters.
    public init() {}

    /// The current values.
    public var snapshot: Snapshot { state.withLock { $0 } }

    func update(_ body: (inout Snapshot) -> Void) {
        state.withLock { body(&$0) }
    }

    func observeBatch(since start: ContinuousClock.Instant) {
        let elapsed = ContinuousClock.now - start
        observeBatch(milliseconds: Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15)
    }

    func observeBatch(milliseconds: Double) {
        let bound = Self.latencyBoundsMs.first { Double($0) >= milliseconds } ?? Int.max
        state.withLock {
            $0.batches += 1
            $0.latencyBuckets[bound, default: 0] += 1
            $0.latencySumMs += milliseconds
        }
    }
}
