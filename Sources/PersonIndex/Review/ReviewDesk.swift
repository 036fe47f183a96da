import Foundation
import HealthModel
import Linkage
import RecordStore

/// Why a review decision was refused.
public enum ReviewDeskError: Error, Sendable, Hashable, CustomStringConvertible {
    /// No task has this id.
    case noSuchTask(Int64)
    /// The task was decided already.
    case alreadyResolved(Int64, resolution: String)
    /// The decision does not apply to this kind of task.
    case notApplicable(task: Int64, kind: String, decision: String, hint: String)
    /// The person does not exist or was merged into another.
    case personUnavailable(PersonID)
    /// A person cannot be linked to itself.
    case samePerson(PersonID)
    /// The task names no record, or its record is no longer stored.
    case recordMissing(task: Int64)

    /// What went wrong, for the operator.
    public var description: String {
        switch self {
        case .noSuchTask(let id): return "no review task \(id)"
        case .alreadyResolved(let id, let resolution): return "review task \(id) is already resolved (\(resolution))"
        case .notApplicable(let id, let kind, let decision, let hint): return "'\(decision)' does not apply to task \(id) (\(kind)): \(hint)"
        case .personUnavailable(let person): return "person \(person) does not exist or was merged into another"
        case .samePerson(let person): return "task's person is \(person) already"
        case .recordMissing(let id): return "review task \(id) names no stored record"
        }
    }
}

/// A review task with what a reviewer needs to decide it.
public struct ReviewCase: Sendable {
    /// The task.
    public var task: ReviewTask
    /// Its evidence, when in the person index's own format.
    public var evidence: ReviewEvidence?
    /// Every person the task names, as stored now (nil when gone).
    public var persons: [(id: PersonID, person: StoredPerson?)]
    /// The record that raised the task, as stored.
    public var record: SourceVersion?
    /// That record decoded.
    public var decoded: SourceRecord?
}

/// What a decision did.
public enum ReviewDecision: Sendable, Hashable {
    /// `merged` was merged into `survivor` (undo with the merge id).
    case merged(mergeID: Int64, merged: PersonID, survivor: PersonID)
    /// The held-back record now belongs to the person.
    case recordLinked(sourceRecordID: Int64, person: PersonID)
    /// The persons are different people and stay apart.
    case keptApart
    /// The held-back record became a new person.
    case newPerson(PersonID, sourceRecordID: Int64)
}

/// The operator's side of the person index (Hà Nội art. 13.5: duplicates are resolved by people):
/// list and show review tasks, and decide them. Every decision is audited with the operator as actor
/// and, when a person's record changes, queues a `citizen-feed` message (merges through the store).
///
/// Tasks come in two families. `possibleDuplicate` names a person that may be another one (first
/// the person to merge away, then the candidates). `identifierConflict`, `sexConflict` and
/// `birthYearConflict` name the person(s) a record pointed at while the record itself was held back
/// unlinked.
public struct ReviewDesk: Sendable {
    /// Task kinds whose record was held back unlinked.
    public static let heldRecordKinds: Set<String> = ["identifierConflict", "sexConflict", "birthYearConflict"]
    /// The task kind of a person that may be another one.
    public static let duplicateKind = "possibleDuplicate"

    let store: any HealthRecordStore
    let actor: String

    /// A desk acting as `actor` (the operator's name, for the audit log).
    public init(store: any HealthRecordStore, actor: String) {
        self.store = store
        self.actor = actor
    }

    /// Open tasks, oldest first.
    public func openTasks() async throws -> [ReviewTask] {
        try await store.reviewTasks(includeResolved: false)
    }

    /// A task (open or resolved) with its persons and record.
    public func reviewCase(_ id: Int64) async throws -> ReviewCase {
        let task = try await find(id)
        let evidence = ReviewEvidence(json: task.evidence)
        var persons: [(id: PersonID, person: StoredPerson?)] = []
        for person in task.persons { persons.append((person, try await store.person(person))) }
        let record = try await heldRecord(evidence)
        return ReviewCase(task: task, evidence: evidence, persons: persons, record: record, decoded: Self.decode(record, evidence))
    }

    /// "This is `person`": a possible duplicate is merged into it; a held-back record is linked to it.
    public func link(_ id: Int64, to person: PersonID) async throws -> ReviewDecision {
        let task = try await openTask(id)
        try await requireActive(person)
        if task.kind == Self.duplicateKind {
            guard let merged = task.persons.first else { throw ReviewDeskError.recordMissing(task: id) }
            guard merged != person else { throw ReviewDeskError.samePerson(person) }
            try await requireActive(merged)
            let mergeID = try await store.merge(merged, into: person, reason: "review task \(id)", actor: actor,
                                                keepingActive: try await reissuedNumber(ReviewEvidence(json: task.evidence)))
            try await store.resolveReview(id, resolution: "link: merge \(mergeID) (p\(merged.rawValue) into p\(person.rawValue))", actor: actor)
            return .merged(mergeID: mergeID, merged: merged, survivor: person)
        }
        guard Self.heldRecordKinds.contains(task.kind) else {
            throw ReviewDeskError.notApplicable(task: id, kind: task.kind, decision: "link", hint: "only duplicates and held-back records can be linked")
        }
        let (reference, version) = try await requireRecord(task)
        _ = try await store.apply(StoreBatch(identity: [.linkRecord(sourceRecordID: version.id, .existing(person))],
                                             outbox: [Self.change(reference).message(for: .existing(person))], actor: actor))
        try await store.audit(actor: actor, action: "review-link", subject: "review_task:\(id)", detail: "source_record=\(version.id) person=\(person)")
        try await store.resolveReview(id, resolution: "link: record \(version.id) to p\(person.rawValue)", actor: actor)
        return .recordLinked(sourceRecordID: version.id, person: person)
    }

    /// "These are different people": a possible duplicate stays a person of its own.
    public func split(_ id: Int64) async throws -> ReviewDecision {
        let task = try await openTask(id)
        guard task.kind == Self.duplicateKind else {
            throw ReviewDeskError.notApplicable(task: id, kind: task.kind, decision: "split",
                                                hint: "a held-back record is linked ('link') or made a new person ('new')")
        }
        try await store.resolveReview(id, resolution: "split: different people", actor: actor)
        return .keptApart
    }

    /// "Nobody known": a held-back record becomes a new person (with its identifiers that nobody
    /// holds); a possible duplicate stays a person of its own (as `split`).
    public func makeNewPerson(_ id: Int64) async throws -> ReviewDecision {
        let task = try await openTask(id)
        if task.kind == Self.duplicateKind {
            try await store.resolveReview(id, resolution: "new: different people", actor: actor)
            return .keptApart
        }
        guard Self.heldRecordKinds.contains(task.kind) else {
            throw ReviewDeskError.notApplicable(task: id, kind: task.kind, decision: "new", hint: "only duplicates and held-back records apply")
        }
        let (reference, version) = try await requireRecord(task)
        guard let kind = RecordKind(rawValue: reference.kind), let record = RecordDecoder.decode(Data(version.original), kind: kind).record else {
            throw ReviewDeskError.recordMissing(task: id)
        }
        let facts = PersonResolver.facts(IncomingRecord(record: record, original: version.original, coordinates: version.coordinates,
                                                        sender: version.sender))
        // Identifiers someone else holds are the conflict itself: the new person does not take them.
        let keys = facts.identifiers.map { IdentifierKey($0.type, $0.value) }
        let held = try await store.lookupIdentity(identifiers: keys, blockingKeys: [], maxBlockSize: 0).holders
        let person = PersonRef.new(local: 1)
        var identity: [IdentityChange] = [.newPerson(local: 1, PersonResolver.demographics(facts.details)), .addBlockingKeys(person, facts.blockingKeys)]
        for entry in facts.identifiers where held[IdentifierKey(entry.type, entry.value)] == nil {
            identity.append(.addIdentifier(person, IdentifierEntry(entry.type, entry.value, validFrom: entry.validFrom, source: "review:\(id)")))
        }
        identity.append(.linkRecord(sourceRecordID: version.id, person))
        let result = try await store.apply(StoreBatch(identity: identity, outbox: [Self.change(reference).message(for: person)], actor: actor))
        guard let created = result.newPersons[1] else { throw StoreError.invalidRequest("the new person was not created") }
        try await store.audit(actor: actor, action: "review-new", subject: "review_task:\(id)", detail: "source_record=\(version.id) person=\(created)")
        try await store.resolveReview(id, resolution: "new: record \(version.id) is p\(created.rawValue)", actor: actor)
        return .newPerson(created, sourceRecordID: version.id)
    }

    // MARK: - Helpers

    private func find(_ id: Int64) async throws -> ReviewTask {
        guard let task = try await store.reviewTasks(includeResolved: true).first(where: { $0.id == id }) else { throw ReviewDeskError.noSuchTask(id) }
        return task
    }

    private func openTask(_ id: Int64) async throws -> ReviewTask {
        let task = try await find(id)
        if let resolution = task.resolution { throw ReviewDeskError.alreadyResolved(id, resolution: resolution) }
        return task
    }

    private func requireActive(_ person: PersonID) async throws {
        guard let stored = try await store.person(person), stored.mergedInto == nil else { throw ReviewDeskError.personUnavailable(person) }
    }

    /// A `reissue` task's new personal ID, which stays active when its two persons are merged (the old
    /// number is closed, as the registry's event would have done); none for other tasks.
    private func reissuedNumber(_ evidence: ReviewEvidence?) async throws -> [IdentifierKey] {
        guard evidence?.rule == "reissue", case .registryEvent(let event)? = Self.decode(try await heldRecord(evidence), evidence),
              let number = event.newPersonalId.flatMap({ try? PersonalID(parsing: $0.newPersonalId) }) else { return [] }
        return [IdentifierKey(.personalId, number.value)]
    }

    /// The record a stored version holds, decoded as the kind the evidence names.
    private static func decode(_ version: SourceVersion?, _ evidence: ReviewEvidence?) -> SourceRecord? {
        guard let version, let kind = evidence?.record.flatMap({ RecordKind(rawValue: $0.kind) }) else { return nil }
        return RecordDecoder.decode(Data(version.original), kind: kind).record
    }

    /// The stored version the task's evidence names (the one read at those coordinates).
    private func heldRecord(_ evidence: ReviewEvidence?) async throws -> SourceVersion? {
        guard let reference = evidence?.record else { return nil }
        let versions = try await store.sourceVersions(topic: reference.topic, key: reference.key)
        return versions.first { $0.coordinates.partition == reference.partition && $0.coordinates.offset == reference.offset } ?? versions.last
    }

    private func requireRecord(_ task: ReviewTask) async throws -> (ReviewEvidence.RecordRef, SourceVersion) {
        let evidence = ReviewEvidence(json: task.evidence)
        guard let reference = evidence?.record, let version = try await heldRecord(evidence) else { throw ReviewDeskError.recordMissing(task: task.id) }
        return (reference, version)
    }

    /// The feed's notice that a record now belongs to a person.
    private static func change(_ reference: ReviewEvidence.RecordRef) -> PersonChange {
        PersonChange(reason: .record, topic: reference.topic, partition: reference.partition, offset: reference.offset)
    }
}
