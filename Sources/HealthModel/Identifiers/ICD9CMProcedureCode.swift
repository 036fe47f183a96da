/// ICD-9-CM procedure code (MA_PTTT_QT): two digits, optionally `.` and one or two digits, e.g. `47.01`.
public struct ICD9CMProcedureCode: Sendable, Hashable, Codable, CustomStringConvertible {
    /// Normalised code with the dot.
    public let value: String

    /// Parses a code; accepts the undotted form (`4701` → `47.01`).
    public init(parsing text: String) throws(FieldProblem) {
        var s = IdentifierText.compact(text)
        if s.count > 2, !s.contains(".") {
            s.insert(".", at: s.index(s.startIndex, offsetBy: 2))
        }
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        let ok = parts[0].utf8.count == 2 && IdentifierText.isDigits(parts[0])
            && (parts.count == 1 || parts.count == 2 && (1...2).contains(parts[1].utf8.count) && IdentifierText.isDigits(parts[1]))
        guard ok else {
            throw FieldProblem("icd9cm.format",
                en: "'\(text)' is not an ICD-9-CM procedure code (e.g. 47.01).",
                vi: "'\(text)' không phải mã thủ thuật ICD-9-CM (ví dụ 47.01).")
        }
        value = s
    }

    /// Parses a ";"-joined list; empty parts are ignored.
    public static func parseList(_ text: String) -> [Result<ICD9CMProcedureCode, FieldProblem>] {
        text.split(separator: ";").map(String.init).filter { !IdentifierText.compact($0).isEmpty }
            .map { part in Result { () throws(FieldProblem) in try ICD9CMProcedureCode(parsing: part) } }
    }

    /// The normalised code.
    public var description: String { value }
}
