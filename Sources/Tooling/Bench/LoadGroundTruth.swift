import CPostgres
import CSQLite
import Foundation
import RecordStore

/// Linkage quality of a load from its ground truth, read straight from the store's plain columns
/// (position and person of every current record; nothing is decrypted) through the C APIs, so that
/// 30 million records take seconds and the product needs no bench-only query.
enum LoadGroundTruth {
    /// Pairwise quality over the records ingest must accept: a true pair is two records of one citizen.
    /// Recall counts every true pair, so a record left without a person (for review) or not stored at
    /// all loses its pairs.
    struct Quality {
        var precision = 1.0
        var recall = 1.0
        /// Records stored with a person.
        var linked = 0
        /// Records stored without one (left for review).
        var unlinked = 0
        /// Records ingest had to accept that are not in the store (dead-lettered by mistake).
        var missing = 0
        /// Records ingest had to reject that are in the store.
        var wronglyStored = 0
    }

    /// Reads every current record's (topic, partition, offset, person) and compares with `truth`.
    static func linkage(_ location: LoadStoreLocation, truth: [[[Int32]]], topics: [String], citizens: Int) throws -> Quality {
        var table = Contingency(truth: truth, topics: topics, citizens: citizens)
        try scan(location, "SELECT topic, kafka_partition, kafka_offset, person_id FROM source_record WHERE superseded_by IS NULL") {
            table.add(topic: $0, partition: $1, offset: $2, person: $3)
        }
        // A stored record the ground truth does not know means the offsets do not match what was published.
        guard table.unknown == 0 else {
            throw StoreError.backend("\(table.unknown) stored records lie outside the published offsets: the ground truth does not describe this store")
        }
        return table.quality()
    }

    /// The same from rows in memory (tests).
    static func quality(rows: [(String, Int, Int, Int64?)], truth: [[[Int32]]], topics: [String], citizens: Int) -> Quality {
        var table = Contingency(truth: truth, topics: topics, citizens: citizens)
        for row in rows { table.add(topic: row.0, partition: row.1, offset: row.2, person: row.3) }
        return table.quality()
    }

    /// Stored records against their true citizens.
    private struct Contingency {
        let truth: [[[Int32]]]
        let topicIndex: [String: Int]
        let citizens: Int
        /// (person << 32 | citizen) per linked record: sorted, equal runs are the cells of the table.
        var cells: [UInt64] = []
        var unlinked = 0
        var wronglyStored = 0
        /// Stored rows at a position nothing was published to.
        var unknown = 0

        init(truth: [[[Int32]]], topics: [String], citizens: Int) {
            self.truth = truth
            self.citizens = citizens
            topicIndex = Dictionary(uniqueKeysWithValues: topics.enumerated().map { ($0.element, $0.offset) })
        }

        mutating func add(topic: String, partition: Int, offset: Int, person: Int64?) {
            guard let t = topicIndex[topic], partition >= 0, partition < truth[t].count, offset >= 0, offset < truth[t][partition].count else {
                unknown += 1
                return
            }
            let citizen = truth[t][partition][offset]
            guard citizen >= 0 else { wronglyStored += 1; return }
            guard let person else { unlinked += 1; return }
            cells.append(UInt64(UInt32(truncatingIfNeeded: person)) << 32 | UInt64(UInt32(citizen)))
        }

        mutating func quality() -> Quality {
            cells.sort()
            func pairs(_ n: Int) -> Int { n * (n - 1) / 2 }
            var together = 0, samePerson = 0
            // True pairs from everything published that ingest had to accept, stored or not.
            var perCitizen = [Int32](repeating: 0, count: citizens)
            var acceptable = 0
            for topic in truth {
                for partition in topic {
                    for citizen in partition where citizen >= 0 {
                        perCitizen[Int(citizen)] += 1
                        acceptable += 1
                    }
                }
            }
            var cellRun = 0, personRun = 0
            for (i, cell) in cells.enumerated() {
                cellRun += 1
                personRun += 1
                let next = i + 1 < cells.count ? cells[i + 1] : nil
                if next != cell { together += pairs(cellRun); cellRun = 0 }
                if next.map({ $0 >> 32 }) != cell >> 32 { samePerson += pairs(personRun); personRun = 0 }
            }
            let sameCitizen = perCitizen.reduce(0) { $0 + pairs(Int($1)) }
            return Quality(precision: samePerson == 0 ? 1 : Double(together) / Double(samePerson),
                           recall: sameCitizen == 0 ? 1 : Double(together) / Double(sameCitizen), linked: cells.count, unlinked: unlinked,
                           missing: acceptable - cells.count - unlinked, wronglyStored: wronglyStored)
        }
    }

    /// Runs `sql` (four columns: text, int, int, nullable int) and hands each row to `row`.
    private static func scan(_ location: LoadStoreLocation, _ sql: String, _ row: (String, Int, Int, Int64?) -> Void) throws {
        switch location {
        case .sqlite(let path):
            var opened: OpaquePointer?
            guard sqlite3_open_v2(path, &opened, SQLITE_OPEN_READONLY, nil) == SQLITE_OK, let db = opened else {
                sqlite3_close_v2(opened)
                throw StoreError.backend("cannot open \(path)")
            }
            defer { sqlite3_close_v2(db) }
            var statement: OpaquePointer?
            guard sqlite3_prepare_v2(db, sql, -1, &statement, nil) == SQLITE_OK, let statement else {
                throw StoreError.backend(String(cString: sqlite3_errmsg(db)))
            }
            defer { sqlite3_finalize(statement) }
            var rc = sqlite3_step(statement)
            while rc == SQLITE_ROW {
                let topic = sqlite3_column_text(statement, 0).map { String(cString: $0) } ?? ""
                let person = sqlite3_column_type(statement, 3) == SQLITE_NULL ? nil : sqlite3_column_int64(statement, 3)
                row(topic, Int(sqlite3_column_int64(statement, 1)), Int(sqlite3_column_int64(statement, 2)), person)
                rc = sqlite3_step(statement)
            }
            guard rc == SQLITE_DONE else { throw StoreError.backend(String(cString: sqlite3_errmsg(db))) }
        case .postgres(let url, _):
            let conn = try connect(url)
            defer { PQfinish(conn) }
            // Row by row: a 30-million-row result must not be held in memory at once.
            guard PQsendQuery(conn, sql) == 1, PQsetSingleRowMode(conn) == 1 else { throw StoreError.backend(String(cString: PQerrorMessage(conn))) }
            while let result = PQgetResult(conn) {
                defer { PQclear(result) }
                let status = PQresultStatus(result)
                guard status == PGRES_SINGLE_TUPLE || status == PGRES_TUPLES_OK else { throw StoreError.backend(String(cString: PQerrorMessage(conn))) }
                for r in 0..<PQntuples(result) {
                    let person = PQgetisnull(result, r, 3) == 1 ? nil : Int64(String(cString: PQgetvalue(result, r, 3)))
                    row(String(cString: PQgetvalue(result, r, 0)), Int(String(cString: PQgetvalue(result, r, 1))) ?? -1,
                        Int(String(cString: PQgetvalue(result, r, 2))) ?? -1, person)
                }
            }
        }
    }

    /// Bytes of the database `url` names.
    static func postgresDatabaseSize(_ url: String) throws -> Int64 {
        let conn = try connect(url)
        defer { PQfinish(conn) }
        let result = PQexec(conn, "SELECT pg_database_size(current_database())")
        defer { PQclear(result) }
        guard PQresultStatus(result) == PGRES_TUPLES_OK, PQntuples(result) == 1 else { throw StoreError.backend(String(cString: PQerrorMessage(conn))) }
        return Int64(String(cString: PQgetvalue(result, 0, 0))) ?? 0
    }

    private static func connect(_ url: String) throws -> OpaquePointer {
        let conn = PQconnectdb(url)
        guard let conn, PQstatus(conn) == CONNECTION_OK else {
            let message = conn.map { String(cString: PQerrorMessage($0)) } ?? "out of memory"
            PQfinish(conn)
            throw StoreError.connectionLost("cannot connect to the PostgreSQL server: \(message)")
        }
        return conn
    }
}
