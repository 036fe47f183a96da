import Foundation

/// The services' structured JSON-lines log on stderr (docs/observability.md). Fields are codes, counts and Kafka coordinates only: callers
/// never pass names, identifiers or record content (DESIGN §9).
public struct EventLog: Sendable {
    /// Where lines go.
    public let write: @Sendable (String) -> Void

    /// A log writing to stderr.
    public static let standardError = EventLog { line in
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    /// A log that drops everything.
    public static let silent = EventLog { _ in }

    /// Creates a log with a line sink.
    public init(write: @escaping @Sendable (String) -> Void) {
        self.write = write
    }

    /// How much an event matters; operators alert on `error` and watch `warning`.
    public enum Level: String, Sendable {
        case info, warning, error
    }

    /// Writes one event with its fields.
    public func event(_ level: Level, _ event: String, _ fields: [String: LogValue] = [:]) {
        var object: [String: LogValue] = fields
        object["ts"] = .text(Date().formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true)))
        object["level"] = .text(level.rawValue)
        object["event"] = .text(event)
        let body = object.keys.sorted().map { "\(Self.quote($0)):\(object[$0]!.json)" }.joined(separator: ",")
        write("{" + body + "}")
    }

    static func quote(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}

/// A value in a log line.
public enum LogValue: Sendable, Hashable {
    case text(String)
    case int(Int64)
    case double(Double)
    case object([String: LogValue])

    var json: String {
        switch self {
        case .text(let s): return EventLog.quote(s)
        case .int(let i): return String(i)
        case .double(let d): return d.isFinite ? String(format: "%.3f", d) : "null"
        case .object(let o): return "{" + o.keys.sorted().map { "\(EventLog.quote($0)):\(o[$0]!.json)" }.joined(separator: ",") + "}"
        }
    }
}

extension LogValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral {
    public init(stringLiteral value: String) { self = .text(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }
}
