import CPostgres
import CSQLite
import Foundation
import RecordStore

/// One row pair of the raw baseline: what a source record and its visit row would hold, in clear.
public struct RawRow: Sendable {
    /// Kafka coordinates.
    public var topic: String, partition: Int32, offset: Int64
    /// Sender account.
    public var sender: String
    /// Source key.
    public var key: String
    /// Original bytes.
    public var payload: [UInt8]
    /// Facility and visit type (plain columns of `visit`).
    public var facility: String, visitType: String
    /// Canonical JSON (the visit's details).
    public var details: [UInt8]
    /// Creates a row.
    public init(topic: String, partition: Int32, offset: Int64, sender: String, key: String, payload: [UInt8],
                facility: String, visitType: String, details: [UInt8]) {
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.sender = sender
        self.key = key
        self.payload = payload
        self.facility = facility
        self.visitType = visitType
        self.details = details
    }
}

/// The yardstick of `hssk bench store`: the same rows inserted straight through the C APIs, the
/// fastest plain way for each database (SQLite: one prepared statement per row; PostgreSQL:
/// multi-row statements, since each statement is a round trip), one transaction per batch, offsets
/// upserted per batch, with no encryption, no blind indexes, no duplicate checks and no audit: what
/// the database alone can do with these rows.
public enum RawInsertBaseline {
    private static let sourceDDL = """
        CREATE TABLE raw_source (id {pk}, topic TEXT NOT NULL, kafka_partition {int} NOT NULL, kafka_offset {int} NOT NULL,
          sender TEXT NOT NULL, received_at TEXT NOT NULL, source_key TEXT NOT NULL UNIQUE, payload {blob} NOT NULL);
        CREATE TABLE raw_visit (id {pk}, source_key TEXT NOT NULL UNIQUE, source_id {int} NOT NULL, facility_code TEXT NOT NULL,
          visit_type TEXT NOT NULL, details {blob} NOT NULL);
        CREATE TABLE raw_offset (group_id TEXT NOT NULL, topic TEXT NOT NULL, kafka_partition {int} NOT NULL,
          next_offset {int} NOT NULL, PRIMARY KEY (group_id, topic, kafka_partition));
        """

    /// The tables in a database's own types.
    private static func ddl(sqlite: Bool) -> String {
        sqlite ? sourceDDL.replacingOccurrences(of: "{pk}", with: "INTEGER PRIMARY KEY").replacingOccurrences(of: "{int}", with: "INTEGER")
            .replacingOccurrences(of: "{blob}", with: "BLOB")
            : sourceDDL.replacingOccurrences(of: "{pk}", with: "BIGSERIAL PRIMARY KEY").replacingOccurrences(of: "{int}", with: "BIGINT")
            .replacingOccurrences(of: "{blob}", with: "BYTEA")
    }

    /// Inserts `rows` in batches of `batchSize` into a new SQLite file at `path` (WAL, synchronous=NORMAL
    /// as the store uses); returns rows per second. Blocks: call from a thread of its own.
    public static func sqlite(path: String, rows: [RawRow], batchSize: Int) throws -> Double {
        var opened: OpaquePointer?
        guard sqlite3_open_v2(path, &opened, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nil) == SQLITE_OK,
              let handle = opened else {
            sqlite3_close_v2(opened)
            throw StoreError.backend("cannot open \(path)")
        }
        // _v2: closes once the statements are finalised, even when a throw left one unfinalised for a moment.
        defer { sqlite3_close_v2(handle) }
        func execute(_ sql: String) throws {
            guard sqlite3_exec(handle, sql, nil, nil, nil) == SQLITE_OK else { throw StoreError.backend(String(cString: sqlite3_errmsg(handle))) }
        }
        // The store's own settings (SQLiteConnection), so that only what the store adds is compared.
        try execute("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-65536; PRAGMA mmap_size=8589934592;")
        try execute(ddl(sqlite: true))
        func prepare(_ sql: String) throws -> OpaquePointer {
            var statement: OpaquePointer?
            guard sqlite3_prepare_v2(handle, sql, -1, &statement, nil) == SQLITE_OK, let statement else {
                throw StoreError.backend(String(cString: sqlite3_errmsg(handle)))
            }
            return statement
        }
        let source = try prepare("INSERT INTO raw_source (topic, kafka_partition, kafka_offset, sender, received_at, source_key, payload) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id")
        let visit = try prepare("INSERT INTO raw_visit (source_key, source_id, facility_code, visit_type, details) VALUES (?, ?, ?, ?, ?)")
        let offset = try prepare("INSERT INTO raw_offset VALUES ('bench', ?, ?, ?) ON CONFLICT (group_id, topic, kafka_partition) DO UPDATE SET next_offset = excluded.next_offset")
        defer { for s in [source, visit, offset] { sqlite3_finalize(s) } }
        let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
        func step(_ s: OpaquePointer) throws {
            var rc = sqlite3_step(s)
            while rc == SQLITE_ROW { rc = sqlite3_step(s) }
            guard rc == SQLITE_DONE else { throw StoreError.backend(String(cString: sqlite3_errmsg(handle))) }
            sqlite3_reset(s)
        }
        let start = ContinuousClock.now
        for batchStart in stride(from: 0, to: rows.count, by: batchSize) {
            let batch = rows[batchStart..<min(batchStart + batchSize, rows.count)]
            try execute("BEGIN IMMEDIATE")
            let now = Date().ISO8601Format()
            for row in batch {
                sqlite3_bind_text(source, 1, row.topic, -1, transient)
                sqlite3_bind_int64(source, 2, Int64(row.partition))
                sqlite3_bind_int64(source, 3, row.offset)
                sqlite3_bind_text(source, 4, row.sender, -1, transient)
                sqlite3_bind_text(source, 5, now, -1, transient)
                sqlite3_bind_text(source, 6, row.key, -1, transient)
                _ = row.payload.withUnsafeBytes { sqlite3_bind_blob(source, 7, $0.baseAddress, Int32($0.count), transient) }
                guard sqlite3_step(source) == SQLITE_ROW else { throw StoreError.backend(String(cString: sqlite3_errmsg(handle))) }
                let id = sqlite3_column_int64(source, 0)
                try step(source)
                sqlite3_bind_text(visit, 1, row.key, -1, transient)
                sqlite3_bind_int64(visit, 2, id)
                sqlite3_bind_text(visit, 3, row.facility, -1, transient)
                sqlite3_bind_text(visit, 4, row.visitType, -1, transient)
                _ = row.details.withUnsafeBytes { sqlite3_bind_blob(visit, 5, $0.baseAddress, Int32($0.count), transient) }
                try step(visit)
            }
            if let last = batch.last {
                sqlite3_bind_text(offset, 1, last.topic, -1, transient)
                sqlite3_bind_int64(offset, 2, Int64(last.partition))
                sqlite3_bind_int64(offset, 3, last.offset + 1)
                try step(offset)
            }
            try execute("COMMIT")
        }
        return Double(rows.count) / seconds(ContinuousClock.now - start)
    }

    /// The same rows through libpq, written the fastest plain-SQL way for a network database: ids
    /// reserved from the sequence once per batch, then multi-row INSERTs (64 rows per statement) of
    /// prepared statements, one transaction per batch. Returns rows per second. Blocks: call from a
    /// thread of its own.
    public static func postgres(url: String, rows: [RawRow], batchSize: Int) throws -> Double {
        let conn = PQconnectdb(url)
        defer { PQfinish(conn) }
        // libpq's message, never the URL: it may carry the password.
        guard PQstatus(conn) == CONNECTION_OK else {
            throw StoreError.connectionLost("cannot connect to the PostgreSQL server: " + (conn.map { String(cString: PQerrorMessage($0)) } ?? "out of memory"))
        }
        PQsetNoticeProcessor(conn, { _, _ in }, nil)
        func check(_ result: OpaquePointer?) throws {
            let status = PQresultStatus(result)
            guard status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK else {
                PQclear(result)
                throw StoreError.backend(String(cString: PQerrorMessage(conn)))
            }
        }
        func exec(_ sql: String) throws {
            let result = PQexec(conn, sql)
            try check(result)
            PQclear(result)
        }
        var prepared: Set<String> = []
        /// Runs a prepared statement; `params` are text (nil = NULL) or binary when `binary[i]`.
        func run(_ name: String, _ sql: @autoclosure () -> String, _ params: [[UInt8]?], binary: [Bool]) throws -> [Int64] {
            if !prepared.contains(name) {
                let result = PQprepare(conn, name, sql(), 0, nil)
                try check(result)
                PQclear(result)
                prepared.insert(name)
            }
            let lengths = params.map { Int32($0?.count ?? 0) }
            let formats = binary.map { Int32($0 ? 1 : 0) }
            let pointers = params.map { p -> UnsafeMutablePointer<CChar>? in
                guard let p else { return nil }
                let buffer = UnsafeMutablePointer<CChar>.allocate(capacity: p.count + 1)
                p.withUnsafeBytes { raw in raw.bindMemory(to: CChar.self).baseAddress.map { buffer.update(from: $0, count: p.count) } }
                buffer[p.count] = 0
                return buffer
            }
            defer { pointers.forEach { $0?.deallocate() } }
            let result = PQexecPrepared(conn, name, Int32(params.count), pointers.map { UnsafePointer($0) }, lengths, formats, 0)
            try check(result)
            defer { PQclear(result) }
            return (0..<PQntuples(result)).map { Int64(String(cString: PQgetvalue(result, $0, 0))) ?? 0 }
        }
        func values(_ columns: Int, _ count: Int) -> String {
            (0..<count).map { r in "(" + (1...columns).map { "$\(r * columns + $0)" }.joined(separator: ", ") + ")" }.joined(separator: ", ")
        }
        try exec(ddl(sqlite: false))
        let text = { (s: String) -> [UInt8]? in Array(s.utf8) }
        let start = ContinuousClock.now
        for batchStart in stride(from: 0, to: rows.count, by: batchSize) {
            let batch = Array(rows[batchStart..<min(batchStart + batchSize, rows.count)])
            try exec("BEGIN")
            let now = Date().ISO8601Format()
            let ids = try run("ids", "SELECT nextval('raw_source_id_seq') FROM generate_series(1, $1)", [text(String(batch.count))], binary: [false])
            var offset = 0
            while offset < batch.count {
                var size = 64
                while size > batch.count - offset { size /= 2 }
                var sourceParams: [[UInt8]?] = [], sourceBinary: [Bool] = []
                var visitParams: [[UInt8]?] = [], visitBinary: [Bool] = []
                for (k, row) in batch[offset..<(offset + size)].enumerated() {
                    let id = String(ids[offset + k])
                    sourceParams += [text(id), text(row.topic), text(String(row.partition)), text(String(row.offset)), text(row.sender), text(now),
                                     text(row.key), row.payload]
                    sourceBinary += [false, false, false, false, false, false, false, true]
                    visitParams += [text(row.key), text(id), text(row.facility), text(row.visitType), row.details]
                    visitBinary += [false, false, false, false, true]
                }
                _ = try run("source\(size)", "INSERT INTO raw_source (id, topic, kafka_partition, kafka_offset, sender, received_at, source_key, payload) VALUES " + values(8, size),
                            sourceParams, binary: sourceBinary)
                _ = try run("visit\(size)", "INSERT INTO raw_visit (source_key, source_id, facility_code, visit_type, details) VALUES " + values(5, size),
                            visitParams, binary: visitBinary)
                offset += size
            }
            if let last = batch.last {
                _ = try run("offset", "INSERT INTO raw_offset VALUES ('bench', $1, $2, $3) ON CONFLICT (group_id, topic, kafka_partition) DO UPDATE SET next_offset = excluded.next_offset",
                            [text(last.topic), text(String(last.partition)), text(String(last.offset + 1))], binary: [false, false, false])
            }
            try exec("COMMIT")
        }
        return Double(rows.count) / seconds(ContinuousClock.now - start)
    }

    /// Creates an empty scratch database next to the one `url` names and returns its URL.
    public static func createScratchDatabase(near url: String) throws -> String {
        let name = "hssk_bench_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(12)
        try administer(url, "CREATE DATABASE \(name)")
        guard var components = URLComponents(string: url) else { throw StoreError.invalidRequest("bad PostgreSQL URL") }
        components.path = "/" + name
        guard let scratch = components.string else { throw StoreError.invalidRequest("bad PostgreSQL URL") }
        return scratch
    }

    /// Drops a scratch database made by `createScratchDatabase` (connecting through `url`).
    public static func dropScratchDatabase(_ scratch: String, near url: String) throws {
        guard let name = URLComponents(string: scratch)?.path.dropFirst(), name.hasPrefix("hssk_bench_"),
              name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else { return }
        try administer(url, "DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
    }

    /// Runs one statement on its own connection to `url`.
    private static func administer(_ url: String, _ sql: String) throws {
        let conn = PQconnectdb(url)
        defer { PQfinish(conn) }
        guard PQstatus(conn) == CONNECTION_OK else {
            throw StoreError.connectionLost("cannot connect to the PostgreSQL server: " + (conn.map { String(cString: PQerrorMessage($0)) } ?? "out of memory"))
        }
        let result = PQexec(conn, sql)
        defer { PQclear(result) }
        guard PQresultStatus(result) == PGRES_COMMAND_OK else { throw StoreError.backend(String(cString: PQerrorMessage(conn))) }
    }

    private static func seconds(_ d: Duration) -> Double {
        max(1e-9, Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18)
    }
}
