import Foundation
import HealthModel
import Kafka
import RecordStore
import ServiceRuntime

/// Settings of the feed pusher.
public struct FeedPusherConfiguration: Sendable {
    /// Topic read.
    public var topic = FeedHeaders.topic
    /// Where refused documents go.
    public var deadLetterTopic = FeedHeaders.deadLetterTopic
    /// Records per push request (before coalescing versions of one person).
    public var batchSize = 200
    /// Longest wait for records when there is nothing to push.
    public var pollTimeout: Duration = .milliseconds(500)
    /// First wait after a failed request; doubles up to `maxBackoff`, with jitter.
    public var backoff: Duration = .milliseconds(500)
    /// Longest wait between attempts.
    public var maxBackoff: Duration = .seconds(60)
    /// The back-off schedule of `backoff` and `maxBackoff`: waits of half to all of each ceiling, so
    /// that the endpoint or broker always gets some rest.
    var retry: RetryPolicy { RetryPolicy(base: backoff, cap: maxBackoff, jitter: .half) }
    /// Largest document accepted from the feed; a larger one is dead-lettered.
    public var maxDocumentBytes = 1024 * 1024

    /// Default settings.
    public init() {}

    /// The consumer group of the pusher.
    public static let group = "hssk-feed-push"
}

/// Consumes `hssk.citizen-feed.v1` and posts its documents to the citizen app's endpoint, in batches.
///
/// - Order: a partition's records (all versions of a person) are posted in offset order; within a
///   batch only the newest record of each person is sent, so an older version never follows a newer one.
/// - Delivery: a batch is posted until it succeeds; 5xx, timeouts, connection errors (and 401/403/408/
///   425/429) are retried with exponential back-off and jitter, forever: while the endpoint is down
///   nothing is committed and nothing is skipped. During the back-off the partitions are paused and
///   the consumer keeps polling, so it stays in its group.
/// - Refusals: another 4xx for a batch splits it into single documents; a document refused on its
///   own goes to `hssk.citizen-feed.v1.dlq` with the status and response body, and the pusher moves on.
///   A document that still carries restricted data (`RestrictedDataGuard`) is never posted: it goes to
///   the DLQ as `feed.restrictedData`.
/// - Position: Kafka's committed offsets (group `hssk-feed-push`), committed only after the batch
///   and its dead letters are done. A crash before the commit posts the batch again: the receiver
///   deduplicates by idempotency key (personal ID + version).
public struct FeedPusher: ObservableService {
    /// Name for logs.
    public let name = "feed-pusher"
    private let consumer: Consumer
    private let endpoint: FeedEndpoint
    private let producer: Producer
    private let configuration: FeedPusherConfiguration
    private let log: EventLog
    /// What it has done so far.
    public let counters = FeedCounters()
    /// Readiness and liveness, for the admin endpoint.
    public let health = HealthReporter()
    private let lag = ConsumerLagGauge()
    private let restrictedGuard = RestrictedDataGuard()

    /// A pusher reading with `consumer` (group `FeedPusherConfiguration.group`), posting to
    /// `endpoint` and dead-lettering with `producer`.
    public init(consumer: Consumer, endpoint: FeedEndpoint, producer: Producer,
                configuration: FeedPusherConfiguration = FeedPusherConfiguration(), log: EventLog = .standardError) {
        self.consumer = consumer
        self.endpoint = endpoint
        self.producer = producer
        self.configuration = configuration
        self.log = log
    }

    /// The partitions of a batch were taken away during a back-off: start over with what remains.
    private struct Reassigned: Error {}

    /// Records polled and not yet pushed, and the partitions paused during a back-off.
    private struct Progress {
        var pending: [ConsumerRecord] = []
        var paused: Set<Kafka.TopicPartition> = []
    }

    /// Subscribes and pushes until cancelled.
    public func run() async throws {
        try await consumer.subscribe([configuration.topic])
        lag.attach(consumer)
        health.started(consuming: true)
        log.event(.info, "feed.pusher.started", ["topic": .text(configuration.topic), "endpoint": .text(endpoint.configuration.url.absoluteString)])
        var progress = Progress()
        while !Task.isCancelled {
            if progress.pending.count < configuration.batchSize {
                let polled = try await consumer.poll(maxRecords: configuration.batchSize - progress.pending.count,
                                                     timeout: progress.pending.isEmpty ? configuration.pollTimeout : .zero)
                counters.update { $0.consumed += polled.count }
                progress.pending += polled
            }
            health.assignment(isEmpty: consumer.assignment.isEmpty)
            health.beat()
            dropUnassigned(&progress)
            guard !progress.pending.isEmpty else { continue }
            let batch = Array(progress.pending.prefix(configuration.batchSize))
            do {
                try await push(batch, &progress)
            } catch is Reassigned {
                continue
            } catch is CancellationError {
                break
            }
            progress.pending.removeFirst(batch.count)
            var next: [Kafka.TopicPartition: Int64] = [:]
            for record in batch { next[record.topicPartition] = max(next[record.topicPartition] ?? 0, record.offset + 1) }
            do {
                try await consumer.commit(next)
            } catch {
                // Delivered but not committed (e.g. a rebalance): the next owner posts it again; the
                // receiver deduplicates by idempotency key.
                log.event(.warning, "feed.push.commitFailed", ["reason": .text(String(describing: error))])
            }
            if !progress.paused.isEmpty {
                let assigned = consumer.assignment
                try await consumer.resume(Array(progress.paused.filter(assigned.contains)))
                progress.paused = []
            }
        }
        health.set(.stopping)
        log.event(.info, "feed.pusher.stopped")
    }

    /// Push requests by result, items pushed, dead letters, retries and the consumer lag.
    public func metricFamilies() -> [MetricFamily] {
        let s = counters.snapshot
        return [
            .consumed(s.consumed),
            .counter("hssk_feed_push_total", "Push requests to the citizen app's endpoint, by result (accepted, rejected, retry).", by: "result", s.pushes),
            .counter("hssk_feed_pushed_total", "Feed items the endpoint accepted, by operation (upsert, delete).", by: "operation", s.pushed),
            .counter("hssk_feed_push_refused_restricted_total", "Documents the pusher refused because they still carried restricted data, by rule.",
                     by: "rule", s.refusedRestricted),
            .deadLettered(s.deadLettered),
            .retries(s.retries),
            lag.family,
        ]
    }

    /// Samples the consumer lag.
    public func refreshGauges() async { await lag.refresh() }

    /// Pushes one batch completely: items posted (split on refusal), refused ones dead-lettered.
    private func push(_ batch: [ConsumerRecord], _ progress: inout Progress) async throws {
        var items: [(record: ConsumerRecord, item: FeedItem)] = []
        var dead: [DeadLetter] = []
        var latest: [String: Int] = [:]
        for record in batch {
            switch item(of: record) {
            case .success(let item):
                // Compacted semantics: only the newest record of a key matters; it keeps its place.
                if let index = latest[item.personalId] {
                    items[index] = (record, item)
                } else {
                    latest[item.personalId] = items.count
                    items.append((record, item))
                }
            case .failure(let letter):
                dead.append(letter)
            }
        }
        if !items.isEmpty { dead += try await post(items, &progress) }
        if !dead.isEmpty { try await deadLetter(dead, &progress) }
        let deletions = items.filter { $0.item.operation == .delete }.count
        log.event(.info, "feed.pushed", ["records": .int(Int64(batch.count)), "documents": .int(Int64(items.count - deletions)),
                                          "deletions": .int(Int64(deletions)), "deadLettered": .int(Int64(dead.count))])
    }

    /// Posts `items` as one request until it is accepted; a refused request is split into single
    /// items, and a refused single item is returned as a dead letter.
    private func post(_ items: [(record: ConsumerRecord, item: FeedItem)], _ progress: inout Progress) async throws -> [DeadLetter] {
        var attempt = 0
        while true {
            try Task.checkCancellation()
            switch await endpoint.post(FeedWire.body(items.map(\.item))) {
            case .accepted:
                health.clear(.endpointUnavailable)
                counters.update { c in
                    c.pushes["accepted", default: 0] += 1
                    for entry in items { c.pushed[entry.item.operation == .delete ? "delete" : "upsert", default: 0] += 1 }
                }
                return []
            case .rejected(let status, let body):
                counters.update { $0.pushes["rejected", default: 0] += 1 }
                guard items.count > 1 else {
                    return [DeadLetter(record: items[0].record, code: "http.\(status)", status: status, responseBody: body,
                                       message: "The citizen app's endpoint refused the document with HTTP \(status).")]
                }
                log.event(.warning, "feed.push.refused", ["status": .int(Int64(status)), "items": .int(Int64(items.count))])
                var dead: [DeadLetter] = []
                for item in items { dead += try await post([item], &progress) }
                return dead
            case .retry(let reason):
                health.set(.endpointUnavailable)
                counters.update {
                    $0.pushes["retry", default: 0] += 1
                    $0.retries += 1
                }
                attempt += 1
                log.event(.warning, "feed.push.retry", ["reason": .text(reason), "attempt": .int(Int64(attempt)), "items": .int(Int64(items.count))])
                try await wait(configuration.retry.delay(attempt: attempt - 1), &progress)
            }
        }
    }

    /// Waits `delay` with the assigned partitions paused, polling so that the group keeps this member;
    /// records still arriving are kept in order. Throws `Reassigned` when partitions were taken away.
    private func wait(_ delay: Duration, _ progress: inout Progress) async throws {
        let deadline = ContinuousClock.now + delay
        while true {
            try Task.checkCancellation()
            let unpaused = consumer.assignment.subtracting(progress.paused)
            if !unpaused.isEmpty {
                try await consumer.pause(Array(unpaused))
                progress.paused.formUnion(unpaused)
            }
            health.beat()
            let remaining = ContinuousClock.now.duration(to: deadline)
            guard remaining > .zero else { return }
            progress.pending += try await consumer.poll(maxRecords: 1_000, timeout: min(remaining, .milliseconds(200)))
            if dropUnassigned(&progress) { throw Reassigned() }
        }
    }

    /// Drops pending records of partitions no longer assigned (their new owner reads them from the
    /// committed offset); true when any was dropped.
    @discardableResult
    private func dropUnassigned(_ progress: inout Progress) -> Bool {
        let assigned = consumer.assignment
        let before = progress.pending.count
        progress.pending.removeAll { !assigned.contains($0.topicPartition) }
        progress.paused.formIntersection(assigned)
        return progress.pending.count != before
    }

    // MARK: - Items and dead letters

    /// A document refused by the endpoint or unreadable on the feed.
    struct DeadLetter: Error {
        var record: ConsumerRecord
        var code: String
        var status: Int?
        var responseBody: [UInt8]
        var message: String
    }

    /// The push item of a feed record, or why it cannot be pushed.
    private func item(of record: ConsumerRecord) -> Result<FeedItem, DeadLetter> {
        func invalid(_ code: String, _ message: String) -> Result<FeedItem, DeadLetter> {
            .failure(DeadLetter(record: record, code: code, status: nil, responseBody: [], message: message))
        }
        guard let keyBytes = record.key, let key = String(validating: keyBytes, as: UTF8.self),
              let personalID = try? PersonalID(parsing: key), personalID.value == key else {
            return invalid("feed.badKey", "The record's key is not a 12-digit personal ID.")
        }
        guard let versionText = record.headerText(FeedHeaders.version), let version = Int64(versionText), version > 0 else {
            return invalid("feed.noVersion", "The record has no valid \(FeedHeaders.version) header.")
        }
        guard let value = record.value else { return .success(FeedItem(operation: .delete, personalId: key, version: version, document: nil)) }
        guard value.count <= configuration.maxDocumentBytes,
              // JSONSerialization only checks here; Codable into JSONValue cost ten times as much per document.
              let document = (try? JSONSerialization.jsonObject(with: Data(value))) as? [String: Any] else {
            return invalid("feed.badDocument", "The value is not a JSON object of at most \(configuration.maxDocumentBytes) bytes.")
        }
        // The last check before the document leaves hssk, whoever produced it: the pusher cannot edit a
        // published version (its bytes and idempotency key are the feed's), so it refuses it instead.
        if let rule = restrictedGuard.violation(inDocument: document) {
            // The rule names what the person has (e.g. an HIV test): next to the record's coordinates it
            // would tell whose document it was (the key is the personal ID). So the log names the record
            // and the metrics count the rule, and the dead letter carries neither (see `deadLetter`).
            log.event(.error, "feed.restrictedData", ["topic": .text(record.topic), "partition": .int(Int64(record.partition)),
                                                       "offset": .int(record.offset)])
            counters.update { $0.refusedRestricted[rule, default: 0] += 1 }
            return invalid(Self.restrictedDataCode, "The document carried data the citizen feed must not carry; it was not posted.")
        }
        return .success(FeedItem(operation: .upsert, personalId: key, version: version, document: value))
    }

    /// Produces dead letters (original key, value and headers, plus the DLQ headers, built to fit the
    /// topic), retrying until the cluster acknowledged each; only the ones not yet acknowledged are
    /// sent again, and one refused as too large goes out in its minimal form.
    private func deadLetter(_ letters: [DeadLetter], _ progress: inout Progress) async throws {
        var records = letters.map { letter -> ProducerRecord in
            let issue = ValidationIssue(path: "$", code: letter.code, severity: .error,
                                        message: BilingualMessage(en: letter.message, vi: "Tài liệu không được gửi tới ứng dụng công dân (\(letter.code))."))
            var extra: [KafkaHeader] = []
            if let status = letter.status {
                extra = [KafkaHeader(FeedPusher.responseStatusHeader, String(status)),
                         KafkaHeader(key: FeedPusher.responseBodyHeader, value: Array(letter.responseBody.prefix(Self.maxResponseBodyBytes)))]
            }
            let source = KafkaCoordinates(topic: letter.record.topic, partition: letter.record.partition, offset: letter.record.offset)
            // A document refused for restricted data would disclose it twice over in its dead letter: its
            // content, and its key (the personal ID) next to the code. Such a letter carries neither; its
            // feed coordinates lead an operator to it.
            let restricted = letter.code == Self.restrictedDataCode
            return DeadLetterBuilder.letter(topic: configuration.deadLetterTopic, source: source,
                                            key: restricted ? Array("\(source.topic)/\(source.partition)/\(source.offset)".utf8) : letter.record.key,
                                            value: restricted ? nil : letter.record.value, headers: restricted ? [] : letter.record.headers,
                                            code: letter.code, issues: [issue], extra: extra)
        }
        var attempt = 0
        while !records.isEmpty {
            let producer = producer
            let outcomes = await withTaskGroup(of: (Int, KafkaError?).self) { group in
                for (index, record) in records.enumerated() {
                    group.addTask {
                        do {
                            _ = try await producer.send(record)
                            return (index, nil)
                        } catch KafkaError.delivery(let code, _, _) where code == .messageSizeTooLarge || code == .invalidRecord {
                            do { _ = try await producer.send(DeadLetterBuilder.minimal(record)) } catch let error as KafkaError { return (index, error) } catch {}
                            return (index, nil)
                        } catch let error as KafkaError {
                            return (index, error)
                        } catch {
                            return (index, .closed)
                        }
                    }
                }
                var failed: [(Int, KafkaError)] = []
                for await (index, error) in group { if let error { failed.append((index, error)) } }
                return failed
            }
            if let fatal = outcomes.first(where: { if case .fatal = $0.1 { return true } else { return false } }) { throw fatal.1 }
            records = outcomes.sorted { $0.0 < $1.0 }.map { records[$0.0] }
            guard !records.isEmpty else { break }
            log.event(.warning, "feed.push.deadLetterRetry", ["failed": .int(Int64(records.count)), "reason": .text(outcomes[0].1.description)])
            attempt += 1
            try await wait(configuration.retry.delay(attempt: attempt - 1), &progress)
        }
        let byCode = Dictionary(grouping: letters, by: { $0.code }).mapValues(\.count)
        counters.update { c in
            for (code, count) in byCode { c.deadLettered[code, default: 0] += count }
        }
        let statuses = byCode.mapValues { LogValue.int(Int64($0)) }
        log.event(.warning, "feed.push.deadLettered", ["count": .int(Int64(letters.count)), "codes": .object(statuses)])
    }

    /// The dead-letter code of a document the pusher refused because it still carried restricted data.
    static let restrictedDataCode = "feed.restrictedData"

    /// Longest endpoint answer kept in `hssk-response-body`.
    static let maxResponseBodyBytes = 64 * 1024

    /// DLQ header: the endpoint's HTTP status.
    public static let responseStatusHeader = "hssk-response-status"
    /// DLQ header: the endpoint's response body (at most 64 KiB).
    public static let responseBodyHeader = "hssk-response-body"
}
