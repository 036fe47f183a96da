import Foundation
import HealthModel

/// Holds the engine for the store thread.
///
/// `@unchecked Sendable` is safe because `engine` (and its connection) is touched only inside jobs
/// run by the owning store's `StoreThread`, one at a time, in order; no other thread ever reads it.
final class EngineBox: @unchecked Sendable {
    var engine: StoreEngine?
    init(_ engine: StoreEngine) { self.engine = engine }
}

/// The shared implementation of both backends: every call is one job on the store's own thread.
public class SQLStore: HealthRecordStore, @unchecked Sendable {
    // @unchecked Sendable: all stored properties are immutable references to Sendable objects
    // (`StoreThread`, `EngineBox`); the mutable engine inside the box is confined to the thread.
    let thread: StoreThread
    let box: EngineBox
    /// `sqlite` or `postgres`.
    public let backendName: String

    init(backendName: String, thread: StoreThread, box: EngineBox) {
        self.backendName = backendName
        self.thread = thread
        self.box = box
    }

    /// Opens a connection and its engine on a new store thread.
    static func start(name: String, connect: @escaping @Sendable () throws -> SQLConnection,
                      keys: KeyRing, mustExist: Bool) async throws -> (StoreThread, EngineBox) {
        let thread = StoreThread(name: "hssk-store-\(name)")
        do {
            let box = try await thread.run { () -> EngineBox in
                let connection = try connect()
                do {
                    return EngineBox(try StoreEngine(db: connection, keys: keys, mustExist: mustExist))
                } catch {
                    connection.close()
                    throw error
                }
            }
            return (thread, box)
        } catch {
            thread.stop()
            throw error
        }
    }

    /// Runs `body` with the engine on the store thread.
    func onThread<T: Sendable>(_ body: @escaping @Sendable (StoreEngine) throws -> T) async throws -> T {
        let box = self.box
        return try await thread.run {
            guard let engine = box.engine else { throw StoreError.closed }
            return try body(engine)
        }
    }

    public func apply(_ batch: StoreBatch) async throws -> ApplyResult { try await onThread { try $0.apply(batch) } }
    public func offsets(group: String, partitions: [TopicPartition]) async throws -> [TopicPartition: Int64] {
        try await onThread { try $0.offsets(group: group, partitions: partitions) }
    }
    public func findPersons(_ type: IdentifierType, _ value: String, includeHistoric: Bool = true) async throws -> [IdentifierMatch] {
        try await onThread { try $0.findPersons(type, value, includeHistoric: includeHistoric) }
    }
    public func findPersons(blockingKey: String) async throws -> [PersonID] { try await onThread { try $0.findPersons(blockingKey: blockingKey) } }
    public func person(_ id: PersonID) async throws -> StoredPerson? { try await onThread { try $0.person(id) } }
    public func lookupIdentity(identifiers: [IdentifierKey], blockingKeys: [String], maxBlockSize: Int) async throws -> IdentityLookup {
        try await onThread { try $0.lookupIdentity(identifiers: identifiers, blockingKeys: blockingKeys, maxBlockSize: maxBlockSize) }
    }
    public func blockMembers(_ blockingKeys: [String], maxBlockSize: Int) async throws -> [String: [PersonID]] {
        try await onThread { try $0.blockMembers(blockingKeys, maxBlockSize: maxBlockSize) }
    }
    public func personSnapshots(_ ids: [PersonID]) async throws -> [PersonID: PersonSnapshot] {
        try await onThread { try $0.personSnapshots(ids) }
    }
    public func activePersons(after: PersonID?, limit: Int) async throws -> [PersonSnapshot] {
        try await onThread { try $0.activePersons(after: after, limit: limit) }
    }
    public func recordAttempts(group: String, starts: [TopicPartition: Int64]) async throws -> [TopicPartition: Int] {
        try await onThread { try $0.recordAttempts(group: group, starts: starts) }
    }
    public func consumerRanges(group: String?) async throws -> [ConsumerRange] { try await onThread { try $0.consumerRanges(group: group) } }
    public func acceptGap(group: String, partition: TopicPartition, from: Int64, to: Int64, actor: String, reason: String) async throws {
        try await onThread { try $0.acceptGap(group: group, partition: partition, from: from, to: to, actor: actor, reason: reason) }
    }
    public func acquireRelayLease(_ name: String, holder: String, ttl: Duration) async throws -> RelayLease? {
        let ttlMs = Self.milliseconds(ttl)
        return try await onThread { try $0.acquireRelayLease(name, holder: holder, ttlMs: ttlMs) }
    }
    public func releaseRelayLease(_ name: String, holder: String) async throws { try await onThread { try $0.releaseRelayLease(name, holder: holder) } }
    public func undeliveredDeadLetters(group: String, limit: Int, maxBytes: Int) async throws -> [StoredDeadLetter] {
        try await onThread { try $0.undeliveredDeadLetters(group: group, limit: limit, maxBytes: maxBytes) }
    }
    public func markDeadLettersSending(_ ids: [Int64], marks: [DeadLetterMark], lease name: String, holder: String, ttl: Duration) async throws {
        let ttlMs = Self.milliseconds(ttl)
        try await onThread { try $0.markDeadLettersSending(ids, marks: marks, lease: name, holder: holder, ttlMs: ttlMs) }
    }
    public func markDeadLettersDelivered(_ deliveries: [DeadLetterDelivery], lease name: String, holder: String) async throws {
        try await onThread { try $0.markDeadLettersDelivered(deliveries, lease: name, holder: holder) }
    }
    public func markDeadLettersPending(_ ids: [Int64], lease name: String, holder: String) async throws {
        try await onThread { try $0.markDeadLettersPending(ids, lease: name, holder: holder) }
    }
    public func markDeadLetterFailed(_ id: Int64, reason: String, lease name: String, holder: String) async throws {
        try await onThread { try $0.markDeadLetterFailed(id, reason: reason, lease: name, holder: holder) }
    }
    public func deadLetterBacklog(group: String?) async throws -> DeadLetterBacklog { try await onThread { try $0.deadLetterBacklog(group: group) } }

    private static func milliseconds(_ duration: Duration) -> Int64 {
        duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
    }
    public func addIdentifier(_ entry: IdentifierEntry, to person: PersonID, actor: String) async throws {
        try await onThread { engine in
            try engine.db.transaction {
                let now = StoreEngine.timestamp()
                try engine.addIdentifier(entry, to: person, at: now)
                if entry.type == .personalId {
                    // The key of the person's citizen document changes (ingest writes its own message in a batch).
                    try engine.insertOutbox([(OutboxKinds.citizenFeed, String(person.rawValue), PersonChange(reason: .identifier).payload)], at: now)
                }
                try engine.appendAudit(actor: actor, action: "add-identifier", subject: "person:\(person.rawValue)",
                                       detail: "type=\(entry.type.rawValue) source=\(entry.source)", at: now)
            }
        }
    }
    public func merge(_ merged: PersonID, into survivor: PersonID, reason: String, actor: String, keepingActive: [IdentifierKey]) async throws -> Int64 {
        try await onThread { try $0.merge(merged, into: survivor, reason: reason, actor: actor, keepingActive: keepingActive) }
    }
    public func undoMerge(_ mergeID: Int64, actor: String) async throws { try await onThread { try $0.undoMerge(mergeID, actor: actor) } }
    public func merges(involving person: PersonID) async throws -> [MergeLogEntry] { try await onThread { try $0.merges(involving: person) } }
    public func relations(of person: PersonID) async throws -> [PersonRelation] { try await onThread { try $0.relations(of: person) } }
    public func personFile(_ id: PersonID) async throws -> PersonFile? { try await onThread { try $0.personFile(id) } }
    public func personFiles(_ ids: [PersonID]) async throws -> [PersonID: Result<PersonFile, StoreError>] {
        try await onThread { engine in
            var files: [PersonID: Result<PersonFile, StoreError>] = [:]
            for id in ids {
                do {
                    if let file = try engine.personFile(id) { files[id] = .success(file) }
                } catch let error as StoreError where error.isDamagedData {
                    files[id] = .failure(error)
                }
            }
            return files
        }
    }
    public func openReview(_ draft: ReviewTaskDraft, actor: String) async throws -> Int64 {
        try await onThread { engine in
            try engine.db.transaction {
                let now = StoreEngine.timestamp()
                let persons = try draft.persons.map { ref -> PersonID in
                    guard case .existing(let id) = ref else { throw StoreError.invalidRequest("review tasks outside a batch name existing persons only") }
                    return id
                }
                let id = try engine.insertReview(kind: draft.kind, persons: persons, evidence: draft.evidence, at: now)
                try engine.appendAudit(actor: actor, action: "open-review", subject: "review_task:\(id)", detail: "kind=\(draft.kind)", at: now)
                return id
            }
        }
    }
    public func reviewTasks(includeResolved: Bool = false) async throws -> [ReviewTask] {
        try await onThread { try $0.reviewTasks(includeResolved: includeResolved) }
    }
    public func resolveReview(_ id: Int64, resolution: String, actor: String) async throws {
        try await onThread { try $0.resolveReview(id, resolution: resolution, actor: actor) }
    }
    public func sourceVersions(topic: String, key: String) async throws -> [SourceVersion] {
        try await onThread { try $0.sourceVersions(topic: topic, key: key) }
    }
    public func pendingOutbox(kind: String, limit: Int = 1000) async throws -> [OutboxEntry] {
        try await onThread { try $0.pendingOutbox(kind: kind, limit: limit) }
    }
    public func markOutboxDone(_ ids: [Int64]) async throws { try await onThread { try $0.markOutboxDone(ids) } }
    public func quarantineOutbox(_ ids: [Int64], code: String, actor: String) async throws -> Int {
        try await onThread { try $0.quarantineOutbox(ids, code: code, actor: actor) }
    }
    public func quarantinedOutbox(kind: String, limit: Int) async throws -> [QuarantinedOutboxEntry] {
        try await onThread { try $0.quarantinedOutbox(kind: kind, limit: limit) }
    }
    public func outboxBacklog(kind: String) async throws -> Int { try await onThread { try $0.outboxBacklog(kind: kind) } }
    public func insuranceCard(bhxhNumber: String) async throws -> InsuranceCardRecord? {
        try await onThread { try $0.insuranceCard(bhxhNumber: bhxhNumber) }
    }
    public func insuranceView(_ person: PersonID) async throws -> InsurancePersonView? { try await onThread { try $0.insuranceView(person) } }
    public func planSupplements(_ drafts: [SupplementDraft], outboxDone: [Int64]) async throws -> [SupplementDraft] {
        try await onThread { try $0.planSupplements(drafts, outboxDone: outboxDone) }
    }
    public func pendingSupplements(limit: Int) async throws -> [PendingSupplement] { try await onThread { try $0.pendingSupplements(limit: limit) } }
    public func markSupplementsSent(_ ids: [String]) async throws { try await onThread { try $0.markSupplementsSent(ids) } }
    public func supplements(ids: [String]) async throws -> [String: SupplementLedgerEntry] { try await onThread { try $0.supplements(ids: ids) } }
    public func recordSupplementAnswers(_ answers: [SupplementAnswer], deadLetters: [DeadLetterDraft], offsets: [ConsumerOffset],
                                        actor: String) async throws -> Int {
        try await onThread { try $0.recordSupplementAnswers(answers, deadLetters: deadLetters, offsets: offsets, actor: actor) }
    }
    public func queueForCardHolders(kind: String, payload: [UInt8]) async throws -> Int {
        try await onThread { try $0.queueForCardHolders(kind: kind, payload: payload) }
    }
    public func insuranceReport(day: String) async throws -> InsuranceReport { try await onThread { try $0.insuranceReport(day: day) } }
    public func saveAccount(_ account: InteropAccount) async throws { try await onThread { try $0.saveAccount(account) } }
    public func account(named name: String) async throws -> InteropAccount? { try await onThread { try $0.account(named: name) } }
    public func accounts(named names: Set<String>) async throws -> [String: InteropAccount] { try await onThread { try $0.accounts(named: names) } }
    public func touchAccount(named name: String) async throws { try await onThread { try $0.touchAccount(named: name) } }
    public func accounts() async throws -> [InteropAccount] { try await onThread { try $0.accounts() } }
    public func createAccount(_ account: InteropAccount, actor: String) async throws -> Bool {
        try await onThread { try $0.createAccount(account, actor: actor) }
    }
    public func setAccountLocked(named name: String, locked: Bool, actor: String) async throws -> AccountChange {
        try await onThread { try $0.setAccountLocked(named: name, locked: locked, actor: actor) }
    }
    public func replaceSigningKey(named name: String, with key: [UInt8], actor: String) async throws -> AccountChange {
        try await onThread { try $0.replaceSigningKey(named: name, with: key, actor: actor) }
    }
    public func lockInactiveAccounts(unusedSince cutoff: Date, actor: String) async throws -> [String] {
        try await onThread { try $0.lockInactiveAccounts(unusedSince: cutoff, actor: actor) }
    }
    public func saveMatchModel(_ model: StoredMatchModel, actor: String) async throws {
        try await onThread { try $0.saveMatchModel(model, actor: actor) }
    }
    public func matchModel(named name: String) async throws -> StoredMatchModel? { try await onThread { try $0.matchModel(named: name) } }
    public func audit(actor: String, action: String, subject: String, detail: String) async throws {
        try await onThread { try $0.audit(actor: actor, action: action, subject: subject, detail: detail) }
    }
    public func verify() async throws -> VerifyReport { try await onThread { try $0.verify() } }
    public func reencrypt(batchSize: Int = 500) async throws -> RotationReport { try await onThread { try $0.reencrypt(batchSize: batchSize) } }
    public func contentDigest() async throws -> [String: String] { try await onThread { try $0.contentDigest() } }

    /// Backend-specific; overridden by both backends.
    public func backup(to directory: String) async throws -> String {
        throw StoreError.invalidRequest("backup is not supported by this backend")
    }

    public func close() async {
        let box = self.box
        _ = try? await thread.run {
            box.engine?.db.close()
            box.engine = nil
        }
        thread.stop()
    }

    deinit {
        // A store dropped without close(): close the connection on its own thread, then end the thread.
        let box = self.box
        thread.submit {
            box.engine?.db.close()
            box.engine = nil
        }
        thread.stop()
    }

    /// A file name for a backup taken now: `hssk-<UTC timestamp>.<ext>`.
    static func backupName(_ ext: String) -> String {
        let stamp = Date().formatted(Date.ISO8601FormatStyle().year().month().day().dateTimeSeparator(.standard).time(includingFractionalSeconds: true))
            .replacingOccurrences(of: ":", with: "").replacingOccurrences(of: "-", with: "").replacingOccurrences(of: ".", with: "")
        return "hssk-\(stamp).\(ext)"
    }

    /// Creates `directory` (mode 0700) when missing.
    static func prepareDirectory(_ directory: String) throws(StoreError) {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw StoreError.backend("cannot create backup directory '\(directory)': \(error.localizedDescription)")
        }
    }
}

