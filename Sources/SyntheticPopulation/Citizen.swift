import HealthModel

/// One synthetic person: the truth that the sources' records are noisy views of.
public struct Citizen: Sendable, Hashable {
    /// Index in `Population.citizens`: the ground-truth person id.
    public let index: Int
    public var familyName: String
    public var middleName: String
    public var givenName: String
    /// 1 male, 2 female (GIOI_TINH).
    public var sex: Int
    /// ISO partial date: `1948` for the year-only birth dates of some older people, else `yyyy-MM-dd`.
    public var birthDate: String
    public var birthYear: Int
    /// The active personal ID (12 digits), consistent with sex and birth year.
    public var personalId: String
    /// A cancelled personal ID, when the number was re-issued.
    public var oldPersonalId: String?
    /// The day (ISO) the number was re-issued: records before it carry `oldPersonalId`.
    public var personalIdReissuedOn: String?
    public var phone: String?
    /// 10-digit social insurance number (mã số BHXH).
    public var bhxhNumber: String
    /// 15-character BHYT card code: group + benefit digit + province + BHXH number.
    public var cardCode: String
    /// National immunization code (mã tiêm chủng), for the children the programme vaccinates.
    public var immunizationCode: String?
    public var communeCode: String
    public var street: String
    public var household: Int
    public var motherIndex: Int?
    /// Date of death (ISO), when the person dies within the simulated period.
    public var deathDate: String?

    /// "Family middle given", as the person's papers write it (NFC).
    public var fullName: String { [familyName, middleName, givenName].filter { !$0.isEmpty }.joined(separator: " ") }

    /// The personal ID a source would send on `day` (ISO): the old number before a re-issue.
    func personalId(on day: String) -> String {
        if let old = oldPersonalId, let reissued = personalIdReissuedOn, day < reissued { return old }
        return personalId
    }

    /// Demographics as a source would send them on `day` (ISO), before any noise.
    public func details(on day: String) -> PersonDetails {
        var details = PersonDetails(fullName: fullName, birthDate: birthDate, sex: sex, personalId: personalId(on: day))
        details.bhxhNumber = bhxhNumber
        details.phone = phone
        details.nationality = "000"
        details.ethnicity = "01"
        details.address = Address(text: "\(street), Hà Nội", provinceCode: "01", communeCode: communeCode)
        return details
    }

    /// A reference to this person on `day` (mother of a newborn, guardian).
    func reference(on day: String) -> PersonReference {
        PersonReference(fullName: fullName, birthDate: birthDate, personalId: personalId(on: day), phone: phone)
    }
}
