import COpenSSL
import Foundation

extension StoreEngine {
    // MARK: - Verify

    /// Schema version, audit chain, every ciphertext, offsets (see `HealthRecordStore.verify`).
    func verify() throws -> VerifyReport {
        var problems: [String] = []
        let version = try Migrations.version(db)
        if version != Migrations.currentVersion { problems.append("schema version \(version), expected \(Migrations.currentVersion)") }
        let audit = try verifyAuditChain()
        problems += audit.problems
        var ciphertexts = 0, columnBound = 0
        var usage: [String: Int] = [:]
        var failures = 0
        for encrypted in Migrations.encryptedColumns {
            var last: Int64 = 0
            while true {
                let rows = try db.query("""
                    SELECT \(encrypted.key), \(encrypted.row), \(encrypted.column) FROM \(encrypted.table)
                    WHERE \(encrypted.key) > ? ORDER BY \(encrypted.key) LIMIT 1000
                    """, [.int(last)])
                if rows.isEmpty { break }
                for row in rows {
                    last = try row.int(0)
                    guard let blob = row[2].blob else { continue }
                    // Each ciphertext must open as the one written for this row: a ciphertext swapped with
                    // another row's, or a column-bound one (format 1), fails here.
                    do {
                        if FieldCipher.format(of: blob) == FieldCipher.columnBoundVersion {
                            columnBound += 1
                            throw StoreError.integrity(columnBoundProblem(blob, column: encrypted.name))
                        }
                        _ = try cipher.open(blob, column: encrypted.name, row: try Migrations.rowKey(row[1]))
                        usage[try FieldCipher.keyID(of: blob), default: 0] += 1
                        ciphertexts += 1
                    } catch {
                        failures += 1
                        if failures <= 20 { problems.append("\(encrypted.name) row \(last): \(error)") }
                    }
                }
            }
        }
        if failures > 20 { problems.append("… \(failures - 20) more ciphertext failures") }
        let multipleCurrent = try db.queryOne("""
            SELECT COUNT(*) FROM (SELECT source_key_index FROM source_record WHERE superseded_by IS NULL
              GROUP BY source_key_index HAVING COUNT(*) > 1) AS keys
            """, [])?.int(0) ?? 0
        if multipleCurrent > 0 { problems.append("source_record: \(multipleCurrent) source keys have more than one current version") }
        let positions = try verifyPositions()
        problems += positions.problems
        return VerifyReport(schemaVersion: version, auditRows: audit.rows, ciphertexts: ciphertexts, keyUsage: usage,
                            columnBound: columnBound, offsets: positions.offsets, problems: problems)
    }

    /// Why a column-bound ciphertext found by verify is a problem, and whether it is also damaged.
    private func columnBoundProblem(_ blob: [UInt8], column: String) -> String {
        let readable = (try? cipher.openColumnBound(blob, column: column)) != nil
        return readable
            ? "column-bound ciphertext (format 1): it opens for its column but is not bound to its row, so it may be another row's; schema 9 seals every readable one again, so it was copied in after that (e.g. from an old backup)"
            : "column-bound ciphertext (format 1) that fails authentication even for its column: damaged, so the schema-9 migration could not seal it again"
    }

    // MARK: - Key rotation

    /// Re-encrypts ciphertexts not under the active key, bound to their rows, one transaction per
    /// `batchSize` rows, so a rotation can be interrupted and resumed (rows already done are skipped).
    func reencrypt(batchSize: Int) throws -> RotationReport {
        let active = cipher.keys.activeKeyID
        var examined = 0, rewritten = 0
        for encrypted in Migrations.encryptedColumns {
            var last: Int64 = 0
            while true {
                let done: Bool = try db.transaction {
                    let rows = try db.query("""
                        SELECT \(encrypted.key), \(encrypted.row), \(encrypted.column) FROM \(encrypted.table)
                        WHERE \(encrypted.key) > ? ORDER BY \(encrypted.key) LIMIT ?
                        """, [.int(last), .int(Int64(max(1, batchSize)))])
                    for row in rows {
                        last = try row.int(0)
                        guard let blob = row[2].blob else { continue }
                        examined += 1
                        guard try FieldCipher.keyID(of: blob) != active else { continue }
                        let place = try Migrations.rowKey(row[1])
                        let fresh = try cipher.seal(try cipher.open(blob, column: encrypted.name, row: place), column: encrypted.name, row: place)
                        try db.execute("UPDATE \(encrypted.table) SET \(encrypted.column) = ? WHERE \(encrypted.key) = ?", [.blob(fresh), .int(last)])
                        rewritten += 1
                    }
                    return rows.isEmpty
                }
                if done { break }
            }
        }
        try audit(actor: "keys", action: "reencrypt", subject: "store", detail: "active=\(active) examined=\(examined) reencrypted=\(rewritten)")
        return RotationReport(activeKeyID: active, examined: examined, reencrypted: rewritten)
    }

    // MARK: - Digest

    /// SHA-256 per table over every row in key order (type-tagged, length-prefixed values).
    func contentDigest() throws -> [String: String] {
        var result: [String: String] = [:]
        for (table, key) in Migrations.tables {
            guard let ctx = EVP_MD_CTX_new() else { throw StoreError.backend("EVP_MD_CTX_new failed") }
            defer { EVP_MD_CTX_free(ctx) }
            EVP_DigestInit_ex(ctx, EVP_sha256(), nil)
            var count = 0
            for row in try db.query("SELECT * FROM \(table) ORDER BY \(key)", []) {
                count += 1
                var bytes: [UInt8] = []
                for value in row.values {
                    switch value {
                    case .null: bytes.append(0)
                    case .int(let v): bytes.append(1); bytes += Array(String(v).utf8); bytes.append(0)
                    case .text(let t): bytes.append(2); bytes += lengthPrefix(Array(t.utf8))
                    case .blob(let b): bytes.append(3); bytes += lengthPrefix(b)
                    }
                }
                EVP_DigestUpdate(ctx, bytes, bytes.count)
            }
            var out = [UInt8](repeating: 0, count: 32)
            var length: UInt32 = 0
            EVP_DigestFinal_ex(ctx, &out, &length)
            result[table] = "\(count):\(hex(out))"
        }
        return result
    }

    private func lengthPrefix(_ bytes: [UInt8]) -> [UInt8] {
        let n = UInt32(bytes.count)
        return [UInt8(n >> 24), UInt8((n >> 16) & 0xff), UInt8((n >> 8) & 0xff), UInt8(n & 0xff)] + bytes
    }

    // MARK: - Outbox

    func pendingOutbox(kind: String, limit: Int) throws -> [OutboxEntry] {
        try db.query("SELECT id, kind, msg_key, payload_enc FROM outbox WHERE kind = ? AND done_at IS NULL ORDER BY id LIMIT ?",
                     [.text(kind), .int(Int64(limit))]).map { row in
            var entry = OutboxEntry(id: try row.int(0), kind: try row.text(1), key: try row.text(2), payload: [])
            // A damaged row is handed to the reader to quarantine: thrown, it would stop every row behind it.
            // Other failures (a key id missing from the key file) concern every row and still throw.
            do {
                entry.payload = try cipher.open(try row.blob(3), column: "outbox.payload_enc", row: .id(entry.id))
            } catch let error as StoreError where error.isDamagedData {
                entry.problem = error
            }
            return entry
        }
    }

    func quarantineOutbox(_ ids: [Int64], code: String, actor: String) throws -> Int {
        guard !ids.isEmpty else { return 0 }
        return try db.transaction {
            let now = Self.timestamp()
            var quarantined: [Int64] = []
            for id in Set(ids).sorted() {
                // Done as well: "pending" means "to process"; the quarantine row says why it was not.
                let changed = try db.execute("UPDATE outbox SET done_at = ? WHERE id = ? AND done_at IS NULL", [.text(now), .int(id)])
                if changed == 1 { quarantined.append(id) }
            }
            try insertMany("INSERT INTO outbox_quarantine (outbox_id, code, quarantined_at, actor)", columns: 4,
                           rows: quarantined.map { [.int($0), .text(code), .text(now), .text(actor)] })
            try appendAudits(quarantined.map { (actor, "quarantine", "outbox:\($0)", "code=\(code)") }, at: now)
            return quarantined.count
        }
    }

    func quarantinedOutbox(kind: String, limit: Int) throws -> [QuarantinedOutboxEntry] {
        try db.query("""
            SELECT o.id, o.kind, o.msg_key, q.code, q.quarantined_at FROM outbox_quarantine q JOIN outbox o ON o.id = q.outbox_id
            WHERE o.kind = ? ORDER BY o.id LIMIT ?
            """, [.text(kind), .int(Int64(limit))]).map { row in
            QuarantinedOutboxEntry(id: try row.int(0), kind: try row.text(1), key: try row.text(2), code: try row.text(3),
                                   quarantinedAt: try row.text(4))
        }
    }

    func outboxBacklog(kind: String) throws -> Int {
        // The partial index outbox_pending holds exactly these rows: the count never scans done ones.
        Int(try db.queryOne("SELECT COUNT(*) FROM outbox WHERE kind = ? AND done_at IS NULL", [.text(kind)])?.int(0) ?? 0)
    }

    func markOutboxDone(_ ids: [Int64]) throws {
        try db.transaction {
            let now = Self.timestamp()
            for id in ids { try db.execute("UPDATE outbox SET done_at = ? WHERE id = ? AND done_at IS NULL", [.text(now), .int(id)]) }
        }
    }
}
