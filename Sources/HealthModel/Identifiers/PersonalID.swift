/// Personal identification number (số định danh cá nhân, on the CCCD card); since 1 July 2025 also the
/// personal health ID (mã định danh y tế).
///
/// 12 digits: 3-digit province of birth registration, 1 century/sex digit, last 2 digits of the birth
/// year, 6 digits. No check digit is defined, so none is checked.
public struct PersonalID: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The 12 digits.
    public let value: String

    /// Parses a personal ID, tolerating surrounding and inner spaces; leading zeros are significant.
    public init(parsing text: String) throws(FieldProblem) {
        let compact = IdentifierText.compact(text)
        guard IdentifierText.isDigits(compact) else {
            throw FieldProblem("personalId.notDigits",
                en: "Personal ID must contain digits only.",
                vi: "Số định danh cá nhân chỉ được gồm chữ số.")
        }
        guard compact.utf8.count == 12 else {
            throw FieldProblem("personalId.length",
                en: "Personal ID must have 12 digits, found \(compact.utf8.count).",
                vi: "Số định danh cá nhân phải có 12 chữ số (đang có \(compact.utf8.count)).")
        }
        value = compact
    }

    /// First three digits: province of birth registration.
    public var provinceCode: String { String(value.prefix(3)) }

    /// Province name when the code is in the TT 07/2016 table.
    public var provinceName: String? { ProvinceCodes.personalIDProvinces[provinceCode] }

    /// Fourth digit, encoding century and sex.
    public var centuryDigit: Int { Int(value.utf8[value.utf8.index(value.utf8.startIndex, offsetBy: 3)] - 48) }

    /// Sex encoded by the century digit (even male, odd female).
    public var sex: Sex { centuryDigit % 2 == 0 ? .male : .female }

    /// First year of the encoded century: 0/1 → 1900, 2/3 → 2000, … 8/9 → 2300.
    public var centuryStart: Int { 1900 + (centuryDigit / 2) * 100 }

    /// Birth year encoded by digits 4–6.
    public var birthYear: Int { centuryStart + (Int(value.dropFirst(4).prefix(2)) ?? 0) }

    /// The 12 digits.
    public var description: String { value }

    /// Problems that do not make the number unreadable: unknown province (warning, the table is
    /// unverified after 2025), and disagreement with a known birth year or sex (errors).
    public func consistencyProblems(birthYear knownYear: Int?, sex knownSex: Sex?) -> [FieldProblem] {
        var problems: [FieldProblem] = []
        if provinceName == nil {
            problems.append(FieldProblem("personalId.unknownProvince", severity: .warning,
                en: "Personal ID province code \(provinceCode) is not in the TT 07/2016 table.",
                vi: "Mã tỉnh \(provinceCode) của số định danh không có trong bảng mã TT 07/2016."))
        }
        if let knownYear {
            let knownCenturyStart = (knownYear / 100) * 100
            if knownCenturyStart != centuryStart {
                problems.append(FieldProblem("personalId.centuryDigitMismatch",
                    en: "Personal ID century digit \(centuryDigit) means born \(centuryStart)–\(centuryStart + 99), but the birth year is \(knownYear).",
                    vi: "Chữ số thế kỷ \(centuryDigit) của số định danh ứng với năm sinh \(centuryStart)–\(centuryStart + 99), nhưng năm sinh là \(knownYear)."))
            } else if knownYear % 100 != birthYear % 100 {
                problems.append(FieldProblem("personalId.birthYearMismatch",
                    en: "Personal ID encodes birth year \(birthYear), but the birth year is \(knownYear).",
                    vi: "Số định danh mã hóa năm sinh \(birthYear), nhưng năm sinh là \(knownYear)."))
            }
        }
        if let knownSex, knownSex != .undetermined, knownSex != sex {
            problems.append(FieldProblem("personalId.sexDigitMismatch",
                en: "Personal ID digit \(centuryDigit) means \(sex == .male ? "male" : "female"), but the sex is \(knownSex == .male ? "male" : "female").",
                vi: "Chữ số \(centuryDigit) của số định danh ứng với giới tính \(sex == .male ? "nam" : "nữ"), nhưng giới tính là \(knownSex == .male ? "nam" : "nữ")."))
        }
        return problems
    }
}
