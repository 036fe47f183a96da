/// A vaccine dose from the immunization system; key `<site>:<doseId>`.
public struct VaccinationDose: HealthRecord {
    /// Schema version of the canonical form.
    public static let currentSchemaVersion = 1
    /// Records of this type are vaccinations.
    public static let kind = RecordKind.vaccination

    /// Canonical schema version, `1`.
    public var schemaVersion: Int
    /// Facility code of the vaccination site; the sender must own it.
    public var siteCode: String
    /// The administering system's own dose id.
    public var doseId: String
    /// The vaccinated person (identifiers, name, birth date, sex, phone).
    public var person: PersonDetails
    /// Vaccine code used by the immunization system.
    public var vaccineCode: String
    /// Vaccine name, e.g. "DPT-VGB-Hib (5 trong 1)".
    public var vaccineName: String
    /// Lot number.
    public var lotNumber: String
    /// Dose number in the series, from 1.
    public var doseNumber: Int
    /// When the dose was given (at least the day).
    public var administeredAt: String
    /// Free note (reactions, etc.).
    public var note: String?

    /// Creates a dose.
    public init(siteCode: String, doseId: String, person: PersonDetails, vaccineCode: String, vaccineName: String,
                lotNumber: String, doseNumber: Int, administeredAt: String, note: String? = nil) {
        schemaVersion = Self.currentSchemaVersion
        self.siteCode = siteCode
        self.doseId = doseId
        self.person = person
        self.vaccineCode = vaccineCode
        self.vaccineName = vaccineName
        self.lotNumber = lotNumber
        self.doseNumber = doseNumber
        self.administeredAt = administeredAt
        self.note = note
    }

    /// `<site>:<doseId>`.
    public var kafkaKey: String {
        keyPart(siteCode) { s throws(FieldProblem) in try FacilityCode(parsing: s).value } + ":" + doseId
    }

    /// The sender must own the vaccination site.
    public var senderScope: SenderScope {
        .facility(keyPart(siteCode) { s throws(FieldProblem) in try FacilityCode(parsing: s).value })
    }

    /// Every problem of the dose.
    public func validate() -> [ValidationIssue] {
        var issues = IssueCollector()
        issues.schemaVersion(schemaVersion, expected: Self.currentSchemaVersion)
        issues.facility(siteCode, at: "siteCode", required: true)
        issues.text(doseId, at: "doseId", required: true, maxLength: 100)
        let given = issues.date(administeredAt, at: "administeredAt", required: true, minimum: .day)
        let birth = person.validate(at: "person", rules: PersonRules(identifierRequired: false, asOf: given), into: &issues)
        _ = birth
        let ids = [person.personalId, person.legacyId, person.passportNumber, person.temporaryCode, person.bhxhNumber,
                   person.immunizationCode, person.phone]
        if ids.allSatisfy({ ($0 ?? "").isEmpty }) {
            issues.add("person", "person.identifierMissing",
                en: "No way to find the person: send a personal ID, immunization code, another identifier or a phone.",
                vi: "Không tìm được người được tiêm: cần số định danh, mã tiêm chủng, mã khác hoặc số điện thoại.")
        }
        issues.text(vaccineCode, at: "vaccineCode", required: true, maxLength: 50)
        issues.text(vaccineName, at: "vaccineName", required: true, maxLength: 255)
        issues.text(lotNumber, at: "lotNumber", required: true, maxLength: 50)
        issues.text(note, at: "note", required: false, maxLength: 2000)
        if !(1...20).contains(doseNumber) {
            issues.add("doseNumber", "doseNumber.invalid", en: "Dose number must be 1–20, found \(doseNumber).",
                       vi: "Mũi tiêm thứ phải từ 1 đến 20 (đang là \(doseNumber)).")
        }
        return issues.issues
    }
}
