/// Health facility code: the 5-character insurance code (QĐ 384/2019) or a 13-digit GLN (QĐ 1551/2026).
///
/// The two systems are never mixed: a value is exactly one of them.
public struct FacilityCode: Sendable, Hashable, Codable, CustomStringConvertible {
    /// Which coding system the code belongs to.
    public enum Kind: String, Sendable, Hashable, Codable {
        /// 2-digit province + 3 characters, e.g. `01001` (Bạch Mai), `01I29` (a commune station).
        case insurance
        /// 13-digit Global Location Number.
        case gln
    }

    /// The normalised code.
    public let value: String
    /// The coding system.
    public let kind: Kind

    /// Parses a facility code; letters are upper-cased (`01i29` → `01I29`).
    public init(parsing text: String) throws(FieldProblem) {
        let compact = IdentifierText.asciiUppercased(IdentifierText.compact(text))
        let utf8 = compact.utf8
        if utf8.count == 5, IdentifierText.isDigits(compact.prefix(2)), IdentifierText.isUpperAlphanumeric(compact) {
            value = compact
            kind = .insurance
        } else if utf8.count == 13, IdentifierText.isDigits(compact) {
            value = compact
            kind = .gln
        } else {
            throw FieldProblem("facilityCode.format",
                en: "Facility code must be a 5-character insurance code (2-digit province + 3 letters/digits, e.g. 01001, 01I29) or a 13-digit GLN.",
                vi: "Mã cơ sở KCB phải là mã BHYT 5 ký tự (2 số mã tỉnh + 3 chữ/số, ví dụ 01001, 01I29) hoặc mã GLN 13 số.")
        }
    }

    /// Parses and additionally requires the 5-character insurance form (e.g. MA_DKBD, MA_NOI_DI).
    public init(parsingInsuranceCode text: String) throws(FieldProblem) {
        let code = try FacilityCode(parsing: text)
        guard code.kind == .insurance else {
            throw FieldProblem("facilityCode.insuranceCodeRequired",
                en: "This field takes the 5-character insurance facility code, not a GLN.",
                vi: "Trường này yêu cầu mã cơ sở KCB BHYT 5 ký tự, không dùng mã GLN.")
        }
        self = code
    }

    /// Province part of an insurance code (first 2 digits); nil for a GLN.
    public var provinceCode: String? { kind == .insurance ? String(value.prefix(2)) : nil }

    /// The normalised code.
    public var description: String { value }
}
