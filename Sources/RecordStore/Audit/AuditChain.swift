import COpenSSL
import Foundation

/// The audit log's hash chain: row n stores HMAC-SHA256(audit key, hash of row n-1 ‖ row n's fields).
///
/// A keyed hash (the key is derived from the key file, never stored) means someone with write access
/// to the database alone cannot rewrite history and recompute a valid chain. Fields are length-prefixed
/// so that no two different rows serialise to the same bytes.
enum AuditChain {
    /// The "previous hash" of the first row.
    static let genesis = [UInt8](repeating: 0, count: 32)

    /// The hash of a row given the previous row's hash.
    static func hash(key: [UInt8], previous: [UInt8], fields: [String]) -> [UInt8] {
        var data = previous
        for field in fields {
            let bytes = Array(field.utf8)
            let n = UInt32(bytes.count)
            data += [UInt8(n >> 24), UInt8((n >> 16) & 0xff), UInt8((n >> 8) & 0xff), UInt8(n & 0xff)]
            data += bytes
        }
        var out = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 32
        _ = HMAC(EVP_sha256(), key, Int32(key.count), data, data.count, &out, &length)
        return out
    }
}

extension StoreEngine {
    /// Appends an audit entry in its own transaction.
    func audit(actor: String, action: String, subject: String, detail: String) throws {
        try db.transaction { try appendAudit(actor: actor, action: action, subject: subject, detail: detail, at: Self.timestamp()) }
    }

    /// Walks the whole chain; returns rows checked and every broken link (a changed row fails its own
    /// hash; a deleted row leaves a gap in `seq` and a wrong `prev_hash` on the next).
    func verifyAuditChain() throws -> (rows: Int, problems: [String]) {
        var problems: [String] = []
        var expectedSeq: Int64 = 1
        var previous = AuditChain.genesis
        var rows = 0
        let key = cipher.auditKey
        while true {
            let chunk = try db.query("SELECT seq, at, actor, action, subject, detail, prev_hash, hash FROM audit_log WHERE seq >= ? ORDER BY seq LIMIT 1000",
                                     [.int(expectedSeq)])
            if chunk.isEmpty { break }
            for row in chunk {
                rows += 1
                let seq = try row.int(0)
                if seq != expectedSeq { problems.append("audit_log: rows \(expectedSeq)…\(seq - 1) are missing") }
                let stored = try row.blob(7)
                if try row.blob(6) != previous { problems.append("audit_log row \(seq): prev_hash does not match row \(seq - 1)") }
                let computed = AuditChain.hash(key: key, previous: try row.blob(6),
                                               fields: [String(seq), try row.text(1), try row.text(2), try row.text(3), try row.text(4), try row.text(5)])
                if computed != stored { problems.append("audit_log row \(seq): content does not match its hash (altered)") }
                previous = stored
                expectedSeq = seq + 1
            }
        }
        return (rows, problems)
    }
}
