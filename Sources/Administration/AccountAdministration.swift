import COpenSSL
import Foundation
import HealthModel
import RecordStore
import ServiceRuntime

/// Why an account operation was refused.
public enum AccountAdministrationError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The name breaks the naming rule of the Hà Nội regulation, art. 7.
    case invalidName(String, FieldProblem)
    /// `--facility` names another facility than the account name does.
    case facilityMismatch(account: String, given: String, expected: String)
    /// An account of that name exists; it is never overwritten.
    case exists(String)
    /// No account has that name.
    case unknown(String)
    /// The key file cannot be created (it exists, or its folder is missing or not writable).
    case keyFile(path: String, reason: String)
    /// The operating system's random generator failed; no key was made.
    case randomUnavailable

    /// True when the operator's arguments are wrong (not the state of the store).
    public var isUsageError: Bool {
        switch self {
        case .invalidName, .facilityMismatch: return true
        default: return false
        }
    }

    /// A human-readable explanation (never a key).
    public var description: String {
        switch self {
        case let .invalidName(name, problem): return "'\(name)' is not a valid account name: \(problem.message.en) / \(problem.message.vi)"
        case let .facilityMismatch(account, given, expected):
            return "account \(account) belongs to facility \(expected), not \(given) (the facility is the first part of the name)"
        case let .exists(name): return "account \(name) exists already; it is never overwritten (use rotate-key for a new key)"
        case let .unknown(name): return "there is no account \(name)"
        case let .keyFile(path, reason): return "cannot write key file \(path): \(reason)"
        case .randomUnavailable: return "the random generator (RAND_bytes) failed; no key was made"
        }
    }
}

/// The operator's account tasks behind `hssk accounts`: add, list, lock, unlock, rotate a key, lock
/// inactive accounts. Every change is audited in the store with `actor` as the actor.
public struct AccountAdministration: Sendable {
    /// Inactive accounts are locked after this many days (Hà Nội regulation: 3 months unused).
    public static let defaultInactiveDays = 90
    /// Bytes of a new signing key.
    public static let keyBytes = 32
    /// The facility stored for Vietnam Social Security accounts, which have no facility code.
    public static let socialSecurityFacility = InteropAccountName.socialSecurityPrefix.uppercased()

    /// The store the accounts live in.
    public let store: any AccountStore
    /// Who is acting, as written to the audit log.
    public let actor: String

    /// Administration of `store`'s accounts by `actor`.
    public init(store: any AccountStore, actor: String) {
        self.store = store
        self.actor = actor
    }

    /// Creates an account with a new random key and returns it (the only time the key is shown).
    ///
    /// `facility` may be omitted (it is the name's first part; `BHXH` for `bhxh_lt_…`) and must match
    /// the name when given. With `keyFile` the key is written there first (mode 0600, never over an
    /// existing file) and the file is removed again if the account cannot be created.
    public func add(_ name: String, facility: String? = nil, keyFile: String? = nil) async throws -> (account: InteropAccount, key: SigningKey) {
        let parsed: InteropAccountName
        do { parsed = try InteropAccountName(parsing: name) } catch { throw AccountAdministrationError.invalidName(name, error) }
        let expected = parsed.facility?.value ?? Self.socialSecurityFacility
        if let facility {
            let given = (try? FacilityCode(parsing: facility).value) ?? facility.uppercased()
            guard given == expected else {
                throw AccountAdministrationError.facilityMismatch(account: parsed.value, given: facility, expected: expected)
            }
        }
        let key = try Self.generateKey()
        let account = InteropAccount(name: parsed.value, facility: expected, signingKey: key.bytes)
        try await withKeyFile(keyFile, key) {
            guard try await store.createAccount(account, actor: actor) else { throw AccountAdministrationError.exists(parsed.value) }
        }
        return (account, key)
    }

    /// Every account by name, without keys.
    public func list() async throws -> [InteropAccount] {
        try await store.accounts()
    }

    /// Locks an account: ingest rejects its records from then on. False when it was locked already.
    public func lock(_ name: String) async throws -> Bool {
        try await setLocked(name, true)
    }

    /// Unlocks an account and restarts its inactivity period. False when it was not locked.
    public func unlock(_ name: String) async throws -> Bool {
        try await setLocked(name, false)
    }

    /// Gives an account a new random key and returns it (shown once); the old key stops verifying.
    /// `keyFile` as for `add`.
    public func rotateKey(_ name: String, keyFile: String? = nil) async throws -> SigningKey {
        let account = Self.normalized(name)
        let key = try Self.generateKey()
        try await withKeyFile(keyFile, key) {
            guard try await store.replaceSigningKey(named: account, with: key.bytes, actor: actor) == .changed else {
                throw AccountAdministrationError.unknown(account)
            }
        }
        return key
    }

    /// Locks every unlocked account unused for `days` days before `now` ("tài khoản không sử dụng 3
    /// tháng liên tục sẽ bị khóa"); returns the names locked.
    public func lockInactive(days: Int = defaultInactiveDays, now: Date = Date()) async throws -> [String] {
        try await store.lockInactiveAccounts(unusedSince: now.addingTimeInterval(-Double(days) * 86_400), actor: actor)
    }

    /// A new random key from OpenSSL's CSPRNG.
    public static func generateKey() throws -> SigningKey {
        var bytes = [UInt8](repeating: 0, count: keyBytes)
        guard RAND_bytes(&bytes, Int32(keyBytes)) == 1 else { throw AccountAdministrationError.randomUnavailable }
        return try SigningKey(bytes: bytes)
    }

    private func setLocked(_ name: String, _ locked: Bool) async throws -> Bool {
        let account = Self.normalized(name)
        switch try await store.setAccountLocked(named: account, locked: locked, actor: actor) {
        case .changed: return true
        case .unchanged: return false
        case .unknownAccount: throw AccountAdministrationError.unknown(account)
        }
    }

    /// The stored form of a name (`01001_LT_BNV` → `01001_lt_bnv`); an unparsable name as given.
    private static func normalized(_ name: String) -> String {
        (try? InteropAccountName(parsing: name))?.value ?? name
    }

    /// Writes `key` to `path` (when given) before `change`, and removes the file again when `change`
    /// fails: a key file exists only for a key the store holds, and no key is issued without its file.
    private func withKeyFile(_ path: String?, _ key: SigningKey, _ change: () async throws -> Void) async throws {
        guard let path else { return try await change() }
        try Self.writeKeyFile(key, to: path)
        do {
            try await change()
        } catch {
            unlink(path)
            throw error
        }
    }

    /// Creates `path` with mode 0600 (never over an existing file) holding the key as `keyFileText`.
    static func writeKeyFile(_ key: SigningKey, to path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw AccountAdministrationError.keyFile(path: path, reason: String(cString: strerror(errno))) }
        let bytes = Array((key.keyFileText + "\n").utf8)
        // The mode is set again explicitly: open's mode is narrowed by the umask, never widened, but be exact.
        let written = fchmod(fd, 0o600) == 0 ? bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) } : -1
        let failure = written == bytes.count ? nil : String(cString: strerror(errno))
        close(fd)
        if let failure {
            unlink(path)
            throw AccountAdministrationError.keyFile(path: path, reason: failure)
        }
    }
}

extension SigningKey {
    /// The key as a key file holds it: lowercase hex, which `SigningKey(text:)` and `hssk publish --key-file` read.
    public var keyFileText: String { RecordSignature.hex(bytes) }
}
