import Foundation
import Kafka
import RecordStore
import Synchronization

/// Produces the dead letters consumer batches wrote to the store (`StoreBatch.deadLetters`) to their
/// topics, each exactly once, whatever process dies when.
///
/// - One relay at a time: a lease in the store (by the database's clock), renewed every round. Every
///   ingest and insurance-sync process runs a relay; the others wait.
/// - A round marks its letters `sending` together with where their topics end now (the marks), then
///   produces them and marks them delivered. Letters found `sending` at the start of a round — a relay
///   died or a delivery failed in between — are looked for on their topics from the marks: found ones
///   are marked delivered, the others are sent again. So a letter is never produced twice.
/// - A zombie cannot interfere: a round's deliveries time out (`deliveryTimeout`) well before its
///   lease expires (`leaseTTL`), so a successor only takes over once the old round is over.
/// - A letter the cluster refuses as too large is sent again in its minimal form (no value, no
///   original headers); one refused even so is set aside (`failed`, kept in the store, health says so).
public final class DeadLetterRelay: Sendable {
    /// The lease's name in the store.
    public static let leaseName = "dead-letter-relay"
    /// How long a lease lasts unless renewed.
    public static let leaseTTL: Duration = .seconds(30)
    /// The producer's `message.timeout.ms`: every send of a round has ended by then.
    public static let deliveryTimeout: Duration = .seconds(10)
    /// Letters per round.
    static let roundSize = 200

    private let store: any DeadLetterStore
    private let producer: Producer
    private let reader: DeadLetterReader
    private let holder: String
    private let log: IngestLog
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

    /// A relay for `store`, producing with a client of `client`'s cluster, reporting to `health`.
    public init(store: any DeadLetterStore, client: KafkaClientConfig, log: IngestLog, health: HealthReporter,
                stallLimit: Duration = .seconds(120)) throws {
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
    var metricFamilies: [MetricFamily] {
        let s = snapshot
        return [
            .counter("hssk_dead_letters_delivered_total", "Dead letters this process's relay produced to their topic.", s.delivered),
            .counter("hssk_dead_letters_recovered_total", "Dead letters found on their topic after a relay stopped mid-round (not produced again).", s.recovered),
            .counter("hssk_dead_letters_failed_total", "Dead letters the cluster refused even in their minimal form (kept in the store, state failed).", s.failed),
            .gauge("hssk_dead_letters_undelivered", "Dead letters decided and not yet delivered (in the store, all processes).", Double(s.undelivered)),
        ]
    }

    /// Asks for a round now (a batch with dead letters just committed).
    public func wake() { woken.store(true, ordering: .releasing) }

    /// Runs rounds until `stopping` is set, then gives the lease up and closes its clients.
    func run(until stopping: StopFlag) async {
        var failures = 0
        while !stopping.isSet {
            do {
                let worked = try await round()
                failures = 0
                if !worked { await idle(stopping) }
            } catch {
                log.event("warning", "deadLetter.relayRetry", ["error": .text(String(describing: error)), "attempt": .int(Int64(failures))])
                failures += 1
                try? await Task.sleep(for: RetryPolicy(base: .milliseconds(200), cap: .seconds(10)).delay(attempt: failures))
            }
            await refreshHealth()
        }
        try? await store.releaseRelayLease(Self.leaseName, holder: holder)
        try? await reader.close()
        try? await producer.close(timeout: Self.deliveryTimeout)
    }

    /// One round under the lease; false when there was nothing to do (or another relay holds the lease).
    private func round() async throws -> Bool {
        guard let lease = try await store.acquireRelayLease(Self.leaseName, holder: holder, ttl: Self.leaseTTL) else { return false }
        var letters = try await store.undeliveredDeadLetters(limit: Self.roundSize)
        guard !letters.isEmpty else { return false }
        let unsure = letters.filter(\.sending)
        if !unsure.isEmpty {
            try await reconcile(unsure, marks: lease.marks)
            letters = try await store.undeliveredDeadLetters(limit: Self.roundSize)
            guard !letters.isEmpty else { return true }
        }
        var marks: [DeadLetterMark] = []
        for topic in Set(letters.map(\.topic)).sorted() {
            let ends = try await reader.ends(of: try DeadLetterTopic(topic))
            marks += ends.map { DeadLetterMark(topic: topic, partition: $0.key, offset: $0.value) }
        }
        try await store.markDeadLettersSending(letters.map(\.id), marks: marks, lease: Self.leaseName, holder: holder)
        let outcomes = await send(letters)
        var delivered: [DeadLetterDelivery] = []
        var undelivered = 0
        for (letter, outcome) in zip(letters, outcomes) {
            switch outcome {
            case .delivered(let report):
                delivered.append(DeadLetterDelivery(id: letter.id, partition: report.partition, offset: report.offset))
            case .refused(let reason):
                try await store.markDeadLetterFailed(letter.id, reason: reason)
                counts.withLock { $0.failed += 1 }
                log.event("error", "deadLetter.failed", ["id": .int(letter.id), "topic": .text(letter.topic), "reason": .text(reason),
                                                         "sourceTopic": .text(letter.source.topic),
                                                         "sourcePartition": .int(Int64(letter.source.partition)), "sourceOffset": .int(letter.source.offset)])
            case .undelivered:
                // Left `sending`: it may still have reached the topic; the next round looks for it first.
                undelivered += 1
            }
        }
        try await store.markDeadLettersDelivered(delivered)
        counts.withLock { $0.delivered += delivered.count }
        if undelivered > 0 {
            log.event("warning", "deadLetter.undelivered", ["count": .int(Int64(undelivered))])
            throw KafkaError.operation("dead-letter delivery", .messageTimedOut, detail: "\(undelivered) dead letters not acknowledged")
        }
        return true
    }

    private enum Outcome: Sendable {
        case delivered(DeliveryReport)
        case refused(String)
        case undelivered
    }

    /// Produces each letter (in its minimal form when refused as too large).
    private func send(_ letters: [StoredDeadLetter]) async -> [Outcome] {
        await withTaskGroup(of: (Int, Outcome).self) { group in
            for (index, letter) in letters.enumerated() {
                group.addTask { [producer] in
                    guard let record = DeadLetterCodec.decode(letter.letter) else {
                        return (index, .refused("the stored letter cannot be read (written by another hssk version?)"))
                    }
                    do {
                        return (index, .delivered(try await producer.send(record)))
                    } catch KafkaError.delivery(let code, _, _) where code == .messageSizeTooLarge || code == .invalidRecord {
                        do {
                            return (index, .delivered(try await producer.send(DeadLetterBuilder.minimal(record))))
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

    /// Looks for letters a relay left `sending` on their topics, from the marks taken before they
    /// were sent: found ones are delivered, the others go back to pending.
    private func reconcile(_ letters: [StoredDeadLetter], marks: [DeadLetterMark]) async throws {
        var found: [DeadLetterDelivery] = []
        for (topic, group) in Dictionary(grouping: letters, by: \.topic) {
            let wanted = Dictionary(group.map { (Source($0.source), $0.id) }, uniquingKeysWith: { a, _ in a })
            let starts = Dictionary(marks.filter { $0.topic == topic }.map { ($0.partition, $0.offset) }, uniquingKeysWith: min)
            try await reader.read(try DeadLetterTopic(topic), from: starts) { batch in
                for letter in batch {
                    guard let sourceTopic = letter.sourceTopic, let partition = letter.sourcePartition, let offset = letter.sourceOffset,
                          let id = wanted[Source(topic: sourceTopic, partition: partition, offset: offset)] else { continue }
                    found.append(DeadLetterDelivery(id: id, partition: letter.partition, offset: letter.offset))
                }
            }
        }
        try await store.markDeadLettersDelivered(found)
        let delivered = Set(found.map(\.id))
        try await store.markDeadLettersPending(letters.map(\.id).filter { !delivered.contains($0) })
        counts.withLock { $0.recovered += delivered.count }
        log.event("info", "deadLetter.reconciled", ["found": .int(Int64(delivered.count)), "resend": .int(Int64(letters.count - delivered.count))])
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
        guard let backlog = try? await store.deadLetterBacklog() else { return }
        counts.withLock { $0.undelivered = backlog.undelivered }
        if backlog.failed > 0 {
            health.set(.deadLettersStalled, detail: "\(backlog.failed) dead letters could not be produced and are kept in the store (state failed)")
        } else if let oldest = backlog.oldest, Date().timeIntervalSince(oldest) > Double(stallLimit.components.seconds) {
            health.set(.deadLettersStalled, detail: "\(backlog.undelivered) dead letters wait to be produced, the oldest since \(oldest.formatted(.iso8601))")
        } else {
            health.clear(.deadLettersStalled)
        }
    }
}
