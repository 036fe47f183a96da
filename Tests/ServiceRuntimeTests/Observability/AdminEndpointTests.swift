import Foundation
import HSSKTesting
import HealthModel
@testable import Ingest
import Kafka
import RecordStore
@testable import ServiceRuntime
import SyntheticPopulation
import XCTest

/// The admin endpoint over real loopback sockets: health and metrics answers, strict refusals, and the
/// metrics of a real ingest run on the embedded cluster and SQLite matching what it stored.
final class AdminEndpointTests: XCTestCase {
    /// A service that only reports: its health is driven by the test.
    struct ReportingService: ObservableService {
        let name = "probe"
        let health = HealthReporter()
        func run() async throws {}
        func metricFamilies() -> [MetricFamily] {
            [.counter("hssk_probe_total", "A counter with a \\ backslash\nand a line feed in its help.", 3),
             .counter("hssk_dead_lettered_total", "By code.", by: "code", ["quote\"d": 1, "back\\slash": 2, "line\nfeed": 3])]
        }
        func refreshGauges() async {}
    }

    func testRenderingFollowsTheTextFormat() throws {
        let text = PrometheusText.render(ReportingService().metricFamilies() + [
            .histogram("hssk_batch_seconds", "Latency.", buckets: [0.005: 2, 0.1: 1, .infinity: 1], bounds: [0.005, 0.01, 0.1, .infinity], sum: 12.5),
        ])
        XCTAssertTrue(text.hasPrefix("# HELP hssk_probe_total A counter with a \\\\ backslash\\nand a line feed in its help.\n# TYPE hssk_probe_total counter\nhssk_probe_total 3\n"), text)
        XCTAssertTrue(text.contains(#"hssk_dead_lettered_total{code="quote\"d"} 1"#), text)
        XCTAssertTrue(text.contains(#"hssk_dead_lettered_total{code="back\\slash"} 2"#), text)
        XCTAssertTrue(text.contains(#"hssk_dead_lettered_total{code="line\nfeed"} 3"#), text)
        XCTAssertTrue(text.contains("hssk_batch_seconds_bucket{le=\"0.005\"} 2\nhssk_batch_seconds_bucket{le=\"0.01\"} 2\nhssk_batch_seconds_bucket{le=\"0.1\"} 3\nhssk_batch_seconds_bucket{le=\"+Inf\"} 4\nhssk_batch_seconds_sum 12.5\nhssk_batch_seconds_count 4\n"), text)
        let samples = try PrometheusParser.samples(text)
        XCTAssertEqual(samples["hssk_batch_seconds_count"], 4)
        XCTAssertThrowsError(try PrometheusParser.samples("hssk_orphan 1\n"), "a sample without HELP/TYPE is invalid")
    }

    func testHealthMetricsAndRefusalsOverSockets() throws {
        let service = ReportingService()
        let admin = try AdminEndpoint(host: "127.0.0.1", port: 0, service: service)
        defer { admin.stop() }
        let port = admin.port

        var health = try LoopbackHTTP.get(port: port, "/healthz")
        XCTAssertEqual(health.status, 503)
        XCTAssertEqual(health.body, #"{"reasons":["starting"],"service":"probe","status":"not ready"}"#)
        service.health.started(consuming: false)
        health = try LoopbackHTTP.get(port: port, "/healthz?verbose=1")
        XCTAssertEqual(health.status, 200, health.body)
        XCTAssertEqual(health.body, #"{"reasons":[],"service":"probe","status":"ready"}"#)
        XCTAssertEqual(try LoopbackHTTP.get(port: port, "/healthz/live").status, 200)
        service.health.set(.stopping)
        health = try LoopbackHTTP.get(port: port, "/healthz")
        XCTAssertEqual(health.status, 503)
        XCTAssertTrue(health.body.contains(#""reasons":["stopping"]"#), health.body)

        let metrics = try LoopbackHTTP.get(port: port, "/metrics")
        XCTAssertEqual(metrics.status, 200)
        XCTAssertTrue(metrics.head.contains("Content-Type: text/plain; version=0.0.4; charset=utf-8"), metrics.head)
        let samples = try PrometheusParser.samples(metrics.body)
        XCTAssertEqual(samples["hssk_probe_total"], 3)
        XCTAssertEqual(samples[#"hssk_ready{service="probe"}"#], 0)

        XCTAssertEqual(try LoopbackHTTP.get(port: port, "/").status, 404)
        XCTAssertEqual(try LoopbackHTTP.get(port: port, "/metrics/../etc/passwd").status, 404)
        let post = try LoopbackHTTP.exchange(port: port, "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
        XCTAssertEqual(post.status, 405)
        XCTAssertTrue(post.head.contains("Allow: GET"), post.head)
        XCTAssertEqual(try LoopbackHTTP.exchange(port: port, "DELETE /healthz HTTP/1.1\r\nHost: x\r\n\r\n").status, 405)
        XCTAssertEqual(try LoopbackHTTP.exchange(port: port, "GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello").status, 413)
        let huge = "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Padding: \(String(repeating: "a", count: 9_000))\r\n\r\n"
        XCTAssertEqual(try LoopbackHTTP.exchange(port: port, huge).status, 431)
        XCTAssertEqual(try LoopbackHTTP.exchange(port: port, "hello there\r\n\r\n").status, 400)
        XCTAssertEqual(try LoopbackHTTP.exchange(port: port, "GET /healthz HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n").status, 501)
        XCTAssertEqual(try LoopbackHTTP.exchange(port: port, "GET /healthz HTTP/2.0\r\n\r\n").status, 505)
    }

    func testLivenessFailsWhenTheLoopMakesNoProgress() async throws {
        let service = ReportingService()
        let admin = try AdminEndpoint(host: "127.0.0.1", port: 0, service: service, liveLimit: .milliseconds(200))
        defer { admin.stop() }
        service.health.beat()
        XCTAssertEqual(try LoopbackHTTP.get(port: admin.port, "/healthz/live").status, 200)
        try await Task.sleep(for: .milliseconds(300))
        let stuck = try LoopbackHTTP.get(port: admin.port, "/healthz/live")
        XCTAssertEqual(stuck.status, 503)
        XCTAssertTrue(stuck.body.contains(#""status":"stuck""#), stuck.body)
        service.health.beat()
        XCTAssertEqual(try LoopbackHTTP.get(port: admin.port, "/healthz/live").status, 200)
    }

    func testAddressParsing() throws {
        XCTAssertEqual(try AdminEndpoint.address("127.0.0.1:9464").port, 9464)
        XCTAssertEqual(try AdminEndpoint.address("0.0.0.0:0").host, "0.0.0.0")
        for bad in ["localhost:9464", "127.0.0.1", "127.0.0.1:70000", ":9464", "[::1]:9464"] {
            XCTAssertThrowsError(try AdminEndpoint.address(bad), bad)
        }
    }

    /// Ingest of a few records: not ready before it joined the group, ready after, and the metrics
    /// count exactly what was stored and dead-lettered.
    func testIngestMetricsMatchWhatWasStored() async throws {
        let scenario = try IngestScenario(brokers: 1, partitions: 2)
        defer { scenario.cluster.shutdown() }
        let store = try await RecordStores.open(try TestStores.freshLocation(.sqlite), keys: try KeyRing.generate())
        try await scenario.registerAccounts(in: store)
        let published = try await scenario.publish(PopulationGenerator(citizens: 25, seed: 3).generate().records)
        let rejected = published.filter { $0.expectedCode != nil }
        let service = IngestService(configuration: scenario.configuration(), store: store, log: .silent)
        let admin = try AdminEndpoint(host: "127.0.0.1", port: 0, service: service, refreshInterval: .milliseconds(100))
        let port = admin.port

        let before = try LoopbackHTTP.get(port: port, "/healthz")
        XCTAssertEqual(before.status, 503)
        XCTAssertTrue(before.body.contains("starting"), before.body)

        let running = Task { try await service.run() }
        let serving = Task { try await admin.run() }
        let processed = try await scenario.waitUntilProcessed(store, ends: IngestScenario.ends(published), timeout: .seconds(60))
        XCTAssertTrue(processed)
        var ready = try LoopbackHTTP.get(port: port, "/healthz")
        for _ in 0..<50 where ready.status != 200 {
            try await Task.sleep(for: .milliseconds(100))
            ready = try LoopbackHTTP.get(port: port, "/healthz")
        }
        XCTAssertEqual(ready.status, 200, ready.body)

        // The lag is sampled every 100 ms: wait for a sample of every partition with records.
        var samples: [String: Double] = [:]
        for _ in 0..<50 {
            samples = try PrometheusParser.samples(try LoopbackHTTP.get(port: port, "/metrics").body)
            if samples.keys.filter({ $0.hasPrefix("hssk_consumer_lag{") }).count >= Set(published.map { "\($0.record.topic)/\($0.partition)" }).count { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        let counters = service.counters.snapshot
        XCTAssertEqual(samples["hssk_consumed_total"], Double(published.count))
        XCTAssertEqual(samples["hssk_stored_total"], Double(counters.stored))
        XCTAssertEqual(samples["hssk_stored_total"], Double(published.count - rejected.count), "every valid record stored once")
        let deadLettered = samples.filter { $0.key.hasPrefix("hssk_dead_lettered_total{") }
        XCTAssertEqual(deadLettered.values.reduce(0, +), Double(rejected.count))
        for (code, count) in Dictionary(grouping: rejected, by: { $0.expectedCode! }).mapValues(\.count) {
            XCTAssertEqual(samples["hssk_dead_lettered_total{code=\"\(code)\"}"], Double(count), code)
        }
        XCTAssertEqual(samples["hssk_batch_seconds_count"], Double(counters.batches))
        XCTAssertEqual(samples["hssk_batch_seconds_bucket{le=\"+Inf\"}"], Double(counters.batches))
        let lag = samples.filter { $0.key.hasPrefix("hssk_consumer_lag{") }
        XCTAssertFalse(lag.isEmpty, "no hssk_consumer_lag series")
        XCTAssertEqual(lag.values.reduce(0, +), 0, "everything was consumed")
        XCTAssertEqual(samples[#"hssk_ready{service="ingest"}"#], 1)

        running.cancel()
        serving.cancel()
        try await running.value
        try await serving.value
        XCTAssertThrowsError(try LoopbackHTTP.get(port: port, "/healthz"), "the endpoint stops listening when cancelled")
        await store.close()
    }
}
