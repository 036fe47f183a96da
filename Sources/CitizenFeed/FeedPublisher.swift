import Foundation
import HealthModel
import Kafka
import RecordStore
import ServiceRuntime

/// Kafka header names of the citizen feed beyond the CloudEvents ones.
public enum FeedHeaders {
    /// The document's version, decimal; also on tombstones (whose value is empty).
    public static let version = "hssk-feed-version"
    /// The feed topic.
    public static let topic = "hssk.citizen-feed.v1"
    /// Its dead-letter topic (documents the endpoint refused).
    public static let deadLetterTopic = "hssk.citizen-feed.v1.dlq"
}

/// Settings of the feed publisher.
public struct FeedPublisherConfiguration: Sendable {
    /// Topic written.
    public var topic = FeedHeaders.topic
    /// Outbox rows read per round.
    public var batchSize = 500
    /// Wait when the outbox is empty.
    public var idleWait: Duration = .milliseconds(200)
    /// First wait after a transient failure (store busy, broker unreachable); doubles up to `maxBackoff`.
    public var backoff: Duration = .milliseconds(200)
    /// Longest wait between retries.
    public var maxBackoff: Duration = .seconds(10)
    /// The back-off schedule of `backoff` and `maxBackoff`: waits of half to all of each ceiling, so
    /// that the endpoint or broker always gets some rest.
    var retry: RetryPolicy { RetryPolicy(base: backoff, cap: maxBackoff, jitter: .half) }
    /// `ce_source` of the documents.
    public var source = "hssk-feed-publisher"
    /// The document builder (and its restricted-data filter).
    public var builder = CitizenDocumentBuilder()

    /// Default settings.
    public init() {}
}

/// What one round of the publisher did (counts only: logged as is).
public struct FeedRound: Sendable, Hashable {
    /// Outbox rows read and marked done.
    public var rows = 0
    /// Documents produced.
    public var documents = 0
    /// Tombstones produced.
    public var tombstones = 0
    /// Persons rebuilt because a relative changed (their document shows the relative).
    public var relatives = 0
    /// Persons not published, by reason.
    public var skipped: [CitizenPublication.Skip: Int] = [:]
    /// Current records that could not be decoded.
    public var undecodable = 0
    /// Outbox rows quarantined, by reason code.
    public var quarantined: [String: Int] = [:]
    /// Relatives left out because their data could not be read.
    public var unreadableRelatives = 0
    /// What the restricted-data filter removed.
    public var filtered = RestrictedFilterReport()
    /// Highest version written.
    public var maxVersion: Int64 = 0
}

/// Failures of the feed publisher.
public enum FeedPublisherError: Error, Sendable, CustomStringConvertible {
    /// Some records were not acknowledged by the cluster; the round is retried.
    case notDelivered(count: Int, firstError: String)

    /// What failed, for logs.
    public var description: String {
        switch self {
        case .notDelivered(let count, let firstError): return "\(count) feed records not delivered (\(firstError)); retrying the round"
        }
    }
}

/// Reads the `citizen-feed` outbox, rebuilds each changed person's citizen document from the store and
/// produces it to `hssk.citizen-feed.v1` under the person's active personal ID, with tombstones for the
/// person's other personal IDs (a re-issued number, the number of a person merged into this one).
///
/// Version: the highest outbox id among the rows that caused the rebuild. Outbox ids follow commit
/// order, so versions only grow, per person and per key, across restarts; a round that crashed after
/// producing and before marking its rows done is republished with the same versions (the pusher's
/// idempotency key is personal ID + version).
///
/// Each round: read up to `batchSize` pending rows, add the relatives whose documents show a changed
/// person (one hop: guardians and dependants), build, produce idempotently and wait for every
/// acknowledgement, then mark the rows done. A row that cannot be processed (its payload fails
/// authentication, its key names no person, the person's data cannot be read) is quarantined instead:
/// never retried, logged with its id and code, counted; the round goes on with the others.
public struct FeedPublisher: ObservableService {
    /// Name for logs.
    public let name = "feed-publisher"
    private let store: any OutboxStore
    private let producer: Producer
    private let configuration: FeedPublisherConfiguration
    private let log: EventLog
    /// What it has done so far.
    public let counters = FeedCounters()
    /// Readiness and liveness, for the admin endpoint.
    public let health = HealthReporter()
    private let backlog: OutboxBacklogGauge

    /// A publisher reading `store` and writing with `producer`.
    public init(store: any OutboxStore, producer: Producer, configuration: FeedPublisherConfiguration = FeedPublisherConfiguration(),
                log: EventLog = .standardError) {
        self.store = store
        self.producer = producer
        self.configuration = configuration
        self.log = log
        backlog = OutboxBacklogGauge(store: store, kind: OutboxKinds.citizenFeed)
    }

    /// Publishes rounds until cancelled; transient store and broker failures are retried with back-off.
    public func run() async throws {
        log.event(.info, "feed.publisher.started", ["topic": .text(configuration.topic)])
        var failures = 0
        health.started(consuming: false)
        while !Task.isCancelled {
            do {
                let round = try await publishOnce()
                health.beat()
                if failures > 0 { [.storeUnavailable, .kafkaUnavailable].forEach(health.clear) }
                failures = 0
                if round.rows == 0 { try await Task.sleep(for: configuration.idleWait) }
            } catch is CancellationError {
                break
            } catch let error as StoreError where error.isTransient {
                health.set(.storeUnavailable)
                failures += 1
                log.event(.warning, "feed.publisher.retry", ["reason": .text(error.description), "attempt": .int(Int64(failures))])
                guard await pause(failures) else { break }
            } catch let error as FeedPublisherError {
                health.set(.kafkaUnavailable)
                failures += 1
                log.event(.warning, "feed.publisher.retry", ["reason": .text(error.description), "attempt": .int(Int64(failures))])
                guard await pause(failures) else { break }
            } catch let error as KafkaError {
                if case .fatal = error { throw error }
                health.set(.kafkaUnavailable)
                failures += 1
                log.event(.warning, "feed.publisher.retry", ["reason": .text(error.description), "attempt": .int(Int64(failures))])
                guard await pause(failures) else { break }
            }
        }
        health.set(.stopping)
        log.event(.info, "feed.publisher.stopped")
    }

    /// Documents, tombstones, restricted items removed, retries and the outbox backlog.
    public func metricFamilies() -> [MetricFamily] {
        let s = counters.snapshot
        return [
            .counter("hssk_feed_outbox_rows_total", "citizen-feed outbox rows published and marked done.", s.outboxRows),
            .counter("hssk_feed_documents_total", "Citizen documents produced to the feed.", s.documents),
            .counter("hssk_feed_tombstones_total", "Tombstones produced to the feed (re-issued or merged personal IDs).", s.tombstones),
            .counter("hssk_feed_restricted_removed_total", "Items the restricted-data filter removed, by rule.", by: "rule", s.restricted),
            .quarantined(s.quarantined),
            .retries(s.retries),
            backlog.family,
        ]
    }

    /// Counts the outbox backlog.
    public func refreshGauges() async { await backlog.refresh() }

    /// Waits the back-off for the `attempt`-th consecutive failure; false when cancelled meanwhile.
    private func pause(_ attempt: Int) async -> Bool {
        counters.update { $0.retries += 1 }
        let delay = configuration.retry.delay(attempt: attempt - 1)
        do { try await Task.sleep(for: delay) } catch { return false }
        return true
    }

    /// One round (see the type's description); returns what it did. Throws when a record was not
    /// delivered, leaving the rows pending for the next round.
    @discardableResult
    public func publishOnce(now: Date = Date()) async throws -> FeedRound {
        var round = FeedRound()
        let entries = try await store.pendingOutbox(kind: OutboxKinds.citizenFeed, limit: configuration.batchSize)
        guard !entries.isEmpty else { return round }
        round.rows = entries.count
        // One bad row is quarantined, never a stop (DESIGN §6): it is collected here and the rest go on.
        var quarantine = OutboxQuarantine()
        var versions: [PersonID: Int64] = [:]
        var rowsOf: [PersonID: [Int64]] = [:]
        for entry in entries {
            guard let person = quarantine.person(of: entry) else { continue }
            versions[person] = max(versions[person] ?? 0, entry.id)
            rowsOf[person, default: []].append(entry.id)
        }
        var files: [PersonID: PersonFile] = [:]
        for (id, read) in try await store.personFiles(versions.keys.sorted()) {
            switch read {
            case .success(let file):
                files[id] = file
            case .failure:
                quarantine.add(rowsOf[id] ?? [], OutboxQuarantine.unreadablePerson)
                versions[id] = nil
            }
        }
        // One hop: the documents of guardians and dependants show this person's name, ID and phone.
        var relatives: [PersonID: Int64] = [:]
        for (id, file) in files where file.person.mergedInto == nil {
            for relation in file.relations where relation.kind != .household {
                let other = relation.person == id ? relation.other : relation.person
                guard versions[other] == nil else { continue }
                relatives[other] = max(relatives[other] ?? 0, versions[id] ?? 0)
            }
        }
        let relativeFiles = relatives.isEmpty ? [:] : try await store.personFiles(relatives.keys.sorted())
        for (id, read) in relativeFiles.sorted(by: { $0.key < $1.key }) {
            switch read {
            case .success(let file):
                files[id] = file
                versions[id] = relatives[id]
                round.relatives += 1
            case .failure(let error):
                // No row of the relative's own to quarantine: its document waits for its next change.
                round.unreadableRelatives += 1
                log.event(.warning, "feed.relative.unreadable", ["person": .int(id.rawValue), "code": .text(error.code)])
            }
        }

        var records: [ProducerRecord] = []
        for id in versions.keys.sorted() {
            guard let file = files[id], let version = versions[id] else { continue }
            let publication = configuration.builder.build(file, version: version, generatedAt: now)
            round.filtered.add(publication.filtered)
            round.undecodable += publication.undecodable
            if let skip = publication.skipped { round.skipped[skip, default: 0] += 1 }
            for key in publication.retiredKeys {
                records.append(record(key: key, value: nil, version: version, time: now))
                round.tombstones += 1
            }
            if let key = publication.key, let document = publication.document {
                records.append(record(key: key, value: document.encoded(), version: version, time: now))
                round.documents += 1
            }
            round.maxVersion = max(round.maxVersion, version)
        }
        if !records.isEmpty {
            let result = try await producer.sendAll(records)
            if let failure = result.failures.first {
                throw FeedPublisherError.notDelivered(count: result.failures.count, firstError: failure.code.name)
            }
        }
        let bad = quarantine.ids
        try await store.markOutboxDone(entries.map(\.id).filter { !bad.contains($0) })
        round.quarantined = try await quarantine.commit(to: store, actor: name, log: log, event: "feed.outbox.quarantined")
        counters.update { c in
            c.outboxRows += round.rows - bad.count
            c.documents += round.documents
            c.tombstones += round.tombstones
            for (rule, count) in round.filtered.rules { c.restricted[rule, default: 0] += count }
            for (code, count) in round.quarantined { c.quarantined[code, default: 0] += count }
        }
        logRound(round)
        return round
    }

    /// A feed record: CloudEvents headers, the version header; no value for a tombstone.
    private func record(key: String, value: [UInt8]?, version: Int64, time: Date) -> ProducerRecord {
        // Unsigned: the pusher signs each request for the citizen app; consumers of the topic are hssk's own.
        let headers = CloudEventHeaders.make(id: "\(key):\(version)\(value == nil ? ":deleted" : "")", source: configuration.source,
                                             type: CloudEventTypes.citizenDocument, time: CloudEventHeaders.time(time),
                                             extensions: [KafkaHeader(FeedHeaders.version, String(version))], value: value)
        return ProducerRecord(topic: configuration.topic, key: Array(key.utf8), value: value, headers: headers)
    }

    /// Counts and rule names only: never names, IDs or what was removed (DESIGN §9).
    private func logRound(_ round: FeedRound) {
        var fields: [String: LogValue] = [
            "rows": .int(Int64(round.rows)), "documents": .int(Int64(round.documents)), "tombstones": .int(Int64(round.tombstones)),
            "relatives": .int(Int64(round.relatives)), "maxVersion": .int(round.maxVersion),
        ]
        if !round.skipped.isEmpty {
            fields["skipped"] = .object(Dictionary(uniqueKeysWithValues: round.skipped.map { ($0.key.rawValue, LogValue.int(Int64($0.value))) }))
        }
        if round.undecodable > 0 { fields["undecodable"] = .int(Int64(round.undecodable)) }
        if !round.quarantined.isEmpty { fields["quarantined"] = .object(round.quarantined.mapValues { .int(Int64($0)) }) }
        if round.unreadableRelatives > 0 { fields["unreadableRelatives"] = .int(Int64(round.unreadableRelatives)) }
        log.event(.info, "feed.published", fields)
        if round.filtered.total > 0 {
            log.event(.info, "feed.restricted.removed", [
                "items": .object(Dictionary(uniqueKeysWithValues: round.filtered.items.map { ($0.key.rawValue, LogValue.int(Int64($0.value))) })),
                "rules": .object(round.filtered.rules.mapValues { LogValue.int(Int64($0)) }),
            ])
        }
    }
}
