import Foundation

/// Interop accounts (Hà Nội regulation art. 7): signing keys encrypted at rest, every change audited.
///
/// A signing key's ciphertext is bound to the account's name (the row's unique key, by which every
/// reader finds it): a key moved to another account's row, or a row renamed, fails to open.
extension StoreEngine {
    private static let accountColumns = "name, facility, key_reference, signing_key_enc, last_seen_at, locked, created_at"

    /// Decodes a row selected with `accountColumns`; the signing key only when `withKey`.
    private func account(from row: SQLRow, withKey: Bool) throws -> InteropAccount {
        let name = try row.text(0)
        let key = withKey ? try row[3].blob.map { try cipher.open($0, column: "account.signing_key_enc", row: .name(name)) } : nil
        return InteropAccount(name: name, facility: try row.text(1), keyReference: row[2].text, signingKey: key,
                              lastSeen: row[4].text.flatMap(Self.date), locked: try row.int(5) != 0,
                              createdAt: row[6].text.flatMap(Self.date))
    }

    private static let insertAccount = """
        INSERT INTO account (name, facility, key_reference, signing_key_enc, created_at, last_seen_at, locked) VALUES (?, ?, ?, ?, ?, NULL, ?)
        """

    /// Parameters of `insertAccount`: the signing key sealed, `now` as the creation time.
    private func insertValues(_ account: InteropAccount, at now: String) throws -> [SQLValue] {
        let key: SQLValue = try account.signingKey.map { .blob(try cipher.seal($0, column: "account.signing_key_enc", row: .name(account.name))) } ?? .null
        return [.text(account.name), .text(account.facility), account.keyReference.map { .text($0) } ?? .null, key, .text(now),
                .int(account.locked ? 1 : 0)]
    }

    /// A row timestamp (see `timestamp`) as a date; nil when it is not one.
    private static func date(_ text: String) -> Date? {
        try? Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }

    func saveAccount(_ account: InteropAccount) throws {
        try db.transaction {
            let now = Self.timestamp()
            try db.execute(Self.insertAccount + """
                 ON CONFLICT (name) DO UPDATE SET facility = excluded.facility, key_reference = excluded.key_reference,
                  signing_key_enc = excluded.signing_key_enc, locked = excluded.locked
                """, try insertValues(account, at: now))
            try appendAudit(actor: "admin", action: "save-account", subject: "account:\(account.name)",
                            detail: "facility=\(account.facility) locked=\(account.locked)", at: now)
        }
    }

    /// Inserts a new account; false (and nothing written) when the name is taken. The write
    /// transaction excludes other writers, so two concurrent creations cannot both succeed.
    func createAccount(_ account: InteropAccount, actor: String) throws -> Bool {
        try db.transaction {
            guard try db.queryOne("SELECT 1 FROM account WHERE name = ?", [.text(account.name)]) == nil else { return false }
            let now = Self.timestamp()
            try db.execute(Self.insertAccount, try insertValues(account, at: now))
            try appendAudit(actor: actor, action: "create-account", subject: "account:\(account.name)",
                            detail: "facility=\(account.facility) locked=\(account.locked) key=\(account.signingKey == nil ? "none" : "stored")", at: now)
            return true
        }
    }

    func account(named name: String) throws -> InteropAccount? {
        try db.queryOne("SELECT \(Self.accountColumns) FROM account WHERE name = ?", [.text(name)]).map { try account(from: $0, withKey: true) }
    }

    /// The accounts among `names` that exist, with their keys: one statement per 100 names.
    func accounts(named names: Set<String>) throws -> [String: InteropAccount] {
        var found: [String: InteropAccount] = [:]
        try selectIn("SELECT \(Self.accountColumns) FROM account WHERE name IN", names.sorted().map { .text($0) }) { row in
            let account = try account(from: row, withKey: true)
            found[account.name] = account
        }
        return found
    }

    /// Every account by name, without signing keys (nothing to decrypt for a listing).
    func accounts() throws -> [InteropAccount] {
        try db.query("SELECT \(Self.accountColumns) FROM account ORDER BY name", []).map { try account(from: $0, withKey: false) }
    }

    func touchAccount(named name: String) throws {
        try db.execute("UPDATE account SET last_seen_at = ? WHERE name = ?", [.text(Self.timestamp()), .text(name)])
    }

    /// Locks or unlocks an account. Unlocking also sets `last_seen_at` to now: the operator vouches
    /// for the account, and without it the next `lockInactiveAccounts` would lock it again at once.
    func setAccountLocked(named name: String, locked: Bool, actor: String) throws -> AccountChange {
        try db.transaction {
            guard let row = try db.queryOne("SELECT locked FROM account WHERE name = ?", [.text(name)]) else { return .unknownAccount }
            guard (try row.int(0) != 0) != locked else { return .unchanged }
            let now = Self.timestamp()
            if locked {
                try db.execute("UPDATE account SET locked = 1 WHERE name = ?", [.text(name)])
            } else {
                try db.execute("UPDATE account SET locked = 0, last_seen_at = ? WHERE name = ?", [.text(now), .text(name)])
            }
            try appendAudit(actor: actor, action: locked ? "lock-account" : "unlock-account", subject: "account:\(name)", detail: "", at: now)
            return .changed
        }
    }

    /// Replaces an account's signing key (the old one stops verifying at once).
    func replaceSigningKey(named name: String, with key: [UInt8], actor: String) throws -> AccountChange {
        try db.transaction {
            let sealed = try cipher.seal(key, column: "account.signing_key_enc", row: .name(name))
            guard try db.execute("UPDATE account SET signing_key_enc = ? WHERE name = ?", [.blob(sealed), .text(name)]) > 0 else {
                return .unknownAccount
            }
            let now = Self.timestamp()
            try appendAudit(actor: actor, action: "rotate-account-key", subject: "account:\(name)", detail: "key=\(key.count) bytes", at: now)
            return .changed
        }
    }

    /// Locks every unlocked account whose last activity (`last_seen_at`, else `created_at`) is before
    /// `cutoff`, with one audit row each. Row timestamps are fixed-width UTC text, so text order is time order.
    func lockInactiveAccounts(unusedSince cutoff: Date, actor: String) throws -> [String] {
        try db.transaction {
            let limit = Self.timestamp(cutoff)
            let rows = try db.query("""
                SELECT name, last_seen_at, created_at FROM account WHERE locked = 0 AND COALESCE(last_seen_at, created_at) < ? ORDER BY name
                """, [.text(limit)])
            let now = Self.timestamp()
            var names: [String] = []
            for row in rows {
                let name = try row.text(0)
                try db.execute("UPDATE account SET locked = 1 WHERE name = ?", [.text(name)])
                let activity = try row[1].text.map { "last_seen=\($0)" } ?? "never_seen created=\(row.text(2))"
                try appendAudit(actor: actor, action: "lock-inactive-account", subject: "account:\(name)",
                                detail: "\(activity) cutoff=\(limit)", at: now)
                names.append(name)
            }
            return names
        }
    }
}
