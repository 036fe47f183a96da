import Foundation
import HealthModel
import Kafka
import RecordStore
import ServiceRuntime
import Synchronization

/// How `hssk insurance sync` runs.
public struct InsuranceSyncConfiguration: Sendable {
    /// Kafka bootstrap servers.
    public var bootstrapServers: String
    /// Consumer group of the acknowledgement reader; the store keeps its offsets under this name.
    public var group = "hssk-insurance-sync"
    /// Where supplements go.
    public var supplementsTopic = "hssk.insurance.supplements.v1"
    /// Where BHXH answers.
    public var acksTopic = "hssk.insurance.acks.v1"
    /// `ce_source` of the supplements.
    public var source = "hssk-insurance-sync"
    /// hssk's own key: when set, supplements carry `hssk-signature` so BHXH can verify them as hssk verifies BHXH.
    public var signingKey: SigningKey?
    /// Outbox rows, supplements or acknowledgements handled per step.
    public var batchSize = 500
    /// How long a poll for acknowledgements waits (also the idle wait between rounds).
    public var pollTimeout: Duration = .milliseconds(200)
    /// Back-off for transient failures (store or broker unavailable).
    public var retry = RetryPolicy()
    /// How long a looked-up account (lock state, key) is trusted before it is read again.
    public var accountCacheTTL: Duration = .seconds(10)
    /// Extra librdkafka properties (e.g. security settings for production).
    public var kafkaProperties: [String: String] = [:]

    /// Creates a configuration with defaults.
    public init(bootstrapServers: String) {
        self.bootstrapServers = bootstrapServers
    }
}

/// What the insurance sync has done since it started (counts only).
public final class InsuranceSyncCounters: Sendable {
    /// A copy of the counters at one moment.
    public struct Snapshot: Sendable, Hashable, Codable {
        /// Acknowledgements polled.
        public var consumed = 0
        /// Outbox rows handled.
        public var outboxRows = 0
        /// Supplements decided and recorded as pending, by field.
        public var planned: [String: Int] = [:]
        /// Supplements delivered to the cluster.
        public var sent = 0
        /// Answers recorded.
        public var accepted = 0
        public var rejected = 0
        /// Acknowledgements dead-lettered, by error code.
        public var deadLettered: [String: Int] = [:]
        /// Outbox rows quarantined, by reason code.
        public var quarantined: [String: Int] = [:]
        /// Transient failures retried.
        public var retries = 0
        /// Supplements planned, every field.
        public var plannedTotal: Int { planned.values.reduce(0, +) }
    }

    private let state = Mutex(Snapshot())

    /// Creates zeroed counters.
    public init() {}

    /// The current values.
    public var snapshot: Snapshot { state.withLock { $0 } }

    func update(_ body: (inout Snapshot) -> Void) { state.withLock { body(&$0) } }
}

/// Failures of the insurance sync that a retry may cure.
public enum InsuranceSyncError: Error, Sendable, CustomStringConvertible {
    /// Some records were not acknowledged by the cluster.
    case notDelivered(count: Int, firstError: String)

    public var description: String {
        switch self {
        case .notDelivered(let count, let firstError): return "\(count) records not delivered (\(firstError))"
        }
    }
}

/// `hssk insurance sync`: the outbound half of the two-way connection with BHXH (Hà Nội regulation
/// art. 18), and the reader of BHXH's answers. The inbound half (card changes) is ingest's.
///
/// Each round:
/// 1. answers: acknowledgements from `hssk.insurance.acks.v1` are authenticated (a `bhxh_lt_…` account,
///    its signature), matched to the ledger, and recorded with the consumer's offsets and the dead
///    letters of the others in one store transaction (exactly once; the relay produces the letters);
/// 2. decisions: `insurance-supplement` outbox rows (queued by ingest for persons a record may have
///    changed) name persons; `SupplementPlanner` compares what the health record knows with insurance's
///    last known values and the ledger; new supplements are recorded as pending in the transaction that
///    marks the outbox rows done;
/// 3. sending: pending supplements are produced (idempotent producer, key = BHXH number) and marked sent
///    once the cluster acknowledged them. A crash between producing and marking resends them once with
///    the same supplement id, which BHXH treats as the same supplement.
///
/// Run one sync per store: decisions are serialised by the store's write lock, but two syncs would
/// read the same outbox rows.
public final class InsuranceSync: ObservableService {
    /// `insurance-sync`.
    public let name = "insurance-sync"
    /// The configuration it runs with.
    public let configuration: InsuranceSyncConfiguration
    /// What it has done so far.
    public let counters = InsuranceSyncCounters()
    /// Readiness and liveness, for the admin endpoint.
    public let health = HealthReporter()
    private let lag = ConsumerLagGauge()
    private let backlog: OutboxBacklogGauge

    private let store: any InsuranceLedger & OutboxStore
    private let log: EventLog
    private let senders: SenderDirectory
    private let triage = AckTriage()
    private let stopping = StopFlag()
    private let relay = Mutex<DeadLetterRelay?>(nil)
    /// Retention gaps of the acknowledgements (stalls are not watched: BHXH's answers come in bursts).
    private let watch = PartitionWatch(stallLimit: .seconds(3_600))

    /// Creates the service over an open store.
    public init(configuration: InsuranceSyncConfiguration, store: any InsuranceLedger & OutboxStore, log: EventLog = .standardError) {
        self.configuration = configuration
        self.store = store
        self.log = log
        senders = SenderDirectory(store: store, ttl: configuration.accountCacheTTL)
        backlog = OutboxBacklogGauge(store: store, kind: OutboxKinds.insuranceSupplement)
    }

    /// Queues every person linked to a card for a fresh decision (first run on an existing store, or
    /// after reviews linked records by hand, which queues nothing); returns how many.
    public func queueAllCardHolders() async throws -> Int {
        try await store.queueForCardHolders(kind: OutboxKinds.insuranceSupplement, payload: Array(#"{"reason":"rescan"}"#.utf8))
    }

    /// Runs rounds until cancelled (SIGTERM/SIGINT through `ServiceRunner`), then finishes the round
    /// in hand and returns.
    public func run() async throws {
        let configuration = configuration
        var client = KafkaClientConfig(bootstrapServers: configuration.bootstrapServers)
        client.properties = configuration.kafkaProperties
        client.clientID = "hssk-insurance-sync"
        var producerConfig = ProducerConfig(bootstrapServers: configuration.bootstrapServers)
        producerConfig.client = client
        let producer = try Producer(config: producerConfig)
        var consumerConfig = ConsumerConfig(bootstrapServers: configuration.bootstrapServers, groupID: configuration.group)
        consumerConfig.client = client
        // As ingest: an expired position is an error to report, never a silent jump.
        consumerConfig.autoOffsetReset = .error
        let store = store, group = configuration.group, log = log, retry = retry
        let consumer = try Consumer(config: consumerConfig, hooks: RebalanceHooks(
            startingOffsets: { partitions in
                // As ingest: the store is the position, so every answer is recorded exactly once.
                let stored = try waitOnThisThread {
                    try await retry.untilStoreAnswers("assignment") {
                        try await store.offsets(group: group, partitions: partitions.map { RecordStore.TopicPartition($0.topic, $0.partition) })
                    }
                }
                return Dictionary(uniqueKeysWithValues: partitions.map {
                    ($0, stored[RecordStore.TopicPartition($0.topic, $0.partition)] ?? KafkaOffset.beginning)
                })
            }))
        let relay = try DeadLetterRelay(store: store, group: group, client: client, log: log, health: health)
        self.relay.withLock { $0 = relay }
        let relayStop = StopFlag()
        let relayTask = Task { await relay.run(until: relayStop) }
        defer {
            relayStop.set()
        }
        try await consumer.subscribe([configuration.acksTopic])
        lag.attach(consumer)
        health.started(consuming: true)
        log.event(.info, "insurance.sync.started", ["group": .text(group)])
        var failure: (any Error)?
        await withTaskCancellationHandler {
            do {
                try await loop(consumer, producer)
            } catch is CancellationError {
            } catch {
                failure = error
            }
        } onCancel: { [health] in
            health.set(.stopping)
            stopping.set()
        }
        do { try await consumer.close() } catch { log.event(.warning, "consumer.close", ["error": .text(String(describing: error))]) }
        do { try await producer.close() } catch { log.event(.warning, "producer.close", ["error": .text(String(describing: error))]) }
        // The last batches' dead letters go out before the process ends (when this relay holds the lease).
        await relay.flush()
        relayStop.set()
        await relayTask.value
        let s = counters.snapshot
        log.event(.info, "insurance.sync.stopped", [
            "outboxRows": .int(Int64(s.outboxRows)), "planned": .object(s.planned.mapValues { .int(Int64($0)) }), "sent": .int(Int64(s.sent)),
            "accepted": .int(Int64(s.accepted)), "rejected": .int(Int64(s.rejected)),
            "deadLettered": .object(s.deadLettered.mapValues { .int(Int64($0)) }), "retries": .int(Int64(s.retries)),
        ])
        if let failure { throw failure }
    }

    private func loop(_ consumer: Consumer, _ producer: Producer) async throws {
        var failures = 0
        var lastWatch = ContinuousClock.now
        while !stopping.isSet {
            do {
                let acks = try await consumer.poll(maxRecords: configuration.batchSize, timeout: configuration.pollTimeout)
                health.clear(.kafkaUnavailable)
                health.assignment(isEmpty: consumer.assignment.isEmpty)
                health.beat()
                try await watch.observeOutOfRange(acks.outOfRange, consumer: consumer, log: log, health: health, storedPosition: storedPosition)
                if ContinuousClock.now - lastWatch > .seconds(5) {
                    try await watch.resumeDecided(consumer: consumer, log: log, health: health, storedPosition: storedPosition)
                    lastWatch = .now
                }
                if !acks.isEmpty {
                    counters.update { $0.consumed += acks.count }
                    try await answer(acks, consumer)
                }
                try await decide()
                try await send(producer)
                if failures > 0 { health.clear(.storeUnavailable) }
                failures = 0
            } catch let error as KafkaError {
                if case .fatal = error { throw error }
                if case .assignmentHookFailed = error { throw error }
                health.set(.kafkaUnavailable)
                log.event(.warning, "insurance.sync.retry", ["error": .text(String(describing: error))])
                try await retry.backOff(&failures)
            } catch let error as StoreError where error.isTransient {
                health.set(.storeUnavailable)
                log.event(.warning, "insurance.sync.retry", ["error": .text(String(describing: error))])
                try await retry.backOff(&failures)
            } catch let error as InsuranceSyncError {
                log.event(.warning, "insurance.sync.retry", ["error": .text(error.description)])
                try await retry.backOff(&failures)
            }
        }
    }

    // MARK: - Answers

    /// Records a polled batch of acknowledgements with the offsets it covers (applied only where the
    /// store's position is where the batch starts). Polled records are not read again unless the
    /// consumer is moved back, so this retries transient failures itself until the batch is stored
    /// (or shutdown); a refused batch moves the consumer back to the store's positions.
    private func answer(_ batch: ConsumerBatch, _ consumer: Consumer) async throws {
        let names = Set(batch.compactMap { $0.headerText(EnvelopeHeaders.source) })
        let accounts = try await retrying { try await self.senders.senders(named: names) }
        var authentic: [(ConsumerRecord, InsuranceAck)] = []
        var deadLetters: [DeadLetterDraft] = []
        var codes: [String: Int] = [:]
        func reject(_ record: ConsumerRecord, _ rejection: Rejection) {
            deadLetters.append(DeadLetterDraft(rejected: record, rejection))
            codes[rejection.code, default: 0] += 1
            log.event(.warning, "ack.deadLettered", ["partition": .int(Int64(record.partition)), "offset": .int(record.offset),
                                                      "code": .text(rejection.code)])
        }
        for record in batch {
            switch triage.triage(record, senders: accounts) {
            case .accepted(let ack): authentic.append((record, ack))
            case .rejected(let rejection): reject(record, rejection)
            }
        }
        let ids = authentic.map(\.1.supplementId)
        let ledger = ids.isEmpty ? [:] : try await retrying { try await self.store.supplements(ids: ids) }
        var answers: [SupplementAnswer] = []
        for (record, ack) in authentic {
            if let problem = triage.ledgerProblem(ack, ledger[ack.supplementId]) {
                reject(record, problem)
            } else {
                answers.append(SupplementAnswer(supplementID: ack.supplementId, accepted: ack.status == .accepted,
                                                reasonCode: ack.reasonCode, reason: ack.reason, receivedAt: ack.receivedTime))
            }
        }
        var counts: [Kafka.TopicPartition: Int] = [:]
        for record in batch { counts[record.topicPartition, default: 0] += 1 }
        let positions = batch.ranges.sorted { $0.key < $1.key }.map { partition, range in
            ConsumerOffset(group: configuration.group, partition: RecordStore.TopicPartition(partition.topic, partition.partition),
                           from: range.from, nextOffset: range.next, records: counts[partition] ?? 0)
        }
        let recorded = answers, letters = deadLetters
        let changed: Int
        do {
            changed = try await retrying {
                try await self.store.recordSupplementAnswers(recorded, deadLetters: letters, offsets: positions, actor: "insurance-sync")
            }
        } catch StoreError.offsetMoved(let detail) {
            // Another sync process answered these after a rebalance, or this one must read from where the
            // store says: nothing here is applied; read again from the store's positions.
            log.event(.warning, "ack.batch.fenced", ["detail": .text(detail)])
            let assigned = Set(batch.ranges.keys).intersection(consumer.assignment)
            let stored = try await retrying {
                try await self.store.offsets(group: self.configuration.group, partitions: assigned.map { RecordStore.TopicPartition($0.topic, $0.partition) })
            }
            try await consumer.seek(Dictionary(uniqueKeysWithValues: assigned.map {
                ($0, stored[RecordStore.TopicPartition($0.topic, $0.partition)] ?? KafkaOffset.beginning)
            }))
            return
        }
        if !deadLetters.isEmpty { relay.withLock { $0 }?.wake() }
        counters.update { c in
            c.accepted += answers.filter(\.accepted).count
            c.rejected += answers.filter { !$0.accepted }.count
            for (code, count) in codes { c.deadLettered[code, default: 0] += count }
        }
        log.event(.info, "acks.recorded", ["accepted": .int(Int64(answers.filter(\.accepted).count)),
                                            "rejected": .int(Int64(answers.filter { !$0.accepted }.count)),
                                            // Replays of older answers and answers for superseded supplements change nothing.
                                            "unchanged": .int(Int64(answers.count - changed)),
                                            "deadLettered": .int(Int64(deadLetters.count))])
        // Kafka's committed offsets only feed lag monitoring; the store holds the position.
        do { try await consumer.commit(batch.ranges.mapValues(\.next)) } catch {
            log.event(.warning, "commit.failed", ["error": .text(String(describing: error))])
        }
    }

    /// The store's position of `partition` (nil when never stored), waiting out a store outage.
    private func storedPosition(_ partition: Kafka.TopicPartition) async throws -> Int64? {
        let key = RecordStore.TopicPartition(partition.topic, partition.partition)
        return try await retrying { try await self.store.offsets(group: self.configuration.group, partitions: [key]) }[key]
    }

    // MARK: - Decisions

    /// Turns pending `insurance-supplement` outbox rows into pending supplements, one batch at a time.
    /// A row that cannot be decided (its payload fails authentication, its key names no person, the
    /// person's data cannot be read) is quarantined, logged and counted; the others go on (DESIGN §6).
    func decide() async throws {
        while !stopping.isSet {
            let entries = try await store.pendingOutbox(kind: OutboxKinds.insuranceSupplement, limit: configuration.batchSize)
            guard !entries.isEmpty else { return }
            var quarantine = OutboxQuarantine()
            var persons: [PersonID] = []
            var rowsOf: [PersonID: [Int64]] = [:]
            for entry in entries {
                guard let person = quarantine.person(of: entry) else { continue }
                if rowsOf[person] == nil { persons.append(person) }
                rowsOf[person, default: []].append(entry.id)
            }
            let generatedAt = CloudEventHeaders.time(Date())
            var drafts: [SupplementDraft] = []
            var invalid = 0
            for person in persons {
                let found: InsurancePersonView?
                do {
                    found = try await store.insuranceView(person)
                } catch let error as StoreError where error.isDamagedData {
                    quarantine.add(rowsOf[person] ?? [], OutboxQuarantine.unreadablePerson)
                    continue
                }
                guard let view = found else { continue }
                for supplement in SupplementPlanner.supplements(for: view, generatedAt: generatedAt) {
                    // Never send what our own schema refuses (the values come from validated records).
                    guard !supplement.validate().hasErrors else {
                        invalid += 1
                        continue
                    }
                    drafts.append(SupplementDraft(supplementID: supplement.supplementId, bhxhNumber: supplement.bhxhNumber,
                                                  field: supplement.field.rawValue, value: supplement.value, payload: supplement.encoded()))
                }
            }
            let bad = quarantine.ids
            let planned = try await store.planSupplements(drafts, outboxDone: entries.map(\.id).filter { !bad.contains($0) })
            let quarantined = try await quarantine.commit(to: store, actor: name, log: log, event: "insurance.outbox.quarantined")
            // A rescan of a whole city is many batches in this loop: each one is progress for liveness.
            health.beat()
            let byField = Dictionary(grouping: planned, by: \.field).mapValues(\.count)
            counters.update { c in
                c.outboxRows += entries.count - bad.count
                for (field, count) in byField { c.planned[field, default: 0] += count }
                for (code, count) in quarantined { c.quarantined[code, default: 0] += count }
            }
            log.event(.info, "supplements.planned", ["outboxRows": .int(Int64(entries.count)), "persons": .int(Int64(persons.count)),
                                                      "planned": .object(byField.mapValues { .int(Int64($0)) }), "invalid": .int(Int64(invalid))])
        }
    }

    // MARK: - Sending

    /// Produces pending supplements and marks them sent once the cluster has them.
    private func send(_ producer: Producer) async throws {
        while !stopping.isSet {
            let pending = try await store.pendingSupplements(limit: configuration.batchSize)
            guard !pending.isEmpty else { return }
            let time = CloudEventHeaders.time(Date())
            let result = try await producer.sendAll(pending.map { record(for: $0, time: time) })
            if let first = result.failures.first {
                throw InsuranceSyncError.notDelivered(count: result.failures.count, firstError: first.code.name)
            }
            try await store.markSupplementsSent(pending.map(\.supplementID))
            counters.update { $0.sent += pending.count }
            health.beat()
            log.event(.info, "supplements.sent", ["count": .int(Int64(pending.count))])
        }
    }

    /// The Kafka record of a supplement: key = BHXH number, `ce_id` = supplement id.
    private func record(for supplement: PendingSupplement, time: String) -> ProducerRecord {
        let headers = CloudEventHeaders.make(id: supplement.supplementID, source: configuration.source, type: CloudEventTypes.insuranceSupplement,
                                             time: time, value: supplement.payload, signedWith: configuration.signingKey)
        return ProducerRecord(topic: configuration.supplementsTopic, key: Array(supplement.bhxhNumber.utf8), value: supplement.payload,
                              headers: headers)
    }

    // MARK: - Helpers

    /// Retry of transient failures, counted in `retries`.
    private var retry: TransientRetry {
        let counters = counters
        return TransientRetry(policy: configuration.retry, stopping: stopping, log: log, health: health,
                              onRetry: { counters.update { $0.retries += 1 } })
    }

    /// What it counts, the acknowledgement reader's lag and the supplement outbox backlog.
    public func metricFamilies() -> [MetricFamily] {
        let s = counters.snapshot
        return [
            .consumed(s.consumed),
            .counter("hssk_insurance_outbox_rows_total", "insurance-supplement outbox rows decided.", s.outboxRows),
            .counter("hssk_insurance_supplements_planned_total", "Supplements decided and recorded as pending, by field.", by: "field", s.planned),
            .counter("hssk_insurance_supplements_sent_total", "Supplements acknowledged by the cluster.", s.sent),
            .counter("hssk_insurance_answers_total", "BHXH answers recorded, by status.", by: "status", ["accepted": s.accepted, "rejected": s.rejected]),
            .deadLettered(s.deadLettered),
            .quarantined(s.quarantined),
            .retries(s.retries),
            lag.family,
            backlog.family,
        ] + (relay.withLock { $0 }?.metricFamilies ?? [])
    }

    /// Samples the lag and the backlog.
    public func refreshGauges() async {
        await lag.refresh()
        await backlog.refresh()
    }

    private func retrying<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
        try await retry.untilStoreAnswers("insurance", body)
    }
}
