import Foundation

/// The member names of a JSON document with their paths (`patient.fullName`, `diagnoses[].code`), read
/// two ways: from the bytes received and from what a decoded record writes back. When the two lists
/// are equal, the input has no unknown field and no `null`: what the long decoding path (which
/// re-encodes the record to find them) would report is nothing, so the record read in one pass is the
/// answer. Much cheaper than writing the record out as JSON to compare bytes.
enum KeyCensus {
    /// The key paths of compact JSON text, sorted; nil when the text is not a JSON object or holds a
    /// number in a form other than `-?digits(.digits)?` (the general path decides those).
    static func keys(of data: Data) -> [String]? {
        data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) -> [String]? in
            var scanner = Scanner(bytes: raw.bindMemory(to: UInt8.self))
            guard scanner.peek() == UInt8(ascii: "{"), scanner.value(path: ""), scanner.atEnd else { return nil }
            return scanner.keys.sorted()
        }
    }

    /// The key paths `value` writes through `Encodable`, sorted (nil optionals write nothing).
    static func keys<Value: Encodable>(of value: Value) -> [String]? {
        let sink = Sink()
        do { try value.encode(to: PathEncoder(sink: sink, path: "")) } catch { return nil }
        return sink.keys.sorted()
    }

    /// A single pass over JSON bytes: whitespace outside strings is allowed, escapes are skipped whole.
    private struct Scanner {
        let bytes: UnsafeBufferPointer<UInt8>
        var index = 0
        var keys: [String] = []

        init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

        var atEnd: Bool {
            mutating get {
                skipSpace()
                return index == bytes.count
            }
        }

        mutating func peek() -> UInt8? {
            skipSpace()
            return index < bytes.count ? bytes[index] : nil
        }

        mutating func skipSpace() {
            while index < bytes.count, [0x20, 0x0A, 0x0D, 0x09].contains(bytes[index]) { index += 1 }
        }

        mutating func expect(_ byte: UInt8) -> Bool {
            guard peek() == byte else { return false }
            index += 1
            return true
        }

        /// A string's raw bytes (escapes kept as written), past its closing quote.
        mutating func string() -> String? {
            guard expect(UInt8(ascii: "\"")) else { return nil }
            let start = index
            while index < bytes.count {
                switch bytes[index] {
                case UInt8(ascii: "\""):
                    let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
                    index += 1
                    return text
                case UInt8(ascii: "\\"):
                    index += 2
                default:
                    index += 1
                }
            }
            return nil
        }

        /// Records have a few levels; deeper text goes the general way (which has its own limit) instead
        /// of deepening this recursion.
        static let maxDepth = 32

        mutating func value(path: String, depth: Int = 0) -> Bool {
            guard depth < Self.maxDepth, let next = peek() else { return false }
            switch next {
            case UInt8(ascii: "{"):
                index += 1
                if expect(UInt8(ascii: "}")) { return true }
                repeat {
                    guard let key = string(), expect(UInt8(ascii: ":")) else { return false }
                    let child = path.isEmpty ? key : path + "." + key
                    keys.append(child)
                    guard value(path: child, depth: depth + 1) else { return false }
                } while expect(UInt8(ascii: ","))
                return expect(UInt8(ascii: "}"))
            case UInt8(ascii: "["):
                index += 1
                if expect(UInt8(ascii: "]")) { return true }
                repeat {
                    guard value(path: path + "[]", depth: depth + 1) else { return false }
                } while expect(UInt8(ascii: ","))
                return expect(UInt8(ascii: "]"))
            case UInt8(ascii: "\""):
                return string() != nil
            case UInt8(ascii: "t"): return literal("true")
            case UInt8(ascii: "f"): return literal("false")
            // A null member is a key the record does not write back: the lists differ, as they should.
            case UInt8(ascii: "n"): return literal("null")
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return number()
            default: return false
            }
        }

        mutating func literal(_ word: StaticString) -> Bool {
            let count = word.utf8CodeUnitCount
            guard index + count <= bytes.count else { return false }
            for offset in 0..<count where bytes[index + offset] != word.utf8Start[offset] { return false }
            index += count
            return true
        }

        /// Numbers up to 15 significant digits, without exponent and not a negative zero: those read the
        /// same as a `Double` (this path) and as a `Decimal` (the general path). Anything else — 200
        /// digits, `1e2`, `-0.0` — goes the general way, which decides as it always did.
        static let maxDigits = 15

        mutating func number() -> Bool {
            let negative = bytes[index] == UInt8(ascii: "-")
            if negative { index += 1 }
            var count = 0, nonZero = false
            func digits() -> Int {
                let start = index
                while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) {
                    if bytes[index] != UInt8(ascii: "0") { nonZero = true }
                    index += 1
                }
                count += index - start
                return index - start
            }
            guard digits() > 0 else { return false }
            if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
                index += 1
                guard digits() > 0 else { return false }
            }
            guard count <= Self.maxDigits, nonZero || !negative else { return false }
            return index >= bytes.count || ![UInt8(ascii: "e"), UInt8(ascii: "E")].contains(bytes[index])
        }
    }

    /// Types JSONEncoder writes as one JSON scalar although their `Encodable` conformance writes members
    /// (Decimal) or that it formats itself (dates, data, URLs).
    static func isScalar<T: Encodable>(_ value: T) -> Bool {
        value is Decimal || value is Date || value is Data || value is URL
    }

    /// Collects key paths; one per encoding, used from one thread.
    private final class Sink {
        var keys: [String] = []
    }

    private struct PathEncoder: Encoder {
        let sink: Sink
        let path: String
        var codingPath: [any CodingKey] { [] }
        var userInfo: [CodingUserInfoKey: Any] { [:] }

        func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
            KeyedEncodingContainer(KeyedPaths<Key>(sink: sink, path: path))
        }

        func unkeyedContainer() -> any UnkeyedEncodingContainer { UnkeyedPaths(sink: sink, path: path + "[]") }

        func singleValueContainer() -> any SingleValueEncodingContainer { SinglePath(sink: sink, path: path) }
    }

    private struct KeyedPaths<Key: CodingKey>: KeyedEncodingContainerProtocol {
        let sink: Sink
        let path: String
        var codingPath: [any CodingKey] { [] }

        private func child(_ key: Key) -> String {
            let child = path.isEmpty ? key.stringValue : path + "." + key.stringValue
            sink.keys.append(child)
            return child
        }

        mutating func encodeNil(forKey key: Key) throws { _ = child(key) }
        mutating func encode(_ value: Bool, forKey key: Key) throws { _ = child(key) }
        mutating func encode(_ value: String, forKey key: Key) throws { _ = child(key) }
        mutating func encode(_ value: Double, forKey key: Key) throws { _ = child(key) }
        mutating func encode(_ value: Float, forKey key: Key) throws { _ = child(key) }
        mutating func encode(_ value: Int, forKey key: Key) throws { _ = child(key) }
        mutating func encode(_ value: Int8, forKey key: Key) throws { _ = child(key) }
        mutating func encode(_ value: Int16, forKey key: Key) throws { _ = child(key) }
        mutating func encode(_ value: Int32, forKey key: Key) throws { _ = child(key) }
        mutating func encode(_ value: Int64, forKey key: Key) throws { _ = child(key) }
        mutating func encode(_ value: UInt, forKey key: Key) throws { _ = child(key) }
        mutating func encode(_ value: UInt8, forKey key: Key) throws { _ = child(key) }
        mutating func encode(_ value: UInt16, forKey key: Key) throws { _ = child(key) }
        mutating func encode(_ value: UInt32, forKey key: Key) throws { _ = child(key) }
        mutating func encode(_ value: UInt64, forKey key: Key) throws { _ = child(key) }
        mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
            let path = child(key)
            if !KeyCensus.isScalar(value) { try value.encode(to: PathEncoder(sink: sink, path: path)) }
        }
        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
            KeyedEncodingContainer(KeyedPaths<NestedKey>(sink: sink, path: child(key)))
        }
        mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer { UnkeyedPaths(sink: sink, path: child(key) + "[]") }
        mutating func superEncoder() -> any Encoder { PathEncoder(sink: sink, path: path) }
        mutating func superEncoder(forKey key: Key) -> any Encoder { PathEncoder(sink: sink, path: child(key)) }
    }

    private struct UnkeyedPaths: UnkeyedEncodingContainer {
        let sink: Sink
        /// The elements' path (`…[]`).
        let path: String
        var codingPath: [any CodingKey] { [] }
        var count = 0

        mutating func encodeNil() throws { count += 1 }
        mutating func encode(_ value: Bool) throws { count += 1 }
        mutating func encode(_ value: String) throws { count += 1 }
        mutating func encode(_ value: Double) throws { count += 1 }
        mutating func encode(_ value: Float) throws { count += 1 }
        mutating func encode(_ value: Int) throws { count += 1 }
        mutating func encode(_ value: Int8) throws { count += 1 }
        mutating func encode(_ value: Int16) throws { count += 1 }
        mutating func encode(_ value: Int32) throws { count += 1 }
        mutating func encode(_ value: Int64) throws { count += 1 }
        mutating func encode(_ value: UInt) throws { count += 1 }
        mutating func encode(_ value: UInt8) throws { count += 1 }
        mutating func encode(_ value: UInt16) throws { count += 1 }
        mutating func encode(_ value: UInt32) throws { count += 1 }
        mutating func encode(_ value: UInt64) throws { count += 1 }
        mutating func encode<T: Encodable>(_ value: T) throws {
            count += 1
            if !KeyCensus.isScalar(value) { try value.encode(to: PathEncoder(sink: sink, path: path)) }
        }
        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
            count += 1
            return KeyedEncodingContainer(KeyedPaths<NestedKey>(sink: sink, path: path))
        }
        mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
            count += 1
            return UnkeyedPaths(sink: sink, path: path + "[]")
        }
        mutating func superEncoder() -> any Encoder { PathEncoder(sink: sink, path: path) }
    }

    private struct SinglePath: SingleValueEncodingContainer {
        let sink: Sink
        let path: String
        var codingPath: [any CodingKey] { [] }

        mutating func encodeNil() throws {}
        mutating func encode(_ value: Bool) throws {}
        mutating func encode(_ value: String) throws {}
        mutating func encode(_ value: Double) throws {}
        mutating func encode(_ value: Float) throws {}
        mutating func encode(_ value: Int) throws {}
        mutating func encode(_ value: Int8) throws {}
        mutating func encode(_ value: Int16) throws {}
        mutating func encode(_ value: Int32) throws {}
        mutating func encode(_ value: Int64) throws {}
        mutating func encode(_ value: UInt) throws {}
        mutating func encode(_ value: UInt8) throws {}
        mutating func encode(_ value: UInt16) throws {}
        mutating func encode(_ value: UInt32) throws {}
        mutating func encode(_ value: UInt64) throws {}
        mutating func encode<T: Encodable>(_ value: T) throws {
            if !KeyCensus.isScalar(value) { try value.encode(to: PathEncoder(sink: sink, path: path)) }
        }
    }
}
