import Foundation
import HealthModel
import Ingest
import Kafka
import RecordStore
import ServiceRuntime
import SourceAdapters
import SyntheticPopulation

/// `hssk bench ingest`: end-to-end ingest (consume → authenticate → validate → link → encrypted store,
/// exactly once, dead letters included) of a synthetic population already on the embedded cluster,
/// next to a raw C-API insert loop of the same values into the same backend, in one run.
public struct IngestBench: Sendable {
    /// Source records to ingest.
    public var records = 100_000
    /// Records per store transaction.
    public var batchSize = 2_000
    /// PostgreSQL server for the postgres part (a scratch database per measurement); nil skips it.
    public var postgresURL: String?

    public init() {}

    /// Results; JSON keys as `hssk bench --json` writes them under "ingest".
    public struct Result: Codable, Sendable {
        public var records = 0
        public var deadLettered = 0
        public var personsCreated = 0
        public var sqliteIngestPerS = 0.0
        public var sqliteRawPerS = 0.0
        public var postgresIngestPerS: Double?
        public var postgresRawPerS: Double?

        enum CodingKeys: String, CodingKey {
            case records
            case deadLettered = "dead_lettered", personsCreated = "persons_created"
            case sqliteIngestPerS = "sqlite_ingest_per_s", sqliteRawPerS = "sqlite_raw_per_s"
            case postgresIngestPerS = "postgres_ingest_per_s", postgresRawPerS = "postgres_raw_per_s"
        }
    }

    /// Runs the benchmark; `progress` gets one line per step.
    public func run(progress: @Sendable (String) -> Void = { _ in }) async throws -> Result {
        let population = PopulationGenerator(citizens: max(10, records * 100 / 235), seed: 2026).generate()
        let chosen = Array(population.records.prefix(records))
        let sources = try SyntheticSources()
        let messages = try chosen.map { try sources.producerRecord($0) }
        let cluster = try EmbeddedCluster(brokers: 1)
        defer { cluster.shutdown() }
        // The embedded cluster keeps ~5 MB per partition: enough partitions that nothing is dropped.
        var bytes: [String: Int] = [:]
        for message in messages { bytes[message.topic, default: 0] += (message.value?.count ?? 0) + 300 }
        for topic in SourceTopics.defaults.values {
            let partitions = max(2, (bytes[topic] ?? 0) / (3 * 1024 * 1024) + 1)
            try cluster.createTopic(topic, partitions: partitions, replicationFactor: 1)
            try cluster.createTopic(SourceTopics.deadLetterTopic(of: topic), partitions: 2, replicationFactor: 1)
        }
        var producerConfig = ProducerConfig(bootstrapServers: cluster.bootstrapServers)
        producerConfig.client.logLevel = 3
        let producer = try Producer(config: producerConfig)
        let delivered = try await producer.sendAll(messages)
        try await producer.close()
        guard delivered.allDelivered else { throw KafkaError.delivery(delivered.failures[0].code, topic: delivered.failures[0].topic, partition: -1) }
        progress("\(messages.count) source records on the embedded cluster")
        let raw = messages.enumerated().map { index, message in
            RawRow(topic: message.topic, partition: 0, offset: Int64(index), sender: "bench", key: "\(message.topic):\(index)",
                   payload: message.value ?? [], facility: "01001", visitType: "01", details: message.value ?? [])
        }

        var result = Result()
        result.records = messages.count
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("hssk-bench-ingest-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let batchSize = batchSize
        let keys = try KeyRing.generate()

        result.sqliteRawPerS = try await onOwnThread { try RawInsertBaseline.sqlite(path: "\(directory)/raw.sqlite", rows: raw, batchSize: batchSize) }
        progress(String(format: "sqlite raw inserts   %10.0f records/s", result.sqliteRawPerS))
        let sqlite = try await SQLiteStore.open(path: "\(directory)/ingest.sqlite", keys: keys)
        let sqliteRun = try await measure(sqlite, cluster: cluster, sources: sources, group: "bench-sqlite", total: messages.count)
        await sqlite.close()
        result.sqliteIngestPerS = sqliteRun.rate
        result.deadLettered = sqliteRun.counters.deadLetteredTotal
        result.personsCreated = sqliteRun.counters.personsCreated
        progress(String(format: "sqlite ingest        %10.0f records/s", sqliteRun.rate))

        if let url = postgresURL {
            let rawScratch = try await onOwnThread { try RawInsertBaseline.createScratchDatabase(near: url) }
            defer { _ = try? RawInsertBaseline.dropScratchDatabase(rawScratch, near: url) }
            result.postgresRawPerS = try await onOwnThread { try RawInsertBaseline.postgres(url: rawScratch, rows: raw, batchSize: batchSize) }
            progress(String(format: "postgres raw inserts %10.0f records/s", result.postgresRawPerS ?? 0))
            let scratch = try await onOwnThread { try RawInsertBaseline.createScratchDatabase(near: url) }
            defer { _ = try? RawInsertBaseline.dropScratchDatabase(scratch, near: url) }
            let postgres = try await PostgresStore.open(url: scratch, keys: keys)
            let run = try await measure(postgres, cluster: cluster, sources: sources, group: "bench-postgres", total: messages.count)
            await postgres.close()
            result.postgresIngestPerS = run.rate
            progress(String(format: "postgres ingest      %10.0f records/s", run.rate))
        }
        return result
    }

    /// Runs ingest until every record is consumed and applied; the clock starts at the first record
    /// consumed (group join is not ingest work).
    private func measure(_ store: any HealthRecordStore, cluster: EmbeddedCluster, sources: SyntheticSources, group: String,
                         total: Int) async throws -> (rate: Double, counters: IngestCounters.Snapshot) {
        for account in sources.accounts { try await store.saveAccount(account) }
        var configuration = IngestConfiguration(bootstrapServers: cluster.bootstrapServers)
        configuration.group = group
        configuration.maxBatchRecords = batchSize
        configuration.kafkaProperties = ["log_level": "3"]
        let service = IngestService(configuration: configuration, store: store, log: .silent)
        let running = Task { try await service.run() }
        var started: ContinuousClock.Instant?
        var finished: ContinuousClock.Instant?
        let deadline = ContinuousClock.now + .seconds(3_600)
        while ContinuousClock.now < deadline {
            let counters = service.counters.snapshot
            if started == nil, counters.consumed > 0 { started = ContinuousClock.now }
            if counters.stored + counters.duplicates + counters.deadLetteredTotal >= total { finished = ContinuousClock.now; break }
            try await Task.sleep(for: .milliseconds(5))
        }
        running.cancel()
        try await running.value
        guard let started, let finished else { throw StoreError.backend("ingest did not finish within the hour") }
        let elapsed = finished - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return (Double(total) / max(seconds, 1e-9), service.counters.snapshot)
    }

    private func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Swift.Result { try body() }) }.start()
        }
    }
}
