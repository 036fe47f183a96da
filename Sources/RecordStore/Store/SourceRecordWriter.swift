import Foundation
import HealthModel

/// Writing a batch's source records with few statements: one lookup of the keys already stored,
/// ids reserved up front, multi-row inserts. On PostgreSQL every statement is a network round trip,
/// so per-record statements would cap ingest at a few thousand records per second.
extension StoreEngine {
    /// What the database already holds for a batch's source keys.
    struct KnownSources {
        /// key index → the current version: row id, version and content index.
        var current: [[UInt8]: (id: Int64, version: Int64, content: [UInt8])] = [:]
        /// (key index ‖ content index) → every version with that content: row id and Kafka position
        /// (the key index names the topic, so partition and offset complete the position).
        var positions: [[UInt8]: [(id: Int64, partition: Int64, offset: Int64)]] = [:]
    }

    /// A new source-record row planned for the batch.
    private struct PlannedRow {
        var index: Int            // position in the batch
        var keyIndex: [UInt8]
        var contentIndex: [UInt8]
        var version: Int64
        var previous: Int64?      // the version it supersedes (stored earlier or planned in this batch)
        var id: Int64 = 0
        var supersededBy: Int64?  // set when a later record of the same batch supersedes it
    }

    /// Loads the stored versions of `keyIndexes` (`selectIn`: fixed chunks, or one array on PostgreSQL).
    func knownSources(_ keyIndexes: [[UInt8]]) throws -> KnownSources {
        var known = KnownSources()
        try selectIn("""
            SELECT source_key_index, content_index, id, version, superseded_by, kafka_partition, kafka_offset FROM source_record
            WHERE source_key_index IN
            """, Array(Set(keyIndexes)).map { .blob($0) }) { row in
            let key = try row.blob(0), content = try row.blob(1)
            known.positions[key + content, default: []].append((try row.int(2), try row.int(5), try row.int(6)))
            if row[4].isNull { known.current[key] = (try row.int(2), try row.int(3), content) }
        }
        return known
    }

    /// `count` fresh ids for `table`, ascending: from the ids `withReservedIDs` reserved ahead when
    /// there are enough, else from its sequence on PostgreSQL, after the current maximum on SQLite
    /// (safe: the caller holds the write lock, so no other writer takes ids meanwhile).
    func reserveIDs(_ table: String, count: Int) throws -> [Int64] {
        guard count > 0 else { return [] }
        if let pool = reservedIDs[table] {
            if pool.count >= count {
                reservedIDs[table] = pool.dropFirst(count)
                return Array(pool.prefix(count))
            }
            // Not enough: drop the rest (on SQLite a later maximum would hand out the same ids again).
            reservedIDs[table] = nil
        }
        return try fetchIDs([table: count])[table] ?? []
    }

    /// Runs `body` with ids reserved ahead for every table of `counts` (upper bounds) in ONE statement,
    /// so a batch costs one round trip for all its ids; the reservation ends with `body`. Unused ids
    /// are gaps (PostgreSQL) or never taken (SQLite). Nested calls run in the outer reservation. Call
    /// inside a write transaction.
    func withReservedIDs<T>(_ counts: [String: Int], _ body: () throws -> T) throws -> T {
        guard !reservingIDs else { return try body() }
        reservingIDs = true
        defer {
            reservingIDs = false
            reservedIDs = [:]
        }
        reservedIDs = try fetchIDs(counts.filter { $0.value > 0 }).mapValues { ArraySlice($0) }
        return try body()
    }

    /// Tables whose ids `fetchIDs` can reserve, in the fixed order of its one prepared statement.
    private static let reservableTables = ["person", "identifier", "review_task", "source_record", "outbox", "dead_letter"]

    /// Fresh ascending ids per table in one statement: one `nextval` series per table on PostgreSQL
    /// (a fixed statement: tables not asked for get a series of 0), each table's maximum on SQLite.
    private func fetchIDs(_ counts: [String: Int]) throws -> [String: [Int64]] {
        guard counts.values.contains(where: { $0 > 0 }) else { return [:] }
        let tables = counts.keys.allSatisfy(Self.reservableTables.contains) ? Self.reservableTables : counts.keys.sorted()
        var ids: [String: [Int64]] = [:]
        switch db.dialect {
        case .postgres:
            let sql = tables.enumerated().map { "SELECT \($0.offset), nextval('\($0.element)_id_seq') FROM generate_series(1, ?)" }
                .joined(separator: " UNION ALL ")
            for row in try db.query(sql, tables.map { .int(Int64(counts[$0] ?? 0)) }) {
                ids[tables[Int(try row.int(0))], default: []].append(try row.int(1))
            }
            return ids.mapValues { $0.sorted() }
        case .sqlite:
            let sql = "SELECT " + tables.map { "(SELECT COALESCE(MAX(id), 0) FROM \($0))" }.joined(separator: ", ")
            guard let row = try db.queryOne(sql, []) else { return [:] }
            for (i, table) in tables.enumerated() {
                let count = counts[table] ?? 0
                guard count > 0 else { continue }
                let max = try row.int(i)
                ids[table] = (1...Int64(count)).map { max + $0 }
            }
            return ids
        }
    }

    /// Inserts rows with as few statements as possible (chunk shapes are powers of two, so only a
    /// handful of prepared statements exist per table): up to 256 rows for narrow tables, down to 64
    /// for wide ones (at most 1,024 parameters per statement up to 16 columns; 8 columns, such as
    /// identifiers with their reserved ids, still go 128 rows at a time).
    func insertMany(_ prefix: String, columns: Int, rows: [[SQLValue]], suffix: String = "") throws {
        let group = "(" + Array(repeating: "?", count: columns).joined(separator: ", ") + ")"
        var maxRows = 256
        while maxRows > 64 && maxRows * columns > 1_024 { maxRows /= 2 }
        var start = 0
        while start < rows.count {
            var size = maxRows
            while size > rows.count - start { size /= 2 }
            let sql = prefix + " VALUES " + Array(repeating: group, count: size).joined(separator: ", ") + suffix
            try db.execute(sql, rows[start..<(start + size)].flatMap { $0 })
            start += size
        }
    }

    /// Sets `column` of the rows whose `key` is each pair's key to the pair's value: one statement per
    /// chunk of rows (`CASE key WHEN ? THEN ? …`, padded with the first pair so one prepared statement
    /// serves every chunk), not one per row. `type` is the column's SQL type: PostgreSQL cannot infer a
    /// parameter's type inside CASE. Keys must be distinct; `filter` narrows the rows (`AND …`).
    func updateMany(_ table: String, set column: String, type: String, key: String, _ pairs: [(key: SQLValue, value: SQLValue)],
                    filter: String = "") throws {
        guard let first = pairs.first else { return }
        let chunk = 64
        let sql = "UPDATE \(table) SET \(column) = CASE \(key) "
            + Array(repeating: "WHEN ? THEN CAST(? AS \(type))", count: chunk).joined(separator: " ")
            + " END WHERE \(key) IN (" + Array(repeating: "?", count: chunk).joined(separator: ", ") + ")" + filter
        for start in stride(from: 0, to: pairs.count, by: chunk) {
            var part = Array(pairs[start..<min(start + chunk, pairs.count)])
            part += Array(repeating: first, count: chunk - part.count)
            try db.execute(sql, part.flatMap { [$0.key, $0.value] } + part.map(\.key))
        }
    }

    /// Stores a batch's records: replays change nothing, a new content for a known key supersedes
    /// the current version (kept, marked, audited), derived tables follow the newest version.
    ///
    /// Per key the latest offset wins (DESIGN §6). A record is a replay, and changes nothing, when it
    /// is a stored version read again (same position, same bytes) or carries the current version's
    /// bytes (a resend). The bytes of an older, superseded version at a new position are a correction
    /// back to that content: a new version that becomes current.
    func storeRecords(_ records: [IncomingRecord], persons: [PersonID?], actor: String, at now: String) throws -> [RecordOutcome] {
        guard !records.isEmpty else { return [] }
        let keyIndexes = records.map { sourceKeyIndex(topic: $0.coordinates.topic, key: $0.sourceKey) }
        var known = try knownSources(keyIndexes)
        var outcomes: [RecordOutcome?] = Array(repeating: nil, count: records.count)
        var planned: [PlannedRow] = []
        // Rows planned in this batch are named by `-1 - index` until their ids are reserved; `known`
        // is updated as they are planned, so later records of the batch see them like stored ones.
        for (i, incoming) in records.enumerated() {
            let keyIndex = keyIndexes[i]
            let contentIndex = cipher.blindIndex(bytes: "source-content", incoming.original)
            let partition = Int64(incoming.coordinates.partition), offset = incoming.coordinates.offset
            // A stored version read again (a replay from an older position): it names that version and
            // never makes it current again.
            if let same = known.positions[keyIndex + contentIndex]?.first(where: { $0.partition == partition && $0.offset == offset }) {
                outcomes[i] = .duplicate(id: same.id)
                continue
            }
            // The current bytes at a new position: a resend (producer retry, dead letter replayed twice).
            let current = known.current[keyIndex]
            if let current, current.content == contentIndex {
                outcomes[i] = .duplicate(id: current.id)
                continue
            }
            let ref = -1 - Int64(planned.count)
            let row = PlannedRow(index: i, keyIndex: keyIndex, contentIndex: contentIndex, version: (current?.version ?? 0) + 1,
                                 previous: current?.id)
            planned.append(row)
            known.current[keyIndex] = (ref, row.version, contentIndex)
            known.positions[keyIndex + contentIndex, default: []].append((ref, partition, offset))
        }
        let ids = try reserveIDs("source_record", count: planned.count)
        for p in planned.indices { planned[p].id = ids[p] }
        func resolve(_ id: Int64) -> Int64 { id < 0 ? planned[Int(-1 - id)].id : id }
        for p in planned.indices {
            if let previous = planned[p].previous, previous < 0 { planned[Int(-1 - previous)].supersededBy = planned[p].id }
        }
        // Stored versions being superseded point at their successor before it exists: the foreign
        // key is checked at commit (DEFERRABLE INITIALLY DEFERRED).
        try updateMany("source_record", set: "superseded_by", type: "BIGINT", key: "id",
                       planned.compactMap { row in row.previous.flatMap { $0 >= 0 ? (.int($0), .int(row.id)) : nil } })
        var rows: [[SQLValue]] = []
        rows.reserveCapacity(planned.count)
        for row in planned {
            let incoming = records[row.index]
            rows.append([.int(row.id), .text(incoming.kind.rawValue), .text(incoming.coordinates.topic),
                         .int(Int64(incoming.coordinates.partition)), .int(incoming.coordinates.offset), .text(incoming.sender),
                         .text(Self.timestamp(incoming.receivedAt)), .blob(row.keyIndex),
                         .blob(try cipher.seal(incoming.sourceKey, column: "source_record.source_key_enc", row: .id(row.id))), .blob(row.contentIndex),
                         .blob(try cipher.seal(incoming.original, column: "source_record.original_enc", row: .id(row.id))), .int(row.version),
                         row.supersededBy.map { .int($0) } ?? .null, persons[row.index].map { .int($0.rawValue) } ?? .null])
        }
        try insertMany("""
            INSERT INTO source_record (id, kind, topic, kafka_partition, kafka_offset, sender, received_at, source_key_index,
              source_key_enc, content_index, original_enc, version, superseded_by, person_id)
            """, columns: 14, rows: rows)
        // The newest row of each key, with the stored version its derived row currently points at.
        var latest: [(row: PlannedRow, storedPrevious: Int64?)] = []
        for row in planned where row.supersededBy == nil {
            var previous = row.previous
            while let p = previous, p < 0 { previous = planned[Int(-1 - p)].previous }
            latest.append((row, previous))
        }
        try storeDerived(latest, all: planned, records: records, persons: persons)
        try refreshCardStates(planned.map { (records[$0.index], ($0.previous ?? -1) >= 0) }, at: now)
        try appendAudits(planned.compactMap { row in
            guard let previous = row.previous else { return nil }
            let incoming = records[row.index]
            return (actor, "supersede", "source_record:\(resolve(previous))",
                    "by=\(row.id) version=\(row.version) topic=\(incoming.coordinates.topic) offset=\(incoming.coordinates.partition):\(incoming.coordinates.offset)")
        }, at: now)
        for row in planned {
            outcomes[row.index] = row.previous.map { .superseded(id: row.id, previous: resolve($0)) } ?? .stored(id: row.id)
        }
        return outcomes.map { outcome in
            guard let outcome else { return .duplicate(id: 0) }
            if case .duplicate(let id) = outcome { return .duplicate(id: resolve(id)) }
            return outcome
        }
    }

    /// Derived tables: the newest version per key (`latest`) for visits, vaccinations and registry
    /// events; every version for the insurance card history. Codes and links only; the content stays
    /// in `source_record.original_enc`.
    private func storeDerived(_ latest: [(row: PlannedRow, storedPrevious: Int64?)], all: [PlannedRow], records: [IncomingRecord],
                              persons: [PersonID?]) throws {
        var visits: [[SQLValue]] = [], doses: [[SQLValue]] = [], events: [[SQLValue]] = [], cards: [[SQLValue]] = []
        func person(_ row: PlannedRow) -> SQLValue { persons[row.index].map { .int($0.rawValue) } ?? .null }
        for (row, storedPrevious) in latest {
            let derived = records[row.index].derived
            if let storedPrevious {
                // A new version of a stored key: its derived row moves to the new version.
                let (table, sets, values): (String, String, [SQLValue])
                switch derived {
                case .visit(let facility, let visitType):
                    (table, sets, values) = ("visit", "facility_code = ?, visit_type = ?", [.text(facility), .text(visitType)])
                case .vaccination(let site, let vaccine, let dose):
                    (table, sets, values) = ("vaccination", "site_code = ?, vaccine_code = ?, dose_number = ?", [.text(site), .text(vaccine), .int(Int64(dose))])
                case .registryEvent(let station, let event):
                    (table, sets, values) = ("registry_event", "station_code = ?, event_kind = ?", [.text(station), .text(event)])
                case .insuranceCard:
                    continue
                }
                try db.execute("UPDATE \(table) SET source_record_id = ?, person_id = ?, \(sets) WHERE source_record_id = ?",
                               [.int(row.id), person(row)] + values + [.int(storedPrevious)])
                continue
            }
            switch derived {
            case .visit(let facility, let visitType):
                visits.append([.int(row.id), person(row), .text(facility), .text(visitType)])
            case .vaccination(let site, let vaccine, let dose):
                doses.append([.int(row.id), person(row), .text(site), .text(vaccine), .int(Int64(dose))])
            case .registryEvent(let station, let event):
                events.append([.int(row.id), person(row), .text(station), .text(event)])
            case .insuranceCard:
                break
            }
        }
        for row in all {
            if case .insuranceCard(let change) = records[row.index].derived {
                cards.append([.int(row.id), person(row), .blob(cipher.blindIndex("id:bhxhNumber", records[row.index].sourceKey)), .text(change)])
            }
        }
        try insertMany("INSERT INTO visit (source_record_id, person_id, facility_code, visit_type)", columns: 4, rows: visits)
        try insertMany("INSERT INTO vaccination (source_record_id, person_id, site_code, vaccine_code, dose_number)", columns: 5, rows: doses)
        try insertMany("INSERT INTO registry_event (source_record_id, person_id, station_code, event_kind)", columns: 4, rows: events)
        try insertMany("INSERT INTO insurance_card (source_record_id, person_id, bhxh_index, change_kind)", columns: 4, rows: cards)
    }
}
