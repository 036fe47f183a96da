import Foundation
import HealthModel
import RecordStore
import Synchronization

/// The interop accounts ingest authenticates against, read from the store and kept briefly, so that
/// a lock or a key rotation takes effect within `ttl` without a store read per record.
final class SenderDirectory: Sendable {
    /// What ingest needs of an account.
    struct Sender: Sendable {
        var name: InteropAccountName
        var key: SigningKey?
        var locked: Bool
    }

    private struct Entry {
        var sender: Sender?
        var fetched: ContinuousClock.Instant
        var touched: ContinuousClock.Instant?
    }

    private let store: any HealthRecordStore
    private let ttl: Duration
    /// `lastSeen` is written at most this often per account: it only serves the 90-day lock.
    private let touchInterval: Duration = .seconds(600)
    private let entries = Mutex<[String: Entry]>([:])

    init(store: any HealthRecordStore, ttl: Duration) {
        self.store = store
        self.ttl = ttl
    }

    /// The accounts named, fresh enough; nil for a name the store does not know (or cannot parse).
    func senders(named names: Set<String>) async throws -> [String: Sender?] {
        let now = ContinuousClock.now
        let cached = entries.withLock { entries in names.compactMap { name in entries[name].flatMap { now - $0.fetched < ttl ? (name, $0.sender) : nil } } }
        var result = Dictionary(cached, uniquingKeysWith: { a, _ in a })
        for name in names where result[name] == nil {
            // No account name holds NUL, and the store refuses one (a permanent error, which would stop
            // ingest): unknown, without asking.
            guard !name.utf8.contains(0) else {
                result[name] = .some(nil)
                continue
            }
            let account = try await store.account(named: name)
            let sender = account.flatMap { account -> Sender? in
                guard let parsed = try? InteropAccountName(parsing: account.name), parsed.value == account.name else { return nil }
                return Sender(name: parsed, key: account.signingKey.flatMap { try? SigningKey(bytes: $0) }, locked: account.locked)
            }
            result[name] = .some(sender)
            entries.withLock { $0[name] = Entry(sender: sender, fetched: now, touched: $0[name]?.touched) }
        }
        return result
    }

    /// Records that accounts sent accepted records (throttled per account).
    func touch(_ names: Set<String>) async throws {
        let now = ContinuousClock.now
        let due = entries.withLock { entries in
            names.filter { name in
                guard let last = entries[name]?.touched, now - last < touchInterval else { entries[name]?.touched = now; return true }
                return false
            }
        }
        for name in due.sorted() { try await store.touchAccount(named: name) }
    }
}
