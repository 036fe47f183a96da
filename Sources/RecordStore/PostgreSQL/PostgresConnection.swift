import CPostgres
import Foundation

// PostgreSQL type OIDs of the columns hssk reads (pg_type.h).
private let int2OID: Oid = 21, int4OID: Oid = 23, int8OID: Oid = 20, byteaOID: Oid = 17, boolOID: Oid = 16

/// A libpq connection with a prepared-statement cache; results come back in binary format.
///
/// Used only from its store's dedicated thread (libpq connections are not thread-safe).
final class PostgresConnection: SQLConnection {
    let dialect = SQLDialect.postgres
    private var connection: OpaquePointer?
    private var prepared: [String: String] = [:]
    let url: String
    /// How long a writer waits for another's lock before `.busy` (PostgreSQL `lock_timeout`).
    let lockTimeoutMs: Int

    /// Connects to `url` (`postgres://user@host:port/db`).
    init(url: String, lockTimeoutMs: Int = 15_000) throws(StoreError) {
        self.url = url
        self.lockTimeoutMs = lockTimeoutMs
        guard let connection = Self.connect(url) else { throw StoreError.connectionLost("libpq out of memory") }
        guard PQstatus(connection) == CONNECTION_OK else {
            let message = String(cString: PQerrorMessage(connection)).trimmingCharacters(in: .whitespacesAndNewlines)
            PQfinish(connection)
            throw StoreError.connectionLost("cannot connect to PostgreSQL: \(message)")
        }
        self.connection = connection
        // NOTICEs ("relation already exists, skipping") would otherwise go to stderr.
        PQsetNoticeProcessor(connection, { _, _ in }, nil)
        try configureSession(connection)
    }

    /// Client-side defaults a URL may override: a server that vanishes without closing the
    /// connection (host down, network cut) would otherwise leave the store thread waiting for ever
    /// for a reply; with these the wait ends in `.connectionLost` within about a minute, and the
    /// service's retries take over.
    static let connectionDefaults: [(String, String)] = [
        ("connect_timeout", "10"), ("keepalives", "1"), ("keepalives_idle", "30"), ("keepalives_interval", "10"),
        ("keepalives_count", "3"), ("tcp_user_timeout", "60000"), ("application_name", "hssk"),
    ]

    /// `PQconnectdbParams` with the defaults placed before the URL, so that the URL's own
    /// parameters win (libpq: later entries override earlier ones).
    private static func connect(_ url: String) -> OpaquePointer? {
        let pairs = connectionDefaults + [("dbname", url)]
        let keywords = pairs.map { strdup($0.0) }, values = pairs.map { strdup($0.1) }
        defer { (keywords + values).forEach { free($0) } }
        let keywordPointers = keywords.map { UnsafePointer($0) } + [nil], valuePointers = values.map { UnsafePointer($0) } + [nil]
        return PQconnectdbParams(keywordPointers, valuePointers, 1)
    }

    /// The value libpq uses for a connection option (for tests and diagnostics).
    func option(_ name: String) -> String? {
        guard let connection, let options = PQconninfo(connection) else { return nil }
        defer { PQconninfoFree(options) }
        var cursor = options
        while let keyword = cursor.pointee.keyword {
            if String(cString: keyword) == name { return cursor.pointee.val.map { String(cString: $0) } }
            cursor += 1
        }
        return nil
    }

    /// Session settings; run again after a reconnect, which starts a new session.
    private func configureSession(_ connection: OpaquePointer) throws(StoreError) {
        let result = PQexec(connection, "SET client_min_messages = warning; SET TIME ZONE 'UTC'; SET lock_timeout = \(max(1, lockTimeoutMs))")
        guard PQresultStatus(result) == PGRES_COMMAND_OK else { throw failure(result, "session settings") }
        PQclear(result)
    }

    deinit { close() }

    func close() {
        if let connection { PQfinish(connection) }
        connection = nil
        prepared.removeAll()
    }

    /// Makes sure the connection is usable; after a lost connection, reconnects once (statements
    /// prepared on the old session are gone, so the cache is emptied).
    private func live() throws(StoreError) -> OpaquePointer {
        guard let connection else { throw StoreError.closed }
        if PQstatus(connection) != CONNECTION_OK {
            PQreset(connection)
            prepared.removeAll()
            guard PQstatus(connection) == CONNECTION_OK else {
                throw StoreError.connectionLost(String(cString: PQerrorMessage(connection)))
            }
            try configureSession(connection)
        }
        return connection
    }

    /// Maps a failed result to a `StoreError` by SQLSTATE class and frees it.
    private func failure(_ result: OpaquePointer?, _ context: String) -> StoreError {
        defer { PQclear(result) }
        let message = (result.flatMap { PQresultErrorMessage($0) }.map { String(cString: $0) }
                       ?? connection.map { String(cString: PQerrorMessage($0)) } ?? "closed")
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let state = result.flatMap { PQresultErrorField($0, Int32(UInt8(ascii: "C"))) }.map { String(cString: $0) } ?? ""
        let constraintName = result.flatMap { PQresultErrorField($0, Int32(UInt8(ascii: "n"))) }.map { String(cString: $0) }
        if let connection, PQstatus(connection) != CONNECTION_OK { return .connectionLost(message) }
        switch state {
        case "40001", "40P01", "55P03", "57014", "53200", "53300": return .busy(message)
        case "53100": return .full(message)
        case let s where s.hasPrefix("08") || s == "57P01" || s == "57P02" || s == "57P03": return .connectionLost(message)
        case "23505" where constraintName == "identifier_active_personal_id": return .identityConflict(message)
        case let s where s.hasPrefix("23"): return .constraint(message)
        case "42P01", "42703": return .schemaInvalid(message)
        case "": return .connectionLost(message)
        default: return .backend("\(message) [\(state)] (\(context))")
        }
    }

    /// `?` → `$1`, `$2`…: hssk's SQL never has `?` inside literals.
    static func numbered(_ sql: String) -> String {
        var out = ""
        var n = 0
        for c in sql {
            if c == "?" { n += 1; out += "$\(n)" } else { out.append(c) }
        }
        return out
    }

    private func run(_ sql: String, _ params: [SQLValue]) throws(StoreError) -> OpaquePointer {
        let connection = try live()
        let name: String
        if let cached = prepared[sql] {
            name = cached
        } else {
            name = "s\(prepared.count)"
            let result = PQprepare(connection, name, Self.numbered(sql), 0, nil)
            guard PQresultStatus(result) == PGRES_COMMAND_OK else { throw failure(result, "prepare: \(sql.prefix(80))") }
            PQclear(result)
            prepared[sql] = name
        }
        // Text parameters are sent as text (the server infers types), blobs as binary.
        var buffers: [[UInt8]] = []
        var lengths: [Int32] = []
        var formats: [Int32] = []
        var isNull: [Bool] = []
        for (i, value) in params.enumerated() {
            switch value {
            case .null: buffers.append([]); formats.append(0); isNull.append(true)
            case .int(let v): buffers.append(Array(String(v).utf8) + [0]); formats.append(0); isNull.append(false)
            case .text(let v): buffers.append(Array(try SQLValue.bindable(v, position: i + 1).utf8) + [0]); formats.append(0); isNull.append(false)
            case .blob(let v): buffers.append(v); formats.append(1); isNull.append(false)
            }
            lengths.append(Int32(buffers[buffers.count - 1].count))
        }
        let result: OpaquePointer? = withPointers(buffers, isNull) { pointers in
            PQexecPrepared(connection, name, Int32(params.count), pointers, lengths, formats, 1)
        }
        let status = PQresultStatus(result)
        guard status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK else { throw failure(result, sql.prefix(80).description) }
        guard let result else { throw StoreError.connectionLost("no result") }
        return result
    }

    /// Calls `body` with C pointers to each buffer (nil for NULL), valid for the call only.
    private func withPointers<R>(_ buffers: [[UInt8]], _ isNull: [Bool],
                                 _ body: ([UnsafePointer<CChar>?]) -> R) -> R {
        // One contiguous copy keeps every pointer alive for the duration of `body`.
        var offsets: [Int] = []
        var storage: [UInt8] = []
        for buffer in buffers { offsets.append(storage.count); storage += buffer }
        storage.append(0)
        return storage.withUnsafeBufferPointer { raw in
            let base = UnsafeRawPointer(raw.baseAddress!).assumingMemoryBound(to: CChar.self)
            let pointers: [UnsafePointer<CChar>?] = offsets.indices.map { isNull[$0] ? nil : base + offsets[$0] }
            return body(pointers)
        }
    }

    @discardableResult
    func execute(_ sql: String, _ params: [SQLValue]) throws(StoreError) -> Int {
        let result = try run(sql, params)
        defer { PQclear(result) }
        return Int(String(cString: PQcmdTuples(result))) ?? 0
    }

    func query(_ sql: String, _ params: [SQLValue]) throws(StoreError) -> [SQLRow] {
        let result = try run(sql, params)
        defer { PQclear(result) }
        let rowCount = PQntuples(result), columnCount = PQnfields(result)
        let types = (0..<columnCount).map { PQftype(result, $0) }
        var rows: [SQLRow] = []
        rows.reserveCapacity(Int(rowCount))
        for r in 0..<rowCount {
            var values: [SQLValue] = []
            values.reserveCapacity(Int(columnCount))
            for c in 0..<columnCount {
                if PQgetisnull(result, r, c) == 1 { values.append(.null); continue }
                let length = Int(PQgetlength(result, r, c))
                guard let pointer = PQgetvalue(result, r, c) else { values.append(.null); continue }
                let bytes = UnsafeRawBufferPointer(start: pointer, count: length)
                switch types[Int(c)] {
                case int8OID, int4OID, int2OID, boolOID:
                    // Binary format: big-endian two's complement of the column's width.
                    var v: Int64 = length > 0 && bytes[0] & 0x80 != 0 && types[Int(c)] != boolOID ? -1 : 0
                    for byte in bytes { v = (v << 8) | Int64(byte) }
                    values.append(.int(v))
                case byteaOID:
                    values.append(.blob(Array(bytes)))
                default:
                    values.append(.text(String(decoding: bytes, as: UTF8.self)))
                }
            }
            rows.append(SQLRow(values: values))
        }
        return rows
    }

    func executeScript(_ sql: String) throws(StoreError) {
        let connection = try live()
        let result = PQexec(connection, sql)
        let status = PQresultStatus(result)
        guard status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK else { throw failure(result, "script") }
        PQclear(result)
    }

    /// A transaction-scoped advisory lock serialises hssk writers, as `BEGIN IMMEDIATE` does in
    /// SQLite: the audit chain needs one writer at a time, and it rules out lock-order deadlocks.
    ///
    /// Sequential scans are switched off for the transaction: its look-ups are by blind index, and a
    /// young table without statistics makes the planner guess that `IN (…100 keys…)` matches half
    /// the table and scan it all, which made every batch slower as the store grew.
    func beginWrite() throws(StoreError) {
        try executeScript("BEGIN; SET LOCAL enable_seqscan = off")
        do {
            try execute("SELECT pg_advisory_xact_lock(4853384)", [])
        } catch {
            rollback()
            throw error
        }
    }

    func commit() throws(StoreError) { try executeScript("COMMIT") }
    func rollback() { try? executeScript("ROLLBACK") }
}
