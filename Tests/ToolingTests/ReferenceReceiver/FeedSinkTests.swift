@testable import CitizenFeed
import Foundation
import HSSKTesting
@testable import Tooling
import XCTest

/// The reference receiver's control endpoint over real HTTP: odd or hostile parameters are answered
/// 400 with the reason and change nothing; they never take the receiver down.
final class FeedSinkTests: XCTestCase {
    func control(_ sink: FeedSink, _ query: String) throws -> LoopbackHTTP.Response {
        try LoopbackHTTP.exchange(port: sink.port, "POST /_control\(query) HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    }

    func testControlRefusesOddParametersWithA400AndKeepsServing() async throws {
        let sink = try FeedSink(FeedSinkConfiguration())
        defer { sink.stop() }
        let endpoint = FeedEndpoint(FeedEndpointConfiguration(url: sink.url))
        let refused: [(query: String, reason: String)] = [
            ("?=", "parameter"), ("?=1", "parameter"), ("?&=&", "parameter"), ("?fail=1", "unknown parameter 'fail'"),
            ("?failForSeconds=1e300", "failForSeconds"), ("?failForSeconds=-1", "failForSeconds"), ("?failForSeconds=nan", "failForSeconds"),
            ("?failForSeconds=inf", "failForSeconds"), ("?failForSeconds=", "failForSeconds"), ("?failForSeconds", "failForSeconds"),
            ("?failForSeconds=86401", "failForSeconds"), ("?failNext=99999999999999999999", "failNext"), ("?failNext=-1", "failNext"),
            ("?failNext=x", "failNext"), ("?failNext=1e3", "failNext"), ("?status=600", "status"), ("?status=abc", "status"),
            ("?status=", "status"), ("?failNext=2&failForSeconds=1e300", "failForSeconds"),
        ]
        for (query, reason) in refused {
            let response = try control(sink, query)
            XCTAssertEqual(response.status, 400, "\(query) → \(response.head)")
            XCTAssertTrue(response.body.contains(reason), "\(query) → \(response.body)")
        }
        // Nothing was applied, not even the valid half of a refused request: pushes still succeed.
        let pushed = await endpoint.post(FeedWire.body([]))
        XCTAssertEqual(pushed, .accepted(status: 200))
        XCTAssertEqual(sink.report.failedOnPurpose, 0)
        XCTAssertEqual(try LoopbackHTTP.get(port: sink.port, "/_stats").status, 200)

        // Valid plans still work: two failures with 429, then success; a short outage by seconds.
        XCTAssertEqual(try control(sink, "?failNext=2&status=429").status, 200)
        for _ in 0..<2 {
            guard case .retry = await endpoint.post(FeedWire.body([])) else { return XCTFail("failNext=2 fails the next two pushes") }
        }
        let afterTwo = await endpoint.post(FeedWire.body([]))
        XCTAssertEqual(afterTwo, .accepted(status: 200))
        XCTAssertEqual(try control(sink, "?failForSeconds=86400&status=503").status, 200)
        guard case .retry = await endpoint.post(FeedWire.body([])) else { return XCTFail("failing for a day") }
        XCTAssertEqual(try control(sink, "?failForSeconds=0").status, 200)
        let recovered = await endpoint.post(FeedWire.body([]))
        XCTAssertEqual(recovered, .accepted(status: 200))
        XCTAssertEqual(sink.report.failedOnPurpose, 3)
    }
}
