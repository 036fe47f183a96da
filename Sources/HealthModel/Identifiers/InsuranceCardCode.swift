/// Health insurance (BHYT) card code in any of its three accepted forms.
///
/// 15 characters (group + benefit digit + issuing province + BHXH number), the 10-digit BHXH number
/// printed on cards since 2021, or since 2025 the 12-digit personal ID.
public struct InsuranceCardCode: Sendable, Hashable, Codable, CustomStringConvertible {
    /// Which of the three forms was given.
    public enum Form: Sendable, Hashable, Codable {
        /// `GD4010123456789`: beneficiary group, benefit level 1–5, province, BHXH number.
        case full(group: String, benefitLevel: Int, province: String, bhxhNumber: SocialInsuranceNumber)
        /// The 10-digit BHXH number alone.
        case socialInsuranceNumber(SocialInsuranceNumber)
        /// The 12-digit personal ID used as the card number.
        case personalID(PersonalID)
    }

    /// Beneficiary groups by benefit level as seen in validators; unverified as an official list.
    public static let knownGroupsByBenefitLevel: [Int: Set<String>] = [
        1: ["CC", "TE"],
        2: ["CK", "KC", "BT", "HN", "DT", "DK", "XD", "TS"],
        3: ["HT", "TC", "CN"],
        4: ["DN", "HX", "CH", "NN", "TK", "HC", "XK", "TB", "NO", "CT", "XB", "TN", "CS", "XN", "MS", "CB",
            "HD", "TQ", "TA", "TY", "HG", "LS", "PV", "HS", "SV", "GB", "GD"],
        5: ["QN", "CA", "CY"],
    ]

    /// Groups seen without a stated benefit level (TV, TL, XV).
    public static let knownGroupsWithoutLevel: Set<String> = ["TV", "TL", "XV"]

    /// The parsed form.
    public let form: Form

    /// Parses one card code; upper-cases letters and ignores spaces.
    public init(parsing text: String) throws(FieldProblem) {
        let compact = IdentifierText.asciiUppercased(IdentifierText.compact(text))
        let utf8 = Array(compact.utf8)
        switch utf8.count {
        case 15:
            let group = String(compact.prefix(2))
            let benefit = compact.dropFirst(2).prefix(1)
            let province = compact.dropFirst(3).prefix(2)
            let number = compact.dropFirst(5)
            guard IdentifierText.isUpperLetters(group), let level = Int(benefit), (1...5).contains(level),
                  IdentifierText.isDigits(province), IdentifierText.isDigits(number)
            else { throw Self.formatProblem }
            let bhxh = try SocialInsuranceNumber(parsing: String(number))
            form = .full(group: group, benefitLevel: level, province: String(province), bhxhNumber: bhxh)
        case 10:
            form = .socialInsuranceNumber(try Self.rethrowingFormat { () throws(FieldProblem) in
                try SocialInsuranceNumber(parsing: compact)
            })
        case 12:
            form = .personalID(try Self.rethrowingFormat { () throws(FieldProblem) in
                try PersonalID(parsing: compact)
            })
        default:
            throw Self.formatProblem
        }
    }

    /// Splits a ";"-joined MA_THE_BHYT field into its card codes; empty parts are ignored.
    public static func parseList(_ text: String) -> [Result<InsuranceCardCode, FieldProblem>] {
        text.split(separator: ";").map { String($0) }
            .filter { !IdentifierText.compact($0).isEmpty }
            .map { part in Result { () throws(FieldProblem) in try InsuranceCardCode(parsing: part) } }
    }

    /// The BHXH number, when the form carries one (not for the personal-ID form).
    public var socialInsuranceNumber: SocialInsuranceNumber? {
        switch form {
        case .full(_, _, _, let n), .socialInsuranceNumber(let n): return n
        case .personalID: return nil
        }
    }

    /// The personal ID, for the 12-digit form.
    public var personalID: PersonalID? {
        if case .personalID(let id) = form { return id }
        return nil
    }

    /// The benefit level digit, for the 15-character form.
    public var benefitLevel: Int? {
        if case .full(_, let level, _, _) = form { return level }
        return nil
    }

    /// The normalised code as written on the card.
    public var value: String {
        switch form {
        case .full(let g, let l, let p, let n): return "\(g)\(l)\(p)\(n.value)"
        case .socialInsuranceNumber(let n): return n.value
        case .personalID(let id): return id.value
        }
    }

    /// The normalised code.
    public var description: String { value }

    /// Warnings only: the group list is unverified, so an unknown group or an unusual group/level pair
    /// never rejects a card.
    public var groupWarnings: [FieldProblem] {
        guard case .full(let group, let level, _, _) = form else { return [] }
        if Self.knownGroupsByBenefitLevel[level]?.contains(group) == true || Self.knownGroupsWithoutLevel.contains(group) {
            return []
        }
        if let expected = Self.knownGroupsByBenefitLevel.first(where: { $0.value.contains(group) })?.key {
            return [FieldProblem("insuranceCard.groupBenefitMismatch", severity: .warning,
                en: "Beneficiary group \(group) is usually benefit level \(expected), not \(level).",
                vi: "Mã đối tượng \(group) thường có mức hưởng \(expected), không phải \(level).")]
        }
        return [FieldProblem("insuranceCard.unknownGroup", severity: .warning,
            en: "Beneficiary group \(group) is not in the known list.",
            vi: "Mã đối tượng \(group) không có trong danh sách đã biết.")]
    }

    private static let formatProblem = FieldProblem("insuranceCard.format",
        en: "BHYT card code must be 15 characters (2 letters, benefit digit 1–5, 2-digit province, 10-digit BHXH number), a 10-digit BHXH number or a 12-digit personal ID.",
        vi: "Mã thẻ BHYT phải gồm 15 ký tự (2 chữ cái, mức hưởng 1–5, 2 số mã tỉnh, 10 số mã BHXH), hoặc mã số BHXH 10 số, hoặc số định danh cá nhân 12 số.")

    private static func rethrowingFormat<T>(_ body: () throws(FieldProblem) -> T) throws(FieldProblem) -> T {
        do { return try body() } catch { throw formatProblem }
    }
}
