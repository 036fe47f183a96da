import Foundation
import Kafka
import Synchronization

/// The partitions a service's store stage is working on, so that a revocation can wait for that work
/// before the group hands the partitions to another member. Waited on from the consumer's own thread
/// (inside the rebalance callback), so the wait blocks that thread, never the cooperative pool.
package final class InFlightPartitions: Sendable {
    private let state = Mutex<[Kafka.TopicPartition: Int]>([:])

    /// Nothing in flight.
    package init() {}

    /// Marks `partitions` as being worked on until the returned closure runs.
    package func begin(_ partitions: Set<Kafka.TopicPartition>) -> @Sendable () -> Void {
        state.withLock { for partition in partitions { $0[partition, default: 0] += 1 } }
        return { [self] in end(partitions) }
    }

    private func end(_ partitions: Set<Kafka.TopicPartition>) {
        state.withLock { counts in
            for partition in partitions {
                counts[partition, default: 1] -= 1
                if counts[partition] == 0 { counts[partition] = nil }
            }
        }
    }

    /// Blocks until no work on `partitions` is in flight, or `timeout` passed; true when none is.
    package func waitUntilClear(_ partitions: [Kafka.TopicPartition], timeout: Duration) -> Bool {
        let deadline = ContinuousClock.now + timeout
        while true {
            if state.withLock({ counts in !partitions.contains { counts[$0] != nil } }) { return true }
            guard ContinuousClock.now < deadline else { return false }
            Thread.sleep(forTimeInterval: 0.01)
        }
    }
}

/// What a service knows about each assigned partition's progress, for `/healthz` and the metrics:
/// the stored position, when it last moved, and retention gaps that stopped the partition.
///
/// A partition whose records wait while its stored position has not moved for `stallLimit` makes
/// the service not ready (`partition.stalled`); a partition whose next records expired before they
/// were read (`partition.retentionGap`) stays stopped until an operator decides.
package final class PartitionWatch: Sendable {
    /// A partition stopped because the records at its position no longer exist in Kafka.
    package struct Gap: Sendable, Hashable {
        /// The stored position: the first record that was never read.
        var from: Int64
        /// The partition's log start when the gap was found: the first record still kept.
        var to: Int64?
        /// The partition's log end then: below `from` when the topic was recreated or truncated.
        var end: Int64?
    }

    private struct Progress {
        var stored: Int64
        var since: ContinuousClock.Instant
    }

    private struct State {
        var progress: [Kafka.TopicPartition: Progress] = [:]
        var gaps: [Kafka.TopicPartition: Gap] = [:]
    }

    private let state = Mutex(State())
    let stallLimit: Duration

    package init(stallLimit: Duration) { self.stallLimit = stallLimit }

    /// The store's position of `partition` (on assignment, after a batch, after a seek back).
    package func stored(_ partition: Kafka.TopicPartition, at offset: Int64) {
        state.withLock { state in
            if state.progress[partition]?.stored != offset { state.progress[partition] = Progress(stored: offset, since: .now) }
        }
    }

    /// Forgets partitions no longer assigned.
    package func retain(_ assigned: Set<Kafka.TopicPartition>) {
        state.withLock { state in
            state.progress = state.progress.filter { assigned.contains($0.key) }
            state.gaps = state.gaps.filter { assigned.contains($0.key) }
        }
    }

    /// Records a retention gap.
    func gap(_ partition: Kafka.TopicPartition, _ gap: Gap) { state.withLock { $0.gaps[partition] = gap } }

    /// Clears a retention gap (accepted by an operator, or the partition moved on).
    func clearGap(_ partition: Kafka.TopicPartition) { state.withLock { _ = $0.gaps.removeValue(forKey: partition) } }

    /// The retention gaps now.
    package var gaps: [Kafka.TopicPartition: Gap] { state.withLock { $0.gaps } }

    /// Partitions whose records wait (high watermark above the stored position) while the stored
    /// position has not moved for the stall limit, with what an operator needs to look; stopped
    /// partitions (gaps) are reported as such, not as stalls.
    package func stalls(highWatermarks: [Kafka.TopicPartition: Int64], now: ContinuousClock.Instant = .now) -> [String] {
        state.withLock { state in
            state.progress.sorted { $0.key < $1.key }.compactMap { partition, progress in
                guard state.gaps[partition] == nil, let high = highWatermarks[partition], high > progress.stored,
                      now - progress.since > stallLimit else { return nil }
                return "\(partition.topic)/\(partition.partition) at offset \(progress.stored): \(high - progress.stored) records wait, no progress for \((now - progress.since).components.seconds) s"
            }
        }
    }

    /// `hssk_retention_gap_records{topic,partition}`: records that expired before they were read, per stopped partition.
    package var gapFamily: MetricFamily {
        MetricFamily(name: "hssk_retention_gap_records", help: "Records that expired from Kafka before they were read, per stopped partition.",
                     kind: .gauge, samples: gaps.sorted { $0.key < $1.key }.map { partition, gap in
                         .init(labels: [.init("topic", partition.topic), .init("partition", String(partition.partition))],
                               value: Double(gap.to.map { max(0, $0 - gap.from) } ?? 0))
                     })
    }

    /// Handles the partitions a poll found out of range, for a consumer positioned from the store
    /// (`storedPosition` of a partition, nil when never stored): a partition never read restarts at the
    /// log start as a new one would; any other is paused and reported as a retention gap (log event,
    /// `/healthz`) until an operator decides (`resumeDecided`).
    package func observeOutOfRange(_ outOfRange: [Kafka.TopicPartition: Int64], consumer: Consumer, log: EventLog, health: HealthReporter,
                           storedPosition: (Kafka.TopicPartition) async throws -> Int64?) async throws {
        guard !outOfRange.isEmpty else { return }
        var restart = false
        for (partition, position) in outOfRange.sorted(by: { $0.key < $1.key }) {
            guard try await storedPosition(partition) != nil else {
                // Retention moved the log start between looking it up and fetching from it.
                log.event(.warning, "partition.logStartMoved", ["topic": .text(partition.topic), "partition": .int(Int64(partition.partition))])
                restart = true
                continue
            }
            let marks = try? await consumer.watermarks(partition)
            try await consumer.pause([partition])
            gap(partition, Gap(from: position, to: marks?.low, end: marks?.high))
            log.event(.error, "partition.retentionGap", ["topic": .text(partition.topic), "partition": .int(Int64(partition.partition)),
                                                          "from": .int(position), "to": .int(marks?.low ?? -1), "end": .int(marks?.high ?? -1),
                                                          "records": .int(marks.map { max(0, $0.low - position) } ?? -1)])
        }
        let gaps = self.gaps
        if !gaps.isEmpty { health.set(.retentionGap, detail: Self.describe(gaps)) }
        if restart { try await consumer.rejoin() }
    }

    /// Resumes the stopped partitions whose stored position an operator moved (`hssk offsets
    /// accept-gap`): librdkafka stopped their fetchers, and only a new assignment restarts them.
    package func resumeDecided(consumer: Consumer, log: EventLog, health: HealthReporter,
                       storedPosition: (Kafka.TopicPartition) async throws -> Int64?) async throws {
        var decided: [(Kafka.TopicPartition, Gap, Int64)] = []
        for (partition, gap) in gaps {
            guard let offset = try? await storedPosition(partition), offset != gap.from else { continue }
            decided.append((partition, gap, offset))
        }
        // Cleared only once the new assignment is asked for: a failed rejoin is tried again next time.
        if !decided.isEmpty { try await consumer.rejoin() }
        for (partition, gap, offset) in decided {
            clearGap(partition)
            log.event(.warning, "partition.resumed", ["topic": .text(partition.topic), "partition": .int(Int64(partition.partition)),
                                                       "from": .int(gap.from), "at": .int(offset)])
        }
        let gaps = self.gaps
        if gaps.isEmpty { health.clear(.retentionGap) } else { health.set(.retentionGap, detail: Self.describe(gaps)) }
    }

    /// `/healthz` detail of the gaps.
    static func describe(_ gaps: [Kafka.TopicPartition: Gap]) -> String {
        gaps.sorted { $0.key < $1.key }.map { partition, gap in
            let name = "\(partition.topic)/\(partition.partition)"
            if let end = gap.end, end < gap.from {
                return "\(name): the stored position \(gap.from) lies past the log's end \(end) (the topic was recreated or truncated); stopped until `hssk offsets accept-gap --reset-to`"
            }
            let range = gap.to.map { "offsets \(gap.from)..<\($0) (\($0 - gap.from) records)" } ?? "from offset \(gap.from)"
            return "\(name): \(range) expired from Kafka before they were read; stopped until `hssk offsets accept-gap` or a re-send"
        }.joined(separator: "; ")
    }
}
