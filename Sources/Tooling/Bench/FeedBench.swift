import CitizenFeed
import Foundation
import HealthModel
import Ingest
import Kafka
import RecordStore
import ServiceRuntime
import SourceAdapters
import Synchronization
import SyntheticPopulation

/// `hssk bench feed`: latency of the citizen feed under a steady load, the whole chain in one process
/// on the embedded cluster: a source producer → `hssk.visits.v1` → ingest (`IngestService`, SQLite)
/// → outbox → `FeedPublisher` → `hssk.citizen-feed.v1` → `FeedPusher` → HTTP → `FeedSink`.
///
/// Per visit: from the moment the source hands it to its Kafka producer to the moment the sink has
/// recorded the first document of that person whose `visits` list contains it (matched by facility
/// and arrival time, unique per visit). A document of the person in an older version, without the
/// visit, does not count; a later one is not needed. Visits are sent at a steady rate in 10 ms ticks.
public struct FeedBench: Sendable {
    /// Seconds of steady load.
    public var seconds = 60
    /// Visits per second.
    public var rate = 1_000
    /// Citizens the visits are about (a person's document grows with each of their visits).
    public var persons = 10_000

    public init() {}

    /// Results; JSON keys as `hssk bench --json` writes them under "feed".
    public struct Result: Codable, Sendable {
        /// Visits sent during the measurement.
        public var records = 0
        /// Rate asked for and rate achieved by the source (visits / span of the sends).
        public var targetPerS = 0.0
        public var sentPerS = 0.0
        /// Visits whose document reached the sink (all of them unless something was lost or late).
        public var delivered = 0
        public var p50Ms = 0.0
        public var p99Ms = 0.0
        public var maxMs = 0.0
        /// Documents the sink stored, and what it reported as duplicates or out of order.
        public var documents = 0
        public var duplicates = 0
        public var outOfOrder = 0

        enum CodingKeys: String, CodingKey {
            case records, delivered, documents, duplicates
            case targetPerS = "target_per_s", sentPerS = "sent_per_s", p50Ms = "p50_ms", p99Ms = "p99_ms", maxMs = "max_ms"
            case outOfOrder = "out_of_order"
        }
    }

    /// Arrival times of visits at the sink, filled from the documents it stores.
    private final class Arrivals: Sendable {
        private struct State {
            var inbox: [(ContinuousClock.Instant, [UInt8])] = []
            var arrived: [Int: ContinuousClock.Instant] = [:]
        }
        private let state = Mutex(State())
        /// Visit (facility code + "|" + arrival time as the document shows it) → index.
        let index: [String: Int]

        init(index: [String: Int]) { self.index = index }

        /// On the sink's connection thread: only keep the bytes and the time.
        func received(_ document: [UInt8]) {
            let now = ContinuousClock.now
            state.withLock { $0.inbox.append((now, document)) }
        }

        private struct Shown: Decodable {
            struct Visit: Decodable { var facilityCode: String; var arrivalTime: String }
            var visits: [Visit]?
        }

        /// Decodes what arrived since the last call; the first document showing a visit sets its time.
        func drain() {
            let inbox = state.withLock { state in
                defer { state.inbox = [] }
                return state.inbox
            }
            var found: [(Int, ContinuousClock.Instant)] = []
            let decoder = JSONDecoder()
            for (time, bytes) in inbox {
                guard let shown = try? decoder.decode(Shown.self, from: Data(bytes)) else { continue }
                for visit in shown.visits ?? [] {
                    if let i = index["\(visit.facilityCode)|\(visit.arrivalTime)"] { found.append((i, time)) }
                }
            }
            state.withLock { state in
                for (i, time) in found where state.arrived[i] == nil { state.arrived[i] = time }
            }
        }

        func count(in range: Range<Int>) -> Int { state.withLock { s in range.count(where: { s.arrived[$0] != nil }) } }
        func time(_ i: Int) -> ContinuousClock.Instant? { state.withLock { $0.arrived[i] } }
    }

    /// Runs the benchmark; `progress` gets one line per step.
    public func run(progress: @Sendable (String) -> Void = { _ in }) async throws -> Result {
        // Citizens old enough for any visit date, each with a personal ID, so that each visit links to
        // its person and the feed has a key for them.
        var generator = PopulationGenerator(citizens: persons, seed: 2026)
        generator.noise = .none
        let citizens = generator.generate().citizens.filter { $0.deathDate == nil && $0.birthYear < 2020 }
        guard !citizens.isEmpty else { throw StoreError.backend("no citizens to send visits about") }
        let warmUp = 50
        let total = warmUp + rate * seconds
        let sources = try SyntheticSources()
        let facility = SyntheticAccounts.facilities[0]
        // Unique arrival minutes from 2024-01-01: the visit can be recognised in any document.
        let base = Date(timeIntervalSince1970: 1_704_067_200)
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withFullDate, .withTime, .withColonSeparatorInTime, .withDashSeparatorInDate]
        formatter.timeZone = TimeZone(identifier: "UTC")
        var messages: [ProducerRecord] = []
        var index: [String: Int] = [:]
        messages.reserveCapacity(total)
        for i in 0..<total {
            let citizen = citizens[(i &* 7_919) % citizens.count]
            let time = String(formatter.string(from: base.addingTimeInterval(Double(i) * 60)).prefix(16))
            let visit = VisitRecord(facilityCode: facility.code, episodeKey: "FB-\(i)", patientId: "FBP-\(citizen.personalId)",
                                    patient: citizen.details(on: String(time.prefix(10))), visitType: "01", admissionTime: time,
                                    diagnoses: [Diagnosis(code: "J18.9", text: "Viêm phổi")])
            guard let shown = CitizenDocumentBuilder.visit(visit) else { throw StoreError.backend("bench visit not shown in documents") }
            index["\(shown.facilityCode)|\(shown.arrivalTime)"] = i
            let record = SourceRecord.visit(visit)
            messages.append(sources.message(value: Array(try RecordDecoder.encode(record)), key: record.kafkaKey, kind: .visit,
                                            sender: facility.account))
        }

        let cluster = try EmbeddedCluster(brokers: 1)
        defer { cluster.shutdown() }
        // The embedded cluster keeps ~5 MB per partition: enough partitions for the visits; the feed's
        // documents are read as they come, so older ones may go.
        let visitBytes = messages.reduce(0) { $0 + ($1.value?.count ?? 0) + 300 }
        for (kind, topic) in SourceTopics.defaults {
            try cluster.createTopic(topic, partitions: kind == .visit ? max(2, visitBytes / (3 * 1024 * 1024) + 1) : 2, replicationFactor: 1)
            try cluster.createTopic(SourceTopics.deadLetterTopic(of: topic), partitions: 2, replicationFactor: 1)
        }
        try cluster.createTopic(FeedHeaders.topic, partitions: 12, replicationFactor: 1)
        try cluster.createTopic(FeedHeaders.deadLetterTopic, partitions: 1, replicationFactor: 1)

        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("hssk-bench-feed-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try await SQLiteStore.open(path: "\(directory)/feed.sqlite", keys: try KeyRing.generate())
        for account in sources.accounts { try await store.saveAccount(account) }

        let arrivals = Arrivals(index: index)
        let key = try SigningKey(text: "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")
        var sinkConfiguration = FeedSinkConfiguration()
        sinkConfiguration.signingKey = key
        sinkConfiguration.bearerToken = "bench-token"
        sinkConfiguration.observer = { _, document in arrivals.received(document) }
        let sink = try FeedSink(sinkConfiguration)
        defer { sink.stop() }

        // Every service with the settings `hssk ingest`, `hssk feed publish` and `hssk feed push` use.
        var ingestConfiguration = IngestConfiguration(bootstrapServers: cluster.bootstrapServers)
        ingestConfiguration.kafkaProperties = EmbeddedCluster.consumerProperties.merging(["log_level": "3"]) { $1 }
        let ingest = IngestService(configuration: ingestConfiguration, store: store, log: .silent)
        var producerConfig = ProducerConfig(bootstrapServers: cluster.bootstrapServers)
        producerConfig.client.logLevel = 3
        let feedProducer = try Producer(config: producerConfig), deadLetterProducer = try Producer(config: producerConfig)
        let sourceProducer = try Producer(config: producerConfig)
        let publisher = FeedPublisher(store: store, producer: feedProducer, log: .silent)
        var consumerConfig = ConsumerConfig(bootstrapServers: cluster.bootstrapServers, groupID: FeedPusherConfiguration.group)
        consumerConfig.client.logLevel = 3
        consumerConfig.client.properties = EmbeddedCluster.consumerProperties
        let consumer = try Consumer(config: consumerConfig)
        let pusher = FeedPusher(consumer: consumer, endpoint: FeedEndpoint(FeedEndpointConfiguration(url: sink.url, bearerToken: "bench-token", signingKey: key)),
                                producer: deadLetterProducer, log: .silent)
        let services = Task {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await ingest.run() }
                group.addTask { try await publisher.run() }
                group.addTask { try await pusher.run() }
                group.addTask {
                    while !Task.isCancelled {
                        arrivals.drain()
                        try? await Task.sleep(for: .milliseconds(20))
                    }
                }
                try await group.waitForAll()
            }
        }
        var result = Result()
        do {
            // Warm-up: group joins and first connections are not feed latency.
            let warm = try await sourceProducer.sendAll(Array(messages.prefix(warmUp)))
            guard warm.allDelivered else { throw KafkaError.delivery(warm.failures[0].code, topic: warm.failures[0].topic, partition: -1) }
            let warmDeadline = ContinuousClock.now + .seconds(120)
            while arrivals.count(in: 0..<warmUp) < warmUp {
                guard ContinuousClock.now < warmDeadline else { throw StoreError.backend("warm-up visits did not reach the sink within 2 minutes") }
                try await Task.sleep(for: .milliseconds(50))
            }
            progress("chain warm: \(warmUp) visits through ingest, publisher, pusher and sink; now \(rate) visits/s for \(seconds) s")

            // Steady load: every 10 ms the visits due by then, each stamped when handed to the producer.
            var sent = [ContinuousClock.Instant](repeating: .now, count: total)
            let tick = Duration.milliseconds(10)
            let start = ContinuousClock.now
            var next = warmUp
            var lastSend = start
            try await withThrowingTaskGroup(of: Void.self) { group in
                var ticks = 0
                while next < total {
                    ticks += 1
                    try await Task.sleep(until: start + tick * ticks, clock: .continuous)
                    let due = min(total, warmUp + Int(Double(ticks) * Double(rate) / 100))
                    guard due > next else { continue }
                    let now = ContinuousClock.now
                    for i in next..<due { sent[i] = now }
                    lastSend = now
                    let batch = Array(messages[next..<due])
                    next = due
                    group.addTask {
                        let delivered = try await sourceProducer.sendAll(batch)
                        guard delivered.allDelivered else {
                            throw KafkaError.delivery(delivered.failures[0].code, topic: delivered.failures[0].topic, partition: -1)
                        }
                    }
                }
                try await group.waitForAll()
            }
            let measured = warmUp..<total
            result.records = measured.count
            result.targetPerS = Double(rate)
            result.sentPerS = Double(measured.count) / max(Self.seconds(start.duration(to: lastSend)) + 0.01, 1e-9)
            progress(String(format: "sent %d visits at %.0f/s; waiting for the last documents", measured.count, result.sentPerS))
            let deadline = ContinuousClock.now + .seconds(60)
            while arrivals.count(in: measured) < measured.count, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(50))
            }
            arrivals.drain()
            var latencies: [Double] = []
            for i in measured {
                if let time = arrivals.time(i) { latencies.append(Self.seconds(sent[i].duration(to: time)) * 1_000) }
            }
            // Per 10 s of sending: a latency that grows during the run means the chain does not keep up.
            let window = max(1, rate * 10)
            let windows = stride(from: measured.lowerBound, to: measured.upperBound, by: window).map { start -> String in
                var part = (start..<min(start + window, measured.upperBound)).compactMap { i in
                    arrivals.time(i).map { Self.seconds(sent[i].duration(to: $0)) * 1_000 }
                }
                part.sort()
                return part.isEmpty ? "-" : String(format: "%.0f", part[max(0, Int((Double(part.count) * 0.99).rounded(.up)) - 1)])
            }
            progress("p99 per 10 s of sending, ms: " + windows.joined(separator: " "))
            latencies.sort()
            result.delivered = latencies.count
            if !latencies.isEmpty {
                result.p50Ms = latencies[(latencies.count - 1) / 2]
                result.p99Ms = latencies[max(0, Int((Double(latencies.count) * 0.99).rounded(.up)) - 1)]
                result.maxMs = latencies[latencies.count - 1]
            }
            let report = sink.report
            result.documents = report.upserts
            result.duplicates = report.duplicates
            result.outOfOrder = report.outOfOrder
        } catch {
            services.cancel()
            _ = await services.result
            try? await sourceProducer.close()
            try? await feedProducer.close()
            try? await deadLetterProducer.close()
            try? await consumer.close()
            await store.close()
            throw error
        }
        services.cancel()
        if case .failure(let error) = await services.result, !(error is CancellationError) { throw error }
        try await sourceProducer.close()
        try await feedProducer.close()
        try await deadLetterProducer.close()
        try await consumer.close()
        await store.close()
        return result
    }

    private static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}
