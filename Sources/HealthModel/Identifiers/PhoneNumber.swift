/// Vietnamese mobile number, normalised to the 10-digit national form `0xxxxxxxxx`.
public struct PhoneNumber: Sendable, Hashable, Codable, CustomStringConvertible {
    /// Ten digits, `^(03|05|07|08|09)\d{8}$`.
    public let value: String

    /// Parses a mobile number: `+84`/`84` prefixes become `0`; spaces, dots and hyphens are ignored.
    public init(parsing text: String) throws(FieldProblem) {
        var s = IdentifierText.compact(text).filter { $0 != "." && $0 != "-" }
        if s.hasPrefix("+84") {
            s = "0" + s.dropFirst(3)
        } else if s.hasPrefix("84"), s.utf8.count == 11 {
            s = "0" + s.dropFirst(2)
        }
        let prefixes: Set<Substring> = ["03", "05", "07", "08", "09"]
        guard s.utf8.count == 10, IdentifierText.isDigits(s), prefixes.contains(s.prefix(2)) else {
            throw FieldProblem("phone.format",
                en: "Phone must be a Vietnamese mobile number: 10 digits starting 03, 05, 07, 08 or 09 (+84 accepted).",
                vi: "Số điện thoại phải là số di động Việt Nam 10 chữ số, bắt đầu bằng 03, 05, 07, 08 hoặc 09 (chấp nhận +84).")
        }
        value = s
    }

    /// International form `+84xxxxxxxxx`.
    public var international: String { "+84" + value.dropFirst() }

    /// The 10-digit national form.
    public var description: String { value }
}
