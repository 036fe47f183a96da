import Foundation
import HealthModel
import RecordStore
import Synchronization

/// The interop accounts ingest authenticates against, read from the store and kept briefly, so that
/// a lock or a key rotation takes effect within `ttl` without a store read per record.
///
/// `ce_source` is whatever a sender wrote, so the directory must not let made-up names cost store
/// queries or memory: a name that cannot be an account name is unknown without a query and is not
/// kept; the other new names of a batch are asked for in one call; at most `capacity` names are kept.
package final class SenderDirectory: Sendable {
    /// What ingest needs of an account.
    package struct Sender: Sendable {
        package var name: InteropAccountName
        var key: SigningKey?
        var locked: Bool
    }

    private struct Entry {
        var sender: Sender?
        var fetched: ContinuousClock.Instant
        var touched: ContinuousClock.Instant?
    }

    private let store: any SenderAccountStore
    private let ttl: Duration
    private let capacity: Int
    /// `lastSeen` is written at most this often per account: it only serves the 90-day lock.
    private let touchInterval: Duration = .seconds(600)
    private let entries = Mutex<[String: Entry]>([:])

    /// `capacity` bounds the names kept (accounts and unknown names alike); unknown names are kept
    /// for `ttl` too, so an account added meanwhile is found within it.
    package init(store: any SenderAccountStore, ttl: Duration, capacity: Int = 4_096) {
        self.store = store
        self.ttl = ttl
        self.capacity = max(1, capacity)
    }

    /// The accounts named, fresh enough; nil for a name the store does not know (or that cannot be an
    /// account name: e.g. `01001_LT_BNV`, NUL inside, junk), which triage answers `sender.unknownAccount`.
    package func senders(named names: Set<String>) async throws -> [String: Sender?] {
        let now = ContinuousClock.now
        var result: [String: Sender?] = [:]
        var missing: Set<String> = []
        entries.withLock { entries in
            for name in names {
                if let entry = entries[name], now - entry.fetched < ttl {
                    result[name] = .some(entry.sender)
                } else if Self.canBeAccountName(name) {
                    missing.insert(name)
                } else {
                    result[name] = .some(nil)
                }
            }
        }
        guard !missing.isEmpty else { return result }
        let accounts = try await store.accounts(named: missing)
        entries.withLock { entries in
            for name in missing {
                let sender = accounts[name].flatMap(Self.sender)
                result[name] = .some(sender)
                entries[name] = Entry(sender: sender, fetched: now, touched: entries[name]?.touched)
            }
            Self.evict(&entries, down: capacity, now: now, ttl: ttl)
        }
        return result
    }

    /// Names cached now.
    var cachedCount: Int { entries.withLock { $0.count } }

    /// Records that accounts sent accepted records (throttled per account).
    package func touch(_ names: Set<String>) async throws {
        let now = ContinuousClock.now
        let due = entries.withLock { entries in
            names.filter { name in
                guard let last = entries[name]?.touched, now - last < touchInterval else { entries[name]?.touched = now; return true }
                return false
            }
        }
        for name in due.sorted() { try await store.touchAccount(named: name) }
    }

    /// True when `name` is an account name in its stored form, byte for byte (the store compares
    /// bytes, and accounts are stored normalised): any other name would find no account anyway.
    private static func canBeAccountName(_ name: String) -> Bool {
        guard let parsed = try? InteropAccountName(parsing: name) else { return false }
        return parsed.value.utf8.elementsEqual(name.utf8)
    }

    /// What ingest keeps of a stored account; nil when its stored name is not a valid account name.
    private static func sender(_ account: InteropAccount) -> Sender? {
        guard let parsed = try? InteropAccountName(parsing: account.name), parsed.value == account.name else { return nil }
        return Sender(name: parsed, key: account.signingKey.flatMap { try? SigningKey(bytes: $0) }, locked: account.locked)
    }

    /// Brings `entries` down to `capacity`: expired entries go first, then unknown names (anyone can
    /// make up more of those, and they must not push real accounts out), oldest first.
    private static func evict(_ entries: inout [String: Entry], down capacity: Int, now: ContinuousClock.Instant, ttl: Duration) {
        guard entries.count > capacity else { return }
        entries = entries.filter { now - $0.value.fetched < ttl }
        guard entries.count > capacity else { return }
        let order = entries.sorted { a, b in
            let (aKnown, bKnown) = (a.value.sender != nil, b.value.sender != nil)
            return aKnown != bKnown ? !aKnown : a.value.fetched < b.value.fetched
        }
        for (name, _) in order.prefix(entries.count - capacity) { entries[name] = nil }
    }
}
