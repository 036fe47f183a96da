import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A blocking loopback TCP client (reads with a 5 s guard so a failing test cannot hang), for
/// sending HTTP byte for byte.
public final class LoopbackClient {
    /// The socket.
    public let fd: Int32

    /// Connects to 127.0.0.1:`port`; throws when nothing listens.
    public init(port: UInt16) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EMFILE) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        inet_pton(AF_INET, "127.0.0.1", &address.sin_addr)
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else {
            close(fd)
            throw POSIXError(.ECONNREFUSED)
        }
        var guardTime = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &guardTime, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(fd) }

    /// Sends text as UTF-8.
    public func send(_ text: String) { send(Array(text.utf8)) }

    /// Sends bytes (a peer that went away is ignored: the read shows it).
    public func send(_ bytes: [UInt8]) {
        _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    /// Reads until `marker` appears (or the peer closes, or 5 s pass); returns everything read.
    public func read(until marker: String? = nil) -> String {
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            if let marker, String(decoding: out, as: UTF8.self).contains(marker) { break }
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            out += chunk[0..<n]
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// One raw HTTP exchange with a loopback server, byte for byte (so tests can send what no client
/// library would: oversized heads, bodies on GET, garbage): sends, then reads until the server closes.
public enum LoopbackHTTP {
    /// A response as received.
    public struct Response: Sendable {
        /// Status code (0 when nothing parseable came back).
        public var status: Int
        /// The head (status line and headers).
        public var head: String
        /// The body.
        public var body: String
    }

    /// Sends `request` to 127.0.0.1:`port` and returns the response; reads give up after 5 s.
    public static func exchange(port: UInt16, _ request: String) throws -> Response {
        let client = try LoopbackClient(port: port)
        client.send(request)
        let text = client.read()
        let parts = text.components(separatedBy: "\r\n\r\n")
        let head = parts.first ?? ""
        let status = head.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
        return Response(status: status, head: head, body: parts.dropFirst().joined(separator: "\r\n\r\n"))
    }

    /// `GET path` with `Connection: close`.
    public static func get(port: UInt16, _ path: String) throws -> Response {
        try exchange(port: port, "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    }
}

/// The Prometheus text format, read strictly: every sample line `name{labels} value`, and each
/// family announced by `# HELP` and `# TYPE` before its first sample.
public enum PrometheusParser {
    /// Why a text is not valid exposition.
    public struct Problem: Error, CustomStringConvertible {
        /// The offending line and why.
        public var description: String
    }

    /// Samples keyed by `name{labels}` as written (labels in their order), e.g. `hssk_dead_lettered_total{code="x"}`.
    public static func samples(_ text: String) throws -> [String: Double] {
        var help: Set<String> = [], type: [String: String] = [:]
        var samples: [String: Double] = [:]
        let name = #"[a-zA-Z_:][a-zA-Z0-9_:]*"#
        let label = #"[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*""#
        let sampleLine = try Regex(#"^(\#(name))(\{\#(label)(?:,\#(label))*\})? (\S+)$"#)
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) where !line.isEmpty {
            if line.hasPrefix("# HELP ") {
                help.insert(String(line.dropFirst(7).prefix { $0 != " " }))
            } else if line.hasPrefix("# TYPE ") {
                let parts = line.dropFirst(7).split(separator: " ")
                guard parts.count == 2, ["counter", "gauge", "histogram", "summary", "untyped"].contains(parts[1]) else {
                    throw Problem(description: "bad TYPE line: \(line)")
                }
                type[String(parts[0])] = String(parts[1])
            } else if line.hasPrefix("#") {
                continue
            } else {
                guard let match = try sampleLine.wholeMatch(in: String(line)), let metric = match.output[1].substring,
                      let valueText = match.output[3].substring else {
                    throw Problem(description: "not `name{labels} value`: \(line)")
                }
                let value: Double?
                switch valueText {
                case "+Inf": value = .infinity
                case "-Inf": value = -.infinity
                case "NaN": value = .nan
                default: value = Double(valueText)
                }
                guard let value else { throw Problem(description: "bad value: \(line)") }
                var family = String(metric)
                for suffix in ["_bucket", "_sum", "_count"] where family.hasSuffix(suffix) && type[family] == nil {
                    let base = String(family.dropLast(suffix.count))
                    if type[base] == "histogram" { family = base }
                }
                guard help.contains(family), type[family] != nil else { throw Problem(description: "sample before its HELP and TYPE: \(line)") }
                samples[String(metric) + String(match.output[2].substring ?? "")] = value
            }
        }
        return samples
    }
}
