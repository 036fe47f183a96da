import Foundation
import HealthModel

/// The store's logic over one `SQLConnection`, shared by both backends.
///
/// Not thread-safe: owned by a `SQLStore` and used only from that store's `StoreThread`.
final class StoreEngine {
    let db: SQLConnection
    let cipher: FieldCipher
    /// Schema version found before migrating (0 for a new database).
    private(set) var foundVersion = 0
    /// One encoder for the engine's thread (creating one per person costs more than encoding).
    let jsonEncoder = JSONEncoder()
    /// Ids reserved ahead for the write transaction in progress, by table (see `withReservedIDs`).
    var reservedIDs: [String: ArraySlice<Int64>] = [:]
    /// True while `withReservedIDs` runs: nested calls use the outer reservation.
    var reservingIDs = false

    init(db: SQLConnection, keys: KeyRing, mustExist: Bool = false) throws {
        self.db = db
        self.cipher = FieldCipher(keys: keys)
        if mustExist, try !Migrations.hasSchema(db) {
            throw StoreError.invalidRequest("there is no hssk store here (no schema); check --store")
        }
        // Keys are checked before migrating: a migration that re-seals ciphertexts must not meet a
        // wrong key file halfway (it would take every ciphertext for damaged).
        _ = try Migrations.prepare(db)
        try checkKeys()
        foundVersion = try Migrations.run(on: db) { pass in
            switch pass {
            case .bindCiphertextsToRows: try bindCiphertextsToRows()
            }
        }
    }

    /// A timestamp for rows: ISO 8601 UTC with milliseconds.
    static func timestamp(_ date: Date = Date()) -> String {
        // gmtime_r + integer formatting: Foundation's ISO 8601 formatter costs microseconds per row.
        let interval = date.timeIntervalSince1970
        var seconds = time_t(interval.rounded(.down))
        let millis = Int((interval - Double(seconds)) * 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ v: Int32, _ width: Int) -> String {
            let s = String(v)
            return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2)).\(pad(Int32(millis), 3))Z"
    }

    /// Compares the key ring with the check values stored at first use of each key, so that a wrong
    /// key file fails at open with a clear error instead of at the first read (or worse, writing
    /// data nobody can read later). Check values are MACs: they reveal nothing about the keys.
    private func checkKeys() throws {
        try db.transaction {
            let stored = try db.query("SELECT name, value FROM schema_meta WHERE name LIKE 'key_check:%' OR name = 'blind_index_check'", [])
            var checks: [String: String] = [:]
            for row in stored { checks[try row.text(0)] = try row.text(1) }
            let blind = hex(cipher.blindIndexCheck)
            if let existing = checks["blind_index_check"] {
                guard existing == blind else {
                    throw StoreError.wrongKey("the key file's blindIndex key is not the one this database was written with")
                }
            } else {
                try db.execute("INSERT INTO schema_meta (name, value) VALUES ('blind_index_check', ?)", [.text(blind)])
            }
            for id in cipher.keys.keyIDs {
                let check = hex(try cipher.keyCheck(for: id))
                if let existing = checks["key_check:\(id)"] {
                    guard existing == check else {
                        throw StoreError.wrongKey("the key file's key '\(id)' is not the key '\(id)' this database was written with")
                    }
                } else if id == cipher.keys.activeKeyID {
                    try db.execute("INSERT INTO schema_meta (name, value) VALUES (?, ?)", [.text("key_check:\(id)"), .text(check)])
                }
            }
        }
    }

    // MARK: - Audit

    /// Appends one audit row chained to the previous one; call inside a write transaction.
    func appendAudit(actor: String, action: String, subject: String, detail: String, at: String) throws {
        try appendAudits([(actor, action, subject, detail)], at: at)
    }

    /// Appends audit rows chained in order, with one read of the chain's end and multi-row inserts;
    /// call inside a write transaction.
    func appendAudits(_ entries: [(actor: String, action: String, subject: String, detail: String)], at: String) throws {
        guard !entries.isEmpty else { return }
        let last = try db.queryOne("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1", [])
        var seq = try last?.int(0) ?? 0
        var previous = try last?.blob(1) ?? AuditChain.genesis
        var rows: [[SQLValue]] = []
        rows.reserveCapacity(entries.count)
        for entry in entries {
            seq += 1
            let hash = AuditChain.hash(key: cipher.auditKey, previous: previous,
                                       fields: [String(seq), at, entry.actor, entry.action, entry.subject, entry.detail])
            rows.append([.int(seq), .text(at), .text(entry.actor), .text(entry.action), .text(entry.subject), .text(entry.detail),
                         .blob(previous), .blob(hash)])
            previous = hash
        }
        try insertMany("INSERT INTO audit_log (seq, at, actor, action, subject, detail, prev_hash, hash)", columns: 8, rows: rows)
    }

    // MARK: - Apply

    /// Applies a batch in one transaction (see `HealthRecordStore.apply`).
    ///
    /// Ciphertexts are sealed for their rows' ids, so every id the batch may need (persons,
    /// identifiers, review tasks, source records, outbox rows, dead letters) is reserved up front, in
    /// one statement.
    func apply(_ batch: StoreBatch) throws -> ApplyResult {
        try checkCoordinates(batch)
        var ids = Self.identityIDs(batch.identity)
        ids["source_record"] = batch.records.count
        ids["outbox"] = batch.outbox.count
        ids["dead_letter"] = batch.deadLetters.count
        return try db.transaction { try withReservedIDs(ids) { try applyReserved(batch) } }
    }

    private func applyReserved(_ batch: StoreBatch) throws -> ApplyResult {
        let now = Self.timestamp()
        let newPersons = try applyIdentity(batch.identity, at: now)
        func resolve(_ ref: PersonRef) throws(StoreError) -> PersonID { try ref.resolved(newPersons) }
        let persons = try batch.records.map { try $0.person.map(resolve) }
        let outcomes = try storeRecords(batch.records, persons: persons, actor: batch.actor, at: now)
        try insertOutbox(try batch.outbox.map { message in
            switch message.key {
            case .person(let ref): return (message.kind, String(try resolve(ref).rawValue), message.payload)
            case .text(let text): return (message.kind, text, message.payload)
            }
        }, at: now)
        if let group = batch.offsets.first?.group {
            try insertDeadLetters(batch.deadLetters, group: group, at: now)
        } else if !batch.deadLetters.isEmpty {
            throw StoreError.invalidRequest("dead letters need the batch's consumer offsets (their group)")
        }
        var absorbed: [TopicPartition: Int] = [:]
        for (record, outcome) in zip(batch.records, outcomes) {
            if case .duplicate = outcome { absorbed[TopicPartition(record.coordinates.topic, record.coordinates.partition), default: 0] += 1 }
        }
        try storeOffsets(batch.offsets, absorbed: absorbed, at: now)
        let result = ApplyResult(records: outcomes, newPersons: newPersons)
        let stored = outcomes.count - result.duplicates
        let positions = batch.offsets.map { "\($0.group):\($0.partition)=\($0.from)..<\($0.nextOffset)" }.joined(separator: ",")
        try appendAudit(actor: batch.actor, action: "apply", subject: "batch",
                        detail: "records=\(outcomes.count) stored=\(stored) duplicates=\(result.duplicates) deadLetters=\(batch.deadLetters.count) persons=\(newPersons.count) identity=\(batch.identity.count) outbox=\(batch.outbox.count) offsets=[\(positions)]",
                        at: now)
        return result
    }

    /// A batch that moves consumer offsets may only hold records and dead letters inside those
    /// offsets: one outside them would be applied without the fence that keeps it from being applied
    /// twice (or by a consumer that no longer owns its partition).
    private func checkCoordinates(_ batch: StoreBatch) throws {
        guard !batch.offsets.isEmpty else { return }
        var ranges: [TopicPartition: (Int64, Int64)] = [:]
        for offset in batch.offsets { ranges[offset.partition] = (offset.from, offset.nextOffset) }
        func inside(_ coordinates: KafkaCoordinates) -> Bool {
            guard let (from, next) = ranges[TopicPartition(coordinates.topic, coordinates.partition)] else { return false }
            return from <= coordinates.offset && coordinates.offset < next
        }
        if let outside = batch.records.first(where: { !inside($0.coordinates) })?.coordinates ?? batch.deadLetters.first(where: { !inside($0.source) })?.source {
            throw StoreError.invalidRequest("\(outside.topic)/\(outside.partition)/\(outside.offset) lies outside the offsets the batch moves")
        }
    }

    /// Inserts outbox rows in order; call inside a write transaction. Ids are reserved explicitly (a
    /// multi-row insert does not promise the order of default ids): they follow commit order, which is
    /// the per-person order readers rely on and what the feed publisher uses as document version.
    func insertOutbox(_ messages: [(kind: String, key: String, payload: [UInt8])], at now: String) throws {
        let ids = try reserveIDs("outbox", count: messages.count)
        let rows = try zip(messages, ids).map { message, id -> [SQLValue] in
            [.int(id), .text(message.kind), .text(message.key), .blob(try cipher.seal(message.payload, column: "outbox.payload_enc", row: .id(id))), .text(now)]
        }
        try insertMany("INSERT INTO outbox (id, kind, msg_key, payload_enc, created_at)", columns: 5, rows: rows)
    }

    /// Blind index of a topic's source key (same key ⇒ same record).
    func sourceKeyIndex(topic: String, key: String) -> [UInt8] {
        cipher.blindIndex("source-key", topic + "\u{0}" + key)
    }

    /// Every stored version of a source key, oldest first.
    func sourceVersions(topic: String, key: String) throws -> [SourceVersion] {
        let keyIndex = sourceKeyIndex(topic: topic, key: key)
        return try db.query("""
            SELECT id, version, superseded_by, original_enc, topic, kafka_partition, kafka_offset, sender, person_id
            FROM source_record WHERE source_key_index = ? ORDER BY version
            """, [.blob(keyIndex)]).map { row in
            SourceVersion(id: try row.int(0), version: Int(try row.int(1)), supersededBy: row[2].int,
                          original: try cipher.open(try row.blob(3), column: "source_record.original_enc", row: .id(try row.int(0))),
                          coordinates: KafkaCoordinates(topic: try row.text(4), partition: Int32(try row.int(5)), offset: try row.int(6)),
                          sender: try row.text(7), person: row[8].int.map { PersonID($0) })
        }
    }
}

/// Lower-case hex of bytes.
func hex(_ bytes: [UInt8]) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var out = [UInt8]()
    out.reserveCapacity(bytes.count * 2)
    for b in bytes { out.append(digits[Int(b >> 4)]); out.append(digits[Int(b & 15)]) }
    return String(decoding: out, as: UTF8.self)
}

extension FieldCipher {
    /// Blind index of raw bytes (content MACs).
    func blindIndex(bytes domain: String, _ value: [UInt8]) -> [UInt8] {
        Array(hmac(key: keys.blindIndexKey, Array(domain.utf8) + [0] + value).prefix(16))
    }
}
