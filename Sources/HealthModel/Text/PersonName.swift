/// A Vietnamese full name split into tokens: family name first, given name last, middle names between.
public struct PersonName: Sendable, Hashable, Codable {
    /// The normalised NFC full name as stored.
    public let fullName: String
    /// First token (Nguyễn, Trần, Lê…); nil for a one-word name.
    public let family: String?
    /// Tokens between family and given name (often "Văn", "Thị"); may be empty.
    public let middle: [String]
    /// Last token, the name people are called by.
    public let given: String?

    /// Splits a full name; blank input gives an empty name rather than failing.
    public init(fullName: String) {
        let normalized = VietnameseText.normalize(fullName)
        self.fullName = normalized
        let tokens = normalized.split(separator: " ").map(String.init)
        switch tokens.count {
        case 0:
            family = nil; middle = []; given = nil
        case 1:
            // A single word is what the person is called; we cannot tell it is a family name.
            family = nil; middle = []; given = tokens[0]
        default:
            family = tokens[0]
            middle = Array(tokens[1..<(tokens.count - 1)])
            given = tokens[tokens.count - 1]
        }
    }

    /// All tokens in written order.
    public var tokens: [String] { [family].compactMap { $0 } + middle + [given].compactMap { $0 } }

    /// Folded tokens for matching (see `VietnameseText.fold`).
    public var foldedTokens: [String] { tokens.map(VietnameseText.fold) }

    /// Whether the name is empty after normalisation.
    public var isEmpty: Bool { tokens.isEmpty }
}
