import HealthModel

/// A seeded synthetic population of one city and the records its sources send about it, with ground
/// truth: which records belong to which person, and which must be rejected and why.
public struct Population: Sendable {
    public var citizens: [Citizen]
    public var records: [SyntheticRecord]

    /// Records that a correct broker accepts.
    public var acceptable: [SyntheticRecord] { records.filter { $0.truth.isAcceptable } }
}

/// One source record and what is true about it.
public struct SyntheticRecord: Sendable {
    public var record: SourceRecord
    public var truth: RecordTruth
    /// The interop account that sends it (`<facility>_lt_<initials>`, or BHXH's account for cards).
    public var sender: String

    /// A record, what a correct broker must conclude about it, and its sender.
    public init(record: SourceRecord, truth: RecordTruth, sender: String) {
        self.record = record
        self.truth = truth
        self.sender = sender
    }
}

/// What a correct broker must conclude about a record.
public struct RecordTruth: Sendable, Hashable {
    /// How the record is signed.
    public enum Signing: String, Sendable, Hashable {
        case valid, unsigned, forged
    }
    /// The citizen the record is about (nil when it is about nobody real).
    public var personIndex: Int?
    /// The validation code the record must be rejected with, if its content is invalid.
    public var rejectionCode: String?
    public var signing: Signing = .valid
    /// The noise applied, for reports (e.g. `noDiacritics`, `nfd`, `typo`, `swappedOrder`, `noPersonalId`).
    public var noise: [String] = []

    /// Valid content, valid signature.
    public var isAcceptable: Bool { rejectionCode == nil && signing == .valid }
}

/// How much of each kind of noise the sources put into their records.
public struct NoiseRates: Sendable {
    public var noDiacritics = 0.05
    public var nfd = 0.05
    public var typo = 0.03
    public var swappedOrder = 0.01
    public var noPersonalId = 0.10
    public var wrongCenturyDigit = 0.01
    public var unsigned = 0.005
    public var forged = 0.005

    // Identifier gaps: what sources leave out, so that linking cannot lean on one number everywhere.
    /// Visits of self-paying patients: only the facility's own patient id and demographics (no personal
    /// ID, no BHXH number, no card).
    public var visitWithoutIdentifiers = 0.35
    /// Doses after the first that carry only the immunization code (no personal ID, no BHXH number).
    public var doseOnlyImmunizationCode = 0.5
    /// Doses after the first that carry no identifier at all: name, birth date, sex, address and the
    /// caregiver's phone (a dose with neither identifier nor phone is invalid).
    public var doseWithoutIdentifiers = 0.1
    /// Birth events reported before the personal ID is issued: birth certificate number and mother only.
    public var birthWithoutPersonalId = 0.8
    /// Citizens born before 2005 whose personal ID is cancelled and re-issued during the period.
    public var personalIdReissue = 0.01

    public init() {}
    /// No noise at all: every record carries the personal ID and BHXH number.
    public static var none: NoiseRates {
        var rates = NoiseRates()
        rates.noDiacritics = 0; rates.nfd = 0; rates.typo = 0; rates.swappedOrder = 0
        rates.noPersonalId = 0; rates.wrongCenturyDigit = 0; rates.unsigned = 0; rates.forged = 0
        rates.visitWithoutIdentifiers = 0; rates.doseOnlyImmunizationCode = 0; rates.doseWithoutIdentifiers = 0
        rates.birthWithoutPersonalId = 0; rates.personalIdReissue = 0
        return rates
    }
}
