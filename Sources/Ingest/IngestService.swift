import Foundation
import HealthModel
import Kafka
import PersonIndex
import RecordStore
import ServiceRuntime
import Synchronization

/// `hssk ingest`: the consumer group over the source topics (DESIGN §6). Per batch: authenticate →
/// decode → validate → link → one store transaction with the records, identity changes, outbox
/// messages, dead letters and the offsets the batch covers — applied only where the store's
/// position is exactly where the batch starts, so offsets never skip. Dead letters are produced by
/// the relay after the commit, exactly once; transient failures are retried with back-off and never
/// skip a record.
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

    private let store: any BatchStore & PersonIndexStore & AccountStore
    private let log: EventLog
    private let triage: RecordTriage
    private let senders: SenderDirectory
    /// Scores with the defaults until `run` has read the store's match model.
    private let resolver: Mutex<PersonResolver>
    private let stopping = StopFlag()
    private let watch: PartitionWatch
    private let inFlight = InFlightPartitions()
    /// Client errors polls reported since the last watch (names only).
    private let clusterErrors = Mutex<Set<String>>([])
    private let relay = Mutex<DeadLetterRelay?>(nil)

    /// Creates the service over an open store.
    public init(configuration: IngestConfiguration, store: any BatchStore & PersonIndexStore & AccountStore, log: EventLog = .standardError) {
        self.configuration = configuration
        self.store = store
        self.log = log
        triage = RecordTriage(kinds: Dictionary(configuration.topics.map { ($0.value, $0.key) }, uniquingKeysWith: { a, _ in a }))
        senders = SenderDirectory(store: store, ttl: configuration.accountCacheTTL)
        resolver = Mutex(PersonResolver(store: store))
        watch = PartitionWatch(stallLimit: configuration.stallLimit)
    }

    /// Consumes until cancelled (SIGTERM/SIGINT through `ServiceRunner`), then finishes the batch in
    /// hand, commits, delivers its dead letters, leaves the group and returns.
    public func run() async throws {
        let configuration = configuration
        var client = KafkaClientConfig(bootstrapServers: configuration.bootstrapServers)
        client.properties = configuration.kafkaProperties
        client.clientID = "hssk-ingest"
        var consumerConfig = ConsumerConfig(bootstrapServers: configuration.bootstrapServers, groupID: configuration.group)
        consumerConfig.client = client
        // A position whose records expired is reported and the partition stopped, never skipped.
        consumerConfig.autoOffsetReset = .error
        let store = store, group = configuration.group, log = log, retry = retry, health = health, watch = watch, inFlight = inFlight
        let consumer = try Consumer(config: consumerConfig, hooks: RebalanceHooks(
            startingOffsets: { partitions in
                // The store is the position (exactly once); a partition it has never seen starts at the
                // beginning, whatever Kafka's committed offsets say (they may belong to another store).
                let stored = try waitOnThisThread {
                    try await retry.untilStoreAnswers("assignment") {
                        try await store.offsets(group: group, partitions: partitions.map { RecordStore.TopicPartition($0.topic, $0.partition) })
                    }
                }
                log.event(.info, "partitions.assigned", ["count": .int(Int64(partitions.count))])
                health.clear(.notAssigned)
                return Dictionary(uniqueKeysWithValues: partitions.map { partition in
                    let offset = stored[RecordStore.TopicPartition(partition.topic, partition.partition)]
                    if let offset { watch.stored(partition, at: offset) }
                    return (partition, offset ?? KafkaOffset.beginning)
                })
            },
            revoked: { partitions in
                // The new owner starts from the store's positions: let the batch in the store stage land
                // first (bounded; if it does not, the store's fence still keeps it from applying twice).
                let clear = inFlight.waitUntilClear(partitions, timeout: configuration.revokeWait)
                log.event(clear ? .info : .warning, "partitions.revoked", ["count": .int(Int64(partitions.count)),
                                                                              "inFlightAbandoned": .int(clear ? 0 : 1)])
            }))
        let relay = try DeadLetterRelay(store: store, group: group, client: client, log: log, health: health)
        self.relay.withLock { $0 = relay }
        let relayStop = StopFlag()
        let relayTask = Task { await relay.run(until: relayStop) }
        let watchdog = Watchdog(limit: configuration.processingTimeout) {
            log.event(.error, "processing.timeout", ["limitSeconds": .int(configuration.processingTimeout.components.seconds)])
            // A hung batch cannot be interrupted safely from here; the restart counts the attempt.
            _exit(70)
        }
        defer { watchdog.stop() }
        var failure: (any Error)?
        do {
            let loaded = try await retry.untilStoreAnswers("match model") { try await PersonResolver.loading(store: store, log: log) }
            resolver.withLock { $0 = loaded }
            try await consumer.subscribe(configuration.topics.values.sorted())
            lag.attach(consumer)
            health.started(consuming: true)
            log.event(.info, "ingest.started", ["group": .text(group), "topics": .int(Int64(configuration.topics.count))])
            await withTaskCancellationHandler {
                do {
                    try await consumeLoop(consumer, relay, watchdog)
                } catch is CancellationError {
                } catch {
                    failure = error
                }
            } onCancel: { [stopping, health] in
                health.set(.stopping)
                stopping.set()
            }
        } catch is CancellationError {
        } catch {
            failure = error
        }
        do { try await consumer.close() } catch { log.event(.warning, "consumer.close", ["error": .text(String(describing: error))]) }
        // The last batches' dead letters go out before the process ends (when this relay holds the lease).
        await relay.flush()
        relayStop.set()
        await relayTask.value
        logSummary()
        if let failure { throw failure }
    }

    /// The batch in the store stage: its unit, the task applying it and the signal that it ended.
    private struct Stage: Sendable {
        var unit: IngestUnit
        var started: ContinuousClock.Instant
        var task: Task<StageOutcome, any Error>
        var done: Completion
    }

    /// How a store stage ended.
    private enum StageOutcome: Sendable {
        /// Applied: the partitions' stored positions are the unit's ends.
        case applied
        /// The store's positions were not where the unit starts (another member moved them after a
        /// rebalance): nothing was applied; the partitions are read again from the store's positions.
        case refused
    }

    private func consumeLoop(_ consumer: Consumer, _ relay: DeadLetterRelay, _ watchdog: Watchdog) async throws {
        var pendingCommit: [Kafka.TopicPartition: Int64] = [:]
        var lastCommit = ContinuousClock.now
        var stage: Stage?
        var pollFailures = 0
        var lastSweep: ContinuousClock.Instant?
        var lastWatch = ContinuousClock.now
        do {
            while !stopping.isSet {
                if lastSweep.map({ ContinuousClock.now - $0 > .seconds(86_400) }) ?? true {
                    await lockInactiveAccounts()
                    lastSweep = ContinuousClock.now
                }
                if ContinuousClock.now - lastWatch > configuration.watchInterval {
                    try await watchPartitions(consumer)
                    lastWatch = ContinuousClock.now
                }
                let batch: ConsumerBatch
                do {
                    batch = try await consumer.poll(maxRecords: configuration.maxBatchRecords, timeout: configuration.pollTimeout)
                    pollFailures = 0
                    health.assignment(isEmpty: consumer.assignment.isEmpty)
                    health.beat()
                } catch let error as KafkaError {
                    if case .fatal = error { throw error }
                    if case .assignmentHookFailed = error { throw error }
                    health.set(.kafkaUnavailable, detail: error.description)
                    log.event(.warning, "poll.failed", ["error": .text(String(describing: error))])
                    try await retry.backOff(&pollFailures)
                    continue
                }
                try await observe(batch, consumer)
                guard !batch.isEmpty else {
                    if let current = stage {
                        try await finish(current, consumer, &pendingCommit)
                        stage = nil
                    }
                    commitToKafka(consumer, &pendingCommit, &lastCommit, force: true)
                    continue
                }
                let started = ContinuousClock.now
                counters.update { $0.consumed += batch.count }
                // Two stages overlap: while the store applies batch N, batch N+1 is authenticated and
                // validated. Linking and applying stay in order (N+1 links against N's persons).
                // Unstructured tasks: a batch is finished (or abandoned before commit by `stopping`), never cancelled half-way.
                let busy = stage?.unit.partitions ?? []
                let plan = try await Task { try await self.plan(batch, busy: busy, watchdog: watchdog) }.value
                if let current = stage {
                    try await finish(current, consumer, &pendingCommit)
                    stage = nil
                }
                // Partitions repositioned meanwhile (a refused batch sought back, a rebalance) are read
                // again from their new position: their records in this batch must not be applied.
                let stale = consumer.stalePartitions(batch.ranges)
                switch plan {
                case .ready(let unit):
                    let unit = unit.excluding(stale)
                    if !unit.isEmpty { stage = start(unit, started: started, watchdog: watchdog) }
                case .isolate(let attempts):
                    try await processIsolating(batch, excluding: stale, attempts: attempts, consumer, &pendingCommit, watchdog: watchdog)
                    counters.observeBatch(since: started)
                }
                commitToKafka(consumer, &pendingCommit, &lastCommit, force: false)
            }
        } catch {
            // Let the store stage in flight end before the service closes its clients.
            _ = try? await stage?.task.value
            throw error
        }
        // Stopping: the batch in the store stage is finished, then Kafka gets the final positions.
        if let current = stage { try await finish(current, consumer, &pendingCommit) }
        commitToKafka(consumer, &pendingCommit, &lastCommit, force: true)
    }

    /// Starts the store stage of `unit`; its partitions count as in flight until it ends.
    private func start(_ unit: IngestUnit, started: ContinuousClock.Instant, watchdog: Watchdog) -> Stage {
        let done = Completion()
        let end = inFlight.begin(unit.partitions)
        let task = Task {
            defer {
                end()
                done.complete()
            }
            let outcome = try await self.apply(unit, watchdog: watchdog)
            if case .applied = outcome { self.counters.observeBatch(since: started) }
            return outcome
        }
        return Stage(unit: unit, started: started, task: task, done: done)
    }

    /// Waits for the store stage, polling with every partition paused meanwhile if it takes longer
    /// than `keepAliveAfter` (the group keeps this member through a long store outage); then moves
    /// the consumer back to the store's positions if the stage was refused.
    private func finish(_ stage: Stage, _ consumer: Consumer, _ pendingCommit: inout [Kafka.TopicPartition: Int64]) async throws {
        if !(await stage.done.wait(upTo: configuration.keepAliveAfter)) {
            var paused: Set<Kafka.TopicPartition> = []
            var lastWatch = ContinuousClock.now
            log.event(.warning, "stage.slow", ["waitingSeconds": .int(configuration.keepAliveAfter.components.seconds)])
            while !(await stage.done.wait(upTo: .milliseconds(10))) {
                if ContinuousClock.now - lastWatch > configuration.watchInterval {
                    // The store is busy with the stage: only what Kafka can tell (stalls, the cluster).
                    try await watchPartitions(consumer, storeAvailable: false)
                    lastWatch = ContinuousClock.now
                }
                let unpaused = consumer.assignment.subtracting(paused)
                if !unpaused.isEmpty {
                    try await consumer.pause(Array(unpaused))
                    paused.formUnion(unpaused)
                }
                let extra = try await consumer.poll(maxRecords: 100, timeout: .milliseconds(500))
                health.beat()
                try await observe(extra, consumer)
                // Fetched before the pause took effect: read again later, from the same position.
                if !extra.isEmpty { try await consumer.rewind(extra) }
            }
            let gaps = watch.gaps
            let resume = paused.intersection(consumer.assignment).filter { gaps[$0] == nil }
            if !resume.isEmpty { try await consumer.resume(Array(resume)) }
        }
        switch try await stage.task.value {
        case .applied:
            pendingCommit.merge(stage.unit.next) { max($0, $1) }
            for (partition, next) in stage.unit.next { watch.stored(partition, at: next) }
            if !stage.unit.deadLetters.isEmpty { relay.withLock { $0 }?.wake() }
        case .refused:
            try await seekToStore(stage.unit.partitions, consumer)
        }
    }

    /// Moves the consumer to the store's positions of `partitions` (those still assigned).
    private func seekToStore(_ partitions: Set<Kafka.TopicPartition>, _ consumer: Consumer) async throws {
        let assigned = partitions.intersection(consumer.assignment)
        guard !assigned.isEmpty else { return }
        let stored = try await retrying("positions") {
            try await self.store.offsets(group: self.configuration.group, partitions: assigned.map { RecordStore.TopicPartition($0.topic, $0.partition) })
        }
        var positions: [Kafka.TopicPartition: Int64] = [:]
        for partition in assigned {
            if let offset = stored[RecordStore.TopicPartition(partition.topic, partition.partition)] {
                positions[partition] = offset
                watch.stored(partition, at: offset)
            }
        }
        log.event(.warning, "batch.refused", ["partitions": .int(Int64(assigned.count))])
        try await consumer.seek(positions)
        // A partition the store has no position for was read from its beginning: read it from there again.
        let unstored = assigned.filter { positions[$0] == nil }
        if !unstored.isEmpty { try await consumer.seek(Dictionary(uniqueKeysWithValues: unstored.map { ($0, KafkaOffset.beginning) })) }
    }

    /// Kafka's committed offsets only feed lag monitoring: at most once a second (or when idle).
    private func commitToKafka(_ consumer: Consumer, _ pendingCommit: inout [Kafka.TopicPartition: Int64], _ lastCommit: inout ContinuousClock.Instant,
                               force: Bool) {
        guard !pendingCommit.isEmpty, force || ContinuousClock.now - lastCommit > .seconds(1) else { return }
        let offsets = pendingCommit.filter { consumer.assignment.contains($0.key) }
        pendingCommit = [:]
        lastCommit = ContinuousClock.now
        let log = log
        Task {
            do { try await consumer.commit(offsets) } catch { log.event(.warning, "commit.failed", ["error": .text(String(describing: error))]) }
        }
    }

    /// What a poll reported besides records: positions out of range (retention gaps), the cluster down.
    private func observe(_ batch: ConsumerBatch, _ consumer: Consumer) async throws {
        if batch.clusterErrors.contains(.allBrokersDown) {
            health.set(.kafkaUnavailable, detail: "no broker of \(configuration.bootstrapServers) can be reached")
        } else if !batch.isEmpty {
            health.clear(.kafkaUnavailable)
        }
        // librdkafka reconnects by itself and does not always say when every broker is down: the
        // next watch asks the cluster whether it answers.
        if !batch.clusterErrors.isEmpty { clusterErrors.withLock { $0.formUnion(batch.clusterErrors.map(\.name)) } }
        try await watch.observeOutOfRange(batch.outOfRange, consumer: consumer, log: log, health: health, storedPosition: storedPosition)
    }

    /// Every `watchInterval`: health for stalled partitions and the cluster, and operators' decisions
    /// on retention gaps (a partition resumes once the store's position moved past its gap).
    private func watchPartitions(_ consumer: Consumer, storeAvailable: Bool = true) async throws {
        let assigned = consumer.assignment
        watch.retain(assigned)
        if storeAvailable { try await watch.resumeDecided(consumer: consumer, log: log, health: health, storedPosition: storedPosition) }
        let highs = try await consumer.cachedWatermarks().mapValues(\.high)
        let stalls = watch.stalls(highWatermarks: highs)
        if stalls.isEmpty { health.clear(.partitionStalled) } else { health.set(.partitionStalled, detail: stalls.joined(separator: "; ")) }
        let errors = clusterErrors.withLock { errors -> Set<String> in
            defer { errors.removeAll() }
            return errors
        }
        if !errors.isEmpty || health.status().reasons.contains(HealthCondition.kafkaUnavailable.rawValue) {
            if try await consumer.probe() {
                health.clear(.kafkaUnavailable)
            } else {
                health.set(.kafkaUnavailable, detail: "the cluster (\(configuration.bootstrapServers)) does not answer; client errors: \(errors.sorted().joined(separator: ", "))")
            }
        }
    }

    /// The daily sweep of the Hà Nội regulation: accounts unused for three months are locked.
    private func lockInactiveAccounts() async {
        let cutoff = Date().addingTimeInterval(-Double(configuration.accountInactivityLimit.components.seconds))
        do {
            let locked = try await store.lockInactiveAccounts(unusedSince: cutoff, actor: "ingest")
            if !locked.isEmpty { log.event(.warning, "accounts.lockedInactive", ["count": .int(Int64(locked.count))]) }
        } catch {
            // Not fatal: the sweep runs again tomorrow, and `hssk accounts lock-inactive` does the same.
            log.event(.warning, "accounts.sweepFailed", ["error": .text(String(describing: error))])
        }
    }

    // MARK: - One batch

    /// What to do with a polled batch.
    private enum Plan: Sendable {
        /// Triaged: ready for linking and the store.
        case ready(IngestUnit)
        /// Some partition keeps failing from the same offset: go record by record (after the store stage in flight).
        case isolate([RecordStore.TopicPartition: Int])
    }

    /// Counts the attempt (for partitions not still in the store stage: a crash there is counted
    /// by the restart, whose first batch has nothing in flight) and runs the first stage.
    private func plan(_ batch: ConsumerBatch, busy: Set<Kafka.TopicPartition>, watchdog: Watchdog) async throws -> Plan {
        let starts = Dictionary(uniqueKeysWithValues: batch.ranges.filter { !busy.contains($0.key) }.map { (storePartition($0.key), $0.value.from) })
        let attempts = starts.isEmpty ? [:]
            : try await retrying("attempts") { try await self.store.recordAttempts(group: self.configuration.group, starts: starts) }
        if attempts.values.contains(where: { $0 > configuration.maxAttempts }) { return .isolate(attempts) }
        return .ready(try await prepare(batch.records, ranges: batch.ranges, poison: false, watchdog))
    }

    /// Processes a batch in which some partition keeps failing from the same offset: the other
    /// partitions as one unit, that partition one record at a time, so the record that fails is
    /// found; failing alone that often, it is a poison pill.
    private func processIsolating(_ batch: ConsumerBatch, excluding stale: Set<Kafka.TopicPartition>, attempts: [RecordStore.TopicPartition: Int],
                                  _ consumer: Consumer, _ pendingCommit: inout [Kafka.TopicPartition: Int64], watchdog: Watchdog) async throws {
        let limit = configuration.maxAttempts
        let isolated = Set(batch.ranges.keys.filter { (attempts[storePartition($0)] ?? 1) > limit })
        let ranges = batch.ranges.filter { !stale.contains($0.key) }
        var logged: Set<Kafka.TopicPartition> = []
        for (records, unitRanges) in IngestUnit.plan(batch.records, ranges: ranges, isolating: isolated) {
            // A refused unit moved the consumer back: what follows on those partitions is read again.
            let unitStale = consumer.stalePartitions(unitRanges)
            guard unitStale.isEmpty else { continue }
            var poison = false
            if let partition = unitRanges.keys.first, isolated.contains(partition), let record = records.first {
                if logged.insert(partition).inserted {
                    log.event(.warning, "partition.isolated", ["partition": .text(partition.description), "offset": .int(record.offset),
                                                                "attempts": .int(Int64(attempts[storePartition(partition)] ?? 1))])
                }
                // Counted apart from the batch attempts, and only when this record is tried alone: a
                // crash on another partition's record then never adds to it, so an innocent record
                // is not taken for a poison pill because it shared batches with one.
                let from = unitRanges[partition]!.from
                let count = try await retrying("attempts") {
                    try await self.store.recordAttempts(group: self.isolatedAttemptsGroup, starts: [self.storePartition(partition): from])
                }[storePartition(partition)] ?? 1
                poison = count > limit
            }
            let unit = try await Task { try await self.prepare(records, ranges: unitRanges, poison: poison, watchdog) }.value
            let stage = start(unit, started: .now, watchdog: watchdog)
            try await finish(stage, consumer, &pendingCommit)
        }
    }

    /// Where attempts of records tried alone are counted: apart from the group's batch attempts.
    private var isolatedAttemptsGroup: String { configuration.group + "#alone" }

    /// First stage of a unit (a batch, or one isolated record): triage on every core; the rejected
    /// records' dead letters are built to be written with the unit.
    private func prepare(_ records: [ConsumerRecord], ranges: [Kafka.TopicPartition: OffsetRange], poison: Bool,
                         _ watchdog: Watchdog) async throws -> IngestUnit {
        let names = Set(records.compactMap { $0.headerText(EnvelopeHeaders.source) })
        let accounts = try await retrying("accounts") { try await self.senders.senders(named: names) }
        let verdicts = await watchdog.guarding { await triage(records, poison: poison, accounts: accounts) }
        let unit = IngestUnit(records, verdicts: verdicts, ranges: ranges)
        for letter in unit.deadLetters {
            log.event(.warning, "record.deadLettered", ["topic": .text(letter.source.topic), "partition": .int(Int64(letter.source.partition)),
                                                         "offset": .int(letter.source.offset), "code": .text(letter.code)])
        }
        return unit
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

    /// Second stage: links and applies the unit in one transaction, retrying what is transient.
    private func apply(_ unit: IngestUnit, watchdog: Watchdog) async throws -> StageOutcome {
        var failures = 0
        var conflicts: Set<String> = []
        let resolver = resolver.withLock { $0 }
        let offsets = unit.offsets(group: configuration.group)
        while true {
            do {
                try await watchdog.guarding {
                    let resolution = try await resolver.resolve(unit.accepted)
                    let result = try await store.apply(batch(unit, resolution, offsets))
                    health.clear(.storeUnavailable)
                    counters.update {
                        $0.stored += result.records.count - result.duplicates
                        $0.duplicates += result.duplicates
                        $0.personsCreated += result.newPersons.count
                        $0.linked += resolution.linked
                        $0.reviews += resolution.reviews
                        for (code, count) in unit.codes { $0.deadLettered[code, default: 0] += count }
                    }
                }
                break
            } catch StoreError.offsetMoved(let detail) {
                log.event(.warning, "batch.fenced", ["detail": .text(detail)])
                return .refused
            } catch StoreError.identityConflict(let detail) where conflicts.insert(detail).inserted {
                // Another ingest process created the same person meanwhile: link again, now finding it.
                // Each new conflict is progress (members racing on one city's persons meet many in one
                // batch: five was too few under `hssk chaos`); the same conflict twice is not a race.
                log.event(.info, "identity.race", ["detail": .text(detail.prefix(80).description)])
            } catch let error as StoreError where error.isTransient {
                health.set(.storeUnavailable, detail: "\(error.code): retrying (attempt \(failures + 1))")
                log.event(.warning, "store.unavailable", ["error": .text(String(describing: error)), "attempt": .int(Int64(failures))])
                try await retry.backOff(&failures)
                // The commit may have succeeded before the connection dropped: never apply twice.
                if let stored = try? await store.offsets(group: configuration.group, partitions: offsets.map(\.partition)),
                   offsets.allSatisfy({ stored[$0.partition] == $0.nextOffset }) {
                    health.clear(.storeUnavailable)
                    break
                }
            }
        }
        let sendersSeen = Set(unit.accepted.map(\.sender))
        if !sendersSeen.isEmpty { try await retrying("touch") { try await self.senders.touch(sendersSeen) } }
        return .applied
    }

    private func batch(_ unit: IngestUnit, _ resolution: PersonResolver.Resolution, _ offsets: [ConsumerOffset]) -> StoreBatch {
        var records: [IncomingRecord] = []
        var outbox: [OutboxMessage] = []
        var announced = Set<PersonRef>(), insured = Set<PersonRef>()
        let now = Date()
        for (var record, person) in zip(unit.accepted, resolution.persons) {
            record.person = person
            record.receivedAt = now
            records.append(record)
            guard let person else { continue }
            let change = PersonChange(reason: .record, topic: record.coordinates.topic, partition: record.coordinates.partition,
                                      offset: record.coordinates.offset)
            if announced.insert(person).inserted { outbox.append(change.message(for: person)) }
            // Insurance sync decides again for persons a record may have given a new value or card.
            if OutboxKinds.concernsInsurance(record.record), insured.insert(person).inserted {
                outbox.append(change.message(kind: OutboxKinds.insuranceSupplement, for: person))
            }
        }
        return StoreBatch(records: records, identity: resolution.identity, outbox: outbox, offsets: offsets, deadLetters: unit.deadLetters,
                          actor: "ingest")
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
        ] + (relay.withLock { $0 }?.metricFamilies ?? []) + [watch.gapFamily]
    }

    /// Samples the consumer lag.
    public func refreshGauges() async { await lag.refresh() }

    private func retrying<T: Sendable>(_ what: String, _ body: @Sendable () async throws -> T) async throws -> T {
        try await retry.untilStoreAnswers(what, body)
    }

    /// The store's position of `partition` (nil when never stored), waiting out a store outage.
    private func storedPosition(_ partition: Kafka.TopicPartition) async throws -> Int64? {
        try await retrying("positions") {
            try await self.store.offsets(group: self.configuration.group, partitions: [self.storePartition(partition)])
        }[storePartition(partition)]
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
        log.event(.info, "ingest.stopped", [
            "consumed": .int(Int64(s.consumed)), "stored": .int(Int64(s.stored)), "duplicates": .int(Int64(s.duplicates)),
            "deadLettered": .object(s.deadLettered.mapValues { .int(Int64($0)) }), "personsCreated": .int(Int64(s.personsCreated)),
            "linked": .int(Int64(s.linked)), "reviews": .int(Int64(s.reviews)), "retries": .int(Int64(s.retries)),
            "batches": .int(Int64(s.batches)),
        ])
    }
}
