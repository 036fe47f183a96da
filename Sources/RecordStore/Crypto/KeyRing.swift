import COpenSSL
import Foundation

/// The encryption keys of a store: AES-256-GCM data keys by id (one active) and a separate
/// HMAC-SHA256 blind-index key. Keys come from a key file or the `HSSK_KEYS` environment variable,
/// never from the database.
///
/// Key file (JSON, mode 0600):
/// ```json
/// {"format": 1, "active": "k2",
///  "encryption": {"k1": "<base64 of 32 bytes>", "k2": "<base64 of 32 bytes>"},
///  "blindIndex": "<base64 of 32 bytes>"}
/// ```
public struct KeyRing: Sendable, Equatable {
    /// Environment variable that may hold the key file's JSON itself.
    public static let environmentVariable = "HSSK_KEYS"
    /// Environment variable that may name the key file.
    public static let fileEnvironmentVariable = "HSSK_KEYS_FILE"

    /// Id of the key new ciphertexts are written with.
    public private(set) var activeKeyID: String
    /// Data keys by id (32 bytes each).
    private(set) var encryptionKeys: [String: [UInt8]]
    /// Blind-index key (32 bytes); never rotated by `keys rotate` since every index would change.
    let blindIndexKey: [UInt8]

    /// Key ids present, sorted.
    public var keyIDs: [String] { encryptionKeys.keys.sorted() }

    /// A fresh key ring with one random data key `k1` and a random blind-index key.
    public static func generate() throws(StoreError) -> KeyRing {
        KeyRing(activeKeyID: "k1", encryptionKeys: ["k1": try randomBytes(32)], blindIndexKey: try randomBytes(32))
    }

    init(activeKeyID: String, encryptionKeys: [String: [UInt8]], blindIndexKey: [UInt8]) {
        self.activeKeyID = activeKeyID
        self.encryptionKeys = encryptionKeys
        self.blindIndexKey = blindIndexKey
    }

    /// Adds a new random data key, makes it active and returns its id (`k<n+1>`).
    public mutating func addActiveKey() throws(StoreError) -> String {
        var n = encryptionKeys.count + 1
        while encryptionKeys["k\(n)"] != nil { n += 1 }
        let id = "k\(n)"
        encryptionKeys[id] = try randomBytes(32)
        activeKeyID = id
        return id
    }

    /// The data key with `id`, or `.missingKey`.
    func key(_ id: String) throws(StoreError) -> [UInt8] {
        guard let key = encryptionKeys[id] else {
            throw StoreError.missingKey("the data is encrypted under key id '\(id)' which the key file does not contain (it has \(keyIDs.joined(separator: ", ")))")
        }
        return key
    }

    private struct File: Codable {
        var format: Int
        var active: String
        var encryption: [String: String]
        var blindIndex: String
    }

    /// Parses key-file JSON.
    public init(json: Data) throws(StoreError) {
        let file: File
        do { file = try JSONDecoder().decode(File.self, from: json) } catch {
            throw StoreError.invalidKeyFile("expected {\"format\":1,\"active\":…,\"encryption\":{id: base64},\"blindIndex\": base64}")
        }
        guard file.format == 1 else { throw StoreError.invalidKeyFile("unsupported format \(file.format)") }
        var keys: [String: [UInt8]] = [:]
        for (id, text) in file.encryption {
            guard !id.isEmpty, id.utf8.count <= 32, id.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) else {
                throw StoreError.invalidKeyFile("key id '\(id)' must be 1–32 ASCII letters, digits, '-' or '_'")
            }
            guard let bytes = Data(base64Encoded: text), bytes.count == 32 else {
                throw StoreError.invalidKeyFile("key '\(id)' is not base64 of 32 bytes")
            }
            keys[id] = Array(bytes)
        }
        guard keys[file.active] != nil else { throw StoreError.invalidKeyFile("active key '\(file.active)' is not in \"encryption\"") }
        guard let blind = Data(base64Encoded: file.blindIndex), blind.count == 32 else {
            throw StoreError.invalidKeyFile("blindIndex is not base64 of 32 bytes")
        }
        self.init(activeKeyID: file.active, encryptionKeys: keys, blindIndexKey: Array(blind))
    }

    /// Key-file JSON (pretty-printed, sorted keys).
    public func json() throws(StoreError) -> Data {
        let file = File(format: 1, active: activeKeyID,
                        encryption: encryptionKeys.mapValues { Data($0).base64EncodedString() },
                        blindIndex: Data(blindIndexKey).base64EncodedString())
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        do { return try encoder.encode(file) } catch { throw StoreError.invalidKeyFile("cannot encode: \(error)") }
    }

    /// Reads a key file.
    public init(contentsOf path: String) throws(StoreError) {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw StoreError.missingKey("cannot read key file '\(path)'")
        }
        try self.init(json: data)
    }

    /// Writes the key file, mode 0600 from its creation: a new file (refused when anything, even a
    /// symbolic link, has the name), or with `replacing` an existing regular file swapped atomically.
    ///
    /// The mode is given to the system call that creates the file, never set afterwards: a file
    /// created with the umask's mode and then chmod-ed was readable by others in between.
    public func write(to path: String, replacing: Bool = false) throws(StoreError) {
        let bytes = Array(try json())
        guard replacing else {
            // O_EXCL fails on any existing name, a dangling symbolic link included: nothing is followed.
            let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
            guard fd >= 0 else {
                let code = errno
                if code == EEXIST { throw StoreError.invalidRequest("'\(path)' exists: a key file is never overwritten (its keys may still be needed)") }
                throw StoreError.backend("cannot create key file '\(path)': \(String(cString: strerror(code)))")
            }
            if let failure = Self.fill(fd, with: bytes) {
                unlink(path)
                throw StoreError.backend("cannot write key file '\(path)': \(failure)")
            }
            return
        }
        // A link is refused, not replaced: the new keys would land here while the file it names, the
        // one the services read, kept the old ones.
        var info = stat()
        if lstat(path, &info) == 0, info.st_mode & S_IFMT != S_IFREG {
            throw StoreError.invalidRequest("'\(path)' is not a regular file (a symbolic link?): give the key file's own path")
        }
        // mkstemp creates a fresh name with mode 0600 and O_EXCL, in the same directory so that the
        // rename is atomic: readers see the old file or the new one, never a part.
        var template = Array((path + ".tmp-XXXXXX").utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw StoreError.backend("cannot create a temporary key file beside '\(path)': \(String(cString: strerror(errno)))") }
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        let temporary = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if let failure = Self.fill(fd, with: bytes) {
            unlink(temporary)
            throw StoreError.backend("cannot write key file '\(temporary)': \(failure)")
        }
        guard rename(temporary, path) == 0 else {
            let code = errno
            unlink(temporary)
            throw StoreError.backend("cannot replace key file '\(path)': \(String(cString: strerror(code)))")
        }
    }

    /// Sets mode 0600 exactly (the creating call's mode is narrowed by the umask, never widened), writes
    /// all of `bytes`, syncs and closes `fd`; the reason when any step failed.
    private static func fill(_ fd: Int32, with bytes: [UInt8]) -> String? {
        defer { close(fd) }
        guard fchmod(fd, 0o600) == 0 else { return String(cString: strerror(errno)) }
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Foundation.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                return String(cString: strerror(errno))
            }
            offset += n
        }
        return fsync(fd) == 0 ? nil : String(cString: strerror(errno))
    }

    /// The key ring from `path` if given, else `HSSK_KEYS` (JSON), else the file named by `HSSK_KEYS_FILE`.
    public static func load(path: String?, environment: [String: String] = ProcessInfo.processInfo.environment) throws(StoreError) -> KeyRing {
        if let path { return try KeyRing(contentsOf: path) }
        if let json = environment[environmentVariable], !json.isEmpty { return try KeyRing(json: Data(json.utf8)) }
        if let file = environment[fileEnvironmentVariable], !file.isEmpty { return try KeyRing(contentsOf: file) }
        throw StoreError.missingKey("give --keys FILE or set \(environmentVariable) (key JSON) or \(fileEnvironmentVariable); create one with 'hssk keys generate'")
    }
}

/// Cryptographically secure random bytes from OpenSSL.
func randomBytes(_ count: Int) throws(StoreError) -> [UInt8] {
    var bytes = [UInt8](repeating: 0, count: count)
    guard RAND_bytes(&bytes, Int32(count)) == 1 else { throw StoreError.backend("RAND_bytes failed") }
    return bytes
}
