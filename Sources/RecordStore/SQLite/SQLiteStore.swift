import CSQLite
import Foundation

/// The embedded backend: one SQLite file in WAL mode.
public final class SQLiteStore: SQLStore, @unchecked Sendable {
    // @unchecked Sendable: adds only immutable properties of Sendable types to `SQLStore` (see there).
    /// The database file.
    public let path: String
    /// Checkpoints the WAL beside the writer (nil: the writer's connection does it, SQLite's default).
    private let checkpointer: WALCheckpointer?

    private init(path: String, thread: StoreThread, box: EngineBox, checkpointer: WALCheckpointer?) {
        self.path = path
        self.checkpointer = checkpointer
        super.init(backendName: "sqlite", thread: thread, box: box)
    }

    /// Opens (creating and migrating if needed, unless `mustExist`) the store at `path`; a writer
    /// waiting longer than `lockTimeout` for another gets `.busy` (transient).
    public static func open(path: String, keys: KeyRing, lockTimeout: Duration = .seconds(15), mustExist: Bool = false) async throws -> SQLiteStore {
        if mustExist, !FileManager.default.fileExists(atPath: path) {
            throw StoreError.invalidRequest("there is no store file '\(path)'; check --store")
        }
        let ms = Int32(clamping: lockTimeout.components.seconds * 1000 + lockTimeout.components.attoseconds / 1_000_000_000_000_000)
        let (thread, box) = try await start(name: "sqlite", connect: { try SQLiteConnection(path: path, busyTimeoutMs: ms) }, keys: keys, mustExist: mustExist)
        // Started (on the store thread: it opens a connection) once the file exists in WAL mode; only
        // then does the writer stop checkpointing itself. A WAL rewound after a long burst is cut back
        // to 64 MB instead of keeping its largest size.
        let checkpointer: WALCheckpointer?
        do {
            checkpointer = try await thread.run { () -> WALCheckpointer? in
                guard let engine = box.engine, let connection = engine.db as? SQLiteConnection,
                      let checkpointer = WALCheckpointer(path: path) else { return nil }
                do {
                    try connection.executeScript("PRAGMA wal_autocheckpoint=0; PRAGMA journal_size_limit=67108864;")
                } catch {
                    checkpointer.stop()
                    throw error
                }
                return checkpointer
            }
        } catch {
            _ = try? await thread.run { box.engine?.db.close(); box.engine = nil }
            thread.stop()
            throw error
        }
        return SQLiteStore(path: path, thread: thread, box: box, checkpointer: checkpointer)
    }

    /// Stops the checkpointer (on the store thread: it waits for the checkpointer's thread), then closes
    /// the store's connection, the last one, which copies what is left of the WAL.
    public override func close() async {
        if let checkpointer { _ = try? await thread.run { checkpointer.stop() } }
        await super.close()
    }

    deinit { checkpointer?.requestStop() }

    /// A consistent copy made with SQLite's online backup API while writers keep going.
    public override func backup(to directory: String) async throws -> String {
        try Self.prepareDirectory(directory)
        let destination = (directory as NSString).appendingPathComponent(Self.backupName("sqlite"))
        return try await onThread { engine in
            guard let connection = engine.db as? SQLiteConnection else { throw StoreError.backend("not a SQLite connection") }
            try engine.audit(actor: "backup", action: "backup", subject: "store", detail: "to=\((destination as NSString).lastPathComponent)")
            try connection.backup(to: destination)
            _ = chmod(destination, 0o600)
            return destination
        }
    }

    /// Replaces the database at `path` with the backup file (the store must not be open).
    static func restore(backup: String, to path: String) throws(StoreError) {
        guard FileManager.default.fileExists(atPath: backup) else { throw StoreError.invalidRequest("no backup file '\(backup)'") }
        var source: OpaquePointer?
        guard sqlite3_open_v2(backup, &source, SQLITE_OPEN_READONLY, nil) == SQLITE_OK, let source else {
            sqlite3_close_v2(source)
            throw StoreError.backend("cannot open backup '\(backup)'")
        }
        defer { sqlite3_close_v2(source) }
        try SQLiteConnection.copy(from: source, to: path)
    }
}
