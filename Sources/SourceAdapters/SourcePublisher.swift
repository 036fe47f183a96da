import Foundation
import HealthModel
import Kafka
import ServiceRuntime

/// What happened to one record handed to `SourcePublisher`.
public enum PublishOutcome: Sendable, Hashable {
    /// The cluster acknowledged the record.
    case published(partition: Int32, offset: Int64)
    /// Validated and signed but not sent (dry run).
    case validated
    /// Not sent: local validation (the same as ingest's) found errors.
    case rejected([ValidationIssue])
    /// Valid, but the cluster did not take it (after librdkafka's retries).
    case failed(String)
}

/// One record's result, in the order the records were given.
public struct PublishResult: Sendable, Hashable {
    /// The record's Kafka key, when the record could be read.
    public var key: String?
    /// What happened.
    public var outcome: PublishOutcome
    /// Warnings found by validation (they travel with an accepted record).
    public var warnings: [ValidationIssue]

    /// Creates a result.
    public init(key: String?, outcome: PublishOutcome, warnings: [ValidationIssue] = []) {
        self.key = key
        self.outcome = outcome
        self.warnings = warnings
    }
}

/// A record ready to send: canonical value, key, CloudEvents headers and signature.
public struct SignedRecord: Sendable {
    /// The Kafka record.
    public var record: ProducerRecord
    /// The key as text.
    public var key: String
    /// Validation warnings.
    public var warnings: [ValidationIssue]
}

/// Publishes source records as an interop account: validates locally with `RecordDecoder` (what ingest
/// will run, so errors reach the sender at once), writes canonical JSON, the catalogue key, the
/// CloudEvents headers and the `hssk-signature`, then sends idempotently and reports per record.
public struct SourcePublisher: Sendable {
    /// Records sent concurrently at most (each waits for its own delivery report).
    public static let maxInFlight = 512

    /// The sender account (`ce_source`).
    public let account: InteropAccountName
    private let key: SigningKey
    private let producer: Producer?
    /// Topic per kind.
    public let topics: [RecordKind: String]

    /// Creates a publisher; with `producer == nil` it only validates and signs (dry run).
    public init(account: InteropAccountName, key: SigningKey, producer: Producer?, topics: [RecordKind: String] = SourceTopics.defaults) {
        self.account = account
        self.key = key
        self.producer = producer
        self.topics = topics
    }

    /// Validates and signs one record, or returns why it cannot be sent.
    public func prepare(_ record: SourceRecord, at time: Date = Date()) -> Result<SignedRecord, PublishRejection> {
        let (canonical, issues) = RecordDecoder.canonical(record)
        guard let canonical else { return .failure(PublishRejection(key: record.kafkaKey, issues: issues + senderProblems(record))) }
        return sign(canonical, warnings: issues.warnings, at: time)
    }

    /// Validates and signs one JSON value of `kind` (e.g. one JSON Lines line).
    public func prepare(json: Data, kind: RecordKind, at time: Date = Date()) -> Result<SignedRecord, PublishRejection> {
        let (canonical, record, issues) = RecordDecoder.canonical(json: json, kind: kind)
        guard let canonical else {
            // Everything wrong at once, as before: the record's own problems and the account's.
            return .failure(PublishRejection(key: record?.kafkaKey, issues: issues + (record.map(senderProblems) ?? [])))
        }
        return sign(canonical, warnings: issues.warnings, at: time)
    }

    /// Signs a record validated earlier (e.g. an XML 130 episode), refusing what the account may not send.
    public func sign(_ canonical: CanonicalRecord, warnings: [ValidationIssue] = [], at time: Date = Date()) -> Result<SignedRecord, PublishRejection> {
        let record = canonical.record
        let problems = senderProblems(record)
        guard problems.isEmpty else { return .failure(PublishRejection(key: record.kafkaKey, issues: warnings + problems)) }
        guard let topic = topics[record.kind] else {
            return .failure(PublishRejection(key: record.kafkaKey, issues: [ValidationIssue(path: "$", code: "topic.unknown",
                severity: .error, message: BilingualMessage(en: "No topic is configured for \(record.kind.rawValue) records.",
                                                            vi: "Chưa cấu hình topic cho loại hồ sơ \(record.kind.rawValue)."))]))
        }
        let headers = CloudEventHeaders.make(id: CloudEventHeaders.newID(), source: account.value, type: record.kind.ceType,
                                             time: CloudEventHeaders.time(time), value: canonical.value, signedWith: key)
        let keyText = record.kafkaKey
        return .success(SignedRecord(record: ProducerRecord(topic: topic, key: Array(keyText.utf8), value: canonical.value, headers: headers),
                                     key: keyText, warnings: warnings))
    }

    /// Validates, signs and sends records; one result per record, in order.
    ///
    /// Throws only when the producer itself is unusable (closed, fatal error); a record the cluster
    /// refused is a `.failed` result.
    public func publish(_ records: [SourceRecord]) async throws -> [PublishResult] {
        try await send(records.map { prepare($0) })
    }

    /// Signs and sends records validated earlier (XML 130 episodes); one result per record, in order.
    public func publish(canonical records: [CanonicalRecord]) async throws -> [PublishResult] {
        try await send(records.map { sign($0) })
    }

    /// Same for raw JSON values of one kind (JSON Lines).
    public func publish(jsonLines: [Data], kind: RecordKind) async throws -> [PublishResult] {
        try await send(jsonLines.map { prepare(json: $0, kind: kind) })
    }

    private func send(_ prepared: [Result<SignedRecord, PublishRejection>]) async throws -> [PublishResult] {
        var results = prepared.map { item -> PublishResult in
            switch item {
            case .success(let signed): return PublishResult(key: signed.key, outcome: .validated, warnings: signed.warnings)
            case .failure(let rejection): return PublishResult(key: rejection.key, outcome: .rejected(rejection.issues))
            }
        }
        guard let producer else { return results }
        let toSend: [(Int, ProducerRecord)] = prepared.enumerated().compactMap { index, item in
            if case .success(let signed) = item { return (index, signed.record) }
            return nil
        }
        var start = 0
        while start < toSend.count {
            let window = toSend[start..<min(start + Self.maxInFlight, toSend.count)]
            start += window.count
            let outcomes = try await withThrowingTaskGroup(of: (Int, PublishOutcome).self) { group in
                for (index, record) in window {
                    group.addTask {
                        do {
                            let report = try await producer.send(record)
                            return (index, .published(partition: report.partition, offset: report.offset))
                        } catch KafkaError.closed {
                            throw KafkaError.closed
                        } catch {
                            return (index, .failed(String(describing: error)))
                        }
                    }
                }
                var collected: [(Int, PublishOutcome)] = []
                for try await outcome in group { collected.append(outcome) }
                return collected
            }
            for (index, outcome) in outcomes { results[index].outcome = outcome }
        }
        return results
    }

    /// Records the account may not send are refused by ingest: refuse them here too.
    private func senderProblems(_ record: SourceRecord) -> [ValidationIssue] {
        account.problem(sending: record.senderScope).map { [ValidationIssue(path: "$", problem: $0)] } ?? []
    }
}

/// A record not sent, with every problem found.
public struct PublishRejection: Error, Sendable, Hashable {
    /// The record's key, when it could be read.
    public var key: String?
    /// Errors and warnings.
    public var issues: [ValidationIssue]
}
