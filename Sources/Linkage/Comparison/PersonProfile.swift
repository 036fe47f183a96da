import HealthModel

/// What the person index compares about a record: folded names, partial birth date, and the other
/// quasi-identifiers, normalised once so that comparisons are cheap.
public struct PersonProfile: Sendable, Hashable {
    /// Folded family name (first token of a Vietnamese full name).
    public var family: String
    /// Folded given name (last token).
    public var given: String
    /// Folded middle tokens.
    public var middle: [String]
    public var birthDate: PartialDate?
    /// 1 male, 2 female, nil unknown.
    public var sex: Int?
    /// Normalised mobile number.
    public var phone: String?
    /// Commune code, or a postcode for foreign test data.
    public var locality: String?
    /// Folded address words (house number, street, ward).
    public var addressTokens: Set<String>
    /// A secondary identifier compared with typo tolerance (not a deterministic key), e.g. FEBRL's soc_sec_id.
    public var secondaryID: String?

    public init(family: String, given: String, middle: [String] = [], birthDate: PartialDate?, sex: Int? = nil,
                phone: String? = nil, locality: String? = nil, addressTokens: Set<String> = [], secondaryID: String? = nil) {
        self.family = family
        self.given = given
        self.middle = middle
        self.birthDate = birthDate
        self.sex = sex
        self.phone = phone
        self.locality = locality
        self.addressTokens = addressTokens
        self.secondaryID = secondaryID
    }

    /// The profile of a record's person details (Vietnamese order: family, middle…, given). A newborn's
    /// placeholder name ("Con bà Trần Thị Chi") and the phone beside it are the mother's: neither is
    /// compared, or the child would match its mother.
    public init(_ details: PersonDetails) {
        let folded = VietnameseText.fold(details.fullName)
        let placeholder = Self.isNewbornPlaceholder(folded)
        let tokens = placeholder ? [] : folded.split(separator: " ").map(String.init)
        self.init(family: tokens.first ?? "", given: tokens.count > 1 ? tokens[tokens.count - 1] : "",
                  middle: tokens.count > 2 ? Array(tokens[1..<(tokens.count - 1)]) : [],
                  birthDate: details.parsedBirthDate, sex: details.parsedSex.map(\.rawValue),
                  phone: placeholder ? nil : details.parsedPhone?.value, locality: details.address?.communeCode,
                  addressTokens: Set(VietnameseText.fold(details.address?.text ?? "").split(separator: " ").map(String.init)))
    }

    /// Prefixes (folded) of the names facilities give a newborn before it is named: "Con bà X",
    /// "Con của X", "Con chị X", "CB X" (con bà), where X is the mother.
    static let placeholderPrefixes = ["con ba ", "con cua ", "con chi ", "con me ", "cb "]

    /// True when a folded full name is a newborn's placeholder, which names the mother, not the child.
    public static func isNewbornPlaceholder(_ foldedName: String) -> Bool {
        placeholderPrefixes.contains { foldedName.hasPrefix($0) }
    }

    /// True when the profile has no name to compare (missing, or a newborn's placeholder).
    public var hasName: Bool { !family.isEmpty || !given.isEmpty }

    /// Every name token, for order-insensitive comparison.
    var nameTokens: [String] { ([family] + middle + [given]).filter { !$0.isEmpty } }
}
