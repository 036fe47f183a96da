import CSQLite
import Foundation

/// SQLITE_TRANSIENT: SQLite copies bound text and blobs (the Swift buffers do not outlive the call).
private let sqliteTransient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

/// A SQLite connection in WAL mode with a prepared-statement cache.
///
/// Opened with `SQLITE_OPEN_NOMUTEX`: the connection is used only from its store's dedicated thread.
final class SQLiteConnection: SQLConnection {
    let dialect = SQLDialect.sqlite
    private(set) var handle: OpaquePointer?
    private var statements: [String: OpaquePointer] = [:]
    let path: String

    /// Opens (creating if needed) the database file at `path`.
    init(path: String, busyTimeoutMs: Int32 = 15_000) throws(StoreError) {
        self.path = path
        let isNew = !FileManager.default.fileExists(atPath: path)
        var db: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        let rc = sqlite3_open_v2(path, &db, flags, nil)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close_v2(db)
            throw StoreError.backend("cannot open SQLite database '\(path)': \(message)")
        }
        handle = db
        // Ciphertexts only, but still nobody else's business: a new store file is owner-only.
        if isNew { _ = chmod(path, 0o600) }
        sqlite3_busy_timeout(db, busyTimeoutMs)
        // WAL lets readers run beside the writer. synchronous=NORMAL may lose the last commits on
        // power loss but never corrupts; since consumer offsets commit in the same transaction as the
        // records, a lost commit is simply replayed from Kafka: exactly-once still holds.
        // Blind indexes are random keys, so index inserts touch pages all over the B-trees: a 64 MB
        // page cache (instead of 2 MB) keeps them in memory instead of re-reading pages per insert.
        // Reads are memory-mapped (up to 8 GB of file): the person index's look-ups land on random
        // pages of a file far larger than any page cache, and a mapped page costs no system call.
        try executeScript("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; PRAGMA cache_size=-65536; PRAGMA mmap_size=8589934592;")
    }

    deinit { close() }

    func close() {
        for statement in statements.values { sqlite3_finalize(statement) }
        statements.removeAll()
        if let handle { sqlite3_close_v2(handle) }
        handle = nil
    }

    private func error(_ rc: Int32, _ context: String) -> StoreError {
        let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "closed"
        switch rc & 0xff {
        case SQLITE_BUSY, SQLITE_LOCKED: return .busy("\(message) (\(context))")
        case SQLITE_FULL: return .full("\(message) (\(context))")
        // The unique index on active personal IDs: another writer gave the ID to a person meanwhile.
        case SQLITE_CONSTRAINT where message.contains("identifier.value_index"): return .identityConflict(message)
        case SQLITE_CONSTRAINT: return .constraint(message)
        case SQLITE_CORRUPT, SQLITE_NOTADB: return .schemaInvalid(message)
        default: return .backend("\(message) (\(context))")
        }
    }

    private func prepare(_ sql: String) throws(StoreError) -> OpaquePointer {
        guard let handle else { throw StoreError.closed }
        if let cached = statements[sql] {
            sqlite3_reset(cached)
            sqlite3_clear_bindings(cached)
            return cached
        }
        var statement: OpaquePointer?
        let rc = sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil)
        guard rc == SQLITE_OK, let statement else { throw error(rc, "prepare: \(sql.prefix(80))") }
        statements[sql] = statement
        return statement
    }

    private func bind(_ statement: OpaquePointer, _ params: [SQLValue]) throws(StoreError) {
        for (i, value) in params.enumerated() {
            let index = Int32(i + 1)
            let rc: Int32
            switch value {
            case .null: rc = sqlite3_bind_null(statement, index)
            case .int(let v): rc = sqlite3_bind_int64(statement, index, v)
            case .text(let v): rc = sqlite3_bind_text(statement, index, try SQLValue.bindable(v, position: i + 1), -1, sqliteTransient)
            case .blob(let v):
                // An empty buffer's base address may be nil, which SQLite would bind as NULL.
                if v.isEmpty {
                    rc = sqlite3_bind_zeroblob(statement, index, 0)
                } else {
                    rc = v.withUnsafeBytes { sqlite3_bind_blob(statement, index, $0.baseAddress, Int32($0.count), sqliteTransient) }
                }
            }
            guard rc == SQLITE_OK else { throw error(rc, "bind") }
        }
    }

    private func column(_ statement: OpaquePointer, _ i: Int32) -> SQLValue {
        switch sqlite3_column_type(statement, i) {
        case SQLITE_NULL: return .null
        case SQLITE_INTEGER: return .int(sqlite3_column_int64(statement, i))
        case SQLITE_FLOAT: return .int(Int64(sqlite3_column_double(statement, i)))
        case SQLITE_TEXT:
            guard let text = sqlite3_column_text(statement, i) else { return .text("") }
            return .text(String(cString: text))
        default:
            let count = Int(sqlite3_column_bytes(statement, i))
            guard count > 0, let bytes = sqlite3_column_blob(statement, i) else { return .blob([]) }
            return .blob(Array(UnsafeRawBufferPointer(start: bytes, count: count)))
        }
    }

    @discardableResult
    func execute(_ sql: String, _ params: [SQLValue]) throws(StoreError) -> Int {
        let statement = try prepare(sql)
        defer { sqlite3_reset(statement) }
        try bind(statement, params)
        var rc = sqlite3_step(statement)
        while rc == SQLITE_ROW { rc = sqlite3_step(statement) }
        guard rc == SQLITE_DONE else { throw error(rc, "step: \(sql.prefix(80))") }
        return Int(sqlite3_changes(handle))
    }

    func query(_ sql: String, _ params: [SQLValue]) throws(StoreError) -> [SQLRow] {
        let statement = try prepare(sql)
        defer { sqlite3_reset(statement) }
        try bind(statement, params)
        var rows: [SQLRow] = []
        let columns = sqlite3_column_count(statement)
        while true {
            let rc = sqlite3_step(statement)
            if rc == SQLITE_DONE { break }
            guard rc == SQLITE_ROW else { throw error(rc, "step: \(sql.prefix(80))") }
            rows.append(SQLRow(values: (0..<columns).map { column(statement, $0) }))
        }
        return rows
    }

    func executeScript(_ sql: String) throws(StoreError) {
        guard let handle else { throw StoreError.closed }
        var message: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(handle, sql, nil, nil, &message)
        if rc != SQLITE_OK {
            let text = message.map { String(cString: $0) } ?? "error \(rc)"
            sqlite3_free(message)
            var failure = error(rc, "script")
            if case .backend = failure { failure = .backend(text) }
            throw failure
        }
    }

    func beginWrite() throws(StoreError) { try execute("BEGIN IMMEDIATE", []) }
    func commit() throws(StoreError) { try execute("COMMIT", []) }
    func rollback() { _ = try? execute("ROLLBACK", []) }

    /// Copies the whole database into the file at `destination` with SQLite's online backup API
    /// (a consistent snapshot while writers keep working).
    func backup(to destination: String) throws(StoreError) {
        guard let handle else { throw StoreError.closed }
        try Self.copy(from: handle, to: destination)
    }

    /// Online-backup copy from an open database to a file (the file is replaced).
    static func copy(from source: OpaquePointer, to destination: String) throws(StoreError) {
        var target: OpaquePointer?
        guard sqlite3_open_v2(destination, &target, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nil) == SQLITE_OK,
              let target else {
            sqlite3_close_v2(target)
            throw StoreError.backend("cannot create backup file '\(destination)'")
        }
        defer { sqlite3_close_v2(target) }
        guard let backup = sqlite3_backup_init(target, "main", source, "main") else {
            throw StoreError.backend("backup failed to start: \(String(cString: sqlite3_errmsg(target)))")
        }
        var rc: Int32
        repeat {
            rc = sqlite3_backup_step(backup, 256)
            if rc == SQLITE_BUSY || rc == SQLITE_LOCKED { sqlite3_sleep(20) }
        } while rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED
        let finish = sqlite3_backup_finish(backup)
        guard rc == SQLITE_DONE, finish == SQLITE_OK else {
            throw StoreError.backend("backup failed: \(String(cString: sqlite3_errmsg(target)))")
        }
        // One self-contained file (no -wal/-shm beside it); a store reopened from it turns WAL back on.
        guard sqlite3_exec(target, "PRAGMA journal_mode=DELETE", nil, nil, nil) == SQLITE_OK else {
            throw StoreError.backend("backup: cannot leave WAL mode: \(String(cString: sqlite3_errmsg(target)))")
        }
    }
}
