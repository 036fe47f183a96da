import Foundation
import HSSKTesting
import RecordStore
import SyntheticPopulation
import XCTest

/// `hssk ingest --admin` as a process, configured through the environment as a container would be:
/// the endpoint answers health and metrics while ingest runs, and goes away with it on SIGTERM.
final class AdminProcessTests: XCTestCase {
    func testIngestServesHealthAndMetricsFromTheEnvironmentsAdminAddress() async throws {
        let setup = try await IngestProcessTests.Setup(partitions: 2, backend: .sqlite)
        let published = try await setup.scenario.publish(PopulationGenerator(citizens: 20, seed: 4).generate().records)
        let ingest = try RunningProcess(hssk, ["ingest", "--keys", setup.keyFile, "--kafka", "log_level=3"], environment: [
            "HSSK_BOOTSTRAP": setup.scenario.cluster.bootstrapServers, "HSSK_STORE": setup.location, "HSSK_ADMIN": "127.0.0.1:0",
            "HSSK_KAFKA": "session.timeout.ms=6000\nheartbeat.interval.ms=500",
        ])
        defer { ingest.terminate() }
        let listening = try ingest.waitForLine(prefix: #"{"event":"admin.listening""#)
        let port = try XCTUnwrap(listening.firstMatch(of: /"port":(\d+)/).flatMap { UInt16($0.1) }, listening)

        let processed = try await setup.waitUntilProcessed(published, timeout: .seconds(60))
        XCTAssertTrue(processed, ingest.output)
        var health = try LoopbackHTTP.get(port: port, "/healthz")
        for _ in 0..<100 where health.status != 200 {
            try await Task.sleep(for: .milliseconds(100))
            health = try LoopbackHTTP.get(port: port, "/healthz")
        }
        XCTAssertEqual(health.status, 200, health.body)
        XCTAssertTrue(health.body.contains(#""service":"ingest""#), health.body)
        let samples = try PrometheusParser.samples(try LoopbackHTTP.get(port: port, "/metrics").body)
        XCTAssertEqual(samples["hssk_consumed_total"], Double(published.count))
        XCTAssertEqual((samples["hssk_stored_total"] ?? 0) + samples.filter { $0.key.hasPrefix("hssk_dead_lettered_total{") }.values.reduce(0, +),
                       Double(published.count), "stored + dead-lettered = published")
        XCTAssertEqual(try LoopbackHTTP.get(port: port, "/nothing").status, 404)

        ingest.terminate()
        XCTAssertEqual(ingest.waitForExit(), 0, ingest.output)
        XCTAssertThrowsError(try LoopbackHTTP.get(port: port, "/healthz"), "the endpoint ends with the process")
    }
}
