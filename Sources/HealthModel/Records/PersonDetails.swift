/// Residence address: free text plus administrative unit codes (DIA_CHI, MATINH/MAHUYEN/MAXA_CU_TRU).
public struct Address: Codable, Sendable, Hashable {
    /// Full address as written (DIA_CHI).
    public var text: String?
    /// Province code, 2 digits (MATINH_CU_TRU).
    public var provinceCode: String?
    /// District code, 3 digits, pre-July-2025 only and never required (MAHUYEN_CU_TRU).
    public var districtCode: String?
    /// Commune code, 5 digits (MAXA_CU_TRU).
    public var communeCode: String?

    /// Creates an address.
    public init(text: String? = nil, provinceCode: String? = nil, districtCode: String? = nil, communeCode: String? = nil) {
        self.text = text
        self.provinceCode = provinceCode
        self.districtCode = districtCode
        self.communeCode = communeCode
    }
}

/// A person as a source record describes them: demographics and every identifier the sender knows.
///
/// Codes are kept as the sender's strings so that validation can report every problem at once;
/// the typed accessors give the parsed, normalised values.
public struct PersonDetails: Codable, Sendable, Hashable {
    /// Full name, family name first (HO_TEN).
    public var fullName: String
    /// Birth date, possibly year only (NGAY_SINH), canonical partial-date form.
    public var birthDate: String
    /// 1 male, 2 female, 3 undetermined (GIOI_TINH).
    public var sex: Int
    /// 12-digit personal ID (SO_CCCD).
    public var personalId: String?
    /// Old CMND number, 9 or 12 digits.
    public var legacyId: String?
    /// Passport number, for foreigners (SO_CCCD may carry it).
    public var passportNumber: String?
    /// Temporary code of an unidentified person (`VD-<facility>-<yyyymmdd>-<seq>`).
    public var temporaryCode: String?
    /// 10-digit social insurance (BHXH) number.
    public var bhxhNumber: String?
    /// National immunization code.
    public var immunizationCode: String?
    /// Nationality code, 3 digits (MA_QUOCTICH).
    public var nationality: String?
    /// Ethnicity code, 2 digits (MA_DANTOC).
    public var ethnicity: String?
    /// Occupation code, up to 5 digits (MA_NGHE_NGHIEP).
    public var occupation: String?
    /// Residence address (DIA_CHI and unit codes).
    public var address: Address?
    /// Mobile phone (DIEN_THOAI).
    public var phone: String?

    /// Creates a person with the required demographics.
    public init(fullName: String, birthDate: String, sex: Int, personalId: String? = nil, legacyId: String? = nil,
                passportNumber: String? = nil, temporaryCode: String? = nil, bhxhNumber: String? = nil,
                immunizationCode: String? = nil, nationality: String? = nil, ethnicity: String? = nil,
                occupation: String? = nil, address: Address? = nil, phone: String? = nil) {
        self.fullName = fullName
        self.birthDate = birthDate
        self.sex = sex
        self.personalId = personalId
        self.legacyId = legacyId
        self.passportNumber = passportNumber
        self.temporaryCode = temporaryCode
        self.bhxhNumber = bhxhNumber
        self.immunizationCode = immunizationCode
        self.nationality = nationality
        self.ethnicity = ethnicity
        self.occupation = occupation
        self.address = address
        self.phone = phone
    }

    /// The name split into family / middle / given tokens.
    public var name: PersonName { PersonName(fullName: fullName) }
    /// Parsed birth date, when valid.
    public var parsedBirthDate: PartialDate? { try? PartialDate(iso: birthDate) }
    /// Parsed sex, when valid.
    public var parsedSex: Sex? { Sex(rawValue: sex) }
    /// Parsed personal ID, when present and valid.
    public var parsedPersonalID: PersonalID? { personalId.flatMap { try? PersonalID(parsing: $0) } }
    /// Normalised phone, when present and a valid mobile number.
    public var parsedPhone: PhoneNumber? { phone.flatMap { try? PhoneNumber(parsing: $0) } }
}

/// A related person named in a record (mother of a newborn, household head, relative).
public struct PersonReference: Codable, Sendable, Hashable {
    /// Full name.
    public var fullName: String
    /// Birth date, possibly partial.
    public var birthDate: String?
    /// 12-digit personal ID.
    public var personalId: String?
    /// Old CMND number.
    public var legacyId: String?
    /// 10-digit BHXH number.
    public var bhxhNumber: String?
    /// Mobile phone.
    public var phone: String?

    /// Creates a reference.
    public init(fullName: String, birthDate: String? = nil, personalId: String? = nil, legacyId: String? = nil,
                bhxhNumber: String? = nil, phone: String? = nil) {
        self.fullName = fullName
        self.birthDate = birthDate
        self.personalId = personalId
        self.legacyId = legacyId
        self.bhxhNumber = bhxhNumber
        self.phone = phone
    }
}
