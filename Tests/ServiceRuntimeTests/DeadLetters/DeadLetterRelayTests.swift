import Foundation
import HSSKTesting
import HealthModel
import Kafka
import RecordStore
@testable import ServiceRuntime
import XCTest

/// The relay produces the dead letters batches wrote, exactly once: after a relay died mid-round, its
/// successor finds on the topic what had arrived and sends only the rest; a letter the cluster
/// refuses as too large goes out in its minimal form instead of blocking the others.
final class DeadLetterRelayTests: XCTestCase {
    var cluster: EmbeddedCluster!
    var store: (any HealthRecordStore)!
    let topic = "hssk.visits.v1"
    let dlq = "hssk.visits.v1.dlq"

    override func setUp() async throws {
        cluster = try EmbeddedCluster(brokers: 1)
        try cluster.createTopic(topic, partitions: 1, replicationFactor: 1)
        try cluster.createTopic(dlq, partitions: 1, replicationFactor: 1)
        store = try await RecordStores.open(try TestStores.freshLocation(.sqlite), keys: try KeyRing.generate())
    }

    override func tearDown() async throws {
        await store?.close()
        cluster?.shutdown()
    }

    private func letters(_ count: Int, valueBytes: Int = 10) -> [DeadLetterDraft] {
        (0..<count).map { offset in
            let source = KafkaCoordinates(topic: topic, partition: 0, offset: Int64(offset))
            let letter = DeadLetterBuilder.letter(topic: dlq, source: source, key: Array("01001:LK-\(offset)".utf8),
                                                  value: [UInt8](repeating: 65, count: valueBytes), headers: [KafkaHeader("ce_id", "id-\(offset)")],
                                                  code: "signature.invalid", issues: [])
            return DeadLetterDraft(source: source, topic: dlq, code: "signature.invalid", letter: DeadLetterCodec.encode(letter))
        }
    }

    /// Writes the letters the way a batch does (with the offsets that moved past their records).
    private func decide(_ drafts: [DeadLetterDraft]) async throws {
        _ = try await store.apply(StoreBatch(offsets: [ConsumerOffset(group: "hssk-ingest", partition: RecordStore.TopicPartition(topic, 0),
                                                                      from: 0, nextOffset: Int64(drafts.count), records: drafts.count)],
                                             deadLetters: drafts))
    }

    private func readDLQ() async throws -> [ServiceRuntime.DeadLetter] {
        let reader = try DeadLetterReader(client: KafkaClientConfig(bootstrapServers: cluster.bootstrapServers))
        defer { Task { try? await reader.close() } }
        return try await reader.readAll(try DeadLetterTopic(dlq))
    }

    private func runRelay(_ client: KafkaClientConfig, until done: @escaping @Sendable () async -> Bool) async throws -> DeadLetterRelay.Counts {
        try await Self.runRelay(store: store, client, until: done)
    }

    private static func runRelay(store: any HealthRecordStore, _ client: KafkaClientConfig,
                                 until done: @escaping @Sendable () async -> Bool) async throws -> DeadLetterRelay.Counts {
        let relay = try DeadLetterRelay(store: store, group: "hssk-ingest", client: client, log: .silent, health: HealthReporter())
        let stop = StopFlag()
        let running = Task { await relay.run(until: stop) }
        let deadline = ContinuousClock.now + .seconds(90)
        while !(await done()), ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(100)) }
        stop.set()
        await running.value
        return relay.snapshot
    }

    /// Also after the topic was recreated: a letter of the new log about an offset an old-log letter
    /// names too is told apart by its id (by source coordinates, the two were one: one sent twice).
    func testSuccessorSendsOnlyWhatADeadRelayDidNotDeliver() async throws {
        try await decide(letters(3))
        try await store.acceptGap(group: "hssk-ingest", partition: RecordStore.TopicPartition(topic, 0), from: 3, to: 0, actor: "test",
                                  reason: "topic recreated")
        try await decide(letters(1))
        // A relay takes the lease, marks the round, produces three of the four letters and dies.
        let lease = try await store.acquireRelayLease("dead-letter-relay:hssk-ingest", holder: "dead", ttl: .seconds(1))
        XCTAssertNotNil(lease)
        let round = try await store.undeliveredDeadLetters(group: "hssk-ingest", limit: 10, maxBytes: 1 << 20)
        try await store.markDeadLettersSending(round.map(\.id), marks: [DeadLetterMark(topic: dlq, partition: 0, offset: 0)],
                                               lease: "dead-letter-relay:hssk-ingest", holder: "dead", ttl: .seconds(1))
        let producer = try Producer(config: KafkaTesting.producerConfig(cluster))
        for letter in round.prefix(2) + round.suffix(1) {
            _ = try await producer.send(DeadLetterRelay.stamped(try XCTUnwrap(letter.letter.flatMap(DeadLetterCodec.decode)), id: letter.id))
        }
        try await producer.close()

        // The successor waits until no send of the dead relay can still land (the quiet period), then
        // looks on the topic first.
        let store = store!
        let started = ContinuousClock.now
        let counts = try await runRelay(KafkaClientConfig(bootstrapServers: cluster.bootstrapServers)) {
            (try? await store.deadLetterBacklog(group: nil).undelivered) == 0
        }
        XCTAssertGreaterThanOrEqual(ContinuousClock.now - started, DeadLetterRelay.quietPeriod - .seconds(2))
        XCTAssertEqual(counts.recovered, 3, "the three letters already on the topic were found, not sent again")
        XCTAssertEqual(counts.delivered, 1)
        let onTopic = try await readDLQ()
        XCTAssertEqual(onTopic.compactMap(\.sourceOffset).sorted(), [0, 0, 1, 2])
        XCTAssertEqual(onTopic.compactMap(\.letterID).sorted(), round.map(\.id).sorted(), "each letter exactly once")
    }

    /// A sender's own `hssk-dead-letter-id` header (kept by letters stored before the relay stamped
    /// them) never speaks for the letter: the search would read the first one.
    func testOnlyTheRelaysIdTravelsWithALetter() throws {
        let record = ProducerRecord(topic: dlq, key: nil, value: [1], headers: [KafkaHeader(DeadLetterHeaders.letterID, "999"), KafkaHeader("ce_id", "x")])
        let stamped = DeadLetterRelay.stamped(record, id: 7)
        XCTAssertEqual(stamped.headers.filter { $0.key == DeadLetterHeaders.letterID }.map { String(decoding: $0.value ?? [], as: UTF8.self) }, ["7"])
        XCTAssertEqual(stamped.headers.map(\.key), ["ce_id", DeadLetterHeaders.letterID])
    }

    /// The cluster refuses a letter as too large (its limit is lower than the topic declares): the
    /// letter goes out without its value, the others are not held up, nothing is retried for ever.
    func testTooLargeLetterGoesOutInItsMinimalForm() async throws {
        try await decide(letters(2, valueBytes: 8_000))
        var client = KafkaClientConfig(bootstrapServers: cluster.bootstrapServers)
        client.properties = ["message.max.bytes": "4000"]
        let store = store!
        let counts = try await runRelay(client) { (try? await store.deadLetterBacklog(group: nil).undelivered) == 0 }
        XCTAssertEqual(counts.delivered, 2)
        XCTAssertEqual(counts.failed, 0)
        let onTopic = try await readDLQ()
        XCTAssertEqual(onTopic.count, 2)
        XCTAssertTrue(onTopic.allSatisfy { $0.value == nil && $0.headers.text(DeadLetterBuilder.valueOmitted) == "8000" })
        XCTAssertEqual(onTopic.map(\.errorCode), ["signature.invalid", "signature.invalid"])
    }

    /// Two relays on one store: one holds the lease and delivers; the other waits; nothing twice.
    func testTwoRelaysDeliverEachLetterOnce() async throws {
        try await decide(letters(50))
        let client = KafkaClientConfig(bootstrapServers: cluster.bootstrapServers)
        let store = store!
        async let first = Self.runRelay(store: store, client) { (try? await store.deadLetterBacklog(group: nil).undelivered) == 0 }
        async let second = Self.runRelay(store: store, client) { (try? await store.deadLetterBacklog(group: nil).undelivered) == 0 }
        let (a, b) = try await (first, second)
        XCTAssertEqual(a.delivered + b.delivered, 50)
        XCTAssertTrue(a.delivered == 0 || b.delivered == 0, "one relay at a time: \(a.delivered) / \(b.delivered)")
        let onTopic = try await readDLQ()
        XCTAssertEqual(onTopic.count, 50)
        XCTAssertEqual(Set(onTopic.compactMap(\.sourceOffset)).count, 50)
    }
}
