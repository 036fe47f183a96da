import Foundation
import HSSKTesting
@testable import HTTPResponder
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// The responder over real loopback sockets, driven by a raw client so that malformed and hostile
/// requests can be sent byte for byte.
final class HTTPResponderTests: XCTestCase {
    /// The raw loopback client shared with the admin endpoint's tests.
    typealias RawClient = LoopbackClient

    func echo(_ limits: HTTPLimits = HTTPLimits()) throws -> HTTPResponder {
        try HTTPResponder(limits: limits) { request in
            .text(200, "\(request.method) \(request.path) q=\(request.query["q"] ?? "-") body=\(request.body.count) ua=\(request.header("user-agent") ?? "-")")
        }
    }

    func testGetKeepAliveAndPipelining() throws {
        let server = try echo()
        defer { server.stop() }
        let client = try RawClient(port: server.port)
        client.send("GET /healthz?q=a+b HTTP/1.1\r\nHost: x\r\nUser-Agent: t\r\n\r\nGET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        let both = client.read(until: "GET /metrics q=- body=0 ua=-")
        XCTAssertTrue(both.hasPrefix("HTTP/1.1 200 OK\r\n"), both)
        XCTAssertTrue(both.contains("GET /healthz q=a b body=0 ua=t"), both)
        XCTAssertTrue(both.contains("Connection: keep-alive"), both)
        client.send("GET /last HTTP/1.1\r\nConnection: close\r\n\r\n")
        let last = client.read()
        XCTAssertTrue(last.contains("Connection: close") && last.hasSuffix("GET /last q=- body=0 ua=-"), last)
    }

    func testStrictRefusals() throws {
        var limits = HTTPLimits()
        limits.maxBodyBytes = 10
        limits.methods = ["GET", "POST"]
        let server = try echo(limits)
        defer { server.stop() }
        let cases: [(String, String)] = [
            ("GET / HTTP/1.1\r\nX: " + String(repeating: "a", count: 17_000) + "\r\n\r\n", "431"),
            ("POST / HTTP/1.1\r\nContent-Length: 11\r\n\r\n", "413"),
            ("POST / HTTP/1.1\r\n\r\n", "411"),
            ("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", "501"),
            ("POST / HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n", "400"),
            ("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", "400"),
            ("DELETE / HTTP/1.1\r\n\r\n", "405"),
            ("GET / HTTP/2.0\r\n\r\n", "505"),
            ("GET  / HTTP/1.1\r\n\r\n", "400"),
            ("GET http://x/ HTTP/1.1\r\n\r\n", "400"),
            ("GET / HTTP/1.1\r\nX: a\r\n  folded\r\n\r\n", "400"),
            ("GET / HTTP/1.1\r\nBad Name: a\r\n\r\n", "400"),
            ("\u{01}\u{02}garbage\r\n\r\n", "400"),
        ]
        for (request, status) in cases {
            let client = try RawClient(port: server.port)
            client.send(request)
            let response = client.read()
            XCTAssertTrue(response.hasPrefix("HTTP/1.1 \(status) "), "\(request.prefix(60)) → \(response.prefix(80))")
            XCTAssertTrue(response.contains("Connection: close"), "a refused request ends the connection")
        }
        let client = try RawClient(port: server.port)
        client.send("DELETE / HTTP/1.1\r\n\r\n")
        XCTAssertTrue(client.read().contains("Allow: GET, POST"))
        XCTAssertEqual(server.openConnections, 0)
    }

    func testOddQueriesNeverTrap() throws {
        let server = try echo()
        defer { server.stop() }
        for target in ["/x?=", "/x?==", "/x?=q", "/x?&&", "/x?&=&", "/x?q", "/x?q=", "/x?q=%", "/x?q=%FF%FE", "/x?%zz=1", "/x?q=a=b"] {
            let response = try LoopbackHTTP.get(port: server.port, target)
            XCTAssertEqual(response.status, 200, "\(target) → \(response.head)")
        }
        XCTAssertEqual(HTTPRequest(method: "GET", target: "/x?=").query, ["": ""], "an empty name is kept for the handler to refuse")
        XCTAssertEqual(HTTPRequest(method: "GET", target: "/x?==1&q").query, ["": "=1", "q": ""])
        XCTAssertEqual(HTTPRequest(method: "GET", target: "/x?q=a=b&&r=%41+c").query, ["q": "a=b", "r": "A c"])
    }

    func testPostBodyWithExpectContinue() throws {
        var limits = HTTPLimits()
        limits.methods = ["POST"]
        let server = try echo(limits)
        defer { server.stop() }
        let client = try RawClient(port: server.port)
        client.send("POST /in HTTP/1.1\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
        XCTAssertEqual(client.read(until: "\r\n\r\n"), "HTTP/1.1 100 Continue\r\n\r\n")
        client.send("hello")
        XCTAssertTrue(client.read(until: "body=5").contains("POST /in q=- body=5"))
    }

    func testASlowRequestIsCutOffAndIdleConnectionsClose() throws {
        var limits = HTTPLimits()
        limits.requestTimeout = .milliseconds(200)
        limits.idleTimeout = .milliseconds(200)
        let server = try echo(limits)
        defer { server.stop() }
        let slow = try RawClient(port: server.port)
        slow.send("GET / HTTP/1.1\r\nHost:")   // never finished
        XCTAssertTrue(slow.read().hasPrefix("HTTP/1.1 408 "))
        let idle = try RawClient(port: server.port)
        XCTAssertEqual(idle.read(), "", "an idle connection is closed without a response")
    }

    func testConnectionLimitAndStop() throws {
        var limits = HTTPLimits()
        limits.maxConnections = 1
        let server = try echo(limits)
        let first = try RawClient(port: server.port)
        first.send("GET /a HTTP/1.1\r\n\r\n")
        XCTAssertTrue(first.read(until: "ua=-").contains("GET /a"))
        let second = try RawClient(port: server.port)
        XCTAssertTrue(second.read().hasPrefix("HTTP/1.1 503 "), "over the limit: refused, not queued")
        server.stop()
        XCTAssertEqual(first.read(), "", "stop ends open connections")
        XCTAssertThrowsError(try RawClient(port: server.port), "nothing listens after stop")
        server.stop()
    }

    func testParserRules() {
        let limits = HTTPLimits()
        func parse(_ text: String) -> Result<HTTPRequestHead, HTTPParseError> { HTTPRequestHead.parse(ArraySlice(Array(text.utf8)), limits: limits) }
        guard case .success(let head) = parse("GET /x?y=1 HTTP/1.0\r\nConnection: keep-alive\r\nHost:  a ") else { return XCTFail() }
        XCTAssertEqual(head.target, "/x?y=1")
        XCTAssertTrue(head.keepAlive)
        XCTAssertEqual(head.headers.last, HTTPHeader("Host", "a"))
        guard case .success(let closing) = parse("GET / HTTP/1.0") else { return XCTFail() }
        XCTAssertFalse(closing.keepAlive, "HTTP/1.0 closes unless asked")
        guard case .failure(let error) = parse("POST / HTTP/1.1\r\nContent-Length: 1") else { return XCTFail() }
        XCTAssertEqual(error.status, 405, "GET only by default")
        XCTAssertThrowsError(try HTTPResponder(host: "localhost") { _ in .text(200, "") }, "an IPv4 literal is required")
    }
}
