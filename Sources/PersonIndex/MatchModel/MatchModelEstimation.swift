import Foundation
import HealthModel
import Linkage
import RecordStore

/// `hssk dedup --estimate`: estimates the person index's m/u on the store's own data by EM
/// (`MatchModel.estimated`) and saves them for ingest and dedup (`MatchModelSettings`).
///
/// Candidate pairs are what the linker scores: each stored source record of a sample of persons,
/// against every active person sharing one of its blocking keys in the store's blocks (blocks over
/// `maxBlockSize` skipped, as dedup does; pairs an identifier vetoes left out, as ingest does). The
/// record's own person is among them (a match, with the typos and gaps sources really send) next to
/// namesakes and relatives (non-matches), the mixture EM separates. Comparing stored persons with each
/// other instead would give EM almost no matches: the index is already deduplicated. Random pairs of
/// sampled persons give u. The sample is bounded (`maxSampledPersons`), so the cost does not grow
/// with the city.
public struct MatchModelEstimation: Sendable {
    /// Why an estimate is not saved.
    public enum Refusal: Error, Sendable, Hashable, CustomStringConvertible {
        /// Too little data for EM to mean anything.
        case tooFewPairs(persons: Int, candidatePairs: Int, randomPairs: Int, needed: String)
        /// EM produced values that would score wrongly (see `MatchModel.degeneracies`).
        case degenerate([String])

        public var description: String {
            switch self {
            case .tooFewPairs(let persons, let candidates, let random, let needed):
                return "too little data for a meaningful estimate: \(persons) persons, \(candidates) candidate pairs, \(random) random pairs (needed: \(needed)); nothing saved, ingest and dedup keep their current model"
            case .degenerate(let problems):
                return "the estimate is unsound, nothing saved: " + problems.joined(separator: "; ")
            }
        }
    }

    /// An estimate with what it was made from.
    public struct Estimate: Sendable {
        /// The estimated model.
        public var model: MatchModel
        /// Active persons in the store.
        public var persons: Int
        /// Persons sampled.
        public var sampledPersons: Int
        /// Source records of the sample compared with their blocks.
        public var records: Int
        /// Candidate pairs EM ran over.
        public var candidatePairs: Int
        /// Random pairs u was measured on.
        public var randomPairs: Int
        /// Per field, candidate pairs where both sides had a value (0: the field keeps its default m).
        public var observed: [ComparedField: Int]
        /// When it was made (ISO 8601 UTC).
        public var estimatedAt: String
        /// Why it must not be saved; empty when it may.
        public var refusal: Refusal?
    }

    /// Fewest active persons: fewer cannot give enough distinct random pairs for u.
    public static let minimumPersons = 200
    /// Fewest candidate pairs: below this, EM's m for the rarer levels rests on a handful of pairs.
    public static let minimumCandidatePairs = 1_000
    /// Fewest random pairs for u.
    public static let minimumRandomPairs = 1_000

    let store: any PersonIndexStore & OutboxStore
    /// Persons whose records are compared (a seeded sample when the store holds more).
    public var maxSampledPersons = 5_000
    /// Random pairs of sampled persons for u.
    public var randomPairCount = 20_000
    /// A block larger than this is skipped as unselective (as in `DuplicateSweep`).
    public var maxBlockSize = 400
    /// Persons per page of the sweep.
    public var pageSize = 500
    /// Seed of the sample, so that two runs on the same store agree.
    public var seed: UInt64 = 0x5EED

    /// An estimation over `store`.
    public init(store: any PersonIndexStore & OutboxStore) {
        self.store = store
    }

    /// Estimates m/u; the result says (`refusal`) when it must not be saved. Writes nothing.
    public func estimate() async throws -> Estimate {
        var random = SeededLCG(seed)
        // Reservoir sample of persons (id order is arrival order: a plain prefix would be the oldest).
        var sample: [PersonSnapshot] = []
        var persons = 0
        var after: PersonID?
        while true {
            let page = try await store.activePersons(after: after, limit: pageSize)
            guard let last = page.last else { break }
            after = last.id
            for person in page where person.demographics != nil {
                persons += 1
                if sample.count < maxSampledPersons {
                    sample.append(person)
                } else {
                    let slot = random.next(persons)
                    if slot < maxSampledPersons { sample[slot] = person }
                }
            }
        }
        let profiles = sample.compactMap(DuplicateSweep.profile)
        var randomVectors: [ComparisonVector] = []
        if profiles.count > 1 {
            // No more draws than there are distinct pairs: a handful of persons must not look like thousands of pairs.
            for _ in 0..<min(randomPairCount, profiles.count * (profiles.count - 1) / 2) {
                let i = random.next(profiles.count), j = random.next(profiles.count)
                if i != j { randomVectors.append(ComparisonVector(profiles[i], profiles[j])) }
            }
        }
        var candidates: [ComparisonVector] = []
        var records = 0
        let ordered = sample.map(\.id).sorted()
        for start in stride(from: 0, to: ordered.count, by: 100) {
            var facts: [PersonResolver.Facts] = []
            for id in ordered[start..<min(start + 100, ordered.count)] {
                guard let file = try await store.personFile(id) else { continue }
                for stored in file.records {
                    guard let record = RecordDecoder.decode(Data(stored.original), kind: stored.kind).record else { continue }
                    facts.append(PersonResolver.facts(IncomingRecord(record: record, original: [], coordinates: stored.coordinates, sender: stored.sender)))
                }
            }
            records += facts.count
            let lookup = try await store.lookupIdentity(identifiers: [], blockingKeys: Array(Set(facts.flatMap(\.blockingKeys))), maxBlockSize: maxBlockSize)
            for fact in facts {
                var seen = Set<PersonID>()
                for key in fact.blockingKeys {
                    for other in lookup.blocks[key] ?? [] where seen.insert(other).inserted {
                        guard let snapshot = lookup.persons[other], !Self.vetoed(fact, snapshot), let profile = DuplicateSweep.profile(snapshot) else { continue }
                        candidates.append(ComparisonVector(fact.profile, profile))
                    }
                }
            }
        }
        var observed: [ComparedField: Int] = [:]
        for field in ComparedField.allCases { observed[field] = candidates.count(where: { $0[field] > 0 }) }
        let model = MatchModel.defaults.estimated(candidates: candidates, randomPairs: randomVectors).bounded(by: .defaults)
        var refusal: Refusal?
        if persons < Self.minimumPersons || candidates.count < Self.minimumCandidatePairs || randomVectors.count < Self.minimumRandomPairs {
            refusal = .tooFewPairs(persons: persons, candidatePairs: candidates.count, randomPairs: randomVectors.count,
                                   needed: "\(Self.minimumPersons) persons, \(Self.minimumCandidatePairs) candidate pairs, \(Self.minimumRandomPairs) random pairs")
        } else if case let problems = model.degeneracies(), !problems.isEmpty {
            refusal = .degenerate(problems)
        }
        return Estimate(model: model, persons: persons, sampledPersons: sample.count, records: records, candidatePairs: candidates.count,
                        randomPairs: randomVectors.count, observed: observed, estimatedAt: Self.now(), refusal: refusal)
    }

    /// Saves a sound estimate (audited as `actor`); throws its `Refusal` otherwise, writing nothing.
    public func save(_ estimate: Estimate, actor: String) async throws {
        if let refusal = estimate.refusal { throw refusal }
        // Checked again here: an estimate is a public value a caller could have changed.
        let problems = estimate.model.degeneracies()
        guard problems.isEmpty else { throw Refusal.degenerate(problems) }
        try await store.saveMatchModel(StoredMatchModel(modelJSON: try MatchModelSettings.json(estimate.model), estimatedAt: estimate.estimatedAt,
                                                        pairs: estimate.candidatePairs + estimate.randomPairs), actor: actor)
    }

    /// A record's single-valued identifier that the person holds another value of: two people (as in ingest).
    static func vetoed(_ fact: PersonResolver.Facts, _ person: PersonSnapshot) -> Bool {
        fact.identifiers.contains { entry in
            guard PersonResolver.singleValued.contains(entry.type) else { return false }
            let held = person.identifiers.filter { $0.type == entry.type }.map(\.value)
            return !held.isEmpty && !held.contains(entry.value)
        }
    }

    private static func now() -> String {
        Date().formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }
}

/// A small seeded generator (the sample must be the same on every run over the same store).
struct SeededLCG {
    private var state: UInt64
    init(_ seed: UInt64) { state = seed }
    /// A number in 0..<bound.
    mutating func next(_ bound: Int) -> Int {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return Int((state >> 33) % UInt64(max(bound, 1)))
    }
}
