import Foundation

/// Opens stores by location: a `postgres://` / `postgresql://` URL or a SQLite file path.
public enum RecordStores {
    /// True when `location` names a PostgreSQL database.
    public static func isPostgres(_ location: String) -> Bool {
        location.hasPrefix("postgres://") || location.hasPrefix("postgresql://")
    }

    /// Opens the store at `location` with `keys`, creating it unless `mustExist` (operator commands
    /// set it, so a mistyped path is an error rather than a new empty store); a writer that waits
    /// longer than `lockTimeout` for another gets `.busy` (transient: retry).
    public static func open(_ location: String, keys: KeyRing, lockTimeout: Duration = .seconds(15),
                            mustExist: Bool = false) async throws -> any HealthRecordStore {
        if isPostgres(location) { return try await PostgresStore.open(url: location, keys: keys, lockTimeout: lockTimeout, mustExist: mustExist) }
        let path = location.hasPrefix("sqlite:") ? String(location.dropFirst("sqlite:".count)) : location
        guard !path.isEmpty else { throw StoreError.invalidRequest("empty store location") }
        return try await SQLiteStore.open(path: path, keys: keys, lockTimeout: lockTimeout, mustExist: mustExist)
    }

    /// Restores a backup made by `backup(to:)` into `location`, replacing its contents; no store may
    /// have `location` open. Runs on its own thread (it blocks on files and child processes).
    public static func restore(backup: String, into location: String) async throws {
        let thread = StoreThread(name: "hssk-restore")
        defer { thread.stop() }
        try await thread.run {
            if isPostgres(location) {
                try PostgresTools.restore(backup: backup, to: location)
            } else {
                let path = location.hasPrefix("sqlite:") ? String(location.dropFirst("sqlite:".count)) : location
                try SQLiteStore.restore(backup: backup, to: path)
            }
        }
    }
}
