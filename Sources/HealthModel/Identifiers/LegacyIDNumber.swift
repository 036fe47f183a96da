/// Old identity card number (CMND): 9 digits, or 12 for cards issued 2012–2023. Kept as a secondary identifier.
public struct LegacyIDNumber: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The digits.
    public let value: String

    /// Parses a CMND number; spaces are ignored, leading zeros kept.
    public init(parsing text: String) throws(FieldProblem) {
        let compact = IdentifierText.compact(text)
        guard IdentifierText.isDigits(compact), compact.utf8.count == 9 || compact.utf8.count == 12 else {
            throw FieldProblem("legacyId.format",
                en: "Old ID card (CMND) number must have 9 or 12 digits.",
                vi: "Số CMND phải gồm 9 hoặc 12 chữ số.")
        }
        value = compact
    }

    /// The digits.
    public var description: String { value }
}
