import Foundation
import ServiceRuntime

/// `--admin`, on every long-running service.
let adminOption = Option(name: "admin", value: "HOST:PORT",
                         help: "Serve GET /healthz, /healthz/live and /metrics here, e.g. 127.0.0.1:9464 (docs/observability.md).",
                         defaultValue: "off")

/// The services to run: `service`, plus its admin endpoint when `--admin` is given (bound now, so a
/// port in use is an error at start).
func withAdminEndpoint(_ service: any ObservableService, _ arguments: ParsedArguments) throws -> [any Service] {
    guard let text = arguments.string(adminOption.name) else { return [service] }
    let (host, port) = try AdminEndpoint.address(text)
    let endpoint = try AdminEndpoint(host: host, port: port, service: service)
    EventLog.standardError.event(.info, "admin.listening", ["service": .text(service.name), "host": .text(host), "port": .int(Int64(endpoint.port))])
    return [service, endpoint]
}
