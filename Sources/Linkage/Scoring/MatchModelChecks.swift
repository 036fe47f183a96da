import Foundation

extension MatchModel {
    /// EM's estimate kept within what it can support:
    /// - a level EM saw (almost) never among matches keeps at least `floor` of `prior`'s m (otherwise
    ///   one unseen level, e.g. a similar name, would weigh −10 bits against everybody who has it);
    /// - disagreement is never evidence for a match (m ≤ u at level 1; the excess goes to full agreement);
    /// - an agreement weighs at most `maxGain` bits more than in `prior`. u comes from random pairs,
    ///   but the pairs scored are candidates from blocks, where relatives agree on birth date, commune
    ///   and address far more often than strangers do: uncapped, twins (+15 bits for the birth date,
    ///   +8.6 for the commune) outvoted their different given names and were merged. The cap raises u
    ///   (taking the mass from disagreement, where u is large), so disagreement keeps its weight.
    public func bounded(by prior: MatchModel, floor: Double = 0.1, maxGain: Double = 1) -> MatchModel {
        var model = self
        for field in ComparedField.allCases {
            let f = field.rawValue
            guard m.indices.contains(f), prior.m.indices.contains(f), m[f].count == field.levels, prior.m[f].count == field.levels,
                  u.indices.contains(f), u[f].count == field.levels else { continue }
            let levels = 1..<field.levels
            for level in levels { model.m[f][level] = max(m[f][level], prior.m[f][level] * floor) }
            let total = levels.reduce(0) { $0 + model.m[f][$1] }
            guard total > 0, total.isFinite else { continue }
            for level in levels { model.m[f][level] /= total }
            let excess = model.m[f][1] - u[f][1]
            if excess > 0 {
                model.m[f][1] -= excess
                model.m[f][field.levels - 1] += excess
            }
            guard prior.u.indices.contains(f), prior.u[f].count == field.levels else { continue }
            var raised = 0.0
            for level in 2..<field.levels {
                let priorWeight = prior.weight(field, level)
                guard priorWeight.isFinite, model.u[f][level] > 0 else { continue }
                let least = model.m[f][level] / pow(2, priorWeight + maxGain)
                if least > model.u[f][level] {
                    raised += least - model.u[f][level]
                    model.u[f][level] = least
                }
            }
            // Taken from disagreement, which holds most of u; never below its own m (it stays evidence against).
            model.u[f][1] = max(model.u[f][1] - raised, model.m[f][1])
        }
        return model
    }

    /// Why this model must not be used, empty when it is sound: the shape `ComparedField` expects,
    /// finite probabilities in (0, 1] summing to 1 per field, full agreement being evidence for a match
    /// (m > u; for sex and address, whose agreement is common among strangers, at least not more than
    /// a quarter bit against), and disagreement on name and birth date evidence against (m < u). EM on
    /// too little or odd data breaks these; a model that does is never stored or used.
    public func degeneracies() -> [String] {
        let fields = ComparedField.allCases
        guard m.count == fields.count, u.count == fields.count else {
            return ["expected \(fields.count) fields, found m \(m.count) and u \(u.count)"]
        }
        var problems: [String] = []
        for field in fields {
            let f = field.rawValue
            guard m[f].count == field.levels, u[f].count == field.levels else {
                problems.append("\(field): expected \(field.levels) levels, found m \(m[f].count) and u \(u[f].count)")
                continue
            }
            let levels = 1..<field.levels
            let before = problems.count
            for (label, row) in [("m", m[f]), ("u", u[f])] {
                let values = levels.map { row[$0] }
                if let bad = values.first(where: { !$0.isFinite || $0 <= 0 || $0 > 1 }) {
                    problems.append("\(field): \(label) holds \(bad), not a probability in (0, 1]")
                } else if abs(values.reduce(0, +) - 1) > 0.01 {
                    problems.append("\(field): \(label) sums to \(values.reduce(0, +)), not 1")
                }
            }
            guard problems.count == before else { continue }
            let top = field.levels - 1
            if Self.weakFields.contains(field) {
                // Strangers often agree here (half share a sex; addresses share words like "Hà Nội"):
                // agreement may be no evidence, but must not count against a match.
                if m[f][top] < u[f][top] * 0.85 {
                    problems.append("\(field): full agreement has m \(m[f][top]) well below u \(u[f][top]), so it would count against a match")
                }
            } else if m[f][top] <= u[f][top] {
                problems.append("\(field): full agreement has m \(m[f][top]) ≤ u \(u[f][top]), so it would count against a match")
            }
            if field == .name || field == .birthDate, m[f][1] >= u[f][1] {
                problems.append("\(field): disagreement has m \(m[f][1]) ≥ u \(u[f][1]), so it would count for a match")
            }
        }
        return problems
    }

    /// Fields whose agreement is common among strangers, so weak evidence at best.
    static let weakFields: Set<ComparedField> = [.sex, .address]
}
