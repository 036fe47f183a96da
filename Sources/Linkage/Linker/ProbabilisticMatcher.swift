import HealthModel

/// The probabilistic step shared by every linker: score a record against candidate persons and
/// decide link, review or nothing, with the evidence. Pure; callers do blocking and vetoes.
public struct ProbabilisticMatcher: Sendable {
    /// What the scores said.
    public enum Verdict<Person: Hashable & Sendable>: Sendable, Hashable {
        /// One candidate is clearly the same person.
        case link(Person)
        /// Close calls (best first, at most three): a person must decide.
        case review([Person])
        /// No candidate is close enough.
        case none
    }

    /// A verdict with the best score, the runner-up's and the best candidate's per-field weights.
    public struct Decision<Person: Hashable & Sendable>: Sendable, Hashable {
        public var verdict: Verdict<Person>
        public var score: Double?
        public var runnerUpScore: Double?
        public var evidence: [ComparedField: Double]
        /// Pairs scored.
        public var compared: Int
    }

    public var model: MatchModel
    public var thresholds: LinkThresholds
    /// Term frequencies of name tokens for an exact name agreement (unless the caller measured the
    /// name's frequency itself); nil: no adjustment.
    public var nameFrequencies: NameFrequencies?

    public init(model: MatchModel = .defaults, thresholds: LinkThresholds = LinkThresholds(), nameFrequencies: NameFrequencies? = .vietnamese) {
        self.model = model
        self.thresholds = thresholds
        self.nameFrequencies = nameFrequencies
    }

    /// Scores `profile` against every candidate profile (a person may appear with several) and keeps
    /// each person's best; `nameFrequency` is the term-frequency share of the record's exact name as
    /// measured on the data, else `nameFrequencies` adjusts an exact name agreement.
    public func decide<Person: Hashable & Sendable>(_ profile: PersonProfile, candidates: [(person: Person, profile: PersonProfile)],
                                                    nameFrequency: Double? = nil) -> Decision<Person> {
        let adjustment = nameFrequency == nil ? nameFrequencies?.adjustment(profile) ?? 0 : 0
        var best: [Person: (score: Double, vector: ComparisonVector, relative: Bool)] = [:]
        for candidate in candidates {
            let vector = ComparisonVector(profile, candidate.profile)
            let relative = Self.looksLikeRelative(vector, profile, candidate.profile)
            let score = model.score(vector, nameFrequency: nameFrequency, nameAdjustment: adjustment) - (relative ? householdWeight(vector) : 0)
            if score > best[candidate.person]?.score ?? -.infinity { best[candidate.person] = (score, vector, relative) }
        }
        let ranked = best.sorted { $0.value.score > $1.value.score }
        guard let top = ranked.first else {
            return Decision(verdict: .none, score: nil, runnerUpScore: nil, evidence: [:], compared: candidates.count)
        }
        let runnerUp = ranked.dropFirst().first?.value.score
        let evidence = Dictionary(uniqueKeysWithValues: ComparedField.allCases.map { field in
            let weight = model.weight(field, top.value.vector[field]) + (field == .name && top.value.vector[field] == 4 ? adjustment : 0)
            return (field, top.value.relative && Self.household.contains(field) ? min(0, weight) : weight)
        })
        let clearLead = runnerUp.map { top.value.score - $0 >= thresholds.margin } ?? true
        let verdict: Verdict<Person>
        if top.value.score >= thresholds.link && clearLead {
            verdict = .link(top.key)
        } else if top.value.score >= thresholds.review {
            verdict = .review(ranked.prefix(3).map(\.key))
        } else {
            verdict = .none
        }
        return Decision(verdict: verdict, score: top.value.score, runnerUpScore: runnerUp, evidence: evidence, compared: candidates.count)
    }

    /// Fields a household shares.
    static let household: Set<ComparedField> = [.phone, .address]

    /// The agreement weight of the household's fields in a vector (disagreement is kept as evidence).
    func householdWeight(_ vector: ComparisonVector) -> Double {
        Self.household.reduce(0) { $0 + max(0, model.weight($1, vector[$1])) }
    }

    /// Same family name, another given name (only similar or different, not a typo away: *Tuấn* /
    /// *Tuyến*, *Hoa* / *Hồng*): a twin or sibling, who shares the household's
    /// phone, address and commune (and a twin the birth date). Within a family those fields are no
    /// evidence of being the same person, yet their weights outvote the name (twins scored ≈ 23 bits):
    /// for such a pair their agreement does not count.
    static func looksLikeRelative(_ vector: ComparisonVector, _ a: PersonProfile, _ b: PersonProfile) -> Bool {
        (1...2).contains(vector[.name]) && !a.given.isEmpty && !b.given.isEmpty && StringSimilarity.jaroWinkler(a.family, b.family) >= 0.92
    }
}
