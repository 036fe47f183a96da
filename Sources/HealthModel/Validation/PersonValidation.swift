/// What a record type demands of the person it describes.
public struct PersonRules: Sendable, Hashable {
    /// At least one identifier (personal ID, CMND, passport, temporary code, BHXH or immunization code) is required.
    public var identifierRequired: Bool
    /// Date the address codes must be valid at (chooses the pre/post-2025 system).
    public var asOf: PartialDate?

    /// Creates rules.
    public init(identifierRequired: Bool, asOf: PartialDate?) {
        self.identifierRequired = identifierRequired
        self.asOf = asOf
    }
}

extension PersonDetails {
    /// All problems of the person at `path`; returns the parsed birth date for the record's cross-checks.
    @discardableResult
    public func validate(at path: String, rules: PersonRules, into issues: inout IssueCollector) -> PartialDate? {
        issues.text(fullName, at: joinPath(path, "fullName"), required: true, maxLength: 255)
        let birth = issues.date(birthDate, at: joinPath(path, "birthDate"), required: true)
        if let birth, let asOf = rules.asOf, asOf.isDefinitelyBefore(birth) {
            issues.add(joinPath(path, "birthDate"), "birthDate.afterEvent",
                en: "Birth date \(birth) is after the date of the record (\(asOf)).",
                vi: "Ngày sinh \(birth) sau ngày của hồ sơ (\(asOf)).")
        }
        issues.code(sex, at: joinPath(path, "sex"), allowed: 1...3, required: true, label: "sex", labelVi: "Giới tính")

        if let personalId {
            let idPath = joinPath(path, "personalId")
            if let id = issues.parse(idPath, { () throws(FieldProblem) in try PersonalID(parsing: personalId) }) {
                for problem in id.consistencyProblems(birthYear: birth?.year, sex: Sex(rawValue: sex)) {
                    issues.add(idPath, problem)
                }
            }
        }
        if let legacyId {
            issues.parse(joinPath(path, "legacyId")) { () throws(FieldProblem) in try LegacyIDNumber(parsing: legacyId) }
        }
        issues.text(passportNumber, at: joinPath(path, "passportNumber"), required: false, maxLength: 15)
        if let temporaryCode {
            issues.parse(joinPath(path, "temporaryCode")) { () throws(FieldProblem) in try TemporaryPersonCode(parsing: temporaryCode) }
        }
        if let bhxhNumber {
            issues.parse(joinPath(path, "bhxhNumber")) { () throws(FieldProblem) in try SocialInsuranceNumber(parsing: bhxhNumber) }
        }
        issues.text(immunizationCode, at: joinPath(path, "immunizationCode"), required: false, maxLength: 50)
        let identifiers = [personalId, legacyId, passportNumber, temporaryCode, bhxhNumber, immunizationCode]
        if rules.identifierRequired, identifiers.allSatisfy({ ($0 ?? "").isEmpty }) {
            issues.add(path.isEmpty ? "$" : path, "person.identifierMissing",
                en: "No identifier given: send the personal ID, or CMND, passport, BHXH number, immunization or temporary code.",
                vi: "Không có mã định danh: cần số định danh cá nhân, hoặc CMND, hộ chiếu, mã số BHXH, mã tiêm chủng hay mã tạm thời.")
        } else if (personalId ?? "").isEmpty, (temporaryCode ?? "").isEmpty {
            issues.add(joinPath(path, "personalId"), "personalId.missing", .warning,
                en: "No personal ID: the person will be linked on other identifiers and demographics.",
                vi: "Không có số định danh cá nhân: hệ thống sẽ ghép hồ sơ theo các mã và thông tin khác.")
        }
        if let nationality {
            issues.parse(joinPath(path, "nationality")) { () throws(FieldProblem) in try NationalityCode(parsing: nationality) }
        }
        if let ethnicity,
           let code = issues.parse(joinPath(path, "ethnicity"), { () throws(FieldProblem) in try EthnicityCode(parsing: ethnicity) }) {
            for w in code.rangeWarnings { issues.add(joinPath(path, "ethnicity"), w) }
        }
        if let occupation {
            issues.parse(joinPath(path, "occupation")) { () throws(FieldProblem) in try OccupationCode(parsing: occupation) }
        }
        if let address { address.validate(at: joinPath(path, "address"), asOf: rules.asOf, into: &issues) }
        PersonDetails.checkPhone(phone, at: joinPath(path, "phone"), into: &issues)
        return birth
    }

    /// Missing phone → warning; a number that is not a VN mobile → warning (landlines exist, the visit is still valid).
    static func checkPhone(_ phone: String?, at path: String, into issues: inout IssueCollector) {
        guard let phone, !phone.isEmpty else {
            issues.add(path, "phone.missing", .warning,
                en: "No phone number: the person is harder to find and contact.",
                vi: "Không có số điện thoại: khó tìm và liên lạc với người bệnh.")
            return
        }
        do {
            _ = try PhoneNumber(parsing: phone)
        } catch {
            var warning = error
            warning.severity = .warning
            issues.add(path, warning)
        }
    }
}

extension Address {
    /// All problems of the address codes, read in the system valid at `asOf`.
    public func validate(at path: String, asOf: PartialDate?, into issues: inout IssueCollector) {
        issues.text(text, at: joinPath(path, "text"), required: false, maxLength: 1024)
        let result = AdministrativeUnits.check(province: provinceCode, district: districtCode, commune: communeCode, validOn: asOf)
        for (field, problem) in result.problems {
            issues.add(joinPath(path, field + "Code"), problem)
        }
    }
}

extension PersonReference {
    /// All problems of a related person; `identifierRequired` asks for at least one identifier.
    public func validate(at path: String, identifierRequired: Bool, into issues: inout IssueCollector) {
        issues.text(fullName, at: joinPath(path, "fullName"), required: true, maxLength: 255)
        let birth = issues.date(birthDate, at: joinPath(path, "birthDate"), required: false)
        if let personalId,
           let id = issues.parse(joinPath(path, "personalId"), { () throws(FieldProblem) in try PersonalID(parsing: personalId) }) {
            for p in id.consistencyProblems(birthYear: birth?.year, sex: nil) { issues.add(joinPath(path, "personalId"), p) }
        }
        if let legacyId {
            issues.parse(joinPath(path, "legacyId")) { () throws(FieldProblem) in try LegacyIDNumber(parsing: legacyId) }
        }
        if let bhxhNumber {
            issues.parse(joinPath(path, "bhxhNumber")) { () throws(FieldProblem) in try SocialInsuranceNumber(parsing: bhxhNumber) }
        }
        if let phone, (try? PhoneNumber(parsing: phone)) == nil {
            issues.add(joinPath(path, "phone"), "phone.format", .warning,
                en: "Phone is not a Vietnamese mobile number.", vi: "Số điện thoại không phải số di động Việt Nam.")
        }
        if identifierRequired, [personalId, legacyId, bhxhNumber].allSatisfy({ ($0 ?? "").isEmpty }) {
            issues.add(path, "person.identifierMissing",
                en: "Give the personal ID, CMND or BHXH number of this person.",
                vi: "Cần số định danh cá nhân, CMND hoặc mã số BHXH của người này.")
        }
    }
}
