import Foundation
import HTTPResponder

/// A long-running service that reports its health and metrics to an `AdminEndpoint`.
public protocol ObservableService: Service {
    /// Its readiness conditions and liveness.
    var health: HealthReporter { get }
    /// Its metrics now, built from its counters (cheap: called on each scrape).
    func metricFamilies() -> [MetricFamily]
    /// Asks what the counters cannot know (consumer lag, outbox backlog); called every few seconds
    /// by the endpoint, never on a request's thread.
    func refreshGauges() async
}

/// Why the admin endpoint could not start.
public enum AdminEndpointError: Error, Sendable, Hashable, CustomStringConvertible {
    /// `--admin` is not `IPv4:PORT`.
    case address(String)
    /// The socket could not be bound.
    case bind(String)

    /// What failed, for the operator.
    public var description: String {
        switch self {
        case .address(let text): return "--admin must be IPv4:PORT (e.g. 127.0.0.1:9464), not '\(text)'"
        case .bind(let detail): return "admin endpoint: \(detail)"
        }
    }
}

/// The operator's view of one service over HTTP, on the strict `HTTPResponder` (GET only, small
/// requests, time limits): `GET /healthz` (ready: 200, else 503 with the reasons), `GET /healthz/live`
/// (200 unless the main loop made no progress for `liveLimit`), `GET /metrics` (Prometheus text).
/// Other paths are 404; other methods 405; requests with a body 413. Runs beside the service in
/// `ServiceRunner` and stops listening when cancelled.
public final class AdminEndpoint: Service {
    /// `admin`.
    public let name = "admin"
    /// The port bound (useful with port 0).
    public var port: UInt16 { responder.port }
    private let responder: HTTPResponder
    private let service: any ObservableService
    private let refreshInterval: Duration

    /// Limits of the admin endpoint: GET only, no body, 8 KiB of head, a few connections.
    public static var limits: HTTPLimits {
        var limits = HTTPLimits()
        limits.maxHeaderBytes = 8 * 1024
        limits.maxBodyBytes = 0
        limits.maxConnections = 8
        limits.requestTimeout = .seconds(5)
        limits.methods = ["GET"]
        return limits
    }

    /// Binds `host:port` at once (an address in use is an error at start) and serves `service`.
    public init(host: String, port: UInt16, service: any ObservableService, liveLimit: Duration = .seconds(300),
                refreshInterval: Duration = .seconds(5)) throws(AdminEndpointError) {
        self.service = service
        self.refreshInterval = refreshInterval
        do {
            responder = try HTTPResponder(host: host, port: port, limits: Self.limits, name: "hssk-admin") { request in
                Self.respond(to: request, service: service, liveLimit: liveLimit)
            }
        } catch {
            throw .bind(error.description)
        }
    }

    /// Parses `HOST:PORT` (IPv4 literal, port 0–65535).
    public static func address(_ text: String) throws(AdminEndpointError) -> (host: String, port: UInt16) {
        guard let colon = text.lastIndex(of: ":"), let port = UInt16(text[text.index(after: colon)...]) else { throw .address(text) }
        let host = String(text[..<colon])
        var probe = in_addr()
        guard inet_pton(AF_INET, host, &probe) == 1 else { throw .address(text) }
        return (host, port)
    }

    /// Refreshes the sampled gauges until cancelled, then stops listening.
    public func run() async throws {
        while !Task.isCancelled {
            await service.refreshGauges()
            do { try await Task.sleep(for: refreshInterval) } catch { break }
        }
        // Returns within a millisecond: the accept thread only has to read its wake-up byte.
        responder.stop()
    }

    /// Stops listening (also done when `run` is cancelled); safe to call more than once.
    public func stop() { responder.stop() }

    static func respond(to request: HTTPRequest, service: any ObservableService, liveLimit: Duration) -> HTTPResponse {
        let status = service.health.status()
        switch request.path {
        case "/healthz":
            var body: [String: any Sendable] = ["status": status.ready ? "ready" : "not ready", "service": service.name, "reasons": status.reasons]
            if !status.details.isEmpty { body["details"] = status.details }
            return json(status.ready ? 200 : 503, body)
        case "/healthz/live":
            let live = status.sinceProgress < liveLimit
            return json(live ? 200 : 503, ["status": live ? "live" : "stuck", "service": service.name,
                                           "secondsSinceProgress": Int(status.sinceProgress.components.seconds)])
        case "/metrics":
            let families = service.metricFamilies() + [
                MetricFamily(name: "hssk_ready", help: "1 when the service is ready (GET /healthz answers 200), else 0.", kind: .gauge,
                             samples: [.init(labels: [.init("service", service.name)], value: status.ready ? 1 : 0)]),
                MetricFamily.gauge("hssk_seconds_since_progress", "Seconds since the service's main loop last made progress.",
                                   Double(status.sinceProgress.components.seconds)),
            ]
            return HTTPResponse(status: 200, headers: [HTTPHeader("Content-Type", PrometheusText.contentType)],
                                body: Array(PrometheusText.render(families).utf8))
        default:
            return HTTPResponse.text(404, "not found: GET /healthz, /healthz/live or /metrics\n")
        }
    }

    private static func json(_ status: Int, _ object: [String: any Sendable]) -> HTTPResponse {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        return HTTPResponse.json(status, Array(data))
    }
}
