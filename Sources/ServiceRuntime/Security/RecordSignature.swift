import COpenSSL
import Foundation

/// The `hssk-signature` header (DESIGN §5, §9): lowercase hex HMAC-SHA256 of the value bytes under the
/// sender account's key. Publishers sign with it, ingest verifies with it.
public enum RecordSignature {
    /// Length of an HMAC-SHA256 tag in bytes.
    public static let tagBytes = 32

    /// The lowercase hex HMAC-SHA256 of `value` under `key`.
    public static func sign(value: [UInt8], key: SigningKey) -> String {
        hex(tag(value: value, key: key.bytes))
    }

    /// True when `signature` (hex, either case) is the HMAC-SHA256 of `value` under `key`.
    ///
    /// The comparison is constant-time (`CRYPTO_memcmp`), so a forger learns nothing from timing.
    public static func verify(value: [UInt8], signature: String, key: SigningKey) -> Bool {
        guard let given = decodeHex(signature), given.count == tagBytes else { return false }
        let expected = tag(value: value, key: key.bytes)
        return given.withUnsafeBytes { g in
            expected.withUnsafeBytes { e in
                CRYPTO_memcmp(g.baseAddress, e.baseAddress, tagBytes) == 0
            }
        }
    }

    /// Raw HMAC-SHA256 tag.
    static func tag(value: [UInt8], key: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        // HMAC() with a NULL `md` buffer would use a static one (not thread-safe): always pass ours.
        let ok = key.withUnsafeBytes { k in
            value.withUnsafeBytes { v in
                out.withUnsafeMutableBytes { o in
                    HMAC(EVP_sha256(), k.baseAddress, Int32(k.count),
                         v.baseAddress?.assumingMemoryBound(to: UInt8.self), v.count,
                         o.baseAddress?.assumingMemoryBound(to: UInt8.self), &length) != nil
                }
            }
        }
        // HMAC-SHA256 cannot fail for in-memory buffers; an all-zero tag would simply never verify.
        return ok ? Array(out.prefix(Int(length))) : [UInt8](repeating: 0, count: tagBytes)
    }

    package static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Bytes of a hex string (either case), nil when it is not hex of even length.
    static func decodeHex(_ text: String) -> [UInt8]? {
        let utf8 = Array(text.utf8)
        guard utf8.count % 2 == 0 else { return nil }
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case 48...57: return c - 48
            case 97...102: return c - 87
            case 65...70: return c - 55
            default: return nil
            }
        }
        var out = [UInt8]()
        out.reserveCapacity(utf8.count / 2)
        var i = 0
        while i < utf8.count {
            guard let hi = nibble(utf8[i]), let lo = nibble(utf8[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
            i += 2
        }
        return out
    }
}

/// An interop account's signing key. Its description never shows the bytes (no secrets in logs).
public struct SigningKey: Sendable, Hashable, CustomStringConvertible {
    /// Shortest key accepted: 16 bytes (128 bits); 32 random bytes are recommended.
    public static let minimumBytes = 16

    /// A key file that cannot be used, and why.
    public struct LoadError: Error, Sendable, Hashable, CustomStringConvertible {
        /// Stable code: `signingKey.unreadable`, `signingKey.format`, `signingKey.tooShort`.
        public var code: String
        /// Explanation.
        public var description: String
    }

    /// The raw key bytes.
    public let bytes: [UInt8]

    /// Wraps raw key bytes.
    public init(bytes: [UInt8]) throws(LoadError) {
        guard bytes.count >= Self.minimumBytes else {
            throw LoadError(code: "signingKey.tooShort", description: "the key has \(bytes.count) bytes; at least \(Self.minimumBytes) are required")
        }
        self.bytes = bytes
    }

    /// Parses key-file text: hex (only hex digits, even length) or else base64; surrounding whitespace ignored.
    public init(text: String) throws(LoadError) {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if let bytes = RecordSignature.decodeHex(trimmed), !bytes.isEmpty {
            try self.init(bytes: bytes)
        } else if let data = Data(base64Encoded: trimmed), !data.isEmpty {
            try self.init(bytes: Array(data))
        } else {
            throw LoadError(code: "signingKey.format", description: "the key file must hold the key as hex or base64")
        }
    }

    /// Reads a key file (see `init(text:)`).
    public init(contentsOf file: URL) throws(LoadError) {
        let data: Data
        do {
            data = try Data(contentsOf: file)
        } catch {
            throw LoadError(code: "signingKey.unreadable", description: "cannot read key file \(file.path)")
        }
        // A key file is small; anything large is a wrong path, not a key.
        guard data.count <= 4096 else {
            throw LoadError(code: "signingKey.format", description: "key file \(file.path) is too large to be a key")
        }
        try self.init(text: String(decoding: data, as: UTF8.self))
    }

    /// `SigningKey(<n> bytes)`, never the bytes themselves.
    public var description: String { "SigningKey(\(bytes.count) bytes)" }
}
