import HealthModel

/// What the linker decided for one record, with the evidence an operator can check.
public struct LinkDecision: Sendable, Hashable {
    public enum Outcome: Sendable, Hashable {
        /// The record is this person.
        case link(person: Int)
        /// Too close to call: a person must decide between these candidates (best first).
        case review(candidates: [Int])
        /// Nobody in the index: a new person.
        case new(person: Int)
    }
    public var outcome: Outcome
    /// "identifier" (deterministic) or "probabilistic".
    public var rule: String
    /// The best candidate's score in bits, and the runner-up's.
    public var score: Double?
    public var runnerUpScore: Double?
    /// Per-field weights (bits) of the best candidate.
    public var evidence: [ComparedField: Double]
}

/// Score thresholds, in bits. A false merge is far worse than a missed link: precision first.
public struct LinkThresholds: Sendable, Hashable {
    /// At or above: link (when the margin also holds).
    public var link: Double = 14
    /// From here up to `link`, or when two candidates are within `margin`: review.
    public var review: Double = 8
    /// The best candidate must lead the next one by this much.
    public var margin: Double = 5
    public init() {}
}

/// Links records one at a time to the persons seen so far (streaming, no batch pass): deterministic
/// identifiers first, then blocking and Fellegi–Sunter scoring. This in-memory index serves
/// evaluation and tests; the store serves the same blocking keys from its indexes in production.
public struct IncrementalLinker: Sendable {
    public var model: MatchModel
    public var thresholds: LinkThresholds
    /// A block larger than this is too unselective to compare against (e.g. a very common name alone).
    public var maxBlockSize = 400
    /// A term-frequency table shared with ingest; nil: name frequencies measured on the records linked so far.
    public var nameFrequencies: NameFrequencies?

    private var profiles: [PersonProfile] = []
    private var personOfRecord: [Int] = []
    private var personCount = 0
    private var blocks: [String: [Int]] = [:]
    private var identifiers: [String: Int] = [:]
    /// Each person's identifiers by type (`pid` → value): a different value of the same type vetoes a
    /// probabilistic link, because two different personal IDs are two different people.
    private var identifiersOfPerson: [Int: [Substring: Set<Substring>]] = [:]
    private var nameCounts: [String: Int] = [:]
    /// Candidate pairs compared so far.
    public private(set) var pairsCompared = 0

    public init(model: MatchModel = .defaults, thresholds: LinkThresholds = LinkThresholds()) {
        self.model = model
        self.thresholds = thresholds
    }

    /// Links one record's profile; `identifiers` are deterministic keys (e.g. `pid:001058012345`).
    public mutating func link(_ profile: PersonProfile, identifiers keys: [String] = []) -> LinkDecision {
        let record = profiles.count
        let decision: LinkDecision
        if let person = keys.compactMap({ identifiers[$0] }).first {
            decision = LinkDecision(outcome: .link(person: person), rule: "identifier", evidence: [:])
        } else {
            decision = probabilistic(profile, keys)
        }
        let person: Int
        switch decision.outcome {
        case let .link(linked): person = linked
        case let .new(created): person = created
        case .review:
            // Pending review, the record stands alone as a new person: never merged on a guess.
            person = personCount
            personCount += 1
        }
        profiles.append(profile)
        personOfRecord.append(person)
        for key in Self.blockingKeys(profile) { blocks[key, default: []].append(record) }
        for key in keys where identifiers[key] == nil { identifiers[key] = person }
        for (type, value) in keys.compactMap(Self.split) { identifiersOfPerson[person, default: [:]][type, default: []].insert(value) }
        nameCounts[profile.family + " " + profile.given, default: 0] += 1
        return decision
    }

    /// The person each record was assigned to, in the order records were linked.
    public var assignments: [Int] { personOfRecord }

    private static func split(_ key: String) -> (Substring, Substring)? {
        guard let colon = key.firstIndex(of: ":") else { return nil }
        return (key[..<colon], key[key.index(after: colon)...])
    }

    private func conflicts(_ person: Int, _ keys: [(Substring, Substring)]) -> Bool {
        guard let known = identifiersOfPerson[person] else { return false }
        return keys.contains { type, value in known[type].map { !$0.contains(value) } ?? false }
    }

    private mutating func probabilistic(_ profile: PersonProfile, _ keys: [String]) -> LinkDecision {
        let typedKeys = keys.compactMap(Self.split)
        var candidates: [(person: Int, profile: PersonProfile)] = []
        var seen = Set<Int>()
        for key in Self.blockingKeys(profile) {
            guard let members = blocks[key], members.count <= maxBlockSize else { continue }
            for record in members where seen.insert(record).inserted {
                let person = personOfRecord[record]
                if !conflicts(person, typedKeys) { candidates.append((person, profiles[record])) }
            }
        }
        let frequency = profiles.isEmpty || nameFrequencies != nil ? nil
            : Double(nameCounts[profile.family + " " + profile.given, default: 0] + 1) / Double(profiles.count + 1)
        let matcher = ProbabilisticMatcher(model: model, thresholds: thresholds, nameFrequencies: nameFrequencies)
        let decided = matcher.decide(profile, candidates: candidates, nameFrequency: frequency)
        pairsCompared += decided.compared
        let outcome: LinkDecision.Outcome
        switch decided.verdict {
        case .link(let person): outcome = .link(person: person)
        case .review(let persons): outcome = .review(candidates: persons)
        case .none:
            outcome = .new(person: personCount)
            personCount += 1
        }
        return LinkDecision(outcome: outcome, rule: "probabilistic", score: decided.score, runnerUpScore: decided.runnerUpScore,
                            evidence: decided.evidence)
    }

    /// Blocking keys: each is selective alone, together they tolerate one wrong field.
    public static func blockingKeys(_ p: PersonProfile) -> [String] {
        var keys: [String] = []
        let year = p.birthDate.map { String($0.year) } ?? ""
        let fullDate = p.birthDate.map { "\($0.year)-\($0.month ?? 0)-\($0.day ?? 0)" } ?? ""
        if !p.family.isEmpty, !p.given.isEmpty, !year.isEmpty { keys.append("fgy:\(p.family)|\(p.given)|\(year)") }
        if !p.given.isEmpty, !fullDate.isEmpty { keys.append("gd:\(p.given)|\(fullDate)") }
        if !p.family.isEmpty, !fullDate.isEmpty { keys.append("fd:\(p.family)|\(fullDate)") }
        if let phone = p.phone { keys.append("ph:\(phone)") }
        if let id = p.secondaryID, !id.isEmpty { keys.append("si:\(id)") }
        if let locality = p.locality, !fullDate.isEmpty { keys.append("ld:\(locality)|\(fullDate)") }
        if let locality = p.locality, !p.family.isEmpty, !p.given.isEmpty { keys.append("lfg:\(locality)|\(p.family)|\(p.given)") }
        return keys
    }
}
