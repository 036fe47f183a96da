import Foundation

/// An HTTP header field as received or sent.
public struct HTTPHeader: Sendable, Hashable {
    /// Field name as written (compare case-insensitively).
    public var name: String
    /// Field value, surrounding whitespace removed.
    public var value: String

    /// Creates a header.
    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

/// A request the responder accepted: method, target, headers and the whole body.
public struct HTTPRequest: Sendable {
    /// `GET`, `POST`, …
    public var method: String
    /// The request target as sent, e.g. `/metrics?x=1`.
    public var target: String
    /// Headers in order.
    public var headers: [HTTPHeader]
    /// The body (empty without `Content-Length`).
    public var body: [UInt8]
    /// The peer's IP address.
    public var remoteAddress: String

    /// Creates a request.
    public init(method: String, target: String, headers: [HTTPHeader] = [], body: [UInt8] = [], remoteAddress: String = "") {
        self.method = method
        self.target = target
        self.headers = headers
        self.body = body
        self.remoteAddress = remoteAddress
    }

    /// The target without its query.
    public var path: String { String(target.prefix { $0 != "?" }) }

    /// Query parameters (`a=1&b=2`), percent-decoded (`+` is a space); the last value of a name wins.
    /// A pair without a name (`?=1`) is kept under `""` for the handler to refuse.
    public var query: [String: String] {
        guard let mark = target.firstIndex(of: "?") else { return [:] }
        var out: [String: String] = [:]
        for pair in target[target.index(after: mark)...].split(separator: "&") {
            // Empty parts kept: `=` alone splits into two empty strings, never into none (which trapped).
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            out[String(parts[0])] = parts.count > 1 ? String(parts[1]).removingPercentEncodingOrSelf : ""
        }
        return out
    }

    /// The first header named `name` (case-insensitive).
    public func header(_ name: String) -> String? {
        let lower = name.lowercased()
        return headers.first { $0.name.lowercased() == lower }?.value
    }
}

/// A response to send.
public struct HTTPResponse: Sendable {
    /// Status code.
    public var status: Int
    /// Headers (Content-Length and Connection are added by the responder).
    public var headers: [HTTPHeader]
    /// Body bytes.
    public var body: [UInt8]

    /// Creates a response.
    public init(status: Int, headers: [HTTPHeader] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// A plain-text response.
    public static func text(_ status: Int, _ text: String) -> HTTPResponse {
        HTTPResponse(status: status, headers: [HTTPHeader("Content-Type", "text/plain; charset=utf-8")], body: Array(text.utf8))
    }

    /// A JSON response.
    public static func json(_ status: Int, _ body: [UInt8]) -> HTTPResponse {
        HTTPResponse(status: status, headers: [HTTPHeader("Content-Type", "application/json")], body: body)
    }

    /// The reason phrase of common status codes.
    static func reason(_ status: Int) -> String {
        switch status {
        case 100: return "Continue"
        case 200: return "OK"
        case 201: return "Created"
        case 202: return "Accepted"
        case 204: return "No Content"
        case 400: return "Bad Request"
        case 401: return "Unauthorized"
        case 403: return "Forbidden"
        case 404: return "Not Found"
        case 405: return "Method Not Allowed"
        case 408: return "Request Timeout"
        case 409: return "Conflict"
        case 411: return "Length Required"
        case 413: return "Content Too Large"
        case 422: return "Unprocessable Content"
        case 429: return "Too Many Requests"
        case 431: return "Request Header Fields Too Large"
        case 500: return "Internal Server Error"
        case 501: return "Not Implemented"
        case 502: return "Bad Gateway"
        case 503: return "Service Unavailable"
        case 504: return "Gateway Timeout"
        case 505: return "HTTP Version Not Supported"
        default: return "Status \(status)"
        }
    }
}

/// Limits of the responder: anything beyond them is refused, never buffered.
public struct HTTPLimits: Sendable, Hashable {
    /// Largest request line plus headers, in bytes.
    public var maxHeaderBytes = 16 * 1024
    /// Largest body, in bytes.
    public var maxBodyBytes = 64 * 1024
    /// Longest time to receive one whole request once its first byte arrived.
    public var requestTimeout: Duration = .seconds(10)
    /// Longest wait for the next request on a kept-alive connection.
    public var idleTimeout: Duration = .seconds(30)
    /// Connections served at once; more are refused with 503.
    public var maxConnections = 16
    /// Methods answered; others get 405.
    public var methods: Set<String> = ["GET"]

    /// Defaults: GET only, 16 KiB of headers, 64 KiB of body, 10 s per request.
    public init() {}
}

/// Why a request head was refused (the status to answer with).
struct HTTPParseError: Error, Hashable {
    var status: Int
    var reason: String
}

/// The parsed request line and headers.
struct HTTPRequestHead: Hashable {
    var method: String
    var target: String
    var version: String
    var headers: [HTTPHeader]

    /// Content-Length (0 when absent).
    var contentLength: Int

    /// True when the client asked to keep the connection (HTTP/1.1 default, HTTP/1.0 opt-in).
    var keepAlive: Bool {
        let connection = headers.first { $0.name.lowercased() == "connection" }?.value.lowercased() ?? ""
        return version == "HTTP/1.1" ? !connection.contains("close") : connection.contains("keep-alive")
    }

    /// True when the client waits for `100 Continue` before sending the body.
    var expectsContinue: Bool {
        headers.contains { $0.name.lowercased() == "expect" && $0.value.lowercased() == "100-continue" }
    }

    /// Parses the bytes before the blank line (without it), strictly: `METHOD SP /target SP HTTP/1.x`,
    /// `name: value` lines, no folded lines, no Transfer-Encoding, one Content-Length.
    static func parse(_ bytes: ArraySlice<UInt8>, limits: HTTPLimits) -> Result<HTTPRequestHead, HTTPParseError> {
        guard let text = String(validating: bytes, as: UTF8.self) else { return .failure(.init(status: 400, reason: "head is not UTF-8")) }
        var lines = text.components(separatedBy: "\r\n")
        let requestLine = lines.removeFirst()
        let parts = requestLine.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 3, !parts[0].isEmpty, parts[0].allSatisfy({ $0.isASCII && $0.isUppercase }) else {
            return .failure(.init(status: 400, reason: "malformed request line"))
        }
        guard parts[2] == "HTTP/1.1" || parts[2] == "HTTP/1.0" else {
            return .failure(.init(status: 505, reason: "only HTTP/1.0 and HTTP/1.1"))
        }
        guard parts[1].hasPrefix("/"), parts[1].allSatisfy({ $0.isASCII && !$0.isWhitespace }) else {
            return .failure(.init(status: 400, reason: "target must be an origin-form path"))
        }
        var headers: [HTTPHeader] = []
        var length: Int?
        for line in lines {
            guard let colon = line.firstIndex(of: ":"), colon != line.startIndex else {
                return .failure(.init(status: 400, reason: "malformed header line"))
            }
            let name = String(line[..<colon])
            guard name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "!#$%&'*+-.^_`|~".contains($0)) }) else {
                return .failure(.init(status: 400, reason: "malformed header name"))   // also rejects folded lines
            }
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .init(charactersIn: " \t"))
            switch name.lowercased() {
            case "transfer-encoding":
                return .failure(.init(status: 501, reason: "Transfer-Encoding is not supported: send Content-Length"))
            case "content-length":
                guard !value.isEmpty, value.count <= 12, value.allSatisfy({ $0.isASCII && $0.isNumber }), let n = Int(value) else {
                    return .failure(.init(status: 400, reason: "bad Content-Length"))
                }
                if let length, length != n { return .failure(.init(status: 400, reason: "conflicting Content-Length")) }
                length = n
            default:
                break
            }
            headers.append(HTTPHeader(name, value))
        }
        guard limits.methods.contains(parts[0]) else {
            return .failure(.init(status: 405, reason: "method not allowed"))
        }
        if parts[0] == "POST" || parts[0] == "PUT", length == nil {
            return .failure(.init(status: 411, reason: "Content-Length required"))
        }
        if let length, length > limits.maxBodyBytes {
            return .failure(.init(status: 413, reason: "body larger than \(limits.maxBodyBytes) bytes"))
        }
        return .success(HTTPRequestHead(method: parts[0], target: parts[1], version: parts[2], headers: headers, contentLength: length ?? 0))
    }
}

extension String {
    /// Percent-decoded, `+` as space; the text itself when it is not valid percent-encoding.
    var removingPercentEncodingOrSelf: String {
        let spaced = replacingOccurrences(of: "+", with: " ")
        return spaced.removingPercentEncoding ?? spaced
    }
}
