/// Ethnicity code (MA_DANTOC): 2 digits; the 54 recognised ethnic groups are 01–54.
public struct EthnicityCode: Sendable, Hashable, Codable, CustomStringConvertible {
    /// Two digits.
    public let value: String

    /// Parses the code; a single digit gains its leading zero (`1` → `01`).
    public init(parsing text: String) throws(FieldProblem) {
        var s = IdentifierText.compact(text)
        if s.utf8.count == 1 { s = "0" + s }
        guard s.utf8.count == 2, IdentifierText.isDigits(s) else {
            throw FieldProblem("ethnicity.format", en: "Ethnicity code must have 2 digits.",
                               vi: "Mã dân tộc phải gồm 2 chữ số.")
        }
        value = s
    }

    /// Warning when the code is outside 01–54 (an unknown code does not reject a record).
    public var rangeWarnings: [FieldProblem] {
        guard let n = Int(value), (1...54).contains(n) else {
            return [FieldProblem("ethnicity.unknown", severity: .warning,
                en: "Ethnicity code \(value) is outside 01–54.", vi: "Mã dân tộc \(value) nằm ngoài 01–54.")]
        }
        return []
    }

    /// Two digits.
    public var description: String { value }
}

/// Nationality code (MA_QUOCTICH): 3 digits.
public struct NationalityCode: Sendable, Hashable, Codable, CustomStringConvertible {
    /// Three digits.
    public let value: String

    /// Parses the code; leading zeros are significant.
    public init(parsing text: String) throws(FieldProblem) {
        let s = IdentifierText.compact(text)
        guard s.utf8.count == 3, IdentifierText.isDigits(s) else {
            throw FieldProblem("nationality.format", en: "Nationality code must have 3 digits.",
                               vi: "Mã quốc tịch phải gồm 3 chữ số.")
        }
        value = s
    }

    /// Three digits.
    public var description: String { value }
}

/// Occupation code (MA_NGHE_NGHIEP): up to 5 digits.
public struct OccupationCode: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The digits.
    public let value: String

    /// Parses the code.
    public init(parsing text: String) throws(FieldProblem) {
        let s = IdentifierText.compact(text)
        guard (1...5).contains(s.utf8.count), IdentifierText.isDigits(s) else {
            throw FieldProblem("occupation.format", en: "Occupation code must have 1 to 5 digits.",
                               vi: "Mã nghề nghiệp phải gồm 1 đến 5 chữ số.")
        }
        value = s
    }

    /// The digits.
    public var description: String { value }
}
