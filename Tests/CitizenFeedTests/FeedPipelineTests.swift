@testable import CitizenFeed
import Foundation
import HSSKTesting
import HealthModel
@testable import Ingest
import Kafka
import RecordStore
@testable import ServiceRuntime
import SyntheticPopulation
@testable import Tooling
import XCTest

/// The whole chain on the embedded cluster: the sources publish a synthetic population, ingest
/// stores it, the publisher builds the feed, the pusher posts it to the reference receiver through an
/// outage. What the receiver ends up with must be exactly the feed's latest state, free of restricted data.
final class FeedPipelineTests: XCTestCase {
    func testASyntheticPopulationFromTheSourcesToTheCitizenApp() async throws {
        let population = PopulationGenerator(citizens: 250, seed: 4).generate()
        let restrictedVisits = population.acceptable.filter { record in
            guard case .visit(let visit) = record.record else { return false }
            return visit.diagnoses.contains { ["B20", "Z21"].contains($0.code) }
        }
        XCTAssertFalse(restrictedVisits.isEmpty, "the population must carry restricted diagnoses")

        let scenario = try IngestScenario(brokers: 1, partitions: 2)
        let world = try await FeedWorld(cluster: scenario.cluster)
        try await scenario.registerAccounts(in: world.store)
        let published = try await scenario.publish(population.records)
        let key = try SigningKey(text: "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")
        let sink = try FeedSink({ var c = FeedSinkConfiguration(); c.signingKey = key; return c }())
        sink.failNext(4)
        let lines = LogLines()
        let ingest = IngestService(configuration: scenario.configuration(), store: world.store, log: .silent)
        let feedProducer = try world.producer(), dlqProducer = try world.producer()
        var publisherConfiguration = FeedPublisherConfiguration()
        publisherConfiguration.idleWait = .milliseconds(20)
        let publisher = FeedPublisher(store: world.store, producer: feedProducer, configuration: publisherConfiguration, log: lines.log)
        let consumer = try Consumer(config: KafkaTesting.consumerConfig(world.cluster, group: FeedPusherConfiguration.group))
        var pusherConfiguration = FeedPusherConfiguration()
        pusherConfiguration.backoff = .milliseconds(20)
        pusherConfiguration.maxBackoff = .milliseconds(200)
        pusherConfiguration.pollTimeout = .milliseconds(100)
        let pusher = FeedPusher(consumer: consumer, endpoint: FeedEndpoint(FeedEndpointConfiguration(url: sink.url, signingKey: key)),
                                producer: dlqProducer, configuration: pusherConfiguration, log: .silent)
        let services = Task {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await ingest.run() }
                group.addTask { try await publisher.run() }
                group.addTask { try await pusher.run() }
                try await group.waitForAll()
            }
        }

        let processed = try await scenario.waitUntilProcessed(world.store, ends: IngestScenario.ends(published))
        XCTAssertTrue(processed, "ingest did not reach the end offsets")
        let observer = try Consumer(config: KafkaTesting.consumerConfig(world.cluster, group: FeedPusherConfiguration.group))
        let partitions = (0..<3).map { Kafka.TopicPartition(FeedHeaders.topic, Int32($0)) }
        var ends: [Kafka.TopicPartition: Int64] = [:]
        let deadline = ContinuousClock.now + .seconds(120)
        while ContinuousClock.now < deadline {
            let drained = try await world.store.pendingOutbox(kind: OutboxKinds.citizenFeed, limit: 1).isEmpty
            for partition in partitions { ends[partition] = try await observer.watermarks(partition).high }
            let committed = try await observer.committed(partitions)
            if drained, ends.allSatisfy({ committed[$0.key] ?? 0 == $0.value }) { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        services.cancel()
        _ = await services.result

        // The feed's latest state, read back in full.
        let total = ends.values.reduce(0, +)
        XCTAssertGreaterThan(total, 0)
        let reader = try await FeedReader(world.cluster)
        let entries = try await reader.read(Int(total))
        XCTAssertEqual(entries.count, Int(total))
        var latest: [String: FeedEntry] = [:]
        for entry in entries where (latest[entry.key]?.version ?? 0) < entry.version { latest[entry.key] = entry }
        let live = latest.filter { !$0.value.isTombstone }
        XCTAssertEqual(Set(sink.documents.keys), Set(live.keys), "the receiver holds exactly the feed's documents")
        for (personalID, entry) in live {
            let received = try JSONDecoder().decode(CitizenDocument.self, from: Data(sink.documents[personalID] ?? []))
            XCTAssertEqual(received.version, entry.version, personalID)
        }
        XCTAssertGreaterThan(live.count, population.citizens.count / 2, "most citizens have a personal ID and a document")
        print("feed pipeline: \(published.count) source records, \(total) feed records, \(live.count) documents, "
              + "\(latest.count - live.count) deleted keys, receiver: \(sink.report)")
        XCTAssertEqual(sink.report.failedOnPurpose, 4)
        XCTAssertEqual(sink.report.outOfOrder, 0)
        for (personalID, versions) in sink.arrivals { XCTAssertEqual(versions, versions.sorted(), personalID) }

        let restricted = try NSRegularExpression(pattern: #"\b(B2[0-4]|Z21|R75)(\.\d+)?\b|HIV"#)
        for (personalID, bytes) in sink.documents {
            let json = String(decoding: bytes, as: UTF8.self)
            XCTAssertNil(restricted.firstMatch(in: json, range: NSRange(json.startIndex..., in: json)), "restricted data for \(personalID)")
        }
        XCTAssertTrue(lines.all.contains { $0.contains("feed.restricted.removed") }, "the filter removed (and logged) restricted data")

        try await reader.close()
        try await observer.close()
        try await consumer.close()
        try await feedProducer.close()
        try await dlqProducer.close()
        sink.stop()
        await world.close()
        scenario.cluster.shutdown()
    }
}
