import Foundation
import HealthModel
import Kafka
import RecordStore
import Synchronization

/// Produces the dead letters consumer batches wrote to the store (`StoreBatch.deadLetters`) to their
/// topics, each exactly once, whatever process dies when.
///
/// - One relay per consumer group at a time: a lease in the store (by the database's clock), renewed
///   every round. Every ingest process runs a relay for its group (the insurance sync for its own);
///   the others wait.
/// - A round renews the lease and marks its letters `sending`, each with where its topic ends now
///   (the marks), then produces them and marks them delivered. A letter found `sending` later — a relay
///   died, or a send timed out — is looked for on its topic from its marks before it is sent again, and
///   only once `quietPeriod` has passed since it was marked: by then no send of it can still land
///   (a delivery times out after `deliveryTimeout`; a record the leader appended but its followers had
///   not yet copied is committed or dropped within the broker's `replica.lag.time.max.ms`, 30 s by
///   default). So a letter is never produced twice.
/// - Every state change is made only under the lease: a relay that lost it cannot undo its successor's
///   work, and a long reconciliation renews it as it reads. A letter is handed to the producer only
///   within `sendWindow` of its marks, so even a process that stalled after marking (and lost its
///   lease) cannot send it once the quiet period may have begun.
/// - A letter the cluster refuses as too large goes out in its minimal form (no value, no original
///   headers); one refused even so, or whose stored copy is damaged, is set aside (`failed`, kept in
///   the store, health says so) and never holds the others up. Letters under a key missing from the
///   key file wait for it (the read fails with `missingKey`; health says so once they wait too long).
public final class DeadLetterRelay: Sendable {
    /// How long a lease lasts unless renewed.
    public static let leaseTTL: Duration = .seconds(30)
    /// The producer's `message.timeout.ms`: every send of a round has ended by then.
    public static let deliveryTimeout: Duration = .seconds(10)
    /// How long after being marked `sending` a letter may be looked for on its topic (see above).
    public static let quietPeriod: Duration = .seconds(45)
    /// Letters per round, and about how many bytes of them.
    static let roundSize = 200
    static let roundBytes = 16 * 1024 * 1024
    /// Rounds failing in a row before the relay lets its lease go (another process may do better).
    static let failuresBeforeRelease = 5

    private let store: any DeadLetterStore
    private let group: String
    private let leaseName: String
    private let producer: Producer
    private let reader: DeadLetterReader
    private let holder: String
    private let log: EventLog
    private let health: HealthReporter
    private let stallLimit: Duration
    private let woken = Atomic<Bool>(false)
    private let counts = Mutex(Counts())

    /// What the relay has done, for metrics.
    public struct Counts: Sendable, Hashable {
        /// Letters produced.
        public var delivered = 0
        /// Letters found on their topic after a relay stopped mid-round (not produced again).
        public var recovered = 0
        /// Letters set aside as not producible.
        public var failed = 0
        /// Letters decided and not delivered yet (as last read).
        public var undelivered = 0
    }

    /// A relay for `group`'s letters in `store`, producing with a client of `client`'s cluster,
    /// reporting to `health`.
    public init(store: any DeadLetterStore, group: String, client: KafkaClientConfig, log: EventLog, health: HealthReporter,
                stallLimit: Duration = .seconds(120)) throws {
        self.group = group
        leaseName = "dead-letter-relay:" + group
        var config = ProducerConfig(bootstrapServers: client.bootstrapServers)
        config.client = client
        config.client.clientID = client.clientID + "-dlq"
        config.messageTimeoutMs = Int(Self.deliveryTimeout.components.seconds * 1000)
        producer = try Producer(config: config)
        reader = try DeadLetterReader(client: client)
        self.store = store
        holder = "\(ProcessInfo.processInfo.hostName):\(getpid()):\(UUID().uuidString.prefix(8))"
        self.log = log
        self.health = health
        self.stallLimit = stallLimit
    }

    /// What it has done so far.
    public var snapshot: Counts { counts.withLock { $0 } }

    /// `hssk_dead_letters_*`: what this process's relay delivered, found after a stopped relay, set
    /// aside, and the letters waiting in the store (as last read).
    package var metricFamilies: [MetricFamily] {
        let s = snapshot
        return [
            .counter("hssk_dead_letters_delivered_total", "Dead letters this process's relay produced to their topic.", s.delivered),
            .counter("hssk_dead_letters_recovered_total", "Dead letters found on their topic after a relay stopped mid-round (not produced again).", s.recovered),
            .counter("hssk_dead_letters_failed_total", "Dead letters the cluster refused even in their minimal form (kept in the store, state failed).", s.failed),
            .gauge("hssk_dead_letters_undelivered", "Dead letters of the group decided and not yet delivered (in the store, all processes).", Double(s.undelivered)),
        ]
    }

    /// Asks for a round now (a batch with dead letters just committed).
    public func wake() { woken.store(true, ordering: .releasing) }

    /// Lets the running relay send the group's last letters (when it holds the lease) before its
    /// process stops, waiting at most `limit`; what is left waits in the store for the next relay.
    package func flush(waitingAtMost limit: Duration = .seconds(5)) async {
        wake()
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline, ((try? await store.deadLetterBacklog(group: group).undelivered) ?? 0) > 0 {
            try? await Task.sleep(for: .milliseconds(100))
        }
    }

    /// Runs rounds until `stopping` is set, then closes its clients and gives the lease up.
    package func run(until stopping: StopFlag) async {
        var failures = 0
        while !stopping.isSet {
            do {
                let worked = try await round()
                failures = 0
                if !worked { await idle(stopping) }
            } catch {
                failures += 1
                log.event(.warning, "deadLetter.relayRetry", ["error": .text(String(describing: error)), "attempt": .int(Int64(failures))])
                if failures % Self.failuresBeforeRelease == 0 { try? await store.releaseRelayLease(leaseName, holder: holder) }
                try? await Task.sleep(for: RetryPolicy(base: .milliseconds(200), cap: .seconds(10)).delay(attempt: failures))
            }
            await refreshHealth()
        }
        // Every send has ended before the lease goes: a successor never races a send of ours.
        try? await producer.close(timeout: Self.deliveryTimeout)
        try? await reader.close()
        try? await store.releaseRelayLease(leaseName, holder: holder)
    }

    /// One round under the lease; false when there was nothing to do (or another relay holds the lease).
    private func round() async throws -> Bool {
        guard try await store.acquireRelayLease(leaseName, holder: holder, ttl: Self.leaseTTL) != nil else { return false }
        let page = try await store.undeliveredDeadLetters(group: group, limit: Self.roundSize, maxBytes: Self.roundBytes)
        guard !page.isEmpty else { return false }
        var worked = false
        // Letters whose stored copy is damaged are set aside: they must not hold the others up. (One
        // under a key missing from the key file failed the read: the relay retries until the key is back.)
        for letter in page where letter.letter == nil {
            try await setAside(letter, reason: "the stored letter is damaged (it fails authentication)")
            worked = true
        }
        // Letters a round left `sending`: looked for on their topic once no send of theirs can land.
        let unsure = page.filter { $0.letter != nil && $0.sending != nil }
        let settled = unsure.filter { $0.sending!.age >= Self.quietPeriod }
        if !settled.isEmpty {
            try await reconcile(settled)
            worked = true
        }
        let letters = page.filter { $0.letter != nil && $0.sending == nil }
        guard !letters.isEmpty else { return worked }
        var marks: [DeadLetterMark] = []
        for topic in Set(letters.map(\.topic)).sorted() {
            let ends = try await reader.ends(of: try DeadLetterTopic(topic))
            marks += ends.map { DeadLetterMark(topic: topic, partition: $0.key, offset: $0.value) }
        }
        // Taken before the database's time of the marks: our clock's age of them is never the smaller.
        let marked = ContinuousClock.now
        try await store.markDeadLettersSending(letters.map(\.id), marks: marks, lease: leaseName, holder: holder, ttl: Self.leaseTTL)
        let outcomes = await send(letters, queuedBy: marked + Self.sendWindow)
        var delivered: [DeadLetterDelivery] = []
        var undelivered = 0
        for (letter, outcome) in zip(letters, outcomes) {
            switch outcome {
            case .delivered(let report):
                delivered.append(DeadLetterDelivery(id: letter.id, partition: report.partition, offset: report.offset))
            case .refused(let reason):
                try await setAside(letter, reason: reason)
            case .undelivered:
                // Left `sending`: it may still reach the topic; it is looked for after the quiet period.
                undelivered += 1
            }
        }
        try await store.markDeadLettersDelivered(delivered, lease: leaseName, holder: holder)
        counts.withLock { $0.delivered += delivered.count }
        if undelivered > 0 {
            log.event(.warning, "deadLetter.undelivered", ["count": .int(Int64(undelivered))])
            throw KafkaError.operation("dead-letter delivery", .messageTimedOut, detail: "\(undelivered) dead letters not acknowledged")
        }
        return true
    }

    private func setAside(_ letter: StoredDeadLetter, reason: String) async throws {
        try await store.markDeadLetterFailed(letter.id, reason: reason, lease: leaseName, holder: holder)
        counts.withLock { $0.failed += 1 }
        log.event(.error, "deadLetter.failed", ["id": .int(letter.id), "topic": .text(letter.topic), "reason": .text(reason),
                                                 "sourceTopic": .text(letter.source.topic), "sourcePartition": .int(Int64(letter.source.partition)),
                                                 "sourceOffset": .int(letter.source.offset)])
    }

    private enum Outcome: Sendable {
        case delivered(DeliveryReport)
        case refused(String)
        case undelivered
    }

    /// How long after its marks a letter may still be handed to the producer: its send then ends
    /// (`deliveryTimeout`) well inside the quiet period, even when this process stalled in between
    /// (a pause, swapping) and a successor took the lease over. A letter not started by then stays
    /// `sending` and is looked for after the quiet period.
    static let sendWindow: Duration = quietPeriod - deliveryTimeout - .seconds(5)

    /// The letter as sent: with its store id (`hssk-dead-letter-id`), by which a later search knows
    /// it apart from another letter about the same offset (one of an earlier log, after a reset).
    static func stamped(_ record: ProducerRecord, id: Int64) -> ProducerRecord {
        var record = record
        // A sender's header of that name (kept by letters stored before the relay stamped) never speaks for it.
        record.headers.removeAll { $0.key == DeadLetterHeaders.letterID }
        record.headers.append(KafkaHeader(DeadLetterHeaders.letterID, String(id)))
        return record
    }

    /// Produces each letter (in its minimal form when refused as too large), each only when it is
    /// queued by `deadline`.
    private func send(_ letters: [StoredDeadLetter], queuedBy deadline: ContinuousClock.Instant) async -> [Outcome] {
        await withTaskGroup(of: (Int, Outcome).self) { group in
            for (index, letter) in letters.enumerated() {
                group.addTask { [producer] in
                    guard let record = letter.letter.flatMap(DeadLetterCodec.decode) else {
                        return (index, .refused("the stored letter cannot be read (written by another hssk version?)"))
                    }
                    let stamped = Self.stamped(record, id: letter.id)
                    do {
                        return (index, .delivered(try await producer.send(stamped, enqueueBy: deadline)))
                    } catch KafkaError.delivery(let code, _, _) where code == .messageSizeTooLarge || code == .invalidRecord {
                        do {
                            return (index, .delivered(try await producer.send(Self.stamped(DeadLetterBuilder.minimal(record), id: letter.id),
                                                                              enqueueBy: deadline)))
                        } catch KafkaError.delivery(let code, _, _) where code == .messageSizeTooLarge || code == .invalidRecord {
                            return (index, .refused("the cluster refused even the minimal dead letter: \(code.name)"))
                        } catch {
                            return (index, .undelivered)
                        }
                    } catch {
                        return (index, .undelivered)
                    }
                }
            }
            var outcomes = [Outcome](repeating: .undelivered, count: letters.count)
            for await (index, outcome) in group { outcomes[index] = outcome }
            return outcomes
        }
    }

    /// Looks for letters left `sending` on their topics, from each letter's marks: found ones are
    /// delivered, the others go back to pending. A topic that cannot be read now keeps its letters
    /// `sending` for a later round; the other topics go on.
    private func reconcile(_ letters: [StoredDeadLetter]) async throws {
        var found: [DeadLetterDelivery] = []
        var notFound: [Int64] = []
        for (topic, letters) in Dictionary(grouping: letters, by: \.topic).sorted(by: { $0.key < $1.key }) {
            let sources = Dictionary(uniqueKeysWithValues: letters.map { ($0.id, Source($0.source)) })
            // Letters sent before they carried their id are known by their source coordinates, if unambiguous.
            let bySource = Dictionary(grouping: letters, by: { Source($0.source) }).compactMapValues { $0.count == 1 ? $0[0].id : nil }
            var starts: [Int32: Int64] = [:]
            for letter in letters {
                for mark in letter.sending?.marks ?? [] where mark.topic == topic {
                    starts[mark.partition] = min(starts[mark.partition] ?? mark.offset, mark.offset)
                }
            }
            var here: [DeadLetterDelivery] = []
            // A long read must not outlive the lease: a successor would reconcile (and resend) the same letters.
            try await renewLease()
            var renewed = ContinuousClock.now
            do {
                try await reader.read(try DeadLetterTopic(topic), from: starts) { batch in
                    if ContinuousClock.now - renewed > Self.leaseTTL / 3 {
                        try await renewLease()
                        renewed = .now
                    }
                    for letter in batch {
                        guard let sourceTopic = letter.sourceTopic, let partition = letter.sourcePartition, let offset = letter.sourceOffset else { continue }
                        let source = Source(topic: sourceTopic, partition: partition, offset: offset)
                        // The id and the source must both be ours: another store's relay may share the topic.
                        let id = letter.letterID.flatMap { sources[$0] == source ? $0 : nil } ?? (letter.letterID == nil ? bySource[source] : nil)
                        if let id { here.append(DeadLetterDelivery(id: id, partition: letter.partition, offset: letter.offset)) }
                    }
                }
            } catch let lost as LeaseLost {
                throw lost
            } catch {
                log.event(.warning, "deadLetter.reconcileFailed", ["topic": .text(topic), "error": .text(String(describing: error))])
                continue
            }
            let delivered = Set(here.map(\.id))
            found += here
            notFound += letters.map(\.id).filter { !delivered.contains($0) }
        }
        try await store.markDeadLettersDelivered(found, lease: leaseName, holder: holder)
        try await store.markDeadLettersPending(notFound, lease: leaseName, holder: holder)
        counts.withLock { $0.recovered += found.count }
        log.event(.info, "deadLetter.reconciled", ["found": .int(Int64(found.count)), "resend": .int(Int64(notFound.count))])
    }

    /// Another relay holds the group's lease now: this one must change nothing more.
    private struct LeaseLost: Error, CustomStringConvertible {
        var description: String { "the dead-letter relay lease was taken over" }
    }

    /// Extends our lease, or throws `LeaseLost`: also when it had lapsed and we took it back, since a
    /// successor may have changed the letters meanwhile (what we read of them is stale).
    private func renewLease() async throws {
        guard let lease = try await store.acquireRelayLease(leaseName, holder: holder, ttl: Self.leaseTTL), !lease.takeover else { throw LeaseLost() }
    }

    private struct Source: Hashable {
        var topic: String
        var partition: Int32
        var offset: Int64
        init(topic: String, partition: Int32, offset: Int64) {
            self.topic = topic
            self.partition = partition
            self.offset = offset
        }
        init(_ coordinates: KafkaCoordinates) {
            self.init(topic: coordinates.topic, partition: coordinates.partition, offset: coordinates.offset)
        }
    }

    /// Waits up to two seconds, or until woken or stopped.
    private func idle(_ stopping: StopFlag) async {
        let deadline = ContinuousClock.now + .seconds(2)
        while ContinuousClock.now < deadline, !stopping.isSet, !woken.exchange(false, ordering: .acquiringAndReleasing) {
            try? await Task.sleep(for: .milliseconds(50))
        }
    }

    /// Not ready while letters wait longer than the stall limit or one was set aside.
    private func refreshHealth() async {
        guard let backlog = try? await store.deadLetterBacklog(group: group) else { return }
        counts.withLock { $0.undelivered = backlog.undelivered }
        if backlog.failed > 0 {
            health.set(.deadLettersStalled, detail: "\(backlog.failed) dead letters of \(group) could not be produced and are kept in the store (state failed)")
        } else if let age = backlog.oldestAge, age > stallLimit {
            health.set(.deadLettersStalled, detail: "\(backlog.undelivered) dead letters of \(group) wait to be produced, the oldest for \(age.components.seconds) s")
        } else {
            health.clear(.deadLettersStalled)
        }
    }
}
