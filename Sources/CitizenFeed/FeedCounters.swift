import Foundation
import Synchronization

/// What the feed publisher and the feed pusher have done since they started (counts only); read by
/// the metrics endpoint.
public final class FeedCounters: Sendable {
    /// A copy of the counters at one moment.
    public struct Snapshot: Sendable, Hashable, Codable {
        /// Publisher: outbox rows done, documents and tombstones produced.
        public var outboxRows = 0
        public var documents = 0
        public var tombstones = 0
        /// Publisher: items removed by the restricted-data filter, by rule.
        public var restricted: [String: Int] = [:]
        /// Publisher: outbox rows quarantined, by reason code.
        public var quarantined: [String: Int] = [:]
        /// Pusher: records polled.
        public var consumed = 0
        /// Pusher: push requests by result (`accepted`, `rejected`, `retry`).
        public var pushes: [String: Int] = [:]
        /// Pusher: items the endpoint accepted, by operation (`upsert`, `delete`).
        public var pushed: [String: Int] = [:]
        /// Pusher: documents refused because they still carried restricted data, by rule.
        public var refusedRestricted: [String: Int] = [:]
        /// Pusher: dead letters by code.
        public var deadLettered: [String: Int] = [:]
        /// Both: transient failures retried.
        public var retries = 0
    }

    private let state = Mutex(Snapshot())

    /// Creates zeroed counters.
    public init() {}

    /// The current values.
    public var snapshot: Snapshot { state.withLock { $0 } }

    func update(_ body: (inout Snapshot) -> Void) { state.withLock { body(&$0) } }
}
