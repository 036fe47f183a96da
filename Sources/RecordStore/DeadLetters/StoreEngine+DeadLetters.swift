import Foundation

extension StoreEngine {
    /// Inserts a batch's dead letters, encrypted, as `pending`; call inside a write transaction.
    /// A record is dead-lettered at most once per group (unique index on its coordinates).
    func insertDeadLetters(_ letters: [DeadLetterDraft], group: String, at now: String) throws {
        guard !letters.isEmpty else { return }
        let ids = try reserveIDs("dead_letter", count: letters.count)
        let millis = try databaseMillis()
        let rows = try zip(letters, ids).map { letter, id -> [SQLValue] in
            [.int(id), .text(group), .text(letter.source.topic), .int(Int64(letter.source.partition)), .int(letter.source.offset),
             .text(letter.topic), .text(letter.code), .blob(try cipher.seal(letter.letter, column: "dead_letter.letter_enc", row: .id(id))),
             .text("pending"), .text(now), .int(millis)]
        }
        try insertMany("""
            INSERT INTO dead_letter (id, group_id, source_topic, source_partition, source_offset, dlq_topic, code, letter_enc, state, created_at, created_ms)
            """, columns: 11, rows: rows)
    }

    /// See `DeadLetterStore.acquireRelayLease`.
    func acquireRelayLease(_ name: String, holder: String, ttlMs: Int64) throws -> RelayLease? {
        try db.transaction {
            let now = try databaseMillis()
            guard let row = try db.queryOne("SELECT holder, expires_ms FROM relay_lease WHERE name = ?", [.text(name)]) else {
                try db.execute("INSERT INTO relay_lease (name, holder, expires_ms) VALUES (?, ?, ?)", [.text(name), .text(holder), .int(now + ttlMs)])
                return RelayLease(takeover: false)
            }
            let current = try row.text(0)
            let expires = try row.int(1)
            guard current == holder || expires <= now else { return nil }
            try db.execute("UPDATE relay_lease SET holder = ?, expires_ms = ? WHERE name = ?", [.text(holder), .int(now + ttlMs), .text(name)])
            return RelayLease(takeover: current != holder)
        }
    }

    /// See `DeadLetterStore.releaseRelayLease`.
    func releaseRelayLease(_ name: String, holder: String) throws {
        _ = try db.transaction {
            try db.execute("UPDATE relay_lease SET expires_ms = 0 WHERE name = ? AND holder = ?", [.text(name), .text(holder)])
        }
    }

    /// See `DeadLetterStore.undeliveredDeadLetters`. Sizes first, so that a page of large letters is
    /// never all decrypted at once; a damaged letter comes back without its bytes, and a letter under
    /// a key the key file lacks fails the page (`missingKey`): it waits until the key is back.
    func undeliveredDeadLetters(group: String, limit: Int, maxBytes: Int) throws -> [StoredDeadLetter] {
        let sizes = try db.query("""
            SELECT id, length(letter_enc) FROM dead_letter WHERE group_id = ? AND state IN ('pending', 'sending') ORDER BY id LIMIT ?
            """, [.text(group), .int(Int64(max(1, limit)))])
        var chosen: [Int64] = []
        var bytes = 0
        for row in sizes {
            let size = Int(row[1].int ?? 0)
            if !chosen.isEmpty && bytes + size > maxBytes { break }
            chosen.append(try row.int(0))
            bytes += size
        }
        guard let last = chosen.last else { return [] }
        let now = try databaseMillis()
        return try db.query("""
            SELECT id, group_id, source_topic, source_partition, source_offset, dlq_topic, code, letter_enc, state, marks, marked_at_ms FROM dead_letter
            WHERE group_id = ? AND state IN ('pending', 'sending') AND id >= ? AND id <= ? ORDER BY id
            """, [.text(group), .int(chosen[0]), .int(last)]).map { row in
            let id = try row.int(0)
            var sending: StoredDeadLetter.Sending?
            if try row.text(8) == "sending" {
                let marks = try row[9].text.map { try JSONDecoder().decode([DeadLetterMark].self, from: Data($0.utf8)) } ?? []
                sending = StoredDeadLetter.Sending(marks: marks, age: .milliseconds(now - (row[10].int ?? now)))
            }
            return StoredDeadLetter(id: id, group: try row.text(1),
                                    source: KafkaCoordinates(topic: try row.text(2), partition: Int32(try row.int(3)), offset: try row.int(4)),
                                    topic: try row.text(5), code: try row.text(6),
                                    letter: try readable(row[7].blob, id: id), sending: sending)
        }
    }

    /// A letter's bytes; nil when its ciphertext is damaged (fails authentication, or names a key
    /// no key file of this store ever held): it never will read. `missingKey` when the key file lacks
    /// a key the store was written with: the letter reads once the key is back.
    private func readable(_ ciphertext: [UInt8]?, id: Int64) throws(StoreError) -> [UInt8]? {
        guard let ciphertext else { return nil }
        do {
            return try cipher.open(ciphertext, column: "dead_letter.letter_enc", row: .id(id))
        } catch .integrity {
            return nil
        } catch .missingKey(let message) {
            let keyID = try FieldCipher.keyID(of: ciphertext)
            guard try db.queryOne("SELECT value FROM schema_meta WHERE name = ?", [.text("key_check:" + keyID)]) != nil else { return nil }
            throw .missingKey(message)
        }
    }

    /// See `DeadLetterStore.markDeadLettersSending`.
    func markDeadLettersSending(_ ids: [Int64], marks: [DeadLetterMark], lease name: String, holder: String, ttlMs: Int64) throws {
        try db.transaction {
            let now = try requireLease(name, holder: holder)
            try db.execute("UPDATE relay_lease SET expires_ms = ? WHERE name = ?", [.int(now + ttlMs), .text(name)])
            let encoded = String(decoding: try JSONEncoder().encode(marks), as: UTF8.self)
            try updateDeadLetters(ids, set: "state = 'sending', marks = ?, marked_at_ms = ?", [.text(encoded), .int(now)])
        }
    }

    /// See `DeadLetterStore.markDeadLettersDelivered`.
    func markDeadLettersDelivered(_ deliveries: [DeadLetterDelivery], lease name: String, holder: String) throws {
        guard !deliveries.isEmpty else { return }
        try db.transaction {
            _ = try requireLease(name, holder: holder)
            let now = Self.timestamp()
            for delivery in deliveries {
                try db.execute("""
                    UPDATE dead_letter SET state = 'delivered', dlq_partition = ?, dlq_offset = ?, sent_at = ?, letter_enc = NULL, marks = NULL
                    WHERE id = ? AND state IN ('pending', 'sending')
                    """, [.int(Int64(delivery.partition)), .int(delivery.offset), .text(now), .int(delivery.id)])
            }
        }
    }

    /// See `DeadLetterStore.markDeadLettersPending`.
    func markDeadLettersPending(_ ids: [Int64], lease name: String, holder: String) throws {
        guard !ids.isEmpty else { return }
        try db.transaction {
            _ = try requireLease(name, holder: holder)
            try updateDeadLetters(ids, set: "state = 'pending', marks = NULL, marked_at_ms = NULL", [])
        }
    }

    /// See `DeadLetterStore.markDeadLetterFailed`.
    func markDeadLetterFailed(_ id: Int64, reason: String, lease name: String, holder: String) throws {
        try db.transaction {
            _ = try requireLease(name, holder: holder)
            try db.execute("UPDATE dead_letter SET state = 'failed', error = ?, attempts = attempts + 1 WHERE id = ? AND state IN ('pending', 'sending')",
                           [.text(String(reason.prefix(500))), .int(id)])
            try appendAudit(actor: "dead-letter-relay", action: "deadLetterFailed", subject: "dead_letter \(id)", detail: String(reason.prefix(200)),
                            at: Self.timestamp())
        }
    }

    /// See `DeadLetterStore.deadLetterBacklog`.
    func deadLetterBacklog(group: String?) throws -> DeadLetterBacklog {
        let filter = group == nil ? "" : " AND group_id = ?"
        let parameters: [SQLValue] = group.map { [.text($0)] } ?? []
        let waiting = try db.queryOne("SELECT COUNT(*), MIN(created_ms) FROM dead_letter WHERE state IN ('pending', 'sending')\(filter)", parameters)
        let failed = try db.queryOne("SELECT COUNT(*) FROM dead_letter WHERE state = 'failed'\(filter)", parameters)?.int(0) ?? 0
        let oldest = try waiting?[1].int.map { Duration.milliseconds(try databaseMillis() - $0) }
        return DeadLetterBacklog(undelivered: Int(try waiting?.int(0) ?? 0), oldestAge: oldest, failed: Int(failed))
    }

    /// The database's time when `holder` holds the lease `name` unexpired; else `invalidRequest`.
    private func requireLease(_ name: String, holder: String) throws -> Int64 {
        let now = try databaseMillis()
        let row = try db.queryOne("SELECT holder, expires_ms FROM relay_lease WHERE name = ?", [.text(name)])
        guard let row, try row.text(0) == holder, try row.int(1) > now else {
            throw StoreError.invalidRequest("the dead-letter relay lease '\(name)' is no longer held by \(holder)")
        }
        return now
    }

    private func updateDeadLetters(_ ids: [Int64], set assignments: String, _ values: [SQLValue]) throws {
        for chunk in stride(from: 0, to: ids.count, by: 500).map({ Array(ids[$0..<min($0 + 500, ids.count)]) }) {
            let marks = Array(repeating: "?", count: chunk.count).joined(separator: ", ")
            try db.execute("UPDATE dead_letter SET \(assignments) WHERE state IN ('pending', 'sending') AND id IN (\(marks))",
                           values + chunk.map { .int($0) })
        }
    }

    /// Milliseconds since the epoch by the database server's clock: leases are compared on one clock,
    /// whichever hosts their holders run on.
    func databaseMillis() throws -> Int64 {
        let sql = db.dialect == .sqlite
            ? "SELECT CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)"
            : "SELECT CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)"
        guard let millis = try db.queryOne(sql, [])?.int(0) else { throw StoreError.backend("the database did not tell the time") }
        return millis
    }
}
