import Foundation

/// Schema step 9: ciphertexts written before they were bound to their rows are sealed again.
extension StoreEngine {
    /// Rows read per transaction by the pass (a few MB of originals at most).
    static let rowBindingBatchSize = 1000

    /// Seals every column-bound (format 1) ciphertext again bound to its row (format 2), under the
    /// active key: each encrypted column in id order, `batchSize` rows per transaction, with one
    /// multi-row update per 64 rows. Row-bound ciphertexts are skipped, so the pass resumes where an
    /// interrupted one stopped and changes nothing on a bound store.
    ///
    /// A format-1 ciphertext that does not authenticate under its column cannot be sealed again (its
    /// plaintext is unknown): it stays as it is and `verify` reports it, as it did before. A key the
    /// key file lacks stops the pass (`.missingKey`); the keys were checked before (`checkKeys`), so a
    /// wrong key file never gets here. Returns how many ciphertexts were bound and how many could not be.
    @discardableResult
    func bindCiphertextsToRows(batchSize: Int = rowBindingBatchSize) throws -> (bound: Int, unreadable: Int) {
        let blobType = db.dialect == .sqlite ? "BLOB" : "BYTEA"
        var bound = 0, unreadable = 0
        var counts: [String] = []
        for encrypted in Migrations.encryptedColumns {
            var last: Int64 = 0, columnBound = 0, columnUnreadable = 0
            while true {
                let done: Bool = try db.transaction {
                    let rows = try db.query("""
                        SELECT \(encrypted.key), \(encrypted.row), \(encrypted.column) FROM \(encrypted.table)
                        WHERE \(encrypted.key) > ? ORDER BY \(encrypted.key) LIMIT ?
                        """, [.int(last), .int(Int64(max(1, batchSize)))])
                    var updates: [(key: SQLValue, value: SQLValue)] = []
                    for row in rows {
                        last = try row.int(0)
                        guard let blob = row[2].blob, blob.first == FieldCipher.columnBoundVersion else { continue }
                        let plaintext: [UInt8]
                        do {
                            plaintext = try cipher.openColumnBound(blob, column: encrypted.name)
                        } catch let error as StoreError where error.isDamagedData {
                            columnUnreadable += 1
                            continue
                        }
                        let sealed = try cipher.seal(plaintext, column: encrypted.name, row: try Migrations.rowKey(row[1]))
                        updates.append((.int(last), .blob(sealed)))
                    }
                    try updateMany(encrypted.table, set: encrypted.column, type: blobType, key: encrypted.key, updates)
                    columnBound += updates.count
                    return rows.count < batchSize
                }
                if done { break }
            }
            bound += columnBound
            unreadable += columnUnreadable
            if columnBound + columnUnreadable > 0 {
                counts.append("\(encrypted.name)=\(columnBound)" + (columnUnreadable > 0 ? "/unreadable=\(columnUnreadable)" : ""))
            }
        }
        // Counts only (no personal data); nothing at all when the store was already bound.
        if bound + unreadable > 0 {
            try audit(actor: "migration", action: "bind-ciphertexts-to-rows", subject: "schema:9",
                      detail: "bound=\(bound) unreadable=\(unreadable) columns=[\(counts.joined(separator: ","))]")
        }
        return (bound, unreadable)
    }
}
