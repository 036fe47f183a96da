/// ICD-10 diagnosis code (MA_BENH_CHINH, MA_BENH_KT): a letter, two digits, optionally `.` and 1–2 characters.
public struct ICD10Code: Sendable, Hashable, Codable, CustomStringConvertible, Comparable {
    /// Normalised code with the dot, e.g. `J18.9`.
    public let value: String

    /// Parses a code; accepts lower case and the undotted form (`j189` → `J18.9`).
    public init(parsing text: String) throws(FieldProblem) {
        var s = IdentifierText.asciiUppercased(IdentifierText.compact(text))
        if s.count > 3, !s.contains(".") {
            s.insert(".", at: s.index(s.startIndex, offsetBy: 3))
        }
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        let category = parts[0]
        let ok = category.utf8.count == 3
            && IdentifierText.isUpperLetters(category.prefix(1))
            && IdentifierText.isDigits(category.dropFirst())
            && (parts.count == 1 || parts.count == 2 && (1...2).contains(parts[1].utf8.count)
                && IdentifierText.isUpperAlphanumeric(parts[1]))
        guard ok else {
            throw FieldProblem("icd10.format",
                en: "'\(text)' is not an ICD-10 code (e.g. J18.9, I10).",
                vi: "'\(text)' không phải mã ICD-10 (ví dụ J18.9, I10).")
        }
        value = s
    }

    /// The three-character category, e.g. `B20` for `B20.1`.
    public var category: String { String(value.prefix(3)) }

    /// Restricted data that must never leave the system: HIV (B20–B24), Z21, R75.
    public var isRestricted: Bool {
        let c = category
        return ("B20"..."B24").contains(c) || c == "Z21" || c == "R75"
    }

    /// The normalised code.
    public var description: String { value }

    /// Orders codes alphabetically.
    public static func < (lhs: ICD10Code, rhs: ICD10Code) -> Bool { lhs.value < rhs.value }
}

/// A ";"-joined ICD-10 list as XML 130 writes it: the first code is the main diagnosis.
public struct ICD10CodeList: Sendable, Hashable, Codable {
    /// The main diagnosis.
    public let main: ICD10Code
    /// Secondary diagnoses in order (XML 130 allows up to 12 in MA_BENH_KT).
    public let secondary: [ICD10Code]

    /// At most this many secondary codes are allowed.
    public static let maxSecondary = 12

    /// Parses `J18.9;I10;E11`; empty parts are ignored; throws the first bad code or when empty.
    public init(parsing text: String) throws(FieldProblem) {
        let parts = text.split(separator: ";").map { IdentifierText.compact(String($0)) }.filter { !$0.isEmpty }
        guard !parts.isEmpty else {
            throw FieldProblem("icd10.listEmpty", en: "No ICD-10 code given.", vi: "Không có mã ICD-10 nào.")
        }
        var codes: [ICD10Code] = []
        for part in parts { codes.append(try ICD10Code(parsing: part)) }
        guard codes.count - 1 <= Self.maxSecondary else {
            throw FieldProblem("icd10.tooManySecondary",
                en: "At most \(Self.maxSecondary) secondary diagnoses are allowed, found \(codes.count - 1).",
                vi: "Tối đa \(Self.maxSecondary) mã bệnh kèm theo, đang có \(codes.count - 1).")
        }
        main = codes[0]
        secondary = Array(codes.dropFirst())
    }

    /// All codes, main first.
    public var all: [ICD10Code] { [main] + secondary }

    /// The XML 130 form, main first.
    public var xml130String: String { all.map(\.value).joined(separator: ";") }
}
