/// Social insurance number (mã số BHXH): 10 digits, the last part of a 15-character BHYT card code.
public struct SocialInsuranceNumber: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The 10 digits.
    public let value: String

    /// Parses a BHXH number; spaces are ignored, leading zeros kept.
    public init(parsing text: String) throws(FieldProblem) {
        let compact = IdentifierText.compact(text)
        guard IdentifierText.isDigits(compact), compact.utf8.count == 10 else {
            throw FieldProblem("bhxhNumber.format",
                en: "Social insurance (BHXH) number must have 10 digits.",
                vi: "Mã số BHXH phải gồm 10 chữ số.")
        }
        value = compact
    }

    /// The 10 digits.
    public var description: String { value }
}
