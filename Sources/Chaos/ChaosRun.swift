import Administration
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
import Tooling

/// `hssk chaos`: the standing proof of exactly-once (DESIGN §6). While a synthetic population is
/// published, `hssk ingest` processes of one group are SIGKILLed, stopped and added at random, brokers
/// go down, requests fail, the store is locked or cut off, and hostile records arrive; the citizen
/// feed runs beside it. Afterwards every record on the source topics must be stored exactly once (the
/// last version of each key current) or dead-lettered exactly once with its code, the store must pass
/// `verify`, and the feed's receiver must hold each person's latest document.
public struct ChaosRun: Sendable {
    /// The `hssk` binary the services run as.
    public var executable: String
    /// Folder for the store (SQLite), keys, logs and the report.
    public var workDirectory: String
    /// SIGKILLs of ingest processes to deal at least.
    public var kills = 50
    /// Source records to publish (plus the hostile ones).
    public var records = 20_000
    /// Ingest processes at most at once.
    public var members = 3
    /// Seed of the population and of the run's choices.
    public var seed: UInt64 = 2026
    /// SQLite file or `postgres://` URL of an empty database; nil: a SQLite file in the work folder.
    public var store: String?
    /// Shell command restarting the PostgreSQL server (one of the store faults when given).
    public var restartStoreCommand: String?
    /// An existing cluster instead of the embedded one (no broker faults; topics must exist).
    public var bootstrap: String?
    /// librdkafka properties for every client (e.g. security settings of an existing cluster).
    public var kafkaProperties: [String: String] = [:]
    /// Catalogue folder (topics/).
    public var topicsDirectory = TopicCatalogue.defaultDirectory()
    /// Longest wait for everything to be processed once the faults stop.
    public var drainTimeout: Duration = .seconds(600)

    public init(executable: String, workDirectory: String) {
        self.executable = executable
        self.workDirectory = workDirectory
    }

    /// The run's result: `chaos: kills K, published P, stored S, dead-lettered D, lost L, duplicated U`.
    public struct Report: Sendable, Codable {
        public var kills = 0
        public var terminations = 0
        public var membersAdded = 0
        public var brokerFaults = 0
        public var requestFaults = 0
        public var storeFaults = 0
        public var feedKills = 0
        public var published = 0
        public var hostile = 0
        public var stored = 0
        public var replays = 0
        public var deadLettered = 0
        public var lost = 0
        public var duplicated = 0
        public var wrongCode = 0
        public var stale = 0
        public var findings = ChaosAccounting.Findings()
        /// SIGTERMs that did not end with status 0, and processes that died of a signal the run did not send.
        public var badEndings: [String] = []
        /// Processes that exited by themselves: a service must ride out every fault the run injects,
        /// so any such exit fails the run.
        public var selfExits: [String] = []
        public var verifyProblems: [String] = []
        public var feedProblems: [String] = []
        public var feedDocuments = 0
        /// Topics where the embedded cluster dropped records (the run would prove nothing there).
        public var retention: [String] = []
        public var drained = false
        public var backend = ""
        public var seconds = 0.0
        public var events: [String] = []

        /// True when nothing was lost, duplicated, stale or wrong, and everything else held.
        public var passed: Bool {
            lost == 0 && duplicated == 0 && wrongCode == 0 && stale == 0 && badEndings.isEmpty && selfExits.isEmpty && verifyProblems.isEmpty
                && feedProblems.isEmpty && retention.isEmpty && drained && published > 0
        }

        /// The summary line.
        public var line: String {
            "chaos: kills \(kills), published \(published), stored \(stored + replays), dead-lettered \(deadLettered), lost \(lost), duplicated \(duplicated)"
        }
    }

    /// Runs the whole scenario; `status` gets progress lines.
    public func run(status: @escaping @Sendable (String) -> Void) async throws -> Report {
        let started = ContinuousClock.now
        try FileManager.default.createDirectory(atPath: workDirectory, withIntermediateDirectories: true)
        let runID = UUID().uuidString.lowercased()
        var report = Report()
        let events = Shared<[String]>([])
        let note: @Sendable (String) -> Void = { text in
            let line = "[\(String(format: "%6.1f", Self.seconds(since: started)))s] \(text)"
            events.update { $0.append(line) }
            status(line)
        }

        // Store and keys.
        let storeLocation = store ?? (workDirectory as NSString).appendingPathComponent("chaos.sqlite")
        report.backend = RecordStores.isPostgres(storeLocation) ? "postgres" : "sqlite"
        let keyFile = (workDirectory as NSString).appendingPathComponent("keys.json")
        if FileManager.default.fileExists(atPath: keyFile) { try FileManager.default.removeItem(atPath: keyFile) }
        if !RecordStores.isPostgres(storeLocation) {
            for suffix in ["", "-wal", "-shm"] where FileManager.default.fileExists(atPath: storeLocation + suffix) {
                try FileManager.default.removeItem(atPath: storeLocation + suffix)
            }
        }
        _ = try StoreAdministration.generateKeys(to: keyFile)
        let keys = try KeyRing.load(path: keyFile)
        let sources = try SyntheticSources()
        do {
            let store = try await RecordStores.open(storeLocation, keys: keys)
            for account in sources.accounts { try await store.saveAccount(account) }
            await store.close()
        } catch StoreError.wrongKey {
            throw StoreError.invalidRequest("\(storeLocation) is not empty: chaos needs an empty store")
        }

        // What will be published, and topics big enough to keep all of it on the embedded cluster.
        let population = PopulationGenerator(citizens: max(50, records * 10 / 23), seed: seed).generate()
        let publisher = try ChaosPublisher(population: population, sources: sources, count: records, run: runID, seed: seed)
        report.hostile = publisher.hostile
        let catalogue = try TopicCatalogue.load(from: topicsDirectory)
        var cluster: EmbeddedCluster?
        let bootstrap: String
        if let given = self.bootstrap {
            bootstrap = given
        } else {
            let embedded = try EmbeddedCluster(brokers: 3)
            let bytes = publisher.bytesPerTopic
            let specs = catalogue.specs.map { spec -> TopicSpec in
                var spec = spec
                spec.replicationFactor = min(spec.replicationFactor, 3)
                let source = spec.name.hasSuffix(DeadLetterTopic.suffix) ? String(spec.name.dropLast(DeadLetterTopic.suffix.count)) : spec.name
                // Source and dead-letter topics get room for everything published; the citizen feed for
                // a few documents per record.
                let expected = spec.name == FeedHeaders.topic ? publisher.messages.count * 4_096 : bytes[source] ?? 0
                spec.partitions = max(spec.partitions, expected / (3 * 1024 * 1024) + 1)
                return spec
            }
            _ = try await embedded.ensureTopics(specs)
            try ClusterFaults(cluster: embedded).pinCoordinator(of: ["hssk-ingest", FeedPusherConfiguration.group])
            cluster = embedded
            bootstrap = embedded.bootstrapServers
        }
        defer { cluster?.shutdown() }
        let sourceTopics = SourceTopics.defaults.values.sorted()
        note("cluster \(bootstrap); store \(report.backend); \(publisher.messages.count) records to publish (\(publisher.hostile) hostile)")

        // The citizen feed's receiver lives here; publisher and pusher are processes like ingest.
        let feedKeyBytes = try SyntheticSources.randomBytes(32)
        let feedKeyFile = (workDirectory as NSString).appendingPathComponent("feed.key")
        try Data(feedKeyBytes.map { String(format: "%02x", $0) }.joined().utf8).write(to: URL(fileURLWithPath: feedKeyFile))
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: feedKeyFile)
        let sink = try FeedSink({ var c = FeedSinkConfiguration(); c.signingKey = try? SigningKey(bytes: feedKeyBytes); return c }())
        let sinkTask = Task { try await sink.run() }
        defer {
            sink.stop()
            sinkTask.cancel()
        }

        let kafka = kafkaProperties.flatMap { ["--kafka", "\($0.key)=\($0.value)"] }
        // Short sessions: a killed member's partitions move on within seconds, so kills hit working members.
        let fast = ["--kafka", "session.timeout.ms=3000", "--kafka", "heartbeat.interval.ms=300", "--kafka", "log_level=3"]
            + (self.bootstrap == nil ? ["--kafka", "fetch.wait.max.ms=50"] : [])
        var counter = 0
        func spawn(_ role: String, _ arguments: [String]) throws -> ChaosProcess {
            counter += 1
            return try ChaosProcess(name: "\(role)-\(counter)", executable: executable, arguments: arguments,
                                    logPath: (workDirectory as NSString).appendingPathComponent("\(role)-\(counter).log"))
        }
        func ingest() throws -> ChaosProcess {
            try spawn("ingest", ["ingest", "--bootstrap", bootstrap, "--store", storeLocation, "--keys", keyFile, "--batch", "500"] + fast + kafka)
        }
        func feedPublish() throws -> ChaosProcess {
            try spawn("feed-publish", ["feed", "publish", "--bootstrap", bootstrap, "--store", storeLocation, "--keys", keyFile, "--kafka", "log_level=3"] + kafka)
        }
        func feedPush() throws -> ChaosProcess {
            try spawn("feed-push", ["feed", "push", "--bootstrap", bootstrap, "--endpoint", sink.url.absoluteString, "--key-file", feedKeyFile] + fast + kafka)
        }
        var all: [ChaosProcess] = []
        var members: [ChaosProcess] = []
        var feed: [ChaosProcess] = []
        func startMember() throws {
            let member = try ingest()
            members.append(member)
            all.append(member)
        }
        try startMember()
        try startMember()
        feed = [try feedPublish(), try feedPush()]
        all += feed

        // Publishing runs beside the faults, over about as long as the kills take.
        let duration = Duration.seconds(max(20, kills * 5 / 2))
        let published = Shared(0), publishingDone = Shared(false)
        let properties = kafkaProperties
        let publishing = Task {
            defer { publishingDone.update { $0 = true } }
            return try await publisher.publish(bootstrap: bootstrap, properties: properties, over: duration) { count in published.update { $0 = count } }
        }

        var random = SeededGenerator(seed: seed ^ 0x5eed)
        let storeFaults = StoreFaults(location: storeLocation, restartCommand: restartStoreCommand)
        let clusterFaults = cluster.map(ClusterFaults.init)
        var background: [Task<String, any Error>] = []
        var brokerBackAt = ContinuousClock.now
        // A fault every 0.5–2 s, about half of them SIGKILLs: a kill every 2.3 s on average, as in the
        // run that found the loss (kills at random every 1–4 s), with the other faults in between.
        while report.kills < kills || !publishingDone.value {
            try await Task.sleep(for: .milliseconds(Int64.random(in: 500...2_000, using: &random)))
            members.removeAll { !$0.isRunning }
            let action = random.weighted([("kill", 0.55), ("term", 0.08), ("add", 0.08), ("broker", clusterFaults == nil ? 0 : 0.08),
                                          ("requests", clusterFaults == nil ? 0 : 0.07), ("store", 0.09), ("feed", 0.05)])
            switch action {
            case "kill" where !members.isEmpty:
                // Mostly the oldest member (it holds partitions and has batches in flight), sometimes any
                // (a member killed while it joins the group).
                let victim = members.remove(at: random.chance(0.7) ? 0 : Int.random(in: 0..<members.count, using: &random))
                victim.kill9()
                report.kills += 1
                note("SIGKILL \(victim.name) (kill \(report.kills)); \(published.value) records published")
                try startMember()
            case "term" where !members.isEmpty:
                let victim = members.remove(at: Int.random(in: 0..<members.count, using: &random))
                victim.terminate()
                report.terminations += 1
                note("SIGTERM \(victim.name)")
                try startMember()
            case "add" where members.count < self.members:
                try startMember()
                report.membersAdded += 1
                note("member added (\(members.count) running)")
            case "broker":
                guard let clusterFaults, ContinuousClock.now > brokerBackAt else { continue }
                let id = Int32.random(in: 2...3, using: &random)  // not the groups' coordinator (see ClusterFaults)
                let seconds = Int64.random(in: 2...6, using: &random)
                brokerBackAt = ContinuousClock.now + .seconds(seconds + 1)
                background.append(Task { try await clusterFaults.brokerDown(id, for: .seconds(seconds)) })
                report.brokerFaults += 1
                note("broker \(id) down for \(seconds) s")
            case "requests":
                guard let clusterFaults else { continue }
                report.requestFaults += 1
                note(clusterFaults.requestErrors(using: &random))
            case "store":
                report.storeFaults += 1
                if storeFaults.isPostgres, Bool.random(using: &random) {
                    if let restarted = try? await storeFaults.restart() {
                        note(restarted)
                    } else {
                        note((try? storeFaults.cutConnections()) ?? "store connections could not be cut")
                    }
                } else {
                    let milliseconds = Int64.random(in: 1_000...20_000, using: &random)
                    background.append(Task { try await storeFaults.holdLocked(for: .milliseconds(milliseconds)) })
                    note("store locked for \(milliseconds) ms")
                }
            case "feed":
                let index = Int.random(in: 0..<feed.count, using: &random)
                feed[index].kill9()
                report.feedKills += 1
                note("SIGKILL \(feed[index].name)")
                let replacement = index == 0 ? try feedPublish() : try feedPush()
                feed[index] = replacement
                all.append(replacement)
            default:
                continue
            }
        }
        let (acknowledged, failedToPublish) = try await publishing.value
        for task in background { _ = try? await task.value }
        note("faults over: \(report.kills) kills; \(acknowledged) records acknowledged, \(failedToPublish) not")

        // Drain: two members and the feed run until everything is processed.
        members.removeAll { !$0.isRunning }
        while members.count < 2 { try startMember() }
        for (index, process) in feed.enumerated() where !process.isRunning {
            feed[index] = index == 0 ? try feedPublish() : try feedPush()
            all.append(feed[index])
        }
        report.drained = try await waitUntilProcessed(storeLocation: storeLocation, keys: keys, bootstrap: bootstrap, sourceTopics: sourceTopics,
                                                      timeout: drainTimeout, note: note)
        for process in members + feed { process.terminate() }
        for process in all {
            let ending = await process.waitForEnd(timeout: .seconds(60))
            switch (process.outcome.fate, ending) {
            case (.killed, .signalled(SIGKILL)?), (.terminated, .exited(0)?):
                continue
            case (.killed, .exited(let status)?):
                report.selfExits.append("\(process.name): exit \(status) before its SIGKILL")
            case (.terminated, let other), (.killed, let other):
                report.badEndings.append("\(process.name): \(other.map(String.init(describing:)) ?? "still running") after \(process.outcome.fate == .killed ? "SIGKILL" : "SIGTERM"): \(process.logTail(600))")
            case (.running, .signalled(let signal)?):
                report.badEndings.append("\(process.name): died of signal \(signal): \(process.logTail(600))")
            case (.running, let other):
                report.selfExits.append("\(process.name): \(other.map(String.init(describing:)) ?? "still running")")
            }
        }

        // The accounting: what Kafka holds against what the store and the dead-letter topics hold.
        note("checking")
        var client = KafkaClientConfig(bootstrapServers: bootstrap)
        client.properties = kafkaProperties
        client.logLevel = 3
        let reader = try TopicReader(client: client)
        var records: [ChaosAccounting.Published] = []
        var keysByTopic: [String: Set<String>] = [:]
        let retention = try await reader.read(sourceTopics) { record in
            guard record.headerText(ChaosPublisher.runHeader) == runID else { return }
            let key = String(decoding: record.key ?? [], as: UTF8.self)
            records.append(ChaosAccounting.Published(topic: record.topic, partition: record.partition, offset: record.offset, key: key,
                                                     value: record.value ?? [], expected: record.headerText(ChaosPublisher.expectHeader) ?? "stored"))
            keysByTopic[record.topic, default: []].insert(key)
        }
        let publishedCoordinates = Set(records.map { "\($0.topic)/\($0.partition)/\($0.offset)" })
        var letters: [ChaosAccounting.Letter] = []
        let dlqRetention = try await reader.read(sourceTopics.map(SourceTopics.deadLetterTopic)) { record in
            guard let topic = record.headerText(DeadLetterHeaders.sourceTopic), let partition = record.headerText(DeadLetterHeaders.sourcePartition).flatMap(Int32.init),
                  let offset = record.headerText(DeadLetterHeaders.sourceOffset).flatMap(Int64.init), publishedCoordinates.contains("\(topic)/\(partition)/\(offset)") else { return }
            letters.append(ChaosAccounting.Letter(sourceTopic: topic, sourcePartition: partition, sourceOffset: offset,
                                                  code: record.headerText(DeadLetterHeaders.errorCode) ?? ""))
        }
        if cluster != nil { report.retention = retention + dlqRetention }
        let store = try await RecordStores.open(storeLocation, keys: keys)
        var versions: [String: [ChaosAccounting.Version]] = [:]
        for (topic, keys) in keysByTopic {
            for key in keys {
                versions[topic + "\u{0}" + key] = try await store.sourceVersions(topic: topic, key: key).map {
                    ChaosAccounting.Version(partition: $0.coordinates.partition, offset: $0.coordinates.offset, original: $0.original, current: $0.supersededBy == nil)
                }
            }
        }
        report.verifyProblems = try await store.verify().problems
        if cluster != nil {
            report.feedProblems = try await checkFeed(reader: reader, sink: sink, store: store)
            report.feedDocuments = sink.documents.count
        }
        await store.close()
        try await reader.close()

        let findings = ChaosAccounting().account(published: records, letters: letters, versions: versions)
        report.findings = findings
        report.published = records.count
        report.stored = findings.stored
        report.replays = findings.replays
        report.deadLettered = findings.deadLettered
        report.lost = findings.lost.count
        report.duplicated = findings.duplicated.count
        report.wrongCode = findings.wrongCode.count
        report.stale = findings.stale.count
        report.seconds = Self.seconds(since: started)
        report.events = events.value
        return report
    }

    /// Waits until every source partition's stored position reaches its end, no dead letter waits, the
    /// feed's outbox is empty and the pusher has committed the whole feed topic — twice in a row.
    private func waitUntilProcessed(storeLocation: String, keys: KeyRing, bootstrap: String, sourceTopics: [String], timeout: Duration,
                                    note: (String) -> Void) async throws -> Bool {
        var config = ConsumerConfig(bootstrapServers: bootstrap, groupID: FeedPusherConfiguration.group)
        config.client.properties = kafkaProperties
        config.client.logLevel = 3
        let observer = try Consumer(config: config)
        let admin = try Admin(config: config.client, timeout: .seconds(10))
        let store = try await RecordStores.open(storeLocation, keys: keys)
        do {
            let drained = try await drain(store: store, observer: observer, admin: admin, sourceTopics: sourceTopics, timeout: timeout, note: note)
            await store.close()
            try await observer.close()
            return drained
        } catch {
            await store.close()
            try? await observer.close()
            throw error
        }
    }

    private func drain(store: any HealthRecordStore, observer: Consumer, admin: Admin, sourceTopics: [String], timeout: Duration,
                       note: (String) -> Void) async throws -> Bool {
        let described = try await admin.findTopics(sourceTopics + [FeedHeaders.topic])
        func partitions(_ topic: String) -> [Kafka.TopicPartition] {
            (0..<Int32(described[topic]?.partitions ?? 0)).map { Kafka.TopicPartition(topic, $0) }
        }
        let deadline = ContinuousClock.now + timeout
        var quiet = 0
        var lastNote = ContinuousClock.now
        while ContinuousClock.now < deadline {
            let waiting: [String]
            do {
                waiting = try await pending(store: store, observer: observer, partitions: partitions, sourceTopics: sourceTopics)
            } catch {
                // Injected request errors reach this observer too: ask again.
                note("draining: \(error)")
                try await Task.sleep(for: .seconds(1))
                continue
            }
            if waiting.isEmpty {
                quiet += 1
                if quiet >= 2 { break }
            } else {
                quiet = 0
                if ContinuousClock.now - lastNote > .seconds(10) {
                    note("draining: \(waiting.count) waiting, e.g. \(waiting.prefix(3).joined(separator: "; "))")
                    lastNote = .now
                }
            }
            try await Task.sleep(for: .seconds(1))
        }
        return quiet >= 2
    }

    /// What still waits: source records not stored, dead letters, feed outbox rows, feed not pushed.
    private func pending(store: any HealthRecordStore, observer: Consumer, partitions: (String) -> [Kafka.TopicPartition],
                         sourceTopics: [String]) async throws -> [String] {
        var waiting: [String] = []
        for topic in sourceTopics {
            let list = partitions(topic)
            let stored = try await store.offsets(group: "hssk-ingest", partitions: list.map { RecordStore.TopicPartition($0.topic, $0.partition) })
            for partition in list {
                let end = try await observer.watermarks(partition).high
                let at = stored[RecordStore.TopicPartition(partition.topic, partition.partition)] ?? 0
                if at < end { waiting.append("\(partition): \(end - at) records") }
            }
        }
        let letters = try await store.deadLetterBacklog(group: nil).undelivered
        if letters > 0 { waiting.append("\(letters) dead letters") }
        let outbox = try await store.outboxBacklog(kind: OutboxKinds.citizenFeed)
        if outbox > 0 { waiting.append("\(outbox) feed outbox rows") }
        let feedPartitions = partitions(FeedHeaders.topic)
        let committed = try await observer.committed(feedPartitions)
        for partition in feedPartitions {
            let end = try await observer.watermarks(partition).high
            if (committed[partition] ?? 0) < end { waiting.append("\(partition) not pushed") }
        }
        return waiting
    }

    /// The feed's receiver holds, for every personal ID on the feed topic, the latest record of its key:
    /// that version's document, or nothing after a tombstone.
    private func checkFeed(reader: TopicReader, sink: FeedSink, store: any HealthRecordStore) async throws -> [String] {
        var latest: [String: (version: Int64, document: [UInt8]?)] = [:]
        _ = try await reader.read([FeedHeaders.topic]) { record in
            guard let key = record.key.map({ String(decoding: $0, as: UTF8.self) }),
                  let version = record.headerText(FeedHeaders.version).flatMap(Int64.init) else { return }
            if (latest[key]?.version ?? -1) <= version { latest[key] = (version, record.value) }
        }
        let documents = sink.documents, arrivals = sink.arrivals
        var problems: [String] = []
        for (key, expected) in latest.sorted(by: { $0.key < $1.key }) {
            // Versions, not bytes: a round republished after a failure carries a new `generatedAt`.
            let received = arrivals[key]?.max()
            if received != expected.version {
                problems.append("a person's latest feed version \(expected.version) arrived as \(received.map(String.init) ?? "nothing")")
            } else if (documents[key] == nil) != (expected.document == nil) {
                problems.append("a person's version \(expected.version) is \(expected.document == nil ? "a deletion" : "a document") on the feed but not at the receiver")
            }
            if problems.count >= 20 { break }
        }
        return problems
    }

    private static func seconds(since start: ContinuousClock.Instant) -> Double {
        let elapsed = ContinuousClock.now - start
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }
}

/// Reads whole topics from the first offset Kafka keeps to the end, without a consumer group.
struct TopicReader: Sendable {
    let consumer: Consumer
    let admin: Admin

    init(client: KafkaClientConfig) throws {
        var config = ConsumerConfig(bootstrapServers: client.bootstrapServers, groupID: "hssk-chaos-reader")
        config.client = client
        consumer = try Consumer(config: config)
        admin = try Admin(config: client, timeout: .seconds(10))
    }

    /// Hands every record of `topics` to `body`; returns the partitions whose first records the
    /// cluster no longer keeps (log start above 0).
    func read(_ topics: [String], _ body: (ConsumerRecord) -> Void) async throws -> [String] {
        let described = try await admin.findTopics(topics)
        var expired: [String] = []
        for topic in topics {
            for partition in (0..<Int32(described[topic]?.partitions ?? 0)).map({ Kafka.TopicPartition(topic, $0) }) {
                let (low, high) = try await consumer.watermarks(partition)
                if low > 0 { expired.append("\(partition): offsets 0..<\(low) expired") }
                guard low < high else { continue }
                try await consumer.assign([partition: low])
                var next = low
                var idle = ContinuousClock.now
                while next < high {
                    let batch = try await consumer.poll(maxRecords: 2_000, timeout: .milliseconds(200))
                    for record in batch where record.topicPartition == partition && record.offset >= next && record.offset < high {
                        body(record)
                        next = record.offset + 1
                        idle = .now
                    }
                    if ContinuousClock.now - idle > .seconds(30) {
                        throw DeadLetterError.readStalled(partition, next: next, end: high)
                    }
                }
            }
        }
        try await consumer.assign([:])
        return expired
    }

    func close() async throws { try await consumer.close() }
}

/// A value shared between the run and the tasks it starts.
final class Shared<Value: Sendable>: Sendable {
    private let state: Mutex<Value>
    init(_ value: Value) { state = Mutex(value) }
    var value: Value { state.withLock { $0 } }
    func update(_ body: (inout Value) -> Void) { state.withLock { body(&$0) } }
}
