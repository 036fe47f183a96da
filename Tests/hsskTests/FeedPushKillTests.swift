import CitizenFeed
import Foundation
import HSSKTesting
import Kafka
import Tooling
import XCTest

/// `hssk feed push` as production treats it: killed with SIGKILL while a batch is being posted,
/// restarted, killed again. The receiver must end with the latest version of every person, must never
/// have been sent an older version after a newer one, and the group's offsets reach the end of the feed.
final class FeedPushKillTests: XCTestCase {
    func personalID(_ n: Int) -> String { "0010580" + String(format: "%05d", n) }

    func testKill9MidBatchLosesNothingAndNeverGoesBackAVersion() async throws {
        let cluster = try EmbeddedCluster(brokers: 1)
        defer { cluster.shutdown() }
        try cluster.createTopic(FeedHeaders.topic, partitions: 3, replicationFactor: 1)
        try cluster.createTopic(FeedHeaders.deadLetterTopic, partitions: 1, replicationFactor: 1)
        // 300 persons × 15 versions, version-major as the publisher writes rounds: every batch of the
        // pusher has a version of many persons, and every person has versions in many batches.
        let persons = 300, versions = 15
        var records: [ProducerRecord] = []
        for version in 1...versions {
            for person in 0..<persons {
                let id = personalID(person), v = version * 1_000 + person
                records.append(ProducerRecord(topic: FeedHeaders.topic, key: Array(id.utf8),
                                              value: Array(#"{"personalId":"\#(id)","version":\#(v),"schemaVersion":1}"#.utf8),
                                              headers: [KafkaHeader(FeedHeaders.version, String(v))]))
            }
        }
        let producer = try Producer(config: KafkaTesting.producerConfig(cluster))
        let delivered = try await producer.sendAll(records)
        XCTAssertTrue(delivered.allDelivered)
        try await producer.close()

        // A slow receiver (10 ms a request) keeps a batch in flight most of the time, so that a kill
        // lands while the pusher waits for the answer: posted, not committed.
        var configuration = FeedSinkConfiguration()
        configuration.delay = .milliseconds(10)
        let sink = try FeedSink(configuration)
        defer { sink.stop() }
        let latest = Dictionary(uniqueKeysWithValues: (0..<persons).map { (personalID($0), Int64(versions * 1_000 + $0)) })
        func complete() -> Bool { let arrivals = sink.arrivals; return latest.allSatisfy { arrivals[$0.key]?.contains($0.value) == true } }
        func pusher() throws -> RunningProcess {
            // A short session: the group notices a killed member quickly and the next one takes over.
            try RunningProcess(hssk, ["feed", "push", "--bootstrap", cluster.bootstrapServers, "--endpoint", sink.url.absoluteString,
                                      "--batch", "10", "--kafka", "session.timeout.ms=3000", "--kafka", "heartbeat.interval.ms=300",
                                      "--kafka", "log_level=3"])
        }

        var kills = 0, inFlightAtKill = 0
        var itemsAfterKill: [Int] = []
        while kills < 5 {
            let before = sink.report.items
            let process = try pusher()
            // Wait for this process to post something, then a random moment, then a request in flight.
            let deadline = ContinuousClock.now + .seconds(30)
            while sink.report.items == before, process.isRunning, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(5))
            }
            try await Task.sleep(for: .milliseconds(Int.random(in: 0...300)))
            // Not every moment has a request in flight (a rebalance when the killed member's session
            // ends pauses the work): wait for the next one, the pusher has work left.
            let waitForRequest = ContinuousClock.now + .seconds(10)
            while sink.requestsInFlight == 0, ContinuousClock.now < waitForRequest { try await Task.sleep(for: .milliseconds(1)) }
            if sink.requestsInFlight > 0 { inFlightAtKill += 1 }
            XCTAssertTrue(process.isRunning, "the pusher exited by itself:\n\(process.output.suffix(2_000))")
            XCTAssertFalse(complete(), "kill \(kills + 1) came after the work was done")
            process.kill9()
            kills += 1
            itemsAfterKill.append(sink.report.items)
            XCTAssertGreaterThan(sink.report.items, before, "kill \(kills) hit a pusher that had posted nothing")
        }
        print("feed push kill -9: items received after each kill \(itemsAfterKill), \(inFlightAtKill) kills with a request in flight")
        // Every kill found the pusher waiting for an answer (the batch posted, its offsets not committed).
        XCTAssertEqual(inFlightAtKill, kills)

        let last = try pusher()
        let deadline = ContinuousClock.now + .seconds(120)
        while !complete(), ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
        XCTAssertTrue(complete(), "not every person's latest version arrived after \(kills) kills")
        // The group's position reaches the end of the feed: nothing left behind.
        let observer = try Consumer(config: KafkaTesting.consumerConfig(cluster, group: FeedPusherConfiguration.group))
        let partitions = (0..<3).map { Kafka.TopicPartition(FeedHeaders.topic, Int32($0)) }
        let commitDeadline = ContinuousClock.now + .seconds(30)
        var committed: [Kafka.TopicPartition: Int64] = [:]
        while ContinuousClock.now < commitDeadline {
            committed = try await observer.committed(partitions)
            if committed.values.reduce(0, +) == Int64(records.count) { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        XCTAssertEqual(committed.values.reduce(0, +), Int64(records.count), "committed offsets: \(committed)")
        try await observer.close()
        last.terminate()
        XCTAssertEqual(last.waitForExit(), 0, "SIGTERM must end the pusher cleanly:\n\(last.output.suffix(2_000))")

        let report = sink.report
        XCTAssertEqual(report.outOfOrder, 0, "an older version arrived after a newer one")
        // Killed mid-request: the batches posted and not committed were posted again.
        // Each kill left a recorded, uncommitted batch: at least one item of each was posted again.
        XCTAssertGreaterThanOrEqual(report.duplicates, kills, "batches killed in flight must be posted again")
        for (personalID, arrived) in sink.arrivals {
            XCTAssertEqual(arrived, arrived.sorted(), "\(personalID): versions must never go back")
        }
        XCTAssertEqual(sink.documents.count, persons)
        for (personalID, version) in latest {
            let document = try XCTUnwrap(sink.documents[personalID], personalID)
            let stored = try JSONSerialization.jsonObject(with: Data(document)) as? [String: Any]
            XCTAssertEqual((stored?["version"] as? NSNumber)?.int64Value, version, "\(personalID) holds its latest version")
        }
        print("feed push kill -9: receiver \(report)")
    }
}
