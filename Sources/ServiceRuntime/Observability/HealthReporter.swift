import Foundation
import Synchronization

/// Why a service is not ready; the codes appear as they are in `/healthz` (no personal data).
public enum HealthCondition: String, Sendable, Hashable, CaseIterable {
    /// The service has not finished starting (clients created, first round done).
    case starting
    /// The consumer has no partitions yet and joined the group less than the grace period ago.
    case notAssigned = "kafka.notAssigned"
    /// The cluster did not answer or refused; being retried.
    case kafkaUnavailable = "kafka.unavailable"
    /// The store did not answer; being retried.
    case storeUnavailable = "store.unavailable"
    /// The citizen app's endpoint failed; being retried.
    case endpointUnavailable = "endpoint.unavailable"
    /// Records wait behind a partition whose stored position has not moved for the stall limit.
    case partitionStalled = "partition.stalled"
    /// A partition's next records expired from Kafka before they were read: it is stopped until an
    /// operator accepts the gap (`hssk offsets accept-gap`) or the records are re-sent.
    case retentionGap = "partition.retentionGap"
    /// Dead letters wait longer than the stall limit to be delivered, or one could not be produced.
    case deadLettersStalled = "deadLetters.stalled"
    /// Shutting down (SIGTERM): finishing the batch in hand.
    case stopping
}

/// What a service reports about itself: the conditions that make it not ready, and when its main
/// loop last made progress (liveness). Cheap to update from any thread.
public final class HealthReporter: Sendable {
    private struct State {
        var conditions: Set<HealthCondition>
        var details: [HealthCondition: String] = [:]
        var lastBeat = ContinuousClock.now
        var startedAt = ContinuousClock.now
    }
    private let state: Mutex<State>

    /// A member that holds no partitions this long after subscribing is ready all the same: a group
    /// may have more members than partitions, and a spare member is healthy.
    public static let assignmentGrace: Duration = .seconds(30)

    /// Starts not ready (`starting`).
    public init() {
        state = Mutex(State(conditions: [.starting]))
    }

    /// Marks `condition` as present, with what an operator needs to act on it (codes, partitions,
    /// offsets, counts; never personal data).
    public func set(_ condition: HealthCondition, detail: String? = nil) {
        state.withLock {
            $0.conditions.insert(condition)
            $0.details[condition] = detail
        }
    }

    /// Marks `condition` as gone.
    public func clear(_ condition: HealthCondition) {
        state.withLock {
            $0.conditions.remove(condition)
            $0.details[condition] = nil
        }
    }

    /// The main loop made progress (a poll returned, a round ended, a back-off step passed).
    public func beat() { state.withLock { $0.lastBeat = .now } }

    /// Started: `starting` gives way to `notAssigned` for services that consume.
    public func started(consuming: Bool) {
        state.withLock {
            $0.conditions.remove(.starting)
            if consuming { $0.conditions.insert(.notAssigned) }
            $0.startedAt = .now
            $0.lastBeat = .now
        }
    }

    /// Clears `notAssigned` once the consumer holds partitions or the grace period has passed.
    public func assignment(isEmpty: Bool) {
        state.withLock {
            if !isEmpty || ContinuousClock.now - $0.startedAt > Self.assignmentGrace { $0.conditions.remove(.notAssigned) }
        }
    }

    /// The conditions now (sorted codes) and the time since the last progress.
    public func status() -> HealthStatus {
        state.withLock {
            HealthStatus(reasons: $0.conditions.map(\.rawValue).sorted(),
                         details: Dictionary(uniqueKeysWithValues: $0.details.map { ($0.key.rawValue, $0.value) }),
                         sinceProgress: ContinuousClock.now - $0.lastBeat)
        }
    }
}

/// A snapshot of a service's health.
public struct HealthStatus: Sendable, Hashable {
    /// Codes of the conditions that make the service not ready; empty when ready.
    public var reasons: [String]
    /// For some reasons, what exactly holds the service back (e.g. which partition, from which offset).
    public var details: [String: String] = [:]
    /// Time since the main loop last made progress.
    public var sinceProgress: Duration

    /// Ready when nothing holds it back.
    public var ready: Bool { reasons.isEmpty }
}
