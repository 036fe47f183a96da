import COpenSSL
import Foundation
@testable import RecordStore

/// Stores as an older hssk wrote them: every ciphertext in format 1, bound to its column only.
///
/// Written with OpenSSL directly, not with `FieldCipher`, so that the migration is tested against the
/// bytes the old code wrote (and the new format against this independent reading of it):
/// ```
/// format 1: 0x01 | n | key id | nonce (12) | ciphertext | tag (16); AAD = 0x01 | n | key id ‖ "table.column"
/// format 2: 0x02 | n | key id | nonce (12) | ciphertext | tag (16); AAD = 0x02 | n | key id ‖ "table.column#row"
/// ```
/// where `row` is the row's id in decimal, or the text that names it (hex for a blob).
enum ColumnBoundCiphertexts {
    /// Every encrypted column and the column that names its row in format 2.
    static let columns: [(table: String, column: String, row: String)] = [
        ("person", "demographics_enc", "id"), ("identifier", "value_enc", "id"),
        ("source_record", "source_key_enc", "id"), ("source_record", "original_enc", "id"),
        ("review_task", "evidence_enc", "id"), ("outbox", "payload_enc", "id"),
        ("account", "signing_key_enc", "name"), ("insurance_card_state", "state_enc", "bhxh_index"),
        ("insurance_supplement", "bhxh_enc", "supplement_id"), ("insurance_supplement", "value_enc", "supplement_id"),
        ("insurance_supplement", "payload_enc", "supplement_id"), ("insurance_supplement", "reason_enc", "supplement_id"),
        ("dead_letter", "letter_enc", "id"),
    ]

    /// Seals `plaintext` in format 1 for `column` ("table.column") under the key ring's active key.
    static func seal(_ plaintext: [UInt8], column: String, keys: KeyRing) throws -> [UInt8] {
        let keyID = keys.activeKeyID
        let header: [UInt8] = [1, UInt8(keyID.utf8.count)] + Array(keyID.utf8)
        var nonce = [UInt8](repeating: 0, count: 12)
        guard RAND_bytes(&nonce, 12) == 1 else { throw StoreError.backend("RAND_bytes") }
        let (body, tag) = try gcm(encrypt: true, key: try keys.key(keyID), nonce: nonce, aad: header + Array(column.utf8), input: plaintext, tag: nil)
        return header + nonce + body + tag
    }

    /// Opens a ciphertext of either format stored in `column` of the row named `row`; nil when it
    /// does not authenticate there.
    static func open(_ ciphertext: [UInt8], column: String, row: String, keys: KeyRing) throws -> [UInt8]? {
        guard ciphertext.count >= 2, [1, 2].contains(ciphertext[0]) else { return nil }
        let n = Int(ciphertext[1])
        guard ciphertext.count >= 2 + n + 12 + 16 else { return nil }
        let header = Array(ciphertext[0..<(2 + n)])
        let keyID = String(decoding: ciphertext[2..<(2 + n)], as: UTF8.self)
        let aad = header + Array(column.utf8) + (ciphertext[0] == 2 ? Array("#\(row)".utf8) : [])
        let nonce = Array(ciphertext[(2 + n)..<(2 + n + 12)])
        let body = Array(ciphertext[(2 + n + 12)..<(ciphertext.count - 16)])
        let tag = Array(ciphertext[(ciphertext.count - 16)...])
        return try? gcm(encrypt: false, key: try keys.key(keyID), nonce: nonce, aad: aad, input: body, tag: tag).output
    }

    /// The text that names a row in format 2: an id in decimal, text as it is, a blob in hex.
    static func rowName(_ value: SQLValue) -> String {
        switch value {
        case .int(let v): return String(v)
        case .text(let t): return t
        case .blob(let b): return hex(b)
        case .null: return ""
        }
    }

    /// Rewrites every ciphertext of `tables` (all when nil) in format 1, as the previous schema held
    /// them, and sets the schema version back to 8; returns how many ciphertexts it rewrote.
    @discardableResult
    static func downgrade(_ raw: SQLConnection, keys: KeyRing, tables: Set<String>? = nil) throws -> Int {
        var rewritten = 0
        for (table, column, rowColumn) in columns where tables?.contains(table) ?? true {
            for row in try raw.query("SELECT id, \(rowColumn), \(column) FROM \(table) ORDER BY id", []) {
                guard let blob = row[2].blob else { continue }
                let place = "\(table).\(column)"
                guard let plaintext = try open(blob, column: place, row: rowName(row[1]), keys: keys) else {
                    throw StoreError.integrity("\(place) row \(try row.int(0)) does not open")
                }
                try raw.execute("UPDATE \(table) SET \(column) = ? WHERE id = ?", [.blob(try seal(plaintext, column: place, keys: keys)), row[0]])
                rewritten += 1
            }
        }
        try raw.execute("UPDATE schema_meta SET value = '8' WHERE name = 'schema_version'", [])
        return rewritten
    }

    /// AES-256-GCM in one go; `tag` is checked when decrypting, returned when encrypting.
    private static func gcm(encrypt: Bool, key: [UInt8], nonce: [UInt8], aad: [UInt8], input: [UInt8],
                            tag: [UInt8]?) throws -> (output: [UInt8], tag: [UInt8]) {
        guard let ctx = EVP_CIPHER_CTX_new() else { throw StoreError.backend("EVP_CIPHER_CTX_new") }
        defer { EVP_CIPHER_CTX_free(ctx) }
        var out = [UInt8](repeating: 0, count: input.count + 16)
        var length: Int32 = 0, total = 0
        var ok = encrypt ? EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), nil, key, nonce) == 1
                         : EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), nil, key, nonce) == 1
        ok = ok && (encrypt ? EVP_EncryptUpdate(ctx, nil, &length, aad, Int32(aad.count)) : EVP_DecryptUpdate(ctx, nil, &length, aad, Int32(aad.count))) == 1
        if ok && !input.isEmpty {
            ok = out.withUnsafeMutableBufferPointer { buffer in
                encrypt ? EVP_EncryptUpdate(ctx, buffer.baseAddress, &length, input, Int32(input.count))
                        : EVP_DecryptUpdate(ctx, buffer.baseAddress, &length, input, Int32(input.count))
            } == 1
            total = Int(length)
        }
        var tagBytes = tag ?? [UInt8](repeating: 0, count: 16)
        if !encrypt { ok = ok && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16, &tagBytes) == 1 }
        ok = ok && out.withUnsafeMutableBufferPointer { buffer in
            encrypt ? EVP_EncryptFinal_ex(ctx, buffer.baseAddress! + total, &length) : EVP_DecryptFinal_ex(ctx, buffer.baseAddress! + total, &length)
        } == 1
        total += Int(length)
        if encrypt { ok = ok && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, &tagBytes) == 1 }
        guard ok else { throw StoreError.integrity("AES-256-GCM failed") }
        return (Array(out[0..<total]), tagBytes)
    }
}
