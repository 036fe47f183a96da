import HealthModel

/// The fields the probabilistic matcher compares, each with agreement levels. Level 0 always means
/// "missing on one side" (no evidence either way); the highest level is the strongest agreement.
public enum ComparedField: Int, CaseIterable, Sendable, Codable {
    case name, birthDate, sex, phone, locality, address, secondaryID

    /// Number of levels including 0 (missing).
    public var levels: Int {
        switch self {
        case .name: return 5        // 1 disagree, 2 similar, 3 close / order variant, 4 exact
        case .birthDate: return 5   // 1 disagree, 2 same year only / one digit off, 3 day↔month swapped, 4 exact
        case .sex, .phone, .locality: return 3
        case .address: return 3     // 1 disagree, 2 half the words shared
        case .secondaryID: return 4 // 1 disagree, 2 one edit, 3 exact
        }
    }
}

/// How two profiles agree, field by field: one level per `ComparedField`.
public struct ComparisonVector: Hashable, Sendable {
    public var levels: [Int]

    /// Compares two profiles.
    public init(_ a: PersonProfile, _ b: PersonProfile) {
        levels = ComparedField.allCases.map { Self.level($0, a, b) }
    }

    public subscript(field: ComparedField) -> Int { levels[field.rawValue] }

    static func level(_ field: ComparedField, _ a: PersonProfile, _ b: PersonProfile) -> Int {
        switch field {
        case .name: return nameLevel(a, b)
        case .birthDate:
            guard let x = a.birthDate, let y = b.birthDate else { return 0 }
            return dateLevel(x, y)
        case .sex: return equality(a.sex, b.sex)
        case .phone: return equality(a.phone, b.phone)
        case .locality: return equality(a.locality, b.locality)
        case .address:
            guard !a.addressTokens.isEmpty, !b.addressTokens.isEmpty else { return 0 }
            let shared = a.addressTokens.intersection(b.addressTokens).count
            return Double(shared) / Double(min(a.addressTokens.count, b.addressTokens.count)) >= 0.5 ? 2 : 1
        case .secondaryID:
            guard let x = a.secondaryID, let y = b.secondaryID, !x.isEmpty, !y.isEmpty else { return 0 }
            if x == y { return 3 }
            return StringSimilarity.editDistance(x, y, limit: 1) <= 1 ? 2 : 1
        }
    }

    private static func equality<T: Equatable>(_ a: T?, _ b: T?) -> Int {
        guard let a, let b else { return 0 }
        return a == b ? 2 : 1
    }

    /// Names: exact, close (Jaro–Winkler ≥ 0.92 on family and given), an order variant (family and
    /// given exchanged, or the same tokens in another order), similar (≥ 0.8), or different.
    /// Different middle names (Văn / Hữu, Thị / Kim) make an exact family and given name only close:
    /// siblings and namesakes differ there; a side without a middle name is no evidence.
    static func nameLevel(_ a: PersonProfile, _ b: PersonProfile) -> Int {
        guard !a.family.isEmpty || !a.given.isEmpty, !b.family.isEmpty || !b.given.isEmpty else { return 0 }
        if a.family == b.family && a.given == b.given {
            return a.middle.isEmpty || b.middle.isEmpty || a.middle == b.middle ? 4 : 3
        }
        let family = StringSimilarity.jaroWinkler(a.family, b.family)
        let given = StringSimilarity.jaroWinkler(a.given, b.given)
        if family >= 0.92 && (given >= 0.92 || StringSimilarity.editDistance(a.given, b.given, limit: 1) <= 1) { return 3 }
        if a.nameTokens.sorted() == b.nameTokens.sorted() { return 3 }
        if StringSimilarity.jaroWinkler(a.family, b.given) >= 0.92 && StringSimilarity.jaroWinkler(a.given, b.family) >= 0.92 { return 3 }
        if family >= 0.8 && given >= 0.8 { return 2 }
        return 1
    }

    /// Dates: exact to the shared precision, day and month swapped, the same year (one side year-only,
    /// or one part off), or different. A missing day is never invented.
    static func dateLevel(_ x: PartialDate, _ y: PartialDate) -> Int {
        if x.year == y.year && x.month == y.month && x.day == y.day { return 4 }
        if x.year == y.year, let xm = x.month, let xd = x.day, let ym = y.month, let yd = y.day, xm == yd, xd == ym { return 3 }
        if x.year == y.year { return 2 }
        if x.month != nil && x.month == y.month && x.day != nil && x.day == y.day && abs(x.year - y.year) == 1 { return 2 }
        return 1
    }
}
