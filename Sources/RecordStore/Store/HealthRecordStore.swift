import Foundation
import HealthModel

/// What authenticating senders needs of the store: the role ingest and the insurance sync use, small
/// enough for a test to stand in for the store and count its calls.
public protocol SenderAccountStore: AnyObject, Sendable {
    /// The accounts among `names` that exist, with their signing keys, keyed by name; one call for all.
    func accounts(named names: Set<String>) async throws -> [String: InteropAccount]
    /// Records that an account was seen now.
    func touchAccount(named name: String) async throws
}

/// The health-record store: two backends (SQLite, PostgreSQL) with identical behaviour, seen by each
/// service through the roles below; `HealthRecordStore` is all of them, what the backends implement.
///
/// All methods throw `StoreError` only. Every call runs on the store's own thread; concurrent
/// callers are serialised per store, and separate stores on one database exclude each other's writes.
public protocol HealthRecordStore: BatchStore, PersonIndexStore, OutboxStore, InsuranceLedger, AccountStore, StoreMaintenance {}

/// What ingest writes: consumer batches, exactly once, fenced by the stored positions.
public protocol BatchStore: ConsumerPositions, DeadLetterStore, SenderAccountStore {
    /// Applies a consumer batch atomically: records, identity, outbox, dead letters and offsets, or nothing.
    func apply(_ batch: StoreBatch) async throws -> ApplyResult

    /// All stored versions of a source key on a topic, oldest first.
    func sourceVersions(topic: String, key: String) async throws -> [SourceVersion]
}

/// What the person index reads and changes: identifiers, blocks, snapshots, merges, reviews, its match model.
public protocol PersonIndexStore: AnyObject, Sendable {
    /// Persons having an identifier with this value (active and, when asked, historic ones).
    func findPersons(_ type: IdentifierType, _ value: String, includeHistoric: Bool) async throws -> [IdentifierMatch]
    /// Persons sharing a blocking key.
    func findPersons(blockingKey: String) async throws -> [PersonID]
    /// A person with demographics and all identifiers (decrypted), or nil.
    func person(_ id: PersonID) async throws -> StoredPerson?
    /// One round trip for a batch's linking: identifier holders, block members (blocks larger than
    /// `maxBlockSize` left out) and snapshots of every active person named; merges are followed.
    func lookupIdentity(identifiers: [IdentifierKey], blockingKeys: [String], maxBlockSize: Int) async throws -> IdentityLookup
    /// Members of each block of at most `maxBlockSize` rows (larger blocks are absent and never read),
    /// without snapshots, for linkers that rank candidates first. Merges are not followed: a merged
    /// person's leftover rows name blocks its survivor is in already, and `personSnapshots` skips it.
    func blockMembers(_ blockingKeys: [String], maxBlockSize: Int) async throws -> [String: [PersonID]]
    /// Decrypted snapshots of the active persons among `ids`.
    func personSnapshots(_ ids: [PersonID]) async throws -> [PersonID: PersonSnapshot]
    /// Up to `limit` active persons with ids above `after`, in id order, with demographics and
    /// identifiers: a page of a sweep over the whole index (e.g. `hssk dedup`).
    func activePersons(after: PersonID?, limit: Int) async throws -> [PersonSnapshot]
    /// Adds an identifier in its own transaction (see `IdentityChange.addIdentifier`); a personal ID
    /// also queues a `citizen-feed` outbox message for the person in that transaction.
    func addIdentifier(_ entry: IdentifierEntry, to person: PersonID, actor: String) async throws
    /// Merges `merged` into `survivor`: its identifiers, records and relations move; logged, undoable;
    /// queues `citizen-feed` and `insurance-supplement` messages for the survivor (`PersonChange.Reason.merge`).
    /// A person holds one active value of each `IdentifierType.singleValued` type: where the two held
    /// different ones, the value named in `keepingActive` stays active (the new number of a re-issue),
    /// else the survivor's own; the other is closed (historic, still searchable) and undo reopens it.
    func merge(_ merged: PersonID, into survivor: PersonID, reason: String, actor: String, keepingActive: [IdentifierKey]) async throws -> Int64
    /// Undoes a merge: exactly what it moved goes back and the merged person is active again; queues a
    /// `citizen-feed` and an `insurance-supplement` message for each of the two persons (`PersonChange.Reason.undoMerge`).
    func undoMerge(_ mergeID: Int64, actor: String) async throws
    /// Relations recorded for a person, in both directions (`kind` is as recorded: `person` has `kind` `other`).
    func relations(of person: PersonID) async throws -> [PersonRelation]
    /// Merge log entries involving a person (as survivor or merged).
    func merges(involving person: PersonID) async throws -> [MergeLogEntry]
    /// Opens a review task outside a batch.
    func openReview(_ draft: ReviewTaskDraft, actor: String) async throws -> Int64
    /// Review tasks, open ones only unless `includeResolved`.
    func reviewTasks(includeResolved: Bool) async throws -> [ReviewTask]
    /// Resolves a review task with a decision text.
    func resolveReview(_ id: Int64, resolution: String, actor: String) async throws

    /// Creates or replaces a match model's settings (estimated m/u), audited as `actor`.
    func saveMatchModel(_ model: StoredMatchModel, actor: String) async throws
    /// A match model's stored settings, nil when none were saved.
    func matchModel(named name: String) async throws -> StoredMatchModel?

}

/// What the outbox readers (citizen feed, insurance outbound) need: pending rows and the person files they rebuild from.
public protocol OutboxStore: AnyObject, Sendable {
    /// Everything the store holds about a person, read in one consistent snapshot: the person, their
    /// current (non-superseded) source records decrypted, their relations and the related persons.
    func personFile(_ id: PersonID) async throws -> PersonFile?
    /// The files of several persons in one call (one round trip for a round of the feed publisher), each
    /// read in its own consistent snapshot; unknown persons are absent. A person whose data cannot be
    /// read (`StoreError.isDamagedData`) is a failure of its own, never of the whole call.
    func personFiles(_ ids: [PersonID]) async throws -> [PersonID: Result<PersonFile, StoreError>]

    /// Pending outbox messages of a kind, oldest first. A row whose payload fails authentication is
    /// returned with `OutboxEntry.problem` set, not thrown: one damaged row must not stop its reader.
    func pendingOutbox(kind: String, limit: Int) async throws -> [OutboxEntry]
    /// Marks outbox messages done.
    func markOutboxDone(_ ids: [Int64]) async throws
    /// Takes rows its reader cannot process out of the pending set for good, with a reason code (no
    /// personal data), audited; rows already done are left alone. Returns how many were quarantined.
    func quarantineOutbox(_ ids: [Int64], code: String, actor: String) async throws -> Int
    /// Quarantined outbox rows of a kind, oldest first (for operators).
    func quarantinedOutbox(kind: String, limit: Int) async throws -> [QuarantinedOutboxEntry]
    /// Outbox rows of `kind` not yet done (the metrics' backlog gauge).
    func outboxBacklog(kind: String) async throws -> Int

}

/// The insurance sync's ledger: cards as BHXH sent them, supplements and BHXH's answers.
public protocol InsuranceLedger: ConsumerPositions, DeadLetterStore, SenderAccountStore {
    /// The card of a BHXH number (state folded in effective order, linked persons), nil when unknown.
    func insuranceCard(bhxhNumber: String) async throws -> InsuranceCardRecord?
    /// What the insurance sync needs of a person: linked cards and current non-insurance records.
    func insuranceView(_ person: PersonID) async throws -> InsurancePersonView?
    /// Records supplements as pending (skipping a value equal to its field's newest ledger value) and
    /// marks `outboxDone` done, in one transaction; returns the drafts recorded.
    func planSupplements(_ drafts: [SupplementDraft], outboxDone: [Int64]) async throws -> [SupplementDraft]
    /// Pending supplements, oldest first.
    func pendingSupplements(limit: Int) async throws -> [PendingSupplement]
    /// Marks supplements delivered to the cluster.
    func markSupplementsSent(_ ids: [String]) async throws
    /// Ledger rows by supplement id.
    func supplements(ids: [String]) async throws -> [String: SupplementLedgerEntry]
    /// Records BHXH's answers and the dead letters of unusable acknowledgements with the answer
    /// consumer's offsets in one transaction (fenced like `apply`).
    func recordSupplementAnswers(_ answers: [SupplementAnswer], deadLetters: [DeadLetterDraft], offsets: [ConsumerOffset], actor: String) async throws -> Int
    /// Queues an outbox message of `kind` for every active person linked to a card; returns how many.
    func queueForCardHolders(kind: String, payload: [UInt8]) async throws -> Int
    /// Counts for the insurance report, card validity judged on `day` (`YYYY-MM-DD`).
    func insuranceReport(day: String) async throws -> InsuranceReport

}

/// Interop accounts (Hà Nội regulation art. 7) as operators manage them.
public protocol AccountStore: SenderAccountStore {
    /// Creates or updates an interop account; the signing key is stored encrypted.
    func saveAccount(_ account: InteropAccount) async throws
    /// An interop account by name.
    func account(named name: String) async throws -> InteropAccount?
    /// Every interop account, sorted by name, without signing keys.
    func accounts() async throws -> [InteropAccount]
    /// Creates an account (key stored encrypted) and audits it as `actor`; false when the name is taken (nothing changes).
    func createAccount(_ account: InteropAccount, actor: String) async throws -> Bool
    /// Locks or unlocks an account, audited as `actor`; unlocking restarts its inactivity period (sets last seen to now).
    func setAccountLocked(named name: String, locked: Bool, actor: String) async throws -> AccountChange
    /// Replaces an account's signing key (stored encrypted), audited as `actor`.
    func replaceSigningKey(named name: String, with key: [UInt8], actor: String) async throws -> AccountChange
    /// Locks every unlocked account last seen (or, never seen, created) before `cutoff`; one audit row each; returns their names.
    func lockInactiveAccounts(unusedSince cutoff: Date, actor: String) async throws -> [String]

}

/// Audit, verification, key rotation and backups (art. 19).
public protocol StoreMaintenance: AnyObject, Sendable {
    /// `sqlite` or `postgres`.
    var backendName: String { get }

    /// Appends an audit entry (no personal data in `subject` / `detail`: ids and counts only).
    func audit(actor: String, action: String, subject: String, detail: String) async throws
    /// Checks schema, audit chain, every ciphertext and the offsets.
    func verify() async throws -> VerifyReport
    /// Re-encrypts every ciphertext not under the active key, `batchSize` rows per transaction.
    func reencrypt(batchSize: Int) async throws -> RotationReport
    /// Writes a backup into `directory` and returns its path.
    func backup(to directory: String) async throws -> String
    /// Digest of every table's logical contents (for backup → restore comparisons).
    func contentDigest() async throws -> [String: String]
    /// Closes the store; later calls throw `.closed`.
    func close() async
}

/// A person found by an identifier.
public struct IdentifierMatch: Sendable, Hashable {
    /// The person holding it.
    public var person: PersonID
    /// True while the identifier is valid (no `validTo`).
    public var active: Bool
    /// Validity start.
    public var validFrom: String
    /// Validity end, for a historic identifier.
    public var validTo: String?
}

/// An identifier as stored, decrypted.
public struct StoredIdentifier: Sendable, Hashable {
    /// Kind.
    public var type: IdentifierType
    /// Value.
    public var value: String
    /// Validity start.
    public var validFrom: String
    /// Validity end (nil while active).
    public var validTo: String?
    /// Where it came from.
    public var source: String
}

/// A person with demographics and identifiers.
public struct StoredPerson: Sendable, Hashable {
    /// Id.
    public var id: PersonID
    /// Demographics, when known.
    public var demographics: Demographics?
    /// Identifiers, active and historic.
    public var identifiers: [StoredIdentifier]
    /// Set when the person was merged into another.
    public var mergedInto: PersonID?
    /// Number of source records linked to the person.
    public var recordCount: Int
}

/// One stored version of a source record.
public struct SourceVersion: Sendable, Hashable {
    /// Row id.
    public var id: Int64
    /// Version number, from 1.
    public var version: Int
    /// The newer version's id, once superseded.
    public var supersededBy: Int64?
    /// The original bytes, decrypted.
    public var original: [UInt8]
    /// Where it was read.
    public var coordinates: KafkaCoordinates
    /// Sender account.
    public var sender: String
    /// The person it is linked to.
    public var person: PersonID?
}

/// A relation between two persons: `person` has `kind` `other` (a child's mother: person = child).
public struct PersonRelation: Sendable, Hashable {
    /// The person the relation was recorded for.
    public var person: PersonID
    /// Kind of relation.
    public var kind: RelationKind
    /// The related person.
    public var other: PersonID
}

/// A merge log entry.
public struct MergeLogEntry: Sendable, Hashable {
    /// Id.
    public var id: Int64
    /// The person kept.
    public var survivor: PersonID
    /// The person merged away.
    public var merged: PersonID
    /// Why.
    public var reason: String
    /// Who.
    public var actor: String
    /// True once undone.
    public var undone: Bool
}

/// A review task.
public struct ReviewTask: Sendable, Hashable {
    /// Id.
    public var id: Int64
    /// What to decide.
    public var kind: String
    /// Persons involved.
    public var persons: [PersonID]
    /// Evidence, decrypted.
    public var evidence: String
    /// Resolution, once resolved.
    public var resolution: String?
}

/// An outbox message as stored.
public struct OutboxEntry: Sendable, Hashable {
    /// Id (order of commit within a kind).
    public var id: Int64
    /// Kind.
    public var kind: String
    /// Key.
    public var key: String
    /// Payload, decrypted (empty when `problem` is set).
    public var payload: [UInt8]
    /// Why the payload could not be read (a ciphertext that fails authentication): quarantine the row.
    public var problem: StoreError?
}

/// An outbox row taken out of the pending set because its reader could not process it.
public struct QuarantinedOutboxEntry: Sendable, Hashable {
    /// The outbox row's id.
    public var id: Int64
    /// Its kind.
    public var kind: String
    /// Its key (a person id for the feed and insurance kinds).
    public var key: String
    /// Why (e.g. `outbox.unreadable`, `person.unreadable`).
    public var code: String
    /// When.
    public var quarantinedAt: String
}

/// An interop account (Hà Nội regulation art. 7 naming: `<facility>_lt_<initials>`).
public struct InteropAccount: Sendable, Hashable {
    /// Account name.
    public var name: String
    /// Facility code the account belongs to.
    public var facility: String
    /// Where the signing key lives when not stored here (e.g. a secret manager reference).
    public var keyReference: String?
    /// The HMAC signing key, when stored (encrypted at rest).
    public var signingKey: [UInt8]?
    /// Last time a record from the account was accepted.
    public var lastSeen: Date?
    /// Locked accounts are rejected.
    public var locked: Bool
    /// When the account was created (set by the store; ignored when saving).
    public var createdAt: Date?
    /// Creates an account.
    public init(name: String, facility: String, keyReference: String? = nil, signingKey: [UInt8]? = nil,
                lastSeen: Date? = nil, locked: Bool = false, createdAt: Date? = nil) {
        self.name = name
        self.facility = facility
        self.keyReference = keyReference
        self.signingKey = signingKey
        self.lastSeen = lastSeen
        self.locked = locked
        self.createdAt = createdAt
    }
}

/// What an account change did.
public enum AccountChange: Sendable, Hashable {
    /// The account was changed (and the change audited).
    case changed
    /// The account was already in the asked state; nothing written.
    case unchanged
    /// No account has that name; nothing written.
    case unknownAccount
}

/// What `verify` found.
public struct VerifyReport: Sendable, Codable {
    /// Schema version of the database.
    public var schemaVersion: Int
    /// Audit rows checked.
    public var auditRows: Int
    /// Ciphertexts decrypted and authenticated.
    public var ciphertexts: Int
    /// Ciphertexts per key id.
    public var keyUsage: [String: Int]
    /// Ciphertexts still bound only to their column (format 1, from before schema 9); each is also a problem.
    public var columnBound: Int
    /// Consumer offsets checked.
    public var offsets: Int
    /// Everything wrong; empty when the store is sound.
    public var problems: [String]
    /// True when no problem was found.
    public var ok: Bool { problems.isEmpty }
}

/// What a re-encryption pass did.
public struct RotationReport: Sendable, Codable {
    /// The key everything is now under.
    public var activeKeyID: String
    /// Ciphertexts examined.
    public var examined: Int
    /// Ciphertexts rewritten under the active key.
    public var reencrypted: Int
}

extension PersonIndexStore {
    /// The person index's stored match model (`StoredMatchModel.personIndex`), nil when none was saved.
    public func matchModel() async throws -> StoredMatchModel? { try await matchModel(named: StoredMatchModel.personIndex) }

    /// Merges `merged` into `survivor`, keeping the survivor's own single-valued identifiers active.
    public func merge(_ merged: PersonID, into survivor: PersonID, reason: String, actor: String) async throws -> Int64 {
        try await merge(merged, into: survivor, reason: reason, actor: actor, keepingActive: [])
    }
}
