/// An insurance card change published by Vietnam Social Security (BHXH); key = BHXH number.
public struct InsuranceCardChange: HealthRecord {
    /// Schema version of the canonical form.
    public static let currentSchemaVersion = 1
    /// Records of this type are insurance card changes.
    public static let kind = RecordKind.insuranceCard

    /// What happened to the card.
    public enum ChangeKind: String, Codable, Sendable, Hashable, CaseIterable {
        /// First card issued.
        case issued
        /// Validity extended.
        case renewed
        /// Card data changed (group, benefit level, registered facility…).
        case changed
        /// Card suspended.
        case suspended
        /// Holder demographics corrected.
        case holderCorrected
    }

    /// Canonical schema version, `1`.
    public var schemaVersion: Int
    /// Kind of change.
    public var kind: ChangeKind
    /// Card code as printed, any accepted form.
    public var cardCode: String
    /// 10-digit BHXH number (the Kafka key).
    public var bhxhNumber: String
    /// The card holder.
    public var holder: PersonDetails
    /// Benefit level 1–5.
    public var benefitLevel: Int?
    /// First valid day.
    public var validFrom: String?
    /// Last valid day.
    public var validTo: String?
    /// Registered primary-care facility, 5-character code (MA_DKBD).
    public var registeredFacility: String?
    /// Date from which five continuous years of coverage count.
    public var fiveYearContinuousFrom: String?
    /// When the change takes effect.
    public var effectiveAt: String
    /// Reason, e.g. for a suspension.
    public var reason: String?

    /// Creates a card change.
    public init(kind: ChangeKind, cardCode: String, bhxhNumber: String, holder: PersonDetails, effectiveAt: String) {
        schemaVersion = Self.currentSchemaVersion
        self.kind = kind
        self.cardCode = cardCode
        self.bhxhNumber = bhxhNumber
        self.holder = holder
        self.effectiveAt = effectiveAt
    }

    /// The BHXH number.
    public var kafkaKey: String {
        keyPart(bhxhNumber) { s throws(FieldProblem) in try SocialInsuranceNumber(parsing: s).value }
    }

    /// Only BHXH may send card changes.
    public var senderScope: SenderScope { .socialSecurity }

    /// Every problem of the change, including card code vs BHXH number, benefit level and personal ID.
    public func validate() -> [ValidationIssue] {
        var issues = IssueCollector()
        issues.schemaVersion(schemaVersion, expected: Self.currentSchemaVersion)
        let effective = issues.date(effectiveAt, at: "effectiveAt", required: true, minimum: .day)
        let bhxh = issues.parse("bhxhNumber") { () throws(FieldProblem) in try SocialInsuranceNumber(parsing: bhxhNumber) }
        holder.validate(at: "holder", rules: PersonRules(identifierRequired: false, asOf: effective), into: &issues)
        if let card = issues.parse("cardCode", { () throws(FieldProblem) in try InsuranceCardCode(parsing: cardCode) }) {
            for w in card.groupWarnings { issues.add("cardCode", w) }
            if let bhxh, let onCard = card.socialInsuranceNumber, onCard != bhxh {
                issues.add("cardCode", "insuranceCard.bhxhMismatch",
                    en: "The BHXH number in the card code (\(onCard)) differs from bhxhNumber (\(bhxh)).",
                    vi: "Mã số BHXH trong mã thẻ (\(onCard)) khác với bhxhNumber (\(bhxh)).")
            }
            if let level = card.benefitLevel, let benefitLevel, level != benefitLevel {
                issues.add("benefitLevel", "insuranceCard.benefitLevelMismatch",
                    en: "Benefit level \(benefitLevel) differs from the card code's digit \(level).",
                    vi: "Mức hưởng \(benefitLevel) khác với chữ số mức hưởng \(level) trong mã thẻ.")
            }
            if let id = card.personalID, let holderID = holder.parsedPersonalID, id != holderID {
                issues.add("cardCode", "insuranceCard.personalIdMismatch",
                    en: "The card number is a personal ID different from the holder's.",
                    vi: "Mã thẻ là số định danh khác với số định danh của chủ thẻ.")
            }
        }
        if let benefitLevel, !(1...5).contains(benefitLevel) {
            issues.add("benefitLevel", "benefitLevel.invalid", en: "Benefit level must be 1–5.", vi: "Mức hưởng phải từ 1 đến 5.")
        }
        let needsValidity = kind == .issued || kind == .renewed || kind == .changed
        let from = issues.date(validFrom, at: "validFrom", required: needsValidity, minimum: .day)
        let to = issues.date(validTo, at: "validTo", required: needsValidity, minimum: .day)
        issues.order(from, to, at: "validTo", code: "insuranceCard.validityOrder",
            en: "Card validity ends before it starts.", vi: "Hạn thẻ đến trước hạn thẻ từ.")
        issues.facility(registeredFacility, at: "registeredFacility", required: kind == .issued, insuranceOnly: true)
        let fiveYear = issues.date(fiveYearContinuousFrom, at: "fiveYearContinuousFrom", required: false, minimum: .day)
        issues.order(fiveYear, effective, at: "fiveYearContinuousFrom", code: "fiveYearContinuousFrom.afterEffective", severity: .warning,
            en: "The five-year continuous date is after the change takes effect.",
            vi: "Ngày đủ 5 năm liên tục sau ngày hiệu lực của thay đổi.")
        issues.text(reason, at: "reason", required: false, maxLength: 1024)
        if kind == .suspended, (reason ?? "").isEmpty {
            issues.add("reason", "reason.missing", .warning, en: "Suspension without a reason.", vi: "Tạm dừng thẻ nhưng không nêu lý do.")
        }
        return issues.issues
    }
}
