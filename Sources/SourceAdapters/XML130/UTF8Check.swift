import Foundation
import ServiceRuntime

/// Incremental UTF-8 validation.
///
/// swift-corelibs-foundation's XMLParser traps on element names that are not valid UTF-8 (seen with
/// random input), so every byte is checked before it reaches the parser: bad input must never crash.
struct UTF8Check {
    private var pending = 0          // continuation bytes still expected
    private var lower: UInt8 = 0x80  // bounds of the next continuation byte (excludes overlongs, surrogates)
    private var upper: UInt8 = 0xBF
    /// Bytes accepted so far, and lines, to say where a bad byte is.
    private(set) var offset = 0
    private(set) var line = 1

    /// Feeds bytes; false at the first invalid byte (`offset`/`line` then point at it).
    mutating func feed<Bytes: Sequence>(_ bytes: Bytes) -> Bool where Bytes.Element == UInt8 {
        for b in bytes {
            if pending > 0 {
                guard b >= lower && b <= upper else { return false }
                pending -= 1
                lower = 0x80
                upper = 0xBF
            } else {
                switch b {
                case 0x00...0x7F: if b == 0x0A { line += 1 }
                case 0xC2...0xDF: pending = 1
                case 0xE0: pending = 2; lower = 0xA0
                case 0xE1...0xEC, 0xEE...0xEF: pending = 2
                case 0xED: pending = 2; upper = 0x9F
                case 0xF0: pending = 3; lower = 0x90
                case 0xF1...0xF3: pending = 3
                case 0xF4: pending = 3; upper = 0x8F
                default: return false
                }
            }
            offset += 1
        }
        return true
    }

    /// True when the input did not end inside a character.
    var isComplete: Bool { pending == 0 }

    /// Checks a whole buffer.
    static func isValid(_ data: Data) -> Bool {
        var check = UTF8Check()
        return check.feed(data) && check.isComplete
    }

    /// Checks a file in chunks; nil when valid, else the line and byte offset of the first bad byte.
    static func firstInvalid(in file: URL) throws -> (line: Int, offset: Int)? {
        let handle = try FileHandle(forReadingFrom: file)
        defer { try? handle.close() }
        var check = UTF8Check()
        while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty {
            if !check.feed(chunk) { return (check.line, check.offset) }
        }
        return check.isComplete ? nil : (check.line, check.offset)
    }
}
