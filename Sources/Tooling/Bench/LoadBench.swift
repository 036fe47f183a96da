import Foundation
import HealthModel
import Ingest
import Kafka
import RecordStore
import ServiceRuntime
import Synchronization
import SyntheticPopulation

/// `hssk bench load`: a city's first load as it would happen. A synthetic city of `persons` citizens is
/// generated in shards and streamed to the embedded cluster (the cluster keeps only the latest ~5 MB per
/// partition, so publishing stays at most `maxLead` records ahead of ingest), while the whole ingest
/// service stores it into a fresh store. Prints the rate of every minute, the total time, the store's
/// size, the peak resident memory and, from the ground truth, linkage precision and recall.
public struct LoadBench: Sendable {
    /// Citizens of the city.
    public var persons = 8_400_000
    /// Stop publishing after this many records (nil: every record of every citizen).
    public var recordLimit: Int?
    /// Citizens generated at a time (identifiers stay unique across shards).
    public var shardCitizens = 50_000
    /// Partitions of each source topic.
    public var partitions = 16
    /// Records per store transaction.
    public var batchSize = 2_000
    /// Records published but not yet ingested, at most: the embedded cluster keeps ~5 MB per partition,
    /// and a shard's first records (its COVID-19 doses, the oldest) all go to one topic's 16 partitions.
    public var maxLead = 32_000
    /// PostgreSQL server (a scratch database is created and dropped); nil: SQLite.
    public var postgresURL: String?
    /// Directory for the SQLite store (a fresh temporary one when nil).
    public var directory: String?
    /// Keep the store afterwards (e.g. for `hssk bench linkage` at this size).
    public var keepStore = false
    /// How long ingest may make no progress before the run fails.
    public var stallLimit: Duration = .seconds(300)
    /// Seed of the synthetic city.
    public var seed: UInt64 = 2026

    public init() {}

    /// Results; JSON keys as `hssk bench --json` writes them under "load".
    public struct Result: Codable, Sendable {
        public var backend = "sqlite"
        public var citizens = 0
        public var records = 0
        public var stored = 0
        public var deadLettered = 0
        public var personsCreated = 0
        public var reviews = 0
        public var seconds = 0.0
        public var recordsPerS = 0.0
        /// Records ingested per second in each full minute of the run.
        public var minuteRates: [Double] = []
        /// Last full minute's rate over the first's (1.0 = flat).
        public var lastOverFirst: Double?
        public var storeBytes: Int64 = 0
        public var peakResidentBytes: Int64 = 0
        /// CPU seconds the generator and producer used (they share the machine with ingest).
        public var publisherCPUSeconds = 0.0
        /// CPU of this process per record ingested, without the publisher's (ingest, its Kafka client and
        /// the embedded brokers), in µs: what one record costs the ingest machine.
        public var processCPUMicrosPerRecord = 0.0
        /// CPU of everything else on the machine per record (the PostgreSQL server, when it runs here), in µs.
        public var otherCPUMicrosPerRecord = 0.0
        public var precision = 0.0
        public var recall = 0.0
        public var linkedRecords = 0
        public var unlinkedRecords = 0
        /// Records ingest had to accept that it dead-lettered, and records it had to reject that it stored.
        public var missingRecords = 0
        public var wronglyStoredRecords = 0
        public var storePath: String?

        enum CodingKeys: String, CodingKey {
            case backend, citizens, records, stored, seconds, precision, recall
            case deadLettered = "dead_lettered", personsCreated = "persons_created", reviews
            case recordsPerS = "records_per_s", minuteRates = "minute_rates", lastOverFirst = "last_over_first"
            case storeBytes = "store_bytes", peakResidentBytes = "peak_resident_bytes", publisherCPUSeconds = "publisher_cpu_seconds"
            case linkedRecords = "linked_records", unlinkedRecords = "unlinked_records", storePath = "store_path"
            case processCPUMicrosPerRecord = "process_cpu_us_per_record", otherCPUMicrosPerRecord = "other_cpu_us_per_record"
            case missingRecords = "missing_records", wronglyStoredRecords = "wrongly_stored_records"
        }
    }

    /// Runs the load; `progress` gets one line per step and per minute.
    public func run(progress: @escaping @Sendable (String) -> Void = { _ in }) async throws -> Result {
        let cluster = try EmbeddedCluster(brokers: 1)
        defer { cluster.shutdown() }
        let topics = SourceTopics.defaults
        for topic in topics.values {
            try cluster.createTopic(topic, partitions: partitions, replicationFactor: 1)
            try cluster.createTopic(SourceTopics.deadLetterTopic(of: topic), partitions: 2, replicationFactor: 1)
        }
        let sources = try SyntheticSources()
        var result = Result()
        result.citizens = persons

        let temporary = directory == nil
        let directory = directory ?? FileManager.default.temporaryDirectory.appendingPathComponent("hssk-bench-load-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let keys = try KeyRing.generate()
        let store: any HealthRecordStore
        let location: LoadStoreLocation
        if let url = postgresURL {
            let scratch = try RawInsertBaseline.createScratchDatabase(near: url)
            store = try await PostgresStore.open(url: scratch, keys: keys)
            location = .postgres(scratch, server: url)
            result.backend = "postgres"
        } else {
            let path = "\(directory)/load.sqlite"
            store = try await SQLiteStore.open(path: path, keys: keys)
            location = .sqlite(path)
        }
        var closed = false
        defer {
            if !closed { Task { [store] in await store.close() } }
            if !keepStore {
                if case .postgres(let scratch, let server) = location { _ = try? RawInsertBaseline.dropScratchDatabase(scratch, near: server) }
                if temporary { try? FileManager.default.removeItem(atPath: directory) }
            }
        }
        for account in sources.accounts { try await store.saveAccount(account) }
        progress("\(result.backend) store at \(location.description); \(persons) citizens, published in shards of \(shardCitizens)")

        var configuration = IngestConfiguration(bootstrapServers: cluster.bootstrapServers)
        configuration.group = "bench-load"
        configuration.maxBatchRecords = batchSize
        configuration.kafkaProperties = ["log_level": "3"]
        let service = IngestService(configuration: configuration, store: store, log: .silent)
        let ingestFailure = Mutex<(any Error)?>(nil)
        let running = Task {
            do { try await service.run() } catch {
                ingestFailure.withLock { $0 = error }
                throw error
            }
        }
        let processed: @Sendable () -> Int = {
            let c = service.counters.snapshot
            return c.stored + c.duplicates + c.deadLetteredTotal
        }

        let publisher = LoadPublisher(bench: self, sources: sources, bootstrapServers: cluster.bootstrapServers, topics: topics)
        let publishing = Task { try await publisher.runOnOwnThread(processed: processed) }
        // Whatever ends the run early, the publisher stops waiting for ingest and closes its producer.
        defer { publisher.cancel() }

        // The clock starts at the first record consumed; every minute after it is a row.
        var started: ContinuousClock.Instant?
        var lastMinute = 0
        var processedAtMinute = 0
        var stalledSince = ContinuousClock.now
        var lastProcessed = 0
        var finished: ContinuousClock.Instant?
        var cpuAtStart = (process: 0.0, machine: 0.0, publisher: 0.0), cpuAtEnd = cpuAtStart
        while true {
            try await Task.sleep(for: .milliseconds(200))
            let counters = service.counters.snapshot
            let done = processed()
            if started == nil, counters.consumed > 0 {
                started = ContinuousClock.now
                cpuAtStart = (KafkaBench.processCPUSeconds(), Self.machineBusySeconds(), publisher.cpuSeconds)
            }
            if done != lastProcessed { lastProcessed = done; stalledSince = .now }
            if let started {
                let minute = Int(Self.seconds(ContinuousClock.now - started) / 60)
                if minute > lastMinute {
                    let rate = Double(done - processedAtMinute) / Double(60 * (minute - lastMinute))
                    result.minuteRates.append(rate)
                    progress(String(format: "minute %3d  %8.0f records/s  %10d records  %9d persons  resident %5.1f GB", minute, rate, done,
                                    counters.personsCreated, Double(Self.residentBytes()) / 1e9))
                    lastMinute = minute
                    processedAtMinute = done
                }
            }
            if let total = publisher.total, done >= total {
                finished = .now
                cpuAtEnd = (KafkaBench.processCPUSeconds(), Self.machineBusySeconds(), publisher.cpuSeconds)
                break
            }
            if let failure = ingestFailure.withLock({ $0 }) { throw failure }
            if ContinuousClock.now - stalledSince > stallLimit {
                running.cancel()
                _ = try? await running.value
                throw StoreError.backend("ingest made no progress for \(stallLimit) at \(done) records (published \(publisher.published));"
                                         + " if records expired from the embedded cluster, lower the lead")
            }
            if let failure = publisher.failure {
                running.cancel()
                _ = try? await running.value
                throw failure
            }
        }
        let truth = try await publishing.value
        running.cancel()
        try await running.value
        let counters = service.counters.snapshot
        guard let started, let finished else { throw StoreError.backend("ingest never started") }
        result.seconds = Self.seconds(finished - started)
        result.records = truth.published
        result.recordsPerS = Double(truth.published) / max(result.seconds, 1e-9)
        result.stored = counters.stored
        result.deadLettered = counters.deadLetteredTotal
        result.personsCreated = counters.personsCreated
        result.reviews = counters.reviews
        result.publisherCPUSeconds = truth.cpuSeconds
        let process = (cpuAtEnd.process - cpuAtStart.process) - (cpuAtEnd.publisher - cpuAtStart.publisher)
        result.processCPUMicrosPerRecord = process * 1e6 / Double(max(truth.published, 1))
        result.otherCPUMicrosPerRecord = max(0, (cpuAtEnd.machine - cpuAtStart.machine) - (cpuAtEnd.process - cpuAtStart.process)) * 1e6
            / Double(max(truth.published, 1))
        if result.minuteRates.count >= 2, let first = result.minuteRates.first, first > 0, let last = result.minuteRates.last {
            result.lastOverFirst = last / first
        }
        await store.close()
        closed = true
        progress(String(format: "ingested %d records in %.0f s (%.0f records/s); measuring the store and linkage", truth.published, result.seconds, result.recordsPerS))
        result.storeBytes = try location.sizeOnDisk()
        let quality = try LoadGroundTruth.linkage(location, truth: truth.citizens, topics: publisher.topicNames, citizens: persons)
        result.precision = quality.precision
        result.recall = quality.recall
        result.linkedRecords = quality.linked
        result.unlinkedRecords = quality.unlinked
        result.missingRecords = quality.missing
        result.wronglyStoredRecords = quality.wronglyStored
        result.peakResidentBytes = Self.peakResidentBytes()
        if keepStore { result.storePath = location.description }
        return result
    }

    static func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }

    /// Peak resident set of this process (bench, embedded cluster and ingest together), in bytes.
    static func peakResidentBytes() -> Int64 {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Int64(usage.ru_maxrss) * 1024
    }

    /// CPU time all processes of the machine have used since boot (user, nice, system, irq), in seconds.
    static func machineBusySeconds() -> Double {
        guard let stat = try? String(contentsOfFile: "/proc/stat", encoding: .utf8), let line = stat.split(separator: "\n").first,
              line.hasPrefix("cpu ") else { return 0 }
        let fields = line.split(separator: " ").dropFirst().compactMap { Double($0) }
        guard fields.count >= 7 else { return 0 }
        // user nice system idle iowait irq softirq: everything but idle and iowait is busy.
        let busy = fields[0] + fields[1] + fields[2] + fields[5] + fields[6]
        return busy / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// Resident set of this process now, in bytes.
    static func residentBytes() -> Int64 {
        guard let statm = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8),
              let pages = statm.split(separator: " ").dropFirst().first.flatMap({ Int64($0) }) else { return 0 }
        return pages * Int64(sysconf(Int32(_SC_PAGESIZE)))
    }
}

/// Where the load's store lives.
enum LoadStoreLocation: CustomStringConvertible {
    case sqlite(String)
    case postgres(String, server: String)

    var description: String {
        switch self {
        case .sqlite(let path): return path
        // The scratch database's name only: the URL may carry a password.
        case .postgres(let url, _): return "PostgreSQL database " + (URLComponents(string: url)?.path.dropFirst().description ?? "?")
        }
    }

    /// Bytes the store takes on disk (SQLite: the file with its WAL; PostgreSQL: the database).
    func sizeOnDisk() throws -> Int64 {
        switch self {
        case .sqlite(let path):
            return ["", "-wal", "-shm"].reduce(Int64(0)) { total, suffix in
                total + ((try? FileManager.default.attributesOfItem(atPath: path + suffix)[.size] as? Int64) ?? 0)
            }
        case .postgres(let url, _):
            return try LoadGroundTruth.postgresDatabaseSize(url)
        }
    }
}

/// Generates the city shard by shard and publishes it, never more than `maxLead` records ahead of
/// ingest; remembers the true citizen of every record by its partition and offset.
final class LoadPublisher: Sendable {
    let bench: LoadBench
    let sources: SyntheticSources
    let bootstrapServers: String
    /// Source topics in a fixed order (the ground truth is kept per topic index).
    let topicNames: [String]
    private let kinds: [RecordKind: Int]
    private let state = Mutex<(published: Int, total: Int?, failure: (any Error)?, cpuSeconds: Double)>((0, nil, nil, 0))

    init(bench: LoadBench, sources: SyntheticSources, bootstrapServers: String, topics: [RecordKind: String]) {
        self.bench = bench
        self.sources = sources
        self.bootstrapServers = bootstrapServers
        let ordered = topics.sorted { $0.value < $1.value }
        topicNames = ordered.map(\.value)
        kinds = Dictionary(uniqueKeysWithValues: ordered.enumerated().map { ($0.element.key, $0.offset) })
    }

    /// Records published so far.
    var published: Int { state.withLock { $0.published } }
    /// Every record's count, once publishing has ended.
    var total: Int? { state.withLock { $0.total } }
    /// Why publishing stopped early.
    var failure: (any Error)? { state.withLock { $0.failure } }
    /// Makes the publisher stop (it throws CancellationError at its next wait).
    func cancel() { cancelled.store(true, ordering: .relaxed) }
    private let cancelled = Atomic<Bool>(false)

    /// CPU seconds the publishing thread has used so far (updated per chunk).
    var cpuSeconds: Double { state.withLock { $0.cpuSeconds } }

    /// The ground truth of what was published.
    struct Truth: Sendable {
        /// Per topic index and partition, the true citizen of each offset (-1: a record ingest must reject).
        var citizens: [[[Int32]]]
        var published: Int
        var cpuSeconds: Double
    }

    /// Publishes on a thread of its own (generation and signing are CPU work, librdkafka calls block).
    func runOnOwnThread(processed: @escaping @Sendable () -> Int) async throws -> Truth {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread {
                do {
                    continuation.resume(returning: try self.publish(processed: processed))
                } catch {
                    self.state.withLock { $0.failure = error }
                    continuation.resume(throwing: error)
                }
            }
            thread.name = "load-publisher"
            thread.start()
        }
    }

    private func publish(processed: @Sendable () -> Int) throws -> Truth {
        var config = ProducerConfig(bootstrapServers: bootstrapServers)
        config.client.logLevel = 3
        let producer = try Producer(config: config)
        defer { _ = try? waitOnThisThread { try await producer.close() } }
        let partitions = bench.partitions
        var truth = Truth(citizens: Array(repeating: Array(repeating: [], count: partitions), count: topicNames.count), published: 0, cpuSeconds: 0)
        var registry = IdentifierRegistry()
        // Chunks of at most half the lead, so that one can always go out once ingest has caught up.
        let chunkSize = max(1, min(4_000, bench.maxLead / 2))
        var chunk: [ProducerRecord] = []
        chunk.reserveCapacity(chunkSize)
        func send() throws {
            guard !chunk.isEmpty else { return }
            while truth.published + chunk.count - processed() > bench.maxLead {
                if cancelled.load(ordering: .relaxed) { throw CancellationError() }
                Thread.sleep(forTimeInterval: 0.02)
            }
            let records = chunk
            let delivered = try waitOnThisThread { try await producer.sendAll(records) }
            guard delivered.allDelivered else { throw KafkaError.delivery(delivered.failures[0].code, topic: delivered.failures[0].topic, partition: -1) }
            truth.published += chunk.count
            let used = Self.threadCPUSeconds()
            state.withLock {
                $0.published = truth.published
                $0.cpuSeconds = used
            }
            chunk.removeAll(keepingCapacity: true)
        }
        var base = 0
        var shard: UInt64 = 0
        publishing: while base < bench.persons {
            var generator = PopulationGenerator(citizens: min(bench.shardCitizens, bench.persons - base), seed: bench.seed &+ shard)
            generator.indexBase = base
            generator.vaccinationHistory = true
            let population = generator.generate(sharing: &registry)
            for synthetic in population.records {
                if let limit = bench.recordLimit, truth.published + chunk.count >= limit { break publishing }
                guard let topic = kinds[synthetic.record.kind] else { continue }
                // The partition is chosen here, so each record's offset is known without delivery reports:
                // one idempotent producer appends to each fresh partition in order.
                let key = synthetic.record.kafkaKey
                let partition = Int(Self.stableHash(key) % UInt32(partitions))
                var message = try sources.producerRecord(synthetic)
                message.partition = Int32(partition)
                let citizen = synthetic.truth.personIndex.map { Int32(base + $0) } ?? -1
                truth.citizens[topic][partition].append(synthetic.truth.isAcceptable ? citizen : -1)
                chunk.append(message)
                if chunk.count == chunkSize { try send() }
            }
            base += generator.citizens
            shard += 1
        }
        try send()
        truth.cpuSeconds = Self.threadCPUSeconds()
        state.withLock {
            $0.cpuSeconds = truth.cpuSeconds
            $0.total = truth.published
        }
        return truth
    }

    /// CPU time of the calling thread, in seconds.
    static func threadCPUSeconds() -> Double {
        var cpu = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu)
        return Double(cpu.tv_sec) + Double(cpu.tv_nsec) / 1e9
    }

    /// FNV-1a of the key: the same key always lands on the same partition.
    static func stableHash(_ key: String) -> UInt32 {
        var hash: UInt32 = 2_166_136_261
        for byte in key.utf8 { hash = (hash ^ UInt32(byte)) &* 16_777_619 }
        return hash
    }
}
