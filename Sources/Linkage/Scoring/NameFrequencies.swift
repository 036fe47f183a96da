import Foundation

/// How common Vietnamese name tokens are, for the term-frequency adjustment: an exact agreement on
/// *Nguyễn Văn Hùng* is weaker evidence than one on *Lý Khuê*. A built-in table, so no personal data
/// leaves the store to build it and ingest, the duplicate sweep and `hssk linkage-eval` share it.
///
/// Family names: the commonly cited shares of the Vietnamese population (Nguyễn ≈ 38 %, Trần ≈ 11 %,
/// Lê ≈ 9.5 %, Phạm ≈ 7 %, Hoàng/Huỳnh ≈ 5 % each, …); the rest (≈ 6 %) spread over hundreds of names.
/// Given names: no official statistics are published; the table lists the commonest at an estimated
/// 1 % each. The estimates only shift weights by a few bits (see `adjustment`). Middle names (*Văn*,
/// *Thị*, …) are left out on purpose: counting a shared middle name as evidence merged siblings, who
/// share it, on the synthetic population.
public struct NameFrequencies: Sendable, Hashable {
    /// Share of people per folded family name.
    public let family: [String: Double]
    /// Share of people per folded given name.
    public let given: [String: Double]
    /// Share of one name not in a list.
    public let unlistedFamily: Double, unlistedGiven: Double
    /// The adjustment is clamped to this range (bits): rarity is evidence, not proof.
    public var bounds: ClosedRange<Double> = -4...3

    /// Creates a table; `unlisted…` is the share of each name not listed.
    public init(family: [String: Double], given: [String: Double], unlistedFamily: Double, unlistedGiven: Double) {
        self.family = family
        self.given = given
        self.unlistedFamily = unlistedFamily
        self.unlistedGiven = unlistedGiven
        agreementFamily = Self.agreement(family, unlisted: unlistedFamily)
        agreementGiven = Self.agreement(given, unlisted: unlistedGiven)
    }

    /// Chance that two strangers share a token (Σ share²): the average the model's u already stands for.
    private let agreementFamily: Double, agreementGiven: Double

    private static func agreement(_ shares: [String: Double], unlisted: Double) -> Double {
        let listed = shares.values.reduce(0, +)
        return shares.values.reduce(0) { $0 + $1 * $1 } + max(0, 1 - listed) * unlisted
    }

    /// Bits to add to an exact name agreement on `profile`'s name: for the family and the given name,
    /// log2(average agreement ÷ this name's share) — positive for a rare name, negative for a common
    /// one (Nguyễn … Hùng: −1.9) — summed and clamped to `bounds`.
    public func adjustment(_ profile: PersonProfile) -> Double {
        let bits = log2(agreementFamily / (family[profile.family] ?? unlistedFamily)) + log2(agreementGiven / (given[profile.given] ?? unlistedGiven))
        return min(max(bits, bounds.lowerBound), bounds.upperBound)
    }

    /// The Vietnamese table (folded tokens: no diacritics, `đ` → `d`; Hoàng/Huỳnh, Vũ/Võ are listed
    /// apart as written).
    public static let vietnamese = NameFrequencies(
        family: ["nguyen": 0.384, "tran": 0.11, "le": 0.095, "pham": 0.071, "hoang": 0.051, "huynh": 0.051, "phan": 0.045,
                 "vu": 0.039, "vo": 0.039, "dang": 0.021, "bui": 0.02, "do": 0.014, "ho": 0.013, "ngo": 0.013, "duong": 0.01,
                 "ly": 0.005, "dinh": 0.005, "trinh": 0.004, "dao": 0.004, "mai": 0.003, "truong": 0.003, "luong": 0.003,
                 "lam": 0.003, "ha": 0.002, "ta": 0.002, "cao": 0.002, "luu": 0.002, "tong": 0.001, "chu": 0.001, "la": 0.001],
        given: Dictionary(uniqueKeysWithValues: [
            "an", "anh", "binh", "chi", "cuong", "dung", "dat", "duc", "giang", "ha", "hai", "hang", "hanh", "hieu", "hoa", "hung",
            "huong", "huy", "khang", "khoa", "lan", "linh", "long", "mai", "minh", "my", "nam", "nga", "ngan", "ngoc", "nhung",
            "oanh", "phong", "phuc", "phuong", "quan", "quynh", "son", "tai", "thang", "thanh", "thao", "thuy", "trang", "trinh",
            "trung", "tuan", "van", "viet", "vinh", "xuan", "yen",
        ].map { ($0, 0.01) }),
        unlistedFamily: 0.0005, unlistedGiven: 0.001)
}
