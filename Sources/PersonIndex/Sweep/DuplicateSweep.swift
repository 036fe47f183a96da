import Foundation
import HealthModel
import Linkage
import RecordStore

/// `hssk dedup`: sweeps the whole index for duplicates that no single record could link, e.g. two
/// ingest processes that each created the newborn of one birth, or a person first known without
/// identifiers and later created again with them.
///
/// Each active person is compared with the older active persons sharing one of its blocking keys
/// (the pair is looked at once: the newer person is the possible duplicate). A different value of a
/// single-valued identifier vetoes the pair. A shared value of a strong identifier (personal ID,
/// BHXH number, birth certificate, immunization code) with the same sex and birth year is
/// deterministic: the newer person is merged into the older one. Everything else that scores in the
/// review band or above opens a `possibleDuplicate` task, once per pair (a pair already in a task,
/// open or decided, is never raised again).
public struct DuplicateSweep: Sendable {
    /// Identifier types whose shared value proves one person (unless sex or birth year disagree).
    public static let provingTypes: Set<IdentifierType> = IdentifierType.singleValued

    /// What a sweep found (and, unless it was a dry run, did).
    public struct Report: Sendable, Hashable, Codable {
        /// Active persons looked at.
        public var persons = 0
        /// Candidate pairs scored.
        public var pairsCompared = 0
        /// Pairs ruled out by a different value of a single-valued identifier.
        public var vetoed = 0
        /// Pairs merged on a shared identifier.
        public var merged = 0
        /// Pairs sent to review.
        public var reviewsOpened = 0
        /// Pairs already in a review task.
        public var alreadyInReview = 0
    }

    let store: any PersonIndexStore
    let actor: String
    /// Persons per page of the sweep.
    public var pageSize = 500
    /// A block larger than this is skipped as unselective (as when linking).
    public var maxBlockSize = 400
    /// The scoring shared with ingest.
    public var matcher = ProbabilisticMatcher()

    /// A sweep acting as `actor` (for the merge log and the audit).
    public init(store: any PersonIndexStore, actor: String) {
        self.store = store
        self.actor = actor
    }

    /// Sweeps the index; with `dryRun` nothing is written and the report says what would be done.
    public func run(dryRun: Bool = false, progress: (Report) -> Void = { _ in }) async throws -> Report {
        var report = Report()
        var known = try await pairsInReview()
        // Persons merged away during this sweep (pages read later may still name them until then).
        var gone = Set<PersonID>()
        var after: PersonID?
        while true {
            let page = try await store.activePersons(after: after, limit: pageSize)
            guard let last = page.last else { break }
            after = last.id
            let keysOf = Dictionary(uniqueKeysWithValues: page.compactMap { person in
                Self.profile(person).map { (person.id, IncrementalLinker.blockingKeys($0)) }
            })
            let lookup = try await store.lookupIdentity(identifiers: [], blockingKeys: Array(Set(keysOf.values.joined())), maxBlockSize: maxBlockSize)
            for person in page where !gone.contains(person.id) {
                report.persons += 1
                guard let profile = Self.profile(person), let keys = keysOf[person.id] else { continue }
                var candidates: [(person: PersonID, profile: PersonProfile)] = []
                var seen = Set<PersonID>()
                for key in keys {
                    for other in lookup.blocks[key] ?? [] where other < person.id && !gone.contains(other) && seen.insert(other).inserted {
                        guard let snapshot = lookup.persons[other], let otherProfile = Self.profile(snapshot) else { continue }
                        if Self.vetoed(person, snapshot) {
                            report.vetoed += 1
                            continue
                        }
                        if let type = Self.proving(person, snapshot, profile, otherProfile) {
                            report.merged += 1
                            if !dryRun {
                                _ = try await store.merge(person.id, into: other, reason: "dedup: same \(type.rawValue)", actor: actor)
                            }
                            gone.insert(person.id)
                            break
                        }
                        candidates.append((other, otherProfile))
                    }
                    if gone.contains(person.id) { break }
                }
                guard !gone.contains(person.id), !candidates.isEmpty else { continue }
                report.pairsCompared += candidates.count
                let decision = matcher.decide(profile, candidates: candidates)
                let close: [PersonID]
                switch decision.verdict {
                case .link(let match): close = [match]
                case .review(let persons): close = persons
                case .none: close = []
                }
                let fresh = close.filter { !known.contains(Self.pair(person.id, $0)) }
                report.alreadyInReview += close.count - fresh.count
                guard !fresh.isEmpty else { continue }
                report.reviewsOpened += 1
                for other in fresh { known.insert(Self.pair(person.id, other)) }
                if !dryRun {
                    let evidence = ReviewEvidence(decision, rule: "dedup")
                    _ = try await store.openReview(ReviewTaskDraft(kind: ReviewDesk.duplicateKind, persons: [.existing(person.id)] + fresh.map(PersonRef.existing),
                                                                   evidence: evidence.json), actor: actor)
                }
            }
            progress(report)
        }
        return report
    }

    // MARK: - Rules

    /// Pairs (smaller id first) named together in any duplicate task, open or decided.
    private func pairsInReview() async throws -> Set<[PersonID]> {
        var pairs = Set<[PersonID]>()
        for task in try await store.reviewTasks(includeResolved: true) where task.kind == ReviewDesk.duplicateKind {
            guard let first = task.persons.first else { continue }
            for other in task.persons.dropFirst() { pairs.insert(Self.pair(first, other)) }
        }
        return pairs
    }

    private static func pair(_ a: PersonID, _ b: PersonID) -> [PersonID] { a < b ? [a, b] : [b, a] }

    /// Values of a type a person holds (active and historic).
    private static func values(_ person: PersonSnapshot, _ type: IdentifierType) -> Set<String> {
        Set(person.identifiers.filter { $0.type == type }.map(\.value))
    }

    /// Both hold a single-valued identifier type and share no value of it: two people.
    static func vetoed(_ a: PersonSnapshot, _ b: PersonSnapshot) -> Bool {
        PersonResolver.singleValued.contains { type in
            let x = values(a, type), y = values(b, type)
            return !x.isEmpty && !y.isEmpty && x.isDisjoint(with: y)
        }
    }

    /// The identifier type whose shared value proves the pair one person, if any (sex and birth year must not disagree).
    static func proving(_ a: PersonSnapshot, _ b: PersonSnapshot, _ pa: PersonProfile, _ pb: PersonProfile) -> IdentifierType? {
        if let x = pa.sex, let y = pb.sex, x != y, x != Sex.undetermined.rawValue, y != Sex.undetermined.rawValue { return nil }
        if let x = pa.birthDate?.year, let y = pb.birthDate?.year, x != y { return nil }
        return PersonResolver.deterministicOrder.first { type in
            provingTypes.contains(type) && !values(a, type).isDisjoint(with: values(b, type))
        }
    }

    /// What the matcher compares of a stored person.
    static func profile(_ person: PersonSnapshot) -> PersonProfile? { person.demographics.map(PersonProfile.init(stored:)) }
}
