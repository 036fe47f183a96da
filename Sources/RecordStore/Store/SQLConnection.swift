import Foundation

/// A value bound to or read from a SQL statement; the two backends share these four types.
enum SQLValue: Sendable, Hashable {
    case null
    case int(Int64)
    case text(String)
    case blob([UInt8])

    var int: Int64? { if case .int(let v) = self { return v } else { return nil } }
    var text: String? { if case .text(let v) = self { return v } else { return nil } }
    var blob: [UInt8]? { if case .blob(let v) = self { return v } else { return nil } }
    var isNull: Bool { if case .null = self { return true } else { return false } }
}

extension SQLValue {
    /// `text` when it can be bound as parameter `position` (1-based); refused when it holds NUL.
    ///
    /// Both backends take text parameters as C strings (SQLite's length -1, libpq's text format), which
    /// end at the first NUL: `"01001_lt_bnv\0x"` would bind as `01001_lt_bnv` and find, change or
    /// create another row than the one named. Refusing is the only answer both backends can give the
    /// same way (PostgreSQL text cannot hold NUL at all).
    static func bindable(_ text: String, position: Int) throws(StoreError) -> String {
        guard !text.utf8.contains(0) else {
            throw StoreError.invalidRequest("text parameter \(position) contains a NUL character (U+0000), which the store never accepts")
        }
        return text
    }
}

extension SQLValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral {
    init(stringLiteral value: String) { self = .text(value) }
    init(integerLiteral value: Int64) { self = .int(value) }
}

/// One result row; columns by position, in SELECT order.
struct SQLRow: Sendable {
    var values: [SQLValue]
    subscript(_ i: Int) -> SQLValue { i < values.count ? values[i] : .null }

    /// Integer column `i`, or a schema error when it is not an integer.
    func int(_ i: Int) throws(StoreError) -> Int64 {
        guard let v = self[i].int else { throw StoreError.schemaInvalid("column \(i) is not an integer") }
        return v
    }
    /// Text column `i`, or a schema error.
    func text(_ i: Int) throws(StoreError) -> String {
        guard let v = self[i].text else { throw StoreError.schemaInvalid("column \(i) is not text") }
        return v
    }
    /// Blob column `i`, or a schema error.
    func blob(_ i: Int) throws(StoreError) -> [UInt8] {
        guard let v = self[i].blob else { throw StoreError.schemaInvalid("column \(i) is not a blob") }
        return v
    }
}

/// Which SQL flavour a connection speaks; the schema and queries differ only in a few words.
enum SQLDialect: String, Sendable {
    case sqlite
    case postgres

    /// Replaces the dialect tokens `{pk}`, `{int}`, `{blob}` in DDL.
    func ddl(_ sql: String) -> String {
        switch self {
        case .sqlite:
            return sql.replacingOccurrences(of: "{pk}", with: "INTEGER PRIMARY KEY")
                .replacingOccurrences(of: "{int}", with: "INTEGER")
                .replacingOccurrences(of: "{blob}", with: "BLOB")
        case .postgres:
            return sql.replacingOccurrences(of: "{pk}", with: "BIGSERIAL PRIMARY KEY")
                .replacingOccurrences(of: "{int}", with: "BIGINT")
                .replacingOccurrences(of: "{blob}", with: "BYTEA")
        }
    }
}

/// A single database connection used from one thread only (the store's `StoreThread`).
///
/// SQL uses `?` placeholders for both backends; the PostgreSQL connection numbers them.
protocol SQLConnection: AnyObject {
    /// The connection's SQL flavour.
    var dialect: SQLDialect { get }
    /// Runs a statement, returns the number of rows changed.
    @discardableResult
    func execute(_ sql: String, _ params: [SQLValue]) throws(StoreError) -> Int
    /// Runs a query and returns all rows.
    func query(_ sql: String, _ params: [SQLValue]) throws(StoreError) -> [SQLRow]
    /// Runs one or more statements without parameters (DDL).
    func executeScript(_ sql: String) throws(StoreError)
    /// Starts a write transaction that excludes other writers (SQLite `BEGIN IMMEDIATE`; a
    /// transaction-scoped advisory lock on PostgreSQL), so the audit chain and offsets stay serial.
    func beginWrite() throws(StoreError)
    /// Commits the open transaction.
    func commit() throws(StoreError)
    /// Rolls back the open transaction; errors are ignored because the caller is already failing.
    func rollback()
    /// Closes the connection.
    func close()
}

extension SQLConnection {
    /// Runs `body` inside a write transaction: commit on success, roll back on any error.
    func transaction<T>(_ body: () throws -> T) throws -> T {
        try beginWrite()
        do {
            let value = try body()
            try commit()
            return value
        } catch {
            rollback()
            throw error
        }
    }

    /// The first row of a query, if any.
    func queryOne(_ sql: String, _ params: [SQLValue]) throws(StoreError) -> SQLRow? {
        try query(sql, params).first
    }

    /// Inserts with `RETURNING id` (both backends support it) and returns the new id.
    func insertReturningID(_ sql: String, _ params: [SQLValue]) throws(StoreError) -> Int64 {
        guard let row = try queryOne(sql + " RETURNING id", params) else {
            throw StoreError.backend("insert returned no id")
        }
        return try row.int(0)
    }
}
