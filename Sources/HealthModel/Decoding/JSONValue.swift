import Foundation

/// A JSON value, used to inspect input before it is decoded into a record (keys, nulls, text normalisation).
public enum JSONValue: Sendable, Hashable, Codable {
    /// `null`.
    case null
    /// `true` / `false`.
    case bool(Bool)
    /// A number, kept as `Decimal` so money and codes survive re-encoding exactly.
    case number(Decimal)
    /// A string.
    case string(String)
    /// An array.
    case array([JSONValue])
    /// An object.
    case object([String: JSONValue])

    /// Decodes any JSON value.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() {
            self = .null
        } else if let b = try? c.decode(Bool.self) {
            self = .bool(b)
        } else if let n = try? c.decode(Decimal.self) {
            self = .number(n)
        } else if let s = try? c.decode(String.self) {
            self = .string(s)
        } else if let a = try? c.decode([JSONValue].self) {
            self = .array(a)
        } else {
            self = .object(try c.decode([String: JSONValue].self))
        }
    }

    /// Encodes the value.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .bool(let b): try c.encode(b)
        case .number(let n): try c.encode(n)
        case .string(let s): try c.encode(s)
        case .array(let a): try c.encode(a)
        case .object(let o): try c.encode(o)
        }
    }

    /// The JSON path of the first string or key (in key order) that holds NUL, if any; a key is shown
    /// with `\u0000` for the character.
    func pathOfNUL(_ path: String = "$") -> String? {
        switch self {
        case .string(let s):
            return s.utf8.contains(0) ? path : nil
        case .array(let a):
            for (index, element) in a.enumerated() {
                if let found = element.pathOfNUL("\(path)[\(index)]") { return found }
            }
            return nil
        case .object(let o):
            for key in o.keys.sorted() {
                let shown = key.replacingOccurrences(of: "\u{0}", with: "\\u0000")
                let child = path == "$" ? shown : "\(path).\(shown)"
                if key.utf8.contains(0) { return child }
                if let found = o[key]?.pathOfNUL(child) { return found }
            }
            return nil
        default:
            return nil
        }
    }

    /// The same value with every string NFC-normalised, trimmed and whitespace-collapsed; strings under
    /// `multilineKeys` keep their line breaks.
    func normalizingText(multilineKeys: Set<String>, key: String? = nil) -> JSONValue {
        switch self {
        case .string(let s):
            if let key, multilineKeys.contains(key) { return .string(VietnameseText.normalizeMultiline(s)) }
            return .string(VietnameseText.normalize(s))
        case .array(let a):
            return .array(a.map { $0.normalizingText(multilineKeys: multilineKeys, key: key) })
        case .object(let o):
            // Keys are normalised too, so an NFD key cannot slip past the unknown-field check.
            var out: [String: JSONValue] = [:]
            for (k, v) in o {
                let nk = k.precomposedStringWithCanonicalMapping
                out[nk] = v.normalizingText(multilineKeys: multilineKeys, key: nk)
            }
            return .object(out)
        default:
            return self
        }
    }
}
