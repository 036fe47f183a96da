import Foundation

/// A Fellegi–Sunter model: for each field and level, m = P(level | same person) and
/// u = P(level | different people). A pair's score is the sum of log2(m/u) over fields (bits).
public struct MatchModel: Sendable, Codable, Hashable {
    /// m per field per level (level 0, missing, is ignored).
    public var m: [[Double]]
    /// u per field per level.
    public var u: [[Double]]

    /// Documented defaults, used until EM has estimated the data's own values. Agreement on exact names
    /// is common among strangers only through very common names (term frequencies correct for that).
    public static let defaults = MatchModel(
        m: [[0, 0.02, 0.05, 0.13, 0.80], [0, 0.03, 0.04, 0.03, 0.90], [0, 0.02, 0.98], [0, 0.15, 0.85],
            [0, 0.10, 0.90], [0, 0.25, 0.75], [0, 0.05, 0.15, 0.80]],
        u: [[0, 0.95, 0.04, 0.008, 0.002], [0, 0.97, 0.025, 0.0005, 0.0045], [0, 0.5, 0.5], [0, 0.9999, 0.0001],
            [0, 0.95, 0.05], [0, 0.9, 0.1], [0, 0.9995, 0.0004, 0.0001]])

    /// The weight of one field at one level, in bits.
    public func weight(_ field: ComparedField, _ level: Int) -> Double {
        guard level > 0 else { return 0 }
        let f = field.rawValue
        return log2(max(m[f][level], 1e-6) / max(u[f][level], 1e-6))
    }

    /// Score of a comparison vector with the term-frequency adjustment of an exact name agreement:
    /// either `nameFrequency` (share of records with this exact family+given name, measured on the
    /// data) replaces u, or `nameAdjustment` bits (from `NameFrequencies`) are added to its weight.
    public func score(_ vector: ComparisonVector, nameFrequency: Double? = nil, nameAdjustment: Double = 0) -> Double {
        var total = 0.0
        for field in ComparedField.allCases {
            let level = vector[field]
            if field == .name, level == 4, let nameFrequency {
                total += log2(max(m[field.rawValue][4], 1e-6) / max(nameFrequency, 1e-6))
            } else if field == .name, level == 4 {
                total += weight(field, level) + nameAdjustment
            } else {
                total += weight(field, level)
            }
        }
        return total
    }

    /// Estimates u from random pairs (nearly all non-matches), then m and the match share by
    /// expectation–maximisation over the candidate pairs blocking produced, with u held fixed. (Letting
    /// EM move u too collapses when blocking is selective: the candidates are then mostly matches and
    /// the "non-match" class swallows them.)
    public func estimated(candidates: [ComparisonVector], randomPairs: [ComparisonVector], iterations: Int = 30) -> MatchModel {
        var model = self
        let fields = ComparedField.allCases
        if !randomPairs.isEmpty {
            for field in fields {
                let f = field.rawValue
                var counts = [Double](repeating: 0, count: field.levels)
                for vector in randomPairs where vector[field] > 0 { counts[vector[field]] += 1 }
                let total = counts.reduce(0, +)
                guard total > 0 else { continue }
                // Smoothing: a level never seen among strangers is rare, not impossible.
                for level in 1..<field.levels { model.u[f][level] = (counts[level] + 0.5) / (total + 0.5 * Double(field.levels - 1)) }
            }
        }
        guard !candidates.isEmpty else { return model }
        var counts: [ComparisonVector: Double] = [:]
        for vector in candidates { counts[vector, default: 0] += 1 }
        var lambda = 0.5
        for _ in 0..<iterations {
            var mSum = fields.map { [Double](repeating: 0, count: $0.levels) }
            var matchMass = 0.0, total = 0.0
            for (vector, count) in counts {
                var pm = lambda, pu = 1 - lambda
                for field in fields where vector[field] > 0 {
                    pm *= model.m[field.rawValue][vector[field]]
                    pu *= model.u[field.rawValue][vector[field]]
                }
                let g = pm + pu > 0 ? pm / (pm + pu) : 0
                matchMass += g * count
                total += count
                for field in fields where vector[field] > 0 { mSum[field.rawValue][vector[field]] += g * count }
            }
            lambda = min(max(matchMass / total, 1e-6), 1 - 1e-6)
            for field in fields {
                let f = field.rawValue
                let mTotal = mSum[f].reduce(0, +)
                guard mTotal > 0 else { continue }
                for level in 1..<field.levels { model.m[f][level] = (mSum[f][level] + 0.01) / (mTotal + 0.01 * Double(field.levels - 1)) }
            }
        }
        return model
    }
}
