/// Small helpers shared by the identifier parsers.
enum IdentifierText {
    /// NFC, trimmed, and inner spaces removed: identifiers are often typed with spaces ("001 058 012345").
    static func compact(_ text: String) -> String {
        // Most identifiers arrive as plain ASCII without spaces: nothing to do.
        if text.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) { return text }
        return VietnameseText.normalize(text).filter { $0 != " " }
    }

    /// True when every character is an ASCII digit (full-width and other scripts' digits are rejected).
    static func isDigits(_ text: some StringProtocol) -> Bool {
        !text.isEmpty && text.utf8.allSatisfy { (48...57).contains($0) }
    }

    /// True when every character is an ASCII upper-case letter or digit.
    static func isUpperAlphanumeric(_ text: some StringProtocol) -> Bool {
        !text.isEmpty && text.utf8.allSatisfy { (48...57).contains($0) || (65...90).contains($0) }
    }

    /// True when every character is an ASCII upper-case letter.
    static func isUpperLetters(_ text: some StringProtocol) -> Bool {
        !text.isEmpty && text.utf8.allSatisfy { (65...90).contains($0) }
    }

    /// ASCII-only upper-casing, so a Vietnamese letter can never turn into a valid code character.
    static func asciiUppercased(_ text: String) -> String {
        String(decoding: text.utf8.map { (97...122).contains($0) ? $0 - 32 : $0 }, as: UTF8.self)
    }
}
