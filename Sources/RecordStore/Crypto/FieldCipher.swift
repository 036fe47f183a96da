import COpenSSL
import Foundation

/// The row a ciphertext belongs to, as bound into its associated data together with its column.
enum RowKey: Hashable, Sendable, CustomStringConvertible {
    /// A row named by its integer primary key.
    case id(Int64)
    /// A row named by the unique text it is found by: an account's name, a supplement's id, a card's
    /// blind index (hex).
    case name(String)

    /// The row as written into the associated data: the id in decimal, or the text.
    var description: String {
        switch self {
        case .id(let id): return String(id)
        case .name(let name): return name
        }
    }
}

/// AES-256-GCM encryption of stored fields and HMAC-SHA256 blind indexes (OpenSSL EVP / HMAC).
///
/// Ciphertext format (version 2, row-bound):
/// ```
/// 0x02 | n (1 byte) | key id (n bytes, ASCII) | nonce (12 bytes) | ciphertext | tag (16 bytes)
/// ```
/// The additional authenticated data is the header (`0x02 | n | key id`) followed by the field's
/// place, `"table.column#row"` (`RowKey`), so a ciphertext cannot be moved to another column or
/// another row, or relabelled with another key id, without failing authentication.
///
/// Version 1 (column-bound, written before schema 9) has the same layout with `0x01` and
/// `"table.column"` only: two rows of a column could be swapped unnoticed. Reads refuse it; only the
/// schema-9 migration opens it (`openColumnBound`), to seal it again bound to its row.
struct FieldCipher {
    let keys: KeyRing
    /// Reusable OpenSSL contexts (the cipher lives on one store thread).
    let contexts = CryptoContexts()
    /// The format written: row-bound.
    static let version: UInt8 = 2
    /// The format of stores written before schema 9: bound to the column only.
    static let columnBoundVersion: UInt8 = 1
    static let nonceLength = 12
    static let tagLength = 16

    /// Encrypts `plaintext` for `column` ("table.column") of `row` under the active key.
    func seal(_ plaintext: [UInt8], column: String, row: RowKey) throws(StoreError) -> [UInt8] {
        try seal(plaintext, version: Self.version, place: Array("\(column)#\(row)".utf8))
    }

    /// Encrypts a UTF-8 string for `column` of `row`.
    func seal(_ text: String, column: String, row: RowKey) throws(StoreError) -> [UInt8] {
        try seal(Array(text.utf8), column: column, row: row)
    }

    /// Decrypts and authenticates a ciphertext written for `column` of `row`; a wrong key, any altered
    /// byte, a ciphertext moved from another row or column, or a column-bound (version 1) one gives
    /// `.wrongKey` / `.missingKey` / `.integrity`, never garbage.
    func open(_ ciphertext: [UInt8], column: String, row: RowKey) throws(StoreError) -> [UInt8] {
        if ciphertext.first == Self.columnBoundVersion {
            throw StoreError.integrity("ciphertext in \(column) row \(row) is column-bound (format 1, not bound to its row): it was not sealed again when the store was bound to rows (schema 9), or it was copied in since")
        }
        return try open(ciphertext, version: Self.version, place: Array("\(column)#\(row)".utf8), naming: "\(column) row \(row)")
    }

    /// Decrypts a UTF-8 string written for `column` of `row`.
    func openText(_ ciphertext: [UInt8], column: String, row: RowKey) throws(StoreError) -> String {
        String(decoding: try open(ciphertext, column: column, row: row), as: UTF8.self)
    }

    /// Decrypts a column-bound (version 1) ciphertext of `column`: for the migration that seals it
    /// again bound to its row, nothing else.
    func openColumnBound(_ ciphertext: [UInt8], column: String) throws(StoreError) -> [UInt8] {
        try open(ciphertext, version: Self.columnBoundVersion, place: Array(column.utf8), naming: "\(column) (column-bound)")
    }

    /// The format byte of a ciphertext (1 column-bound, 2 row-bound), nil when it is neither.
    static func format(of ciphertext: [UInt8]) -> UInt8? {
        guard let first = ciphertext.first, first == version || first == columnBoundVersion else { return nil }
        return first
    }

    /// The key id a ciphertext (either format) was written with.
    static func keyID(of ciphertext: [UInt8]) throws(StoreError) -> String {
        guard ciphertext.count >= 2, format(of: ciphertext) != nil else {
            throw StoreError.integrity("not an hssk ciphertext (format byte \(ciphertext.first.map(String.init) ?? "none"))")
        }
        let n = Int(ciphertext[1])
        guard ciphertext.count >= 2 + n + nonceLength + tagLength else { throw StoreError.integrity("truncated ciphertext") }
        return String(decoding: ciphertext[2..<(2 + n)], as: UTF8.self)
    }

    /// Seals in format `version`; the associated data is the header followed by `place`.
    private func seal(_ plaintext: [UInt8], version: UInt8, place: [UInt8]) throws(StoreError) -> [UInt8] {
        let keyID = keys.activeKeyID
        let key = try keys.key(keyID)
        var header: [UInt8] = [version, UInt8(keyID.utf8.count)]
        header += Array(keyID.utf8)
        let nonce = try randomBytes(Self.nonceLength)
        let aad = header + place
        let ctx = try contexts.cipherContext(keyID: keyID, key: key, encrypt: true)
        var out = [UInt8](repeating: 0, count: plaintext.count + 16)
        var length: Int32 = 0, total = 0
        var tag = [UInt8](repeating: 0, count: Self.tagLength)
        var ok = EVP_EncryptInit_ex2(ctx, nil, nil, nonce, nil) == 1
        ok = ok && EVP_EncryptUpdate(ctx, nil, &length, aad, Int32(aad.count)) == 1
        if ok && !plaintext.isEmpty {
            ok = out.withUnsafeMutableBufferPointer { EVP_EncryptUpdate(ctx, $0.baseAddress, &length, plaintext, Int32(plaintext.count)) } == 1
            total = Int(length)
        }
        ok = ok && out.withUnsafeMutableBufferPointer { EVP_EncryptFinal_ex(ctx, $0.baseAddress! + total, &length) } == 1
        total += Int(length)
        ok = ok && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, Int32(Self.tagLength), &tag) == 1
        guard ok else { throw StoreError.backend("AES-256-GCM encryption failed") }
        var sealed = [UInt8]()
        sealed.reserveCapacity(header.count + nonce.count + total + tag.count)
        sealed += header
        sealed += nonce
        sealed += out[0..<total]
        sealed += tag
        return sealed
    }

    /// Opens a ciphertext of format `version` whose associated data ends with `place`; `naming` is
    /// where it lies, for the error.
    private func open(_ ciphertext: [UInt8], version: UInt8, place: [UInt8], naming: String) throws(StoreError) -> [UInt8] {
        let keyID = try Self.keyID(of: ciphertext)
        guard ciphertext[0] == version else {
            throw StoreError.integrity("ciphertext in \(naming) has format \(ciphertext[0]), expected \(version)")
        }
        let key = try keys.key(keyID)
        let headerLength = 2 + Int(ciphertext[1])
        let aad = Array(ciphertext[0..<headerLength]) + place
        let nonce = Array(ciphertext[headerLength..<(headerLength + Self.nonceLength)])
        let body = Array(ciphertext[(headerLength + Self.nonceLength)..<(ciphertext.count - Self.tagLength)])
        var tag = Array(ciphertext[(ciphertext.count - Self.tagLength)...])
        let ctx = try contexts.cipherContext(keyID: keyID, key: key, encrypt: false)
        var out = [UInt8](repeating: 0, count: body.count + 16)
        var length: Int32 = 0, total = 0
        var ok = EVP_DecryptInit_ex2(ctx, nil, nil, nonce, nil) == 1
        ok = ok && EVP_DecryptUpdate(ctx, nil, &length, aad, Int32(aad.count)) == 1
        if ok && !body.isEmpty {
            ok = out.withUnsafeMutableBufferPointer { EVP_DecryptUpdate(ctx, $0.baseAddress, &length, body, Int32(body.count)) } == 1
            total = Int(length)
        }
        ok = ok && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, Int32(Self.tagLength), &tag) == 1
        guard ok else { throw StoreError.backend("AES-256-GCM setup failed") }
        let final = out.withUnsafeMutableBufferPointer { EVP_DecryptFinal_ex(ctx, $0.baseAddress! + total, &length) }
        guard final == 1 else {
            throw StoreError.integrity("ciphertext in \(naming) under key '\(keyID)' failed authentication: the key file's key '\(keyID)' is wrong, or the data was altered or moved from another row")
        }
        total += Int(length)
        return Array(out[0..<total])
    }

    /// HMAC-SHA256 under the blind-index key of `domain` + NUL + `value`, truncated to 16 bytes
    /// (2^128 values: collisions are not a concern; halves the index size).
    func blindIndex(_ domain: String, _ value: String) -> [UInt8] {
        Array(hmac(key: keys.blindIndexKey, Array(domain.utf8) + [0] + Array(value.utf8)).prefix(16))
    }

    /// Full HMAC-SHA256.
    func hmac(key: [UInt8], _ data: [UInt8]) -> [UInt8] {
        if let fast = contexts.hmacSHA256(key: key, data) { return fast }
        var out = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 32
        _ = HMAC(EVP_sha256(), key, Int32(key.count), data, data.count, &out, &length)
        return out
    }

    /// The audit chain's MAC key, derived from the blind-index key so the key file stays one secret:
    /// without it nobody can rewrite the chain consistently, even with write access to the database.
    var auditKey: [UInt8] { hmac(key: keys.blindIndexKey, Array("hssk-audit-chain-v1".utf8)) }

    /// A check value stored in the database for a data key: decrypting it proves the key file holds
    /// the same key under that id (so a wrong key fails at open with a clear error).
    func keyCheck(for keyID: String) throws(StoreError) -> [UInt8] {
        hmac(key: try keys.key(keyID), Array("hssk-key-check-v1".utf8)).prefix(16).map { $0 }
    }

    /// The blind-index key's check value.
    var blindIndexCheck: [UInt8] { Array(hmac(key: keys.blindIndexKey, Array("hssk-blind-check-v1".utf8)).prefix(16)) }
}
