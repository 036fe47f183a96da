/// Temporary code for an unidentified person, `VD-<facility>-<yyyymmdd>-<seq>`, e.g. `VD-01001-20250314-7`.
///
/// Its letters and hyphens mean it can never be mistaken for a 12-digit personal ID; it stays an alias
/// after the person is identified and merged.
public struct TemporaryPersonCode: Sendable, Hashable, Codable, CustomStringConvertible {
    /// Normalised code.
    public let value: String
    /// Facility that issued it.
    public let facility: FacilityCode
    /// Day it was issued.
    public let issuedOn: PartialDate
    /// Sequence number within the facility and day.
    public let sequence: Int

    /// Parses a temporary code; `vd-01i29-…` is upper-cased.
    public init(parsing text: String) throws(FieldProblem) {
        let bad = FieldProblem("temporaryCode.format",
            en: "Temporary person code must be VD-<facility>-<yyyymmdd>-<sequence>, e.g. VD-01001-20250314-7.",
            vi: "Mã tạm thời phải có dạng VD-<mã cơ sở>-<yyyymmdd>-<số thứ tự>, ví dụ VD-01001-20250314-7.")
        let s = IdentifierText.asciiUppercased(IdentifierText.compact(text))
        let parts = s.split(separator: "-", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 4, parts[0] == "VD", parts[2].utf8.count == 8, IdentifierText.isDigits(parts[2]),
              IdentifierText.isDigits(parts[3]), parts[3].utf8.count <= 9, let seq = Int(parts[3])
        else { throw bad }
        do {
            facility = try FacilityCode(parsing: parts[1])
            issuedOn = try PartialDate(xml130: parts[2])
        } catch { throw bad }
        guard issuedOn.precision == .day else { throw bad }
        sequence = seq
        value = s
    }

    /// The normalised code.
    public var description: String { value }
}
