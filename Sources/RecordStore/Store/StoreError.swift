/// Every failure of the record store, with a code the caller can switch on.
///
/// `isTransient` tells ingest whether to retry with back-off (never dead-letter, never skip) or to
/// treat the failure as permanent.
public enum StoreError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The database is locked by another writer or a transaction was chosen as a deadlock victim: retry.
    case busy(String)
    /// The connection to the database server was lost or could not be made: retry.
    case connectionLost(String)
    /// The database's disk (or its size limit) is full: nothing was written; retry once space is freed.
    case full(String)
    /// The database was written by a newer hssk (schema `found` > `supported`): upgrade hssk first.
    case schemaTooNew(found: Int, supported: Int)
    /// The database is not an hssk store or its schema is damaged.
    case schemaInvalid(String)
    /// No key file / environment key was given, or it lacks a key id the data needs.
    case missingKey(String)
    /// The key file is malformed.
    case invalidKeyFile(String)
    /// A key does not match the data: the key file holds a different key under this id.
    case wrongKey(String)
    /// A ciphertext failed authentication (tampered or truncated), or an audit chain link is broken.
    case integrity(String)
    /// A uniqueness or reference rule was violated.
    case constraint(String)
    /// A personal ID is already active on, or was ever held by, another person: another writer created
    /// or changed that person meanwhile (link again, now finding it), or the batch must go to review.
    case identityConflict(String)
    /// The caller asked for something that does not exist or is not allowed in the current state.
    case invalidRequest(String)
    /// The stored position is not where the batch starts (another consumer moved it, or the batch
    /// would skip records): nothing was applied; read again from the stored position.
    case offsetMoved(String)
    /// The store was closed.
    case closed
    /// Any other database or file-system failure, with the backend's message.
    case backend(String)

    /// True when retrying the same operation later may succeed.
    public var isTransient: Bool {
        switch self {
        case .busy, .connectionLost, .full: return true
        default: return false
        }
    }

    /// True when the failure lies in stored data (a ciphertext that fails authentication, a stored value
    /// this version cannot read), not in the store or its configuration: a reader quarantines what
    /// needs that data and goes on with the rest (DESIGN §6: one bad row is quarantined, never a stop).
    public var isDamagedData: Bool {
        switch self {
        case .integrity, .schemaInvalid: return true
        default: return false
        }
    }

    /// The case as a code for logs and metrics (`store.integrity`): never the message, which may name data.
    public var code: String {
        switch self {
        case .busy: return "store.busy"
        case .connectionLost: return "store.connectionLost"
        case .full: return "store.full"
        case .schemaTooNew: return "store.schemaTooNew"
        case .schemaInvalid: return "store.schemaInvalid"
        case .missingKey: return "store.missingKey"
        case .invalidKeyFile: return "store.invalidKeyFile"
        case .wrongKey: return "store.wrongKey"
        case .integrity: return "store.integrity"
        case .constraint: return "store.constraint"
        case .identityConflict: return "store.identityConflict"
        case .invalidRequest: return "store.invalidRequest"
        case .offsetMoved: return "store.offsetMoved"
        case .closed: return "store.closed"
        case .backend: return "store.backend"
        }
    }

    /// A human-readable explanation.
    public var description: String {
        switch self {
        case .busy(let m): return "database busy (transient, retry): \(m)"
        case .connectionLost(let m): return "database connection lost (transient, retry): \(m)"
        case .full(let m): return "database disk full (transient, retry once space is freed): \(m)"
        case .schemaTooNew(let found, let supported):
            return "the database has schema version \(found) but this hssk supports up to \(supported): upgrade hssk before opening it"
        case .schemaInvalid(let m): return "not a valid hssk store: \(m)"
        case .missingKey(let m): return "encryption key missing: \(m)"
        case .invalidKeyFile(let m): return "invalid key file: \(m)"
        case .wrongKey(let m): return "wrong encryption key: \(m)"
        case .integrity(let m): return "integrity check failed: \(m)"
        case .constraint(let m): return "constraint violated: \(m)"
        case .identityConflict(let m): return "identity conflict: \(m)"
        case .invalidRequest(let m): return "invalid request: \(m)"
        case .offsetMoved(let m): return "consumer position moved by another consumer: \(m)"
        case .closed: return "the store is closed"
        case .backend(let m): return "database error: \(m)"
        }
    }
}
