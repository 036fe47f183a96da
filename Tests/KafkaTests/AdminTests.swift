import HSSKTesting
import XCTest
@testable import Kafka

final class AdminTests: XCTestCase {
    func testEnsureIsIdempotentAndReportsMismatchedSettings() async throws {
        let cluster = try EmbeddedCluster(brokers: 3)
        let visits = TopicSpec(name: KafkaTesting.uniqueTopic("visits"), partitions: 6, replicationFactor: 3,
                               configs: ["cleanup.policy": "delete"])
        let feed = TopicSpec(name: KafkaTesting.uniqueTopic("feed"), partitions: 3, replicationFactor: 3)

        let first = try await cluster.ensureTopics([visits, feed])
        XCTAssertEqual(Set(first.created), [visits.name, feed.name])
        XCTAssertTrue(first.isClean)

        let again = try await cluster.ensureTopics([visits, feed])
        XCTAssertEqual(again.created, [])
        XCTAssertEqual(Set(again.upToDate), [visits.name, feed.name])
        XCTAssertTrue(again.isClean)
        XCTAssertEqual(again.configsUnverified, [visits.name], "the mock keeps no configs: say so, do not pretend")

        var wider = feed
        wider.partitions = 12
        wider.replicationFactor = 2
        let drifted = try await cluster.ensureTopics([wider])
        XCTAssertEqual(drifted.created, [])
        XCTAssertFalse(drifted.isClean)
        XCTAssertEqual(Set(drifted.drift), [
            TopicDrift(topic: feed.name, setting: "partitions", expected: "12", actual: "3"),
            TopicDrift(topic: feed.name, setting: "replication.factor", expected: "2", actual: "3"),
        ])

        let missing = TopicSpec(name: KafkaTesting.uniqueTopic("missing"), partitions: 1, replicationFactor: 1)
        let check = try await cluster.checkTopics([visits, missing])
        XCTAssertEqual(check.missing, [missing.name])
        XCTAssertFalse(check.isClean)
        let described = try await cluster.describeTopics([missing.name])
        XCTAssertTrue(described.isEmpty, "checking must not create the topic")
    }

    /// Releasing an admin client returns only once its librdkafka threads have ended. A command that
    /// failed (a TLS handshake refused, a wrong address) exits right after: a thread still running
    /// then crashed the process on exit (SIGSEGV in 3 of 25 `hssk topics check` against a certificate
    /// without the host name).
    func testReleasingAnAdminWaitsForItsThreads() async throws {
        // Earlier tests' clients may still be ending: start from a count that stays put, else a
        // thread of theirs ending could hide one of this client's outliving it.
        var before = librdkafkaThreadCount()
        for _ in 0..<50 {
            try await Task.sleep(for: .milliseconds(100))
            let now = librdkafkaThreadCount()
            if now == before { break }
            before = now
        }
        do {
            let admin = try Admin(config: KafkaClientConfig(bootstrapServers: "127.0.0.1:1"), timeout: .seconds(1))
            do {
                _ = try await admin.findTopics(["hssk.visits.v1"])
                XCTFail("no broker listens on 127.0.0.1:1")
            } catch {}
            withExtendedLifetime(admin) { XCTAssertGreaterThan(librdkafkaThreadCount(), before) }
        }
        // Other tests' clients may still be ending, never starting: the count can only have fallen.
        XCTAssertLessThanOrEqual(librdkafkaThreadCount(), before, "the admin client's threads outlived it")
    }

    func testDriftComparesConfigsWhenTheBrokerReportsThem() {
        let spec = TopicSpec(name: "hssk.citizen-feed.v1", partitions: 6, replicationFactor: 3,
                             configs: ["cleanup.policy": "compact", "min.insync.replicas": "2"])
        let actual = TopicDescription(name: spec.name, partitions: 6, replicationFactor: 3,
                                      configs: ["cleanup.policy": "delete", "retention.ms": "1"])
        XCTAssertEqual(spec.drift(from: actual), [
            TopicDrift(topic: spec.name, setting: "cleanup.policy", expected: "compact", actual: "delete"),
            TopicDrift(topic: spec.name, setting: "min.insync.replicas", expected: "2", actual: "(unset)"),
        ])
        var unknown = actual
        unknown.configs = nil
        XCTAssertEqual(spec.drift(from: unknown), [])
    }

    func testEmbeddedClusterRefusesReplicationBeyondItsBrokers() async throws {
        let cluster = try EmbeddedCluster(brokers: 1)
        XCTAssertThrowsError(try cluster.createTopic("t", partitions: 1, replicationFactor: 3)) { error in
            guard case let KafkaError.topic(name, code, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(name, "t")
            XCTAssertEqual(code.name, "INVALID_REPLICATION_FACTOR")
        }
        let brokers = try await cluster.brokers()
        XCTAssertEqual(brokers.map(\.id), [1])
    }
}
