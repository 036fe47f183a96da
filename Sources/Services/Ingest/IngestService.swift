import Foundation
import HealthModel
import Kafka
import RecordStore
import Synchronization

/// `hssk ingest`: the consumer group over the source topics (DESIGN §6). Per batch: authenticate →
/// decode → validate → link → one store transaction with the records, identity changes, outbox
/// messages and the next offsets. Dead letters are acknowledged by the cluster before the offsets
/// move past them; transient failures are retried with back-off and never skip a record.
public final class IngestService: ObservableService {
    /// `ingest`.
    public let name = "ingest"
    /// The configuration it runs with.
    public let configuration: IngestConfiguration
    /// What it has done so far.
    public let counters = IngestCounters()
    /// Readiness and liveness, for the admin endpoint.
    public let health = HealthReporter()
    private let lag = ConsumerLagGauge()

    private let store: any HealthRecordStore
    private let log: IngestLog
    private let triage: RecordTriage
    private let senders: SenderDirectory
    /// Scores with the defaults until `run` has read the store's match model.
    private let resolver: Mutex<PersonResolver>
    private let stopping = StopFlag()

    /// Creates the service over an open store.
    public init(configuration: IngestConfiguration, store: any HealthRecordStore, log: IngestLog = .standardError) {
        self.configuration = configuration
        self.store = store
        self.log = log
        triage = RecordTriage(kinds: Dictionary(configuration.topics.map { ($0.value, $0.key) }, uniquingKeysWith: { a, _ in a }))
        senders = SenderDirectory(store: store, ttl: configuration.accountCacheTTL)
        resolver = Mutex(PersonResolver(store: store))
    }

    /// Consumes until cancelled (SIGTERM/SIGINT through `ServiceRunner`), then finishes the batch in
    /// hand, commits, leaves the group and returns.
    public func run() async throws {
        let configuration = configuration
        var producerConfig = ProducerConfig(bootstrapServers: configuration.bootstrapServers)
        producerConfig.client.properties = configuration.kafkaProperties
        producerConfig.client.clientID = "hssk-ingest"
        let producer = try Producer(config: producerConfig)
        var consumerConfig = ConsumerConfig(bootstrapServers: configuration.bootstrapServers, groupID: configuration.group)
        consumerConfig.client.properties = configuration.kafkaProperties
        consumerConfig.client.clientID = "hssk-ingest"
        let store = store, group = configuration.group, log = log, retry = retry, health = health
        let consumer = try Consumer(config: consumerConfig, hooks: RebalanceHooks(
            startingOffsets: { partitions in
                // The store is the position (exactly once); a partition it has never seen starts at the
                // beginning, whatever Kafka's committed offsets say (they may belong to another store).
                let stored = try Self.waitOnThisThread {
                    try await retry.untilStoreAnswers("assignment") {
                        try await store.offsets(group: group, partitions: partitions.map { RecordStore.TopicPartition($0.topic, $0.partition) })
                    }
                }
                log.event("info", "partitions.assigned", ["count": .int(Int64(partitions.count))])
                health.clear(.notAssigned)
                return Dictionary(uniqueKeysWithValues: partitions.map {
                    ($0, stored[RecordStore.TopicPartition($0.topic, $0.partition)] ?? KafkaOffset.beginning)
                })
            },
            revoked: { partitions in log.event("info", "partitions.revoked", ["count": .int(Int64(partitions.count))]) }))
        let watchdog = Watchdog(limit: configuration.processingTimeout) {
            log.event("error", "processing.timeout", ["limitSeconds": .int(configuration.processingTimeout.components.seconds)])
            // A hung batch cannot be interrupted safely from here; the restart counts the attempt.
            _exit(70)
        }
        defer { watchdog.stop() }
        let loaded = try await retry.untilStoreAnswers("match model") { try await PersonResolver.loading(store: store, log: log) }
        resolver.withLock { $0 = loaded }
        try await consumer.subscribe(configuration.topics.values.sorted())
        lag.attach(consumer)
        health.started(consuming: true)
        log.event("info", "ingest.started", ["group": .text(group), "topics": .int(Int64(configuration.topics.count))])

        var failure: (any Error)?
        await withTaskCancellationHandler {
            do {
                try await consumeLoop(consumer, producer, watchdog)
            } catch is CancellationError {
            } catch {
                failure = error
            }
        } onCancel: { [stopping, health] in
            health.set(.stopping)
            stopping.set()
        }
        do { try await consumer.close() } catch { log.event("warning", "consumer.close", ["error": .text(String(describing: error))]) }
        do { try await producer.close() } catch { log.event("warning", "producer.close", ["error": .text(String(describing: error))]) }
        logSummary()
        if let failure { throw failure }
    }

    private func consumeLoop(_ consumer: Consumer, _ producer: Producer, _ watchdog: Watchdog) async throws {
        var pendingCommit: [Kafka.TopicPartition: Int64] = [:]
        var lastCommit = ContinuousClock.now
        var pending: Task<[Kafka.TopicPartition: Int64], any Error>?
        var inFlight: Set<Kafka.TopicPartition> = []
        do {
            var pollFailures = 0
            var lastSweep: ContinuousClock.Instant?
            while !stopping.isSet {
                if lastSweep.map({ ContinuousClock.now - $0 > .seconds(86_400) }) ?? true {
                    await lockInactiveAccounts()
                    lastSweep = ContinuousClock.now
                }
                let batch: [ConsumerRecord]
                do {
                    batch = try await consumer.poll(maxRecords: configuration.maxBatchRecords, timeout: configuration.pollTimeout).records
                    pollFailures = 0
                    health.clear(.kafkaUnavailable)
                    health.assignment(isEmpty: consumer.assignment.isEmpty)
                    health.beat()
                } catch let error as KafkaError {
                    if case .fatal = error { throw error }
                    if case .assignmentHookFailed = error { throw error }
                    health.set(.kafkaUnavailable)
                    log.event("warning", "poll.failed", ["error": .text(String(describing: error))])
                    try await retry.backOff(&pollFailures)
                    continue
                }
                if !batch.isEmpty {
                    let started = ContinuousClock.now
                    counters.update { $0.consumed += batch.count }
                    // Two stages overlap: while the store applies batch N, batch N+1 is authenticated, validated
                    // and dead-lettered. Linking and applying stay in order (N+1 links against N's persons).
                    // Unstructured tasks: a batch is finished (or abandoned before commit by `stopping`), never cancelled half-way.
                    let busy = inFlight
                    let plan = try await Task { try await self.plan(batch, busy: busy, producer: producer, watchdog: watchdog) }.value
                    if let previous = pending { pendingCommit.merge(try await previous.value) { max($0, $1) } }
                    pending = nil
                    inFlight = []
                    switch plan {
                    case .ready(let prepared):
                        inFlight = Set(batch.map(\.topicPartition))
                        pending = Task {
                            let next = try await self.commit(prepared, watchdog: watchdog)
                            self.counters.observeBatch(since: started)
                            return next
                        }
                    case .isolate(let attempts):
                        let next = try await Task { try await self.processIsolating(batch, attempts: attempts, producer: producer, watchdog: watchdog) }.value
                        counters.observeBatch(since: started)
                        pendingCommit.merge(next) { max($0, $1) }
                    }
                } else if let previous = pending {
                    pendingCommit.merge(try await previous.value) { max($0, $1) }
                    pending = nil
                    inFlight = []
                }
                // Kafka's committed offsets only feed lag monitoring: commit at most once a second.
                if !pendingCommit.isEmpty, batch.isEmpty || ContinuousClock.now - lastCommit > .seconds(1) {
                    do {
                        try await consumer.commit(pendingCommit.filter { consumer.assignment.contains($0.key) })
                    } catch {
                        log.event("warning", "commit.failed", ["error": .text(String(describing: error))])
                    }
                    pendingCommit = [:]
                    lastCommit = ContinuousClock.now
                }
            }
        } catch {
            // Let the store stage in flight end before the service closes its clients.
            _ = try? await pending?.value
            throw error
        }
        // Stopping: the batch in the store stage is finished, then Kafka gets the final positions.
        if let previous = pending { pendingCommit.merge(try await previous.value) { max($0, $1) } }
        if !pendingCommit.isEmpty {
            try? await consumer.commit(pendingCommit.filter { consumer.assignment.contains($0.key) })
        }
    }

    /// The daily sweep of the Hà Nội regulation: accounts unused for three months are locked.
    private func lockInactiveAccounts() async {
        let cutoff = Date().addingTimeInterval(-Double(configuration.accountInactivityLimit.components.seconds))
        do {
            let locked = try await store.lockInactiveAccounts(unusedSince: cutoff, actor: "ingest")
            if !locked.isEmpty { log.event("warning", "accounts.lockedInactive", ["count": .int(Int64(locked.count))]) }
        } catch {
            // Not fatal: the sweep runs again tomorrow, and `hssk accounts lock-inactive` does the same.
            log.event("warning", "accounts.sweepFailed", ["error": .text(String(describing: error))])
        }
    }

    // MARK: - One batch

    /// What to do with a polled batch.
    private enum Plan: Sendable {
        /// Triaged and dead-lettered: ready for linking and the store.
        case ready(PreparedUnit)
        /// Some partition keeps failing from the same offset: go record by record (after the store stage in flight).
        case isolate([RecordStore.TopicPartition: Int])
    }

    /// Counts the attempt (for partitions not still in the store stage: a crash there is counted
    /// by the restart, whose first batch has nothing in flight) and runs the first stage.
    private func plan(_ batch: [ConsumerRecord], busy: Set<Kafka.TopicPartition>, producer: Producer, watchdog: Watchdog) async throws -> Plan {
        var starts: [RecordStore.TopicPartition: Int64] = [:]
        for record in batch where !busy.contains(record.topicPartition) && starts[storePartition(record.topicPartition)] == nil {
            starts[storePartition(record.topicPartition)] = record.offset
        }
        let firsts = starts
        let attempts = firsts.isEmpty ? [:]
            : try await retrying("attempts") { try await self.store.recordAttempts(group: self.configuration.group, starts: firsts) }
        if attempts.values.contains(where: { $0 > configuration.maxAttempts }) { return .isolate(attempts) }
        return .ready(try await prepare(batch, poison: false, producer, watchdog))
    }

    /// Processes a batch in which some partition keeps failing from the same offset: the other
    /// partitions as one unit, that partition one record at a time, so the record that fails is
    /// found; failing alone that often, it is a poison pill.
    private func processIsolating(_ batch: [ConsumerRecord], attempts: [RecordStore.TopicPartition: Int], producer: Producer,
                                  watchdog: Watchdog) async throws -> [Kafka.TopicPartition: Int64] {
        let limit = configuration.maxAttempts
        let isolated = { (record: ConsumerRecord) in (attempts[self.storePartition(record.topicPartition)] ?? 1) > limit }
        var next: [Kafka.TopicPartition: Int64] = [:]
        let normal = batch.filter { !isolated($0) }
        if !normal.isEmpty { next.merge(try await commit(try await prepare(normal, poison: false, producer, watchdog), watchdog: watchdog)) { max($0, $1) } }
        var seen: Set<Kafka.TopicPartition> = []
        for record in batch where isolated(record) {
            let partition = record.topicPartition
            let count: Int
            if seen.insert(partition).inserted {
                count = attempts[storePartition(partition)] ?? 1
                log.event("warning", "partition.isolated", ["partition": .text(partition.description), "offset": .int(record.offset),
                                                            "attempts": .int(Int64(count))])
            } else {
                count = try await retrying("attempts") {
                    try await self.store.recordAttempts(group: self.configuration.group, starts: [self.storePartition(partition): record.offset])
                }[storePartition(partition)] ?? 1
            }
            next.merge(try await commit(try await prepare([record], poison: count > 2 * limit, producer, watchdog), watchdog: watchdog)) { max($0, $1) }
        }
        return next
    }

    /// A unit after the first stage: accepted records to link, dead letters already acknowledged.
    private struct PreparedUnit: Sendable {
        var accepted: [AcceptedRecord]
        var offsets: [ConsumerOffset]
        var next: [Kafka.TopicPartition: Int64]
        var codes: [String: Int]
    }

    /// First stage of a unit (a batch, or one isolated record): triage, then the dead letters are sent
    /// and acknowledged (before the offsets can move past them).
    private func prepare(_ records: [ConsumerRecord], poison: Bool, _ producer: Producer, _ watchdog: Watchdog) async throws -> PreparedUnit {
        let names = Set(records.compactMap { $0.headerText(EnvelopeHeaders.source) })
        let accounts = try await retrying("accounts") { try await self.senders.senders(named: names) }
        var accepted: [AcceptedRecord] = []
        var deadLetters: [ProducerRecord] = []
        var codes: [String: Int] = [:]
        let verdicts = try await watchdog.guarding { await triage(records, poison: poison, accounts: accounts) }
        for (record, verdict) in zip(records, verdicts) {
            switch verdict {
            case .accepted(let record):
                accepted.append(record)
            case .rejected(let rejection):
                deadLetters.append(DeadLetters.record(for: record, rejection))
                codes[rejection.code, default: 0] += 1
                log.event("warning", "record.deadLettered", ["topic": .text(record.topic), "partition": .int(Int64(record.partition)),
                                                             "offset": .int(record.offset), "code": .text(rejection.code)])
            }
        }
        var offsets: [ConsumerOffset] = []
        var next: [Kafka.TopicPartition: Int64] = [:]
        for record in records {
            let partition = record.topicPartition
            if let index = offsets.firstIndex(where: { $0.partition == storePartition(partition) }) {
                offsets[index].nextOffset = max(offsets[index].nextOffset, record.offset + 1)
            } else {
                offsets.append(ConsumerOffset(group: configuration.group, partition: storePartition(partition), nextOffset: record.offset + 1,
                                              processedFrom: record.offset))
            }
            next[partition] = max(next[partition] ?? 0, record.offset + 1)
        }
        try await retry.deliver(deadLetters, with: producer)
        return PreparedUnit(accepted: accepted, offsets: offsets, next: next, codes: codes)
    }

    /// Second stage: link and apply; returns the next offsets now stored (none when fenced).
    private func commit(_ unit: PreparedUnit, watchdog: Watchdog) async throws -> [Kafka.TopicPartition: Int64] {
        guard try await storeUnit(unit.accepted, offsets: unit.offsets, watchdog: watchdog) else { return [:] }
        counters.update { counters in
            for (code, count) in unit.codes { counters.deadLettered[code, default: 0] += count }
        }
        let sendersSeen = Set(unit.accepted.map(\.sender))
        if !sendersSeen.isEmpty { try await retrying("touch") { try await self.senders.touch(sendersSeen) } }
        return unit.next
    }

    /// Authenticates, decodes and validates on every core: records are independent until linking.
    private func triage(_ records: [ConsumerRecord], poison: Bool, accounts: [String: SenderDirectory.Sender?]) async -> [RecordTriage.Verdict] {
        let triage = triage
        let workers = records.count < 64 ? 1 : max(1, ProcessInfo.processInfo.activeProcessorCount)
        let chunk = (records.count + workers - 1) / workers
        return await withTaskGroup(of: (Int, [RecordTriage.Verdict]).self) { group in
            for start in stride(from: 0, to: records.count, by: max(chunk, 1)) {
                let slice = records[start..<min(start + chunk, records.count)]
                group.addTask {
                    (start, slice.map { record in
                        if poison { return .rejected(Self.poisonPill(record)) }
                        FailPoints.check(record)
                        return triage.triage(record, senders: accounts)
                    })
                }
            }
            var parts: [(Int, [RecordTriage.Verdict])] = []
            for await part in group { parts.append(part) }
            return parts.sorted { $0.0 < $1.0 }.flatMap(\.1)
        }
    }

    /// Links and applies; false when another consumer had already moved past these records.
    private func storeUnit(_ accepted: [AcceptedRecord], offsets: [ConsumerOffset], watchdog: Watchdog) async throws -> Bool {
        var failures = 0
        var conflicts = 0
        let resolver = resolver.withLock { $0 }
        while true {
            do {
                try await watchdog.guarding {
                    let resolution = try await resolver.resolve(accepted)
                    let result = try await store.apply(batch(accepted, resolution, offsets))
                    health.clear(.storeUnavailable)
                    counters.update {
                        $0.stored += result.records.count - result.duplicates
                        $0.duplicates += result.duplicates
                        $0.personsCreated += result.newPersons.count
                        $0.linked += resolution.linked
                        $0.reviews += resolution.reviews
                    }
                }
                return true
            } catch StoreError.offsetMoved(let detail) {
                log.event("warning", "batch.fenced", ["detail": .text(detail)])
                return false
            } catch StoreError.constraint(let detail) where conflicts < 5 {
                // Another ingest process created the same person meanwhile: link again, now finding it.
                conflicts += 1
                log.event("info", "identity.race", ["detail": .text(detail.prefix(80).description)])
            } catch let error as StoreError where error.isTransient {
                health.set(.storeUnavailable)
                log.event("warning", "store.unavailable", ["error": .text(String(describing: error)), "attempt": .int(Int64(failures))])
                try await retry.backOff(&failures)
                // The commit may have succeeded before the connection dropped: never apply twice.
                if let stored = try? await store.offsets(group: configuration.group, partitions: offsets.map(\.partition)),
                   offsets.allSatisfy({ (stored[$0.partition] ?? -1) >= $0.nextOffset }) {
                    return true
                }
            }
        }
    }

    private func batch(_ accepted: [AcceptedRecord], _ resolution: PersonResolver.Resolution, _ offsets: [ConsumerOffset]) -> StoreBatch {
        var records: [IncomingRecord] = []
        var outbox: [OutboxMessage] = []
        var announced = Set<PersonRef>(), insured = Set<PersonRef>()
        for (record, person) in zip(accepted, resolution.persons) {
            records.append(IncomingRecord(record: record.record, original: record.original, coordinates: record.coordinates,
                                          sender: record.sender, person: person))
            guard let person else { continue }
            let change = PersonChange(reason: .record, topic: record.coordinates.topic, partition: record.coordinates.partition,
                                      offset: record.coordinates.offset)
            if announced.insert(person).inserted { outbox.append(change.message(for: person)) }
            // Insurance sync decides again for persons a record may have given a new value or card.
            if SupplementPlanner.concerns(record.record), insured.insert(person).inserted {
                outbox.append(change.message(kind: OutboxKinds.insuranceSupplement, for: person))
            }
        }
        return StoreBatch(records: records, identity: resolution.identity, outbox: outbox, offsets: offsets, actor: "ingest")
    }

    /// Retry of transient failures, counted in `retries`.
    private var retry: TransientRetry {
        let counters = counters
        return TransientRetry(policy: configuration.retry, stopping: stopping, log: log, health: health,
                              onRetry: { counters.update { $0.retries += 1 } })
    }

    // MARK: - Metrics

    /// Counters, the batch latency histogram and the sampled lag (names in docs/observability.md).
    public func metricFamilies() -> [MetricFamily] {
        let s = counters.snapshot
        let buckets = Dictionary(s.latencyBuckets.map { (bound, count) in
            (bound == Int.max ? Double.infinity : Double(bound) / 1000, count)
        }, uniquingKeysWith: +)
        return [
            .consumed(s.consumed),
            .counter("hssk_stored_total", "Records stored (new records or newer versions).", s.stored),
            .counter("hssk_duplicates_total", "Records already stored with the same content (replays).", s.duplicates),
            .deadLettered(s.deadLettered),
            .counter("hssk_persons_created_total", "Persons created in the person index.", s.personsCreated),
            .counter("hssk_linked_total", "Records linked to a known person.", s.linked),
            .counter("hssk_reviews_total", "Review tasks opened by linking.", s.reviews),
            .retries(s.retries),
            .histogram("hssk_batch_seconds", "Batch latency from poll to commit, in seconds.", buckets: buckets,
                       bounds: IngestCounters.latencyBoundsMs.map { $0 == Int.max ? .infinity : Double($0) / 1000 }, sum: s.latencySumMs / 1000),
            lag.family,
        ]
    }

    /// Samples the consumer lag.
    public func refreshGauges() async { await lag.refresh() }

    private func retrying<T: Sendable>(_ what: String, _ body: @Sendable () async throws -> T) async throws -> T {
        try await retry.untilStoreAnswers(what, body)
    }

    private func storePartition(_ partition: Kafka.TopicPartition) -> RecordStore.TopicPartition {
        RecordStore.TopicPartition(partition.topic, partition.partition)
    }

    private static func poisonPill(_ record: ConsumerRecord) -> Rejection {
        Rejection(path: "$", code: "poisonPill",
                  en: "Processing this record failed repeatedly (crash or timeout); it was set aside so the others can go on.",
                  vi: "Xử lý bản ghi này thất bại nhiều lần (lỗi hoặc quá thời gian); bản ghi được tách ra để các bản ghi khác tiếp tục.")
    }

    private func logSummary() {
        let s = counters.snapshot
        log.event("info", "ingest.stopped", [
            "consumed": .int(Int64(s.consumed)), "stored": .int(Int64(s.stored)), "duplicates": .int(Int64(s.duplicates)),
            "deadLettered": .object(s.deadLettered.mapValues { .int(Int64($0)) }), "personsCreated": .int(Int64(s.personsCreated)),
            "linked": .int(Int64(s.linked)), "reviews": .int(Int64(s.reviews)), "retries": .int(Int64(s.retries)),
            "batches": .int(Int64(s.batches)),
        ])
    }

    /// Runs async work from a thread that may block (the consumer's, inside a rebalance callback).
    static func waitOnThisThread<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
        let done = DispatchSemaphore(value: 0)
        let result = Mutex<Result<T, any Error>?>(nil)
        Task {
            let value: Result<T, any Error>
            do { value = .success(try await body()) } catch { value = .failure(error) }
            result.withLock { $0 = value }
            done.signal()
        }
        done.wait()
        return try result.withLock { $0! }.get()
    }
}
