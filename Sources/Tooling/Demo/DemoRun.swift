import CitizenFeed
import Foundation
import HealthModel
import Ingest
import InsuranceSync
import Kafka
import RecordStore
import ServiceRuntime
import SourceAdapters
import Synchronization
import SyntheticPopulation

/// `hssk demo`: the whole pipeline in one process on the embedded cluster — a synthetic population
/// published by its sources, ingest, the citizen feed to the reference receiver, the insurance sync —
/// run until everything is processed, then checked against the ground truth.
public struct DemoRun: Sendable {
    /// Citizens in the synthetic population.
    public var citizens = 2_000
    /// Seed of the population (the same seed gives the same population).
    public var seed: UInt64 = 2026
    /// SQLite file or PostgreSQL URL of the store; a SQLite file is recreated on each run.
    public var store = "var/demo.sqlite"
    /// Key file to use; nil generates a fresh one next to the store.
    public var keyFile: String?
    /// Brokers of the embedded cluster.
    public var brokers = 3
    /// Topic catalogue folder.
    public var topicsDirectory = TopicCatalogue.defaultDirectory()
    /// How long to wait for the pipeline to process everything.
    public var timeout: Duration = .seconds(900)

    /// A demo with the defaults.
    public init() {}

    /// Why the demo cannot run.
    public enum DemoError: Error, Sendable, CustomStringConvertible {
        case notADemoStore(String)
        case storeNotEmpty(String)
        case publishFailed(String)
        case serviceStopped

        public var description: String {
            switch self {
            case .notADemoStore(let path):
                return "\(path) exists and was not made by 'hssk demo' (no \(path)\(DemoRun.markerSuffix)); choose another --store"
            case .storeNotEmpty(let url): return "the database \(url) is not empty (or has other keys); the demo needs an empty one"
            case .publishFailed(let detail): return "publishing failed: \(detail)"
            case .serviceStopped: return "a service stopped before the work was done (see demo.log)"
            }
        }
    }

    /// Marks a SQLite file as made by the demo, so a later run may replace it (and nothing else).
    static let markerSuffix = ".hssk-demo"

    /// The outcome; JSON keys as `hssk demo --json` writes them (snake case).
    public struct Summary: Codable, Sendable {
        public struct Linkage: Codable, Sendable {
            /// Pairs of records of one citizen that share a person / pairs that share a person.
            public var precision = 1.0
            /// Pairs of records of one citizen that share a person / pairs of records of one citizen.
            public var recall = 1.0
            public var records = 0
            public var citizens = 0
            public var persons = 0
        }
        public struct Feed: Codable, Sendable {
            public var documents = 0
            public var requests = 0
            public var items = 0
            public var upserts = 0
            public var deletions = 0
            public var duplicates = 0
            public var outOfOrder = 0
        }
        public struct Insurance: Codable, Sendable {
            public var outboxRows = 0
            public var planned: [String: Int] = [:]
            public var supplementsSent = 0
            public var deadLettered: [String: Int] = [:]
        }
        public struct Latency: Codable, Sendable {
            /// Upper bounds (ms) of the batch-latency histogram bucket holding each percentile (poll → commit).
            public var p50Ms = 0
            public var p95Ms = 0
            public var p99Ms = 0
            public var meanMs = 0.0
            public var batches = 0
        }
        public struct Timeline: Codable, Sendable {
            /// Milliseconds from a record's publication (its chunk acknowledged) to ingest's commit of it,
            /// matched by rank (first published, first processed) at 20 ms resolution.
            public var p50Ms = 0.0
            public var p95Ms = 0.0
            public var p99Ms = 0.0
            public var maxMs = 0.0
        }
        public var citizens = 0
        public var seed: UInt64 = 0
        public var store = ""
        public var published = 0
        public var stored = 0
        public var duplicates = 0
        public var deadLettered: [String: Int] = [:]
        public var deadLetteredTotal = 0
        /// Dead letters the ground truth expects, by code.
        public var deadLetteredExpected: [String: Int] = [:]
        public var personsCreated = 0
        public var linked = 0
        public var reviews = 0
        public var feed = Feed()
        public var insurance = Insurance()
        public var ingestRecordsPerS = 0.0
        public var batchLatency = Latency()
        public var publishToStore = Timeline()
        public var linkage = Linkage()
        /// Everything was processed before the timeout.
        public var processed = false
        /// stored + duplicates + dead-lettered = published.
        public var nothingLost = false
        public var seconds = 0.0
        // The headline figures under the names integrators look for (the issue's `--json` keys); the
        // same values appear in the detailed parts above.
        /// Persons the index holds for the population (`linkage.persons`).
        public var persons = 0
        /// Documents the reference receiver stored (`feed.upserts`).
        public var feedPushed = 0
        /// published − stored − duplicates − dead-lettered: 0 unless something was lost.
        public var lost = 0
        /// `linkage.precision` and `linkage.recall`.
        public var precision = 0.0
        public var recall = 0.0
    }

    /// Runs the demo; `status` gets a one-line progress report every few hundred milliseconds.
    public func run(status: @escaping @Sendable (String) -> Void = { _ in }) async throws -> Summary {
        let started = ContinuousClock.now
        let (keys, logPath) = try prepareStore()
        let population = PopulationGenerator(citizens: citizens, seed: seed).generate()
        let sources = try SyntheticSources()
        let messages = try population.records.map { try sources.producerRecord($0) }

        // The cluster and the catalogue's topics. The mock keeps ~5 MB per partition: source topics get
        // enough partitions that nothing published is dropped.
        let cluster = try EmbeddedCluster(brokers: brokers)
        defer { cluster.shutdown() }
        var bytes: [String: Int] = [:]
        for message in messages { bytes[message.topic, default: 0] += (message.value?.count ?? 0) + 300 }
        let specs = try TopicCatalogue.load(from: topicsDirectory).specs.map { spec in
            var spec = spec
            spec.replicationFactor = min(spec.replicationFactor, brokers)
            if let size = bytes[spec.name] { spec.partitions = max(spec.partitions, size / (3 * 1024 * 1024) + 1) }
            return spec
        }
        _ = try await cluster.ensureTopics(specs)
        let partitionsOf = Dictionary(uniqueKeysWithValues: specs.map { ($0.name, $0.partitions) })

        let store: any HealthRecordStore
        do {
            store = try await RecordStores.open(self.store, keys: keys)
        } catch StoreError.wrongKey {
            // Fresh keys meet a database an earlier run (or someone else) wrote: it is not empty.
            throw DemoError.storeNotEmpty(RecordStores.isPostgres(self.store) ? "at --store" : self.store)
        }
        do {
            let summary = try await run(store: store, cluster: cluster, population: population, sources: sources, messages: messages,
                                        partitionsOf: partitionsOf, logPath: logPath, started: started, status: status)
            await store.close()
            return summary
        } catch {
            await store.close()
            throw error
        }
    }

    // MARK: - Store and keys

    /// Recreates a SQLite demo file (refusing any other file) or checks a PostgreSQL database is empty
    /// (checked later, once open); returns the key ring and the log file path.
    private func prepareStore() throws -> (KeyRing, String) {
        let folder: String
        if RecordStores.isPostgres(store) {
            folder = "var"
        } else {
            let url = URL(fileURLWithPath: store)
            folder = url.deletingLastPathComponent().path
            let manager = FileManager.default
            if manager.fileExists(atPath: store) {
                guard manager.fileExists(atPath: store + Self.markerSuffix) else { throw DemoError.notADemoStore(store) }
                for suffix in ["", "-wal", "-shm", "-journal"] where manager.fileExists(atPath: store + suffix) {
                    try manager.removeItem(atPath: store + suffix)
                }
            }
            try manager.createDirectory(atPath: folder, withIntermediateDirectories: true)
            // Written before the store exists: a crash mid-run leaves a file the next run may replace.
            guard manager.createFile(atPath: store + Self.markerSuffix, contents: Data("made by hssk demo\n".utf8)) else {
                throw DemoError.notADemoStore(store)
            }
        }
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let keys: KeyRing
        let demoKeys = folder + "/demo-keys.json"
        if let keyFile {
            keys = try KeyRing(contentsOf: keyFile)
        } else if RecordStores.isPostgres(store), FileManager.default.fileExists(atPath: demoKeys) {
            // A database outlives the run: never replace the keys an earlier run may have written it with.
            keys = try KeyRing(contentsOf: demoKeys)
        } else {
            // A fresh SQLite file each run, so fresh keys each run; 0600 like every key file.
            keys = try KeyRing.generate()
            try keys.write(to: demoKeys, replacing: true)
        }
        return (keys, folder + "/demo.log")
    }

    // MARK: - The run

    private func run(store: any HealthRecordStore, cluster: EmbeddedCluster, population: Population, sources: SyntheticSources,
                     messages: [ProducerRecord], partitionsOf: [String: Int], logPath: String, started: ContinuousClock.Instant,
                     status: @escaping @Sendable (String) -> Void) async throws -> Summary {
        if RecordStores.isPostgres(self.store) {
            let probe = SourceTopics.defaults.values.flatMap { topic in
                (0..<(partitionsOf[topic] ?? 1)).map { RecordStore.TopicPartition(topic, Int32($0)) }
            }
            if !(try await store.offsets(group: Self.ingestGroup, partitions: probe)).isEmpty { throw DemoError.storeNotEmpty("at --store") }
        }
        for account in sources.accounts { try await store.saveAccount(account) }
        let log = try Self.fileLog(logPath)
        let kafkaProperties = EmbeddedCluster.consumerProperties.merging(["session.timeout.ms": "6000", "heartbeat.interval.ms": "500", "log_level": "3"]) { $1 }

        var ingestConfiguration = IngestConfiguration(bootstrapServers: cluster.bootstrapServers)
        ingestConfiguration.group = Self.ingestGroup
        ingestConfiguration.kafkaProperties = kafkaProperties
        let progress = Progress()
        // Sources publish to a running system: publishing starts once ingest holds its partitions.
        let ingestLog = EventLog { line in
            if line.contains(#""event":"partitions.assigned""#) { progress.ingestAssigned.store(true, ordering: .releasing) }
            log.write(line)
        }
        let ingest = IngestService(configuration: ingestConfiguration, store: store, log: ingestLog)

        let feedKey = try SigningKey(bytes: try SyntheticSources.randomBytes(32))
        let sink = try FeedSink({ var c = FeedSinkConfiguration(); c.signingKey = feedKey; return c }())
        defer { sink.stop() }
        var producerConfig = ProducerConfig(bootstrapServers: cluster.bootstrapServers)
        producerConfig.client.logLevel = 3
        let feedProducer = try Producer(config: producerConfig), feedDLQProducer = try Producer(config: producerConfig)
        var publisherConfiguration = FeedPublisherConfiguration()
        publisherConfiguration.idleWait = .milliseconds(50)
        let publisher = FeedPublisher(store: store, producer: feedProducer, configuration: publisherConfiguration, log: log)
        var pushConsumerConfig = ConsumerConfig(bootstrapServers: cluster.bootstrapServers, groupID: FeedPusherConfiguration.group)
        pushConsumerConfig.sessionTimeoutMs = 6_000
        pushConsumerConfig.heartbeatIntervalMs = 500
        pushConsumerConfig.client.logLevel = 3
        pushConsumerConfig.client.properties = EmbeddedCluster.consumerProperties
        var pusherConfiguration = FeedPusherConfiguration()
        pusherConfiguration.pollTimeout = .milliseconds(100)
        pusherConfiguration.backoff = .milliseconds(50)
        pusherConfiguration.maxBackoff = .seconds(2)
        let pusher = FeedPusher(consumer: try Consumer(config: pushConsumerConfig),
                                endpoint: FeedEndpoint(FeedEndpointConfiguration(url: sink.url, signingKey: feedKey)),
                                producer: feedDLQProducer, configuration: pusherConfiguration, log: log)

        var syncConfiguration = InsuranceSyncConfiguration(bootstrapServers: cluster.bootstrapServers)
        syncConfiguration.kafkaProperties = kafkaProperties
        let sync = InsuranceSync(configuration: syncConfiguration, store: store, log: log)

        let services: [any Service] = [ingest, publisher, pusher, sync]
        let running = Task {
            // Services run until cancelled: one ending on its own has failed, and the wait below stops.
            defer { progress.servicesEnded.store(true, ordering: .releasing) }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for service in services { group.addTask { try await service.run() } }
                // The services run until cancelled; the first to end (a failure) ends the set.
                try await group.next()
                group.cancelAll()
            }
        }

        // Publish as the sources would, in chunks so progress shows, while everything runs.
        let publishing = Task {
            defer { progress.done.store(true, ordering: .releasing) }
            let joinDeadline = ContinuousClock.now + .seconds(30)
            while !progress.ingestAssigned.load(ordering: .acquiring), ContinuousClock.now < joinDeadline {
                try await Task.sleep(for: .milliseconds(20))
            }
            let producer = try Producer(config: producerConfig)
            do {
                for start in stride(from: 0, to: messages.count, by: 500) {
                    try Task.checkCancellation()
                    let result = try await producer.sendAll(Array(messages[start..<min(start + 500, messages.count)]))
                    guard result.allDelivered else { throw DemoError.publishFailed("\(result.failures[0].code) on \(result.failures[0].topic)") }
                    let total = progress.count.add(result.delivered, ordering: .relaxed).newValue
                    progress.published.withLock { $0.append((total, .now)) }
                }
            } catch {
                // Closed here, before the cluster goes: a producer outliving it only logs refused connections.
                try? await producer.close()
                throw error
            }
            try await producer.close()
        }

        var observerConfig = ConsumerConfig(bootstrapServers: cluster.bootstrapServers, groupID: FeedPusherConfiguration.group)
        observerConfig.client.logLevel = 3
        let observer = try Consumer(config: observerConfig)
        var ingestStarted: ContinuousClock.Instant?
        var ingestFinished: ContinuousClock.Instant?
        var processedAt: [(Int, ContinuousClock.Instant)] = []
        func sample() {
            let c = ingest.counters.snapshot
            let done = c.stored + c.duplicates + c.deadLetteredTotal
            if done > (processedAt.last?.0 ?? 0) { processedAt.append((done, .now)) }
        }
        var processed = false
        var failure: (any Error)?
        do {
            func line(ingested: Bool = false) -> String {
                let c = ingest.counters.snapshot
                let phase = c.consumed == 0 ? "joining  " : (ingested ? "draining " : "ingesting")
                return "\(phase) published \(progress.count.load(ordering: .relaxed))/\(messages.count)  stored \(c.stored + c.duplicates)  "
                    + "dead-lettered \(c.deadLetteredTotal)  persons \(c.personsCreated)  feed documents \(sink.documents.count)  "
                    + "supplements \(sync.counters.snapshot.sent)"
            }
            while !progress.done.load(ordering: .acquiring), !progress.servicesEnded.load(ordering: .acquiring) {
                status(line())
                if ingestStarted == nil, ingest.counters.snapshot.consumed > 0 { ingestStarted = .now }
                sample()
                try await Task.sleep(for: .milliseconds(20))
            }
            try await publishing.value
            let ends = try await Self.ends(of: Array(SourceTopics.defaults.values), partitionsOf: partitionsOf, observer: observer)
            let feedPartitions = (0..<(partitionsOf[FeedHeaders.topic] ?? 1)).map { Kafka.TopicPartition(FeedHeaders.topic, Int32($0)) }
            let deadline = ContinuousClock.now + timeout
            var quiet = 0
            while ContinuousClock.now < deadline, !progress.servicesEnded.load(ordering: .acquiring) {
                if ingestStarted == nil, ingest.counters.snapshot.consumed > 0 { ingestStarted = .now }
                sample()
                let stored = try await store.offsets(group: Self.ingestGroup, partitions: Array(ends.keys))
                let ingested = ends.allSatisfy { (stored[$0.key] ?? 0) >= $0.value }
                if ingested, ingestFinished == nil { ingestFinished = .now }
                var complete = ingested
                if complete { complete = try await store.pendingOutbox(kind: OutboxKinds.citizenFeed, limit: 1).isEmpty }
                if complete { complete = try await store.pendingOutbox(kind: OutboxKinds.insuranceSupplement, limit: 1).isEmpty }
                if complete {
                    let committed = try await observer.committed(feedPartitions)
                    for partition in feedPartitions where complete {
                        complete = (committed[partition] ?? 0) >= (try await observer.watermarks(partition).high)
                    }
                }
                status(line(ingested: ingested))
                // Twice in a row: a feed record produced between two reads would otherwise be missed.
                quiet = complete ? quiet + 1 : 0
                if quiet >= 2 { processed = true; break }
                // Short ticks while ingesting: the throughput is timed by them.
                try await Task.sleep(for: ingested ? .milliseconds(200) : .milliseconds(20))
            }
        } catch {
            failure = error
        }
        let endedEarly = progress.servicesEnded.load(ordering: .acquiring)
        publishing.cancel()
        running.cancel()
        let serviceOutcome = await running.result
        try? await observer.close()
        try? await feedProducer.close()
        try? await feedDLQProducer.close()
        if let failure { throw failure }
        if case .failure(let error) = serviceOutcome, !(error is CancellationError) { throw error }
        if endedEarly { throw DemoError.serviceStopped }

        var summary = Summary()
        summary.citizens = citizens
        summary.seed = seed
        summary.store = RecordStores.isPostgres(self.store) ? "postgresql" : self.store
        summary.processed = processed
        summary.published = progress.count.load(ordering: .relaxed)
        let c = ingest.counters.snapshot
        summary.stored = c.stored
        summary.duplicates = c.duplicates
        summary.deadLettered = c.deadLettered
        summary.deadLetteredTotal = c.deadLetteredTotal
        for record in population.records { if let code = SyntheticSources.expectedCode(record) { summary.deadLetteredExpected[code, default: 0] += 1 } }
        summary.personsCreated = c.personsCreated
        summary.linked = c.linked
        summary.reviews = c.reviews
        summary.nothingLost = processed && c.stored + c.duplicates + c.deadLetteredTotal == summary.published
        let report = sink.report
        summary.feed = Summary.Feed(documents: sink.documents.count, requests: report.requests, items: report.items, upserts: report.upserts,
                                    deletions: report.deletions, duplicates: report.duplicates, outOfOrder: report.outOfOrder)
        let s = sync.counters.snapshot
        summary.insurance = Summary.Insurance(outboxRows: s.outboxRows, planned: s.planned, supplementsSent: s.sent, deadLettered: s.deadLettered)
        if let ingestStarted, let ingestFinished {
            summary.ingestRecordsPerS = Double(summary.published) / max(Self.seconds(ingestFinished - ingestStarted), 1e-3)
        }
        summary.batchLatency = Self.latency(c)
        summary.publishToStore = Self.timeline(published: progress.published.withLock { $0 }, processed: processedAt)
        summary.linkage = try await Self.linkage(population, store: store, topics: sources.topics)
        summary.seconds = Self.seconds(ContinuousClock.now - started)
        summary.persons = summary.linkage.persons
        summary.feedPushed = summary.feed.upserts
        summary.lost = summary.published - c.stored - c.duplicates - c.deadLetteredTotal
        summary.precision = summary.linkage.precision
        summary.recall = summary.linkage.recall
        return summary
    }

    static let ingestGroup = "hssk-ingest"

    /// How far publishing got and whether the services still run, shared with the progress loop.
    private final class Progress: Sendable {
        let count = Atomic<Int>(0)
        let done = Atomic<Bool>(false)
        let servicesEnded = Atomic<Bool>(false)
        let ingestAssigned = Atomic<Bool>(false)
        /// (records published so far, when), one entry per acknowledged chunk.
        let published = Mutex<[(Int, ContinuousClock.Instant)]>([])
    }

    /// The next offset of every partition of `topics` (the demo is their only producer).
    private static func ends(of topics: [String], partitionsOf: [String: Int],
                             observer: Consumer) async throws -> [RecordStore.TopicPartition: Int64] {
        var ends: [RecordStore.TopicPartition: Int64] = [:]
        for topic in topics {
            for partition in 0..<(partitionsOf[topic] ?? 1) {
                let high = try await observer.watermarks(Kafka.TopicPartition(topic, Int32(partition))).high
                if high > 0 { ends[RecordStore.TopicPartition(topic, Int32(partition))] = high }
            }
        }
        return ends
    }

    /// Pairwise linkage quality over the acceptable records: a pair is two records of one citizen.
    static func linkage(_ population: Population, store: any HealthRecordStore,
                        topics: [RecordKind: String]) async throws -> Summary.Linkage {
        var cells: [PairKey: Int] = [:]
        var perCitizen: [Int: Int] = [:]
        var perPerson: [PersonID: Int] = [:]
        var records = 0
        for record in population.records where record.truth.isAcceptable {
            guard let citizen = record.truth.personIndex, let topic = topics[record.record.kind] else { continue }
            guard let person = try await store.sourceVersions(topic: topic, key: record.record.kafkaKey).last?.person else { continue }
            records += 1
            cells[PairKey(citizen: citizen, person: person), default: 0] += 1
            perCitizen[citizen, default: 0] += 1
            perPerson[person, default: 0] += 1
        }
        func pairs(_ n: Int) -> Int { n * (n - 1) / 2 }
        let together = cells.values.map(pairs).reduce(0, +)
        let samePerson = perPerson.values.map(pairs).reduce(0, +)
        let sameCitizen = perCitizen.values.map(pairs).reduce(0, +)
        return Summary.Linkage(precision: samePerson == 0 ? 1 : Double(together) / Double(samePerson),
                               recall: sameCitizen == 0 ? 1 : Double(together) / Double(sameCitizen),
                               records: records, citizens: perCitizen.count, persons: perPerson.count)
    }

    private struct PairKey: Hashable {
        var citizen: Int
        var person: PersonID
    }

    /// Percentiles from ingest's batch-latency histogram (bucket upper bounds; the last bucket reports its lower bound).
    static func latency(_ c: IngestCounters.Snapshot) -> Summary.Latency {
        var latency = Summary.Latency()
        latency.batches = c.batches
        guard c.batches > 0 else { return latency }
        latency.meanMs = c.latencySumMs / Double(c.batches)
        func percentile(_ p: Double) -> Int {
            var seen = 0
            let bounds = IngestCounters.latencyBoundsMs
            for (index, bound) in bounds.enumerated() {
                seen += c.latencyBuckets[bound] ?? 0
                if Double(seen) >= p * Double(c.batches) { return bound == Int.max ? bounds[max(0, index - 1)] : bound }
            }
            return bounds[bounds.count - 2]
        }
        latency.p50Ms = percentile(0.50)
        latency.p95Ms = percentile(0.95)
        latency.p99Ms = percentile(0.99)
        return latency
    }

    /// Publish → store latency percentiles, pairing the k-th record published with the k-th processed.
    static func timeline(published: [(Int, ContinuousClock.Instant)], processed: [(Int, ContinuousClock.Instant)]) -> Summary.Timeline {
        guard let total = published.last?.0, total > 0, (processed.last?.0 ?? 0) >= total else { return Summary.Timeline() }
        var latencies: [Double] = []
        latencies.reserveCapacity(total)
        var p = 0, q = 0
        for k in 1...total {
            while published[p].0 < k { p += 1 }
            while processed[q].0 < k { q += 1 }
            latencies.append(max(0, seconds(processed[q].1 - published[p].1) * 1000))
        }
        latencies.sort()
        func at(_ fraction: Double) -> Double { latencies[min(latencies.count - 1, Int(fraction * Double(latencies.count)))].rounded() }
        return Summary.Timeline(p50Ms: at(0.50), p95Ms: at(0.95), p99Ms: at(0.99), maxMs: latencies.last?.rounded() ?? 0)
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    /// The services' JSON log lines, appended to a file, so the terminal shows progress and the summary only.
    static func fileLog(_ path: String) throws -> EventLog {
        guard FileManager.default.createFile(atPath: path, contents: nil), let handle = FileHandle(forWritingAtPath: path) else {
            throw StoreError.backend("cannot write the demo log \(path)")
        }
        let file = Mutex(handle)
        return EventLog { line in file.withLock { $0.write(Data((line + "\n").utf8)) } }
    }

    /// The summary as the demo prints it (counts and codes only).
    public static func describe(_ s: Summary) -> String {
        func codes(_ counts: [String: Int]) -> String {
            counts.isEmpty ? "none" : counts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        }
        let check = s.nothingLost ? "OK, nothing lost" : (s.processed ? "FAILED: records lost" : "FAILED: not processed within the time limit")
        return """
        == hssk demo: \(s.citizens) citizens (seed \(s.seed)), store \(s.store), \(String(format: "%.1f", s.seconds)) s
        published            \(s.published)
        stored               \(s.stored) (+ \(s.duplicates) identical resends)
        dead-lettered        \(s.deadLetteredTotal): \(codes(s.deadLettered))
          ground truth       \(s.deadLetteredExpected.values.reduce(0, +)): \(codes(s.deadLetteredExpected))
        persons              \(s.personsCreated) created, \(s.linked) records linked to known persons, \(s.reviews) reviews opened
        citizen feed         \(s.feed.documents) documents at the receiver (\(s.feed.upserts) upserts, \(s.feed.deletions) deletions, \(s.feed.requests) requests, \(s.feed.outOfOrder) out of order)
        insurance            \(s.insurance.supplementsSent) supplements sent (planned: \(codes(s.insurance.planned)))
        ingest throughput    \(String(format: "%.0f", s.ingestRecordsPerS)) records/s
        publish → store      p50 \(Int(s.publishToStore.p50Ms)) ms, p95 \(Int(s.publishToStore.p95Ms)) ms, p99 \(Int(s.publishToStore.p99Ms)) ms, max \(Int(s.publishToStore.maxMs)) ms (published at once: mostly queueing)
        batch latency        p50 ≤ \(s.batchLatency.p50Ms) ms, p95 ≤ \(s.batchLatency.p95Ms) ms, p99 ≤ \(s.batchLatency.p99Ms) ms (poll → commit, \(s.batchLatency.batches) batches)
        linkage              precision \(String(format: "%.4f", s.linkage.precision)), recall \(String(format: "%.4f", s.linkage.recall)) (\(s.linkage.records) records, \(s.linkage.citizens) citizens, \(s.linkage.persons) persons)
        check                stored + dead-lettered = published: \(check)
        """
    }

    /// The summary as JSON (snake-case keys).
    public static func json(_ s: Summary) throws -> Data {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try encoder.encode(s)
    }
}
