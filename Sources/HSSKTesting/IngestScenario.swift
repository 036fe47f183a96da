import Foundation
import HealthModel
import Ingest
import Kafka
import RecordStore
import ServiceRuntime
import SourceAdapters
import SyntheticPopulation
import Tooling

/// An embedded cluster with the source and dead-letter topics, synthetic sources with registered
/// keys, and the checks the ingest tests make: what was published, stored and dead-lettered.
public final class IngestScenario: Sendable {
    /// A dead letter as read back from a `.dlq` topic.
    public struct DeadLetter: Sendable, Hashable {
        public var code: String
        public var sourceTopic: String
        public var sourcePartition: Int32
        public var sourceOffset: Int64
        public var key: String?
        public var detail: String
    }

    /// A message as published, with where it landed.
    public struct Published: Sendable {
        public var record: ProducerRecord
        public var partition: Int32
        public var offset: Int64
        /// The dead-letter code expected, nil when it must be stored.
        public var expectedCode: String?
        /// Creates a record of a publication.
        public init(record: ProducerRecord, partition: Int32, offset: Int64, expectedCode: String?) {
            self.record = record
            self.partition = partition
            self.offset = offset
            self.expectedCode = expectedCode
        }
    }

    public let cluster: EmbeddedCluster
    public let sources: SyntheticSources
    public let topics: [RecordKind: String]

    /// Starts a cluster with the four source topics and their dead-letter topics.
    public init(brokers: Int = 3, partitions: Int = 4) throws {
        cluster = try EmbeddedCluster(brokers: brokers)
        topics = SourceTopics.defaults
        for topic in topics.values {
            try cluster.createTopic(topic, partitions: partitions, replicationFactor: min(3, brokers))
            try cluster.createTopic(SourceTopics.deadLetterTopic(of: topic), partitions: partitions, replicationFactor: min(3, brokers))
        }
        sources = try SyntheticSources(topics: topics)
    }

    /// An ingest configuration for this cluster with test-friendly timings.
    public func configuration(group: String = "hssk-ingest") -> IngestConfiguration {
        var configuration = IngestConfiguration(bootstrapServers: cluster.bootstrapServers)
        configuration.group = group
        configuration.retry = RetryPolicy(base: .milliseconds(50), cap: .seconds(1))
        configuration.accountCacheTTL = .milliseconds(200)
        configuration.kafkaProperties = ["session.timeout.ms": "6000", "heartbeat.interval.ms": "500", "log_level": "3"]
        return configuration
    }

    /// Registers the synthetic accounts (and their keys) in a store.
    public func registerAccounts(in store: any HealthRecordStore) async throws {
        for account in sources.accounts { try await store.saveAccount(account) }
    }

    /// Publishes messages (in order per key) and returns where each landed.
    public func publish(_ messages: [(ProducerRecord, String?)], maxMessageBytes: Int? = nil) async throws -> [Published] {
        var config = ProducerConfig(bootstrapServers: cluster.bootstrapServers)
        config.client.logLevel = 3
        if let maxMessageBytes { config.client.properties["message.max.bytes"] = String(maxMessageBytes) }
        let producer = try Producer(config: config)
        var out: [Published] = []
        // Bounded concurrency: each send waits for its own acknowledgement.
        for chunk in stride(from: 0, to: messages.count, by: 500).map({ Array(messages[$0..<min($0 + 500, messages.count)]) }) {
            let reports = try await withThrowingTaskGroup(of: (Int, DeliveryReport).self) { group in
                for (index, message) in chunk.enumerated() { group.addTask { (index, try await producer.send(message.0)) } }
                var reports = [DeliveryReport?](repeating: nil, count: chunk.count)
                for try await (index, report) in group { reports[index] = report }
                return reports
            }
            for (message, report) in zip(chunk, reports) {
                guard let report else { continue }
                out.append(Published(record: message.0, partition: report.partition, offset: report.offset, expectedCode: message.1))
            }
        }
        try await producer.close()
        return out
    }

    /// Publishes synthetic records as their sources would.
    public func publish(_ records: [SyntheticRecord]) async throws -> [Published] {
        try await publish(try records.map { (try sources.producerRecord($0), SyntheticSources.expectedCode($0)) })
    }

    /// The next offset per partition after everything published.
    public static func ends(_ published: [Published]) -> [RecordStore.TopicPartition: Int64] {
        var ends: [RecordStore.TopicPartition: Int64] = [:]
        for p in published {
            let key = RecordStore.TopicPartition(p.record.topic, p.partition)
            ends[key] = max(ends[key] ?? 0, p.offset + 1)
        }
        return ends
    }

    /// Waits until the store's offsets reach `ends` and every dead letter decided was delivered
    /// (everything published was processed).
    public func waitUntilProcessed(_ store: any HealthRecordStore, group: String = "hssk-ingest",
                                   ends: [RecordStore.TopicPartition: Int64], timeout: Duration = .seconds(120)) async throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let stored = try? await store.offsets(group: group, partitions: Array(ends.keys)),
               ends.allSatisfy({ (stored[$0.key] ?? 0) >= $0.value }),
               let backlog = try? await store.deadLetterBacklog(group: nil), backlog.undelivered == 0 {
                return true
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        return false
    }

    /// Every dead letter on the `.dlq` topics (read from the beginning with a fresh group until
    /// `atLeast` arrived and no more come for a moment).
    public func deadLetters(atLeast: Int, timeout: Duration = .seconds(60)) async throws -> [DeadLetter] {
        var config = ConsumerConfig(bootstrapServers: cluster.bootstrapServers, groupID: "dlq-check-\(UUID().uuidString.prefix(8))")
        config.client.logLevel = 3
        config.sessionTimeoutMs = 6_000
        config.heartbeatIntervalMs = 500
        let consumer = try Consumer(config: config)
        try await consumer.subscribe(topics.values.map(SourceTopics.deadLetterTopic).sorted())
        var out: [DeadLetter] = []
        let deadline = ContinuousClock.now + timeout
        var quietSince = ContinuousClock.now
        while ContinuousClock.now < deadline {
            let batch = try await consumer.poll(maxRecords: 1_000, timeout: .milliseconds(200))
            if batch.isEmpty {
                if out.count >= atLeast, ContinuousClock.now - quietSince > .seconds(1) { break }
                continue
            }
            quietSince = ContinuousClock.now
            for record in batch {
                out.append(DeadLetter(code: record.headerText(DeadLetterHeaders.errorCode) ?? "",
                                      sourceTopic: record.headerText(DeadLetterHeaders.sourceTopic) ?? "",
                                      sourcePartition: Int32(record.headerText(DeadLetterHeaders.sourcePartition) ?? "") ?? -1,
                                      sourceOffset: Int64(record.headerText(DeadLetterHeaders.sourceOffset) ?? "") ?? -1,
                                      key: record.key.map { String(decoding: $0, as: UTF8.self) },
                                      detail: record.headerText(DeadLetterHeaders.errorDetail) ?? ""))
            }
        }
        try await consumer.close()
        return out
    }

    /// Problems with the outcome: every expected-valid message stored exactly once with its exact
    /// bytes, every expected-invalid one dead-lettered (at least once) with its code and not stored.
    public func check(_ published: [Published], store: any HealthRecordStore, deadLetters: [DeadLetter]) async throws -> [String] {
        var problems: [String] = []
        var letters: [String: [String]] = [:]
        for letter in deadLetters { letters["\(letter.sourceTopic)/\(letter.sourcePartition)/\(letter.sourceOffset)", default: []].append(letter.code) }
        for message in published {
            let key = message.record.key.map { String(decoding: $0, as: UTF8.self) } ?? ""
            let coordinates = "\(message.record.topic)/\(message.partition)/\(message.offset)"
            let versions = try await store.sourceVersions(topic: message.record.topic, key: key)
            let stored = versions.filter { $0.original == (message.record.value ?? []) }
            if let code = message.expectedCode {
                if !(letters[coordinates] ?? []).contains(code) {
                    problems.append("\(coordinates): expected dead letter \(code), got \(letters[coordinates] ?? [])")
                }
                if !stored.isEmpty { problems.append("\(coordinates): rejected (\(code)) but stored") }
            } else {
                if stored.count != 1 { problems.append("\(coordinates): stored \(stored.count) times (versions \(versions.count))") }
                if let codes = letters[coordinates] { problems.append("\(coordinates): valid but dead-lettered \(codes)") }
            }
        }
        return problems
    }
}
