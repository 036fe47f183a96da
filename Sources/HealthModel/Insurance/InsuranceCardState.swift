/// What insurance (BHXH) last told the health record about a card holder, field by field.
public struct InsuranceHolderValues: Codable, Sendable, Hashable {
    /// Full name, NFC.
    public var fullName: String?
    /// Birth date, possibly partial.
    public var birthDate: String?
    /// 1 male, 2 female, 3 undetermined.
    public var sex: Int?
    /// 12-digit personal ID.
    public var personalId: String?
    /// Mobile phone, normalised (`0xxxxxxxxx`).
    public var phone: String?

    /// Creates holder values.
    public init(fullName: String? = nil, birthDate: String? = nil, sex: Int? = nil, personalId: String? = nil, phone: String? = nil) {
        self.fullName = fullName
        self.birthDate = birthDate
        self.sex = sex
        self.personalId = personalId
        self.phone = phone
    }
}

/// The current state of one BHYT card, folded from its change history in effective order.
///
/// A card is identified by its holder's BHXH number, not by the printed code: the code has three
/// accepted forms for the same card (15 characters, the 10-digit BHXH number, the personal ID) and
/// changes with the beneficiary group, while one person holds one card at a time.
public struct InsuranceCardState: Codable, Sendable, Hashable {
    /// Whether the card may be used.
    public enum Status: String, Codable, Sendable, Hashable {
        /// Issued, renewed or changed, and not suspended since.
        case active
        /// Suspended by the latest status-bearing change.
        case suspended
    }

    /// The holder's 10-digit BHXH number.
    public var bhxhNumber: String
    /// The card code of the latest change, normalised.
    public var cardCode: String
    /// Beneficiary group (2 letters), from the latest 15-character code.
    public var group: String?
    /// Benefit level 1–5.
    public var benefitLevel: Int?
    /// First valid day.
    public var validFrom: String?
    /// Last valid day.
    public var validTo: String?
    /// Registered primary-care facility (MA_DKBD).
    public var registeredFacility: String?
    /// Date from which five continuous years of coverage count.
    public var fiveYearContinuousFrom: String?
    /// Active or suspended.
    public var status: Status
    /// BHXH's reason for the suspension, while suspended.
    public var suspensionReason: String?
    /// Effective time of the last change in effective order.
    public var effectiveAt: String
    /// Kind of that change.
    public var lastChange: InsuranceCardChange.ChangeKind
    /// Number of changes folded.
    public var changes: Int
    /// Insurance's last known value of each holder field.
    public var holder: InsuranceHolderValues

    /// True when the card is active and `day` (`YYYY-MM-DD`) lies within its validity.
    public func isValid(on day: String) -> Bool {
        guard status == .active, let validFrom, let validTo else { return false }
        return String(validFrom.prefix(10)) <= day && day <= String(validTo.prefix(10))
    }

    /// Folds a card's changes into its current state; `changes` are in arrival order.
    ///
    /// Changes apply in order of their own `effectiveAt`, ties in arrival order (for one BHXH number,
    /// arrival order is BHXH's publishing order: the topic is keyed by it). So a change that arrives
    /// late (a replay, a backdated suspension) lands where it belongs, and the result does not depend
    /// on arrival order except between changes effective at the same time. Each change sets only the
    /// fields it carries; a holder field BHXH omits keeps its last known value.
    /// Returns nil for an empty history.
    public static func fold(_ changes: [InsuranceCardChange]) -> InsuranceCardState? {
        let ordered = changes.enumerated().map { (index: $0.offset, change: $0.element, at: try? PartialDate(iso: $0.element.effectiveAt)) }
            .sorted { a, b in
                switch (a.at, b.at) {
                case let (x?, y?) where x != y: return x < y
                case (nil, _?): return true   // unreadable (never stored: validation rejects it) sorts first
                case (_?, nil): return false
                default: return a.index < b.index
                }
            }
        guard let first = ordered.first?.change else { return nil }
        var state = InsuranceCardState(bhxhNumber: keyPart(first.bhxhNumber) { s throws(FieldProblem) in try SocialInsuranceNumber(parsing: s).value },
                                       cardCode: first.cardCode, status: .active, effectiveAt: first.effectiveAt,
                                       lastChange: first.kind, changes: 0, holder: InsuranceHolderValues())
        for (_, change, _) in ordered { state.apply(change) }
        return state
    }

    private mutating func apply(_ change: InsuranceCardChange) {
        let code = try? InsuranceCardCode(parsing: change.cardCode)
        cardCode = code?.value ?? VietnameseText.normalize(change.cardCode)
        if case .full(let g, let level, _, _)? = code?.form {
            group = g
            benefitLevel = level
        }
        if let level = change.benefitLevel { benefitLevel = level }
        switch change.kind {
        case .issued, .renewed, .changed:
            status = .active
            suspensionReason = nil
            if let from = change.validFrom { validFrom = from }
            if let to = change.validTo { validTo = to }
        case .suspended:
            status = .suspended
            suspensionReason = change.reason
        case .holderCorrected:
            break
        }
        if let facility = change.registeredFacility { registeredFacility = facility }
        if let fiveYear = change.fiveYearContinuousFrom { fiveYearContinuousFrom = fiveYear }
        let h = change.holder
        holder.fullName = VietnameseText.normalize(h.fullName)
        holder.birthDate = h.birthDate
        holder.sex = h.sex
        if let id = h.parsedPersonalID ?? code?.personalID { holder.personalId = id.value }
        if let phone = h.parsedPhone { holder.phone = phone.value }
        effectiveAt = change.effectiveAt
        lastChange = change.kind
        changes += 1
    }
}
