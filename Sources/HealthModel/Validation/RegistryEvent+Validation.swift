extension RegistryEvent {
    /// Every problem of the event, including the detail block matching its kind.
    public func validate() -> [ValidationIssue] {
        var issues = IssueCollector()
        issues.schemaVersion(schemaVersion, expected: Self.currentSchemaVersion)
        issues.facility(stationCode, at: "stationCode", required: true)
        issues.text(eventId, at: "eventId", required: true, maxLength: 100)
        let occurred = issues.date(occurredAt, at: "occurredAt", required: true)
        // A newborn or a death may be registered before any identifier exists; other events need one.
        let identifierRequired = kind != .birth && kind != .death
        let birthDate = person.validate(at: "person", rules: PersonRules(identifierRequired: identifierRequired, asOf: occurred),
                                        into: &issues)

        for key in presentDetailKeys where key != kind.detailKey {
            issues.add(key, "registry.unexpectedDetails",
                en: "Block '\(key)' does not belong to an event of kind \(kind.rawValue).",
                vi: "Khối '\(key)' không thuộc loại sự kiện \(kind.rawValue).")
        }
        if !presentDetailKeys.contains(kind.detailKey) {
            issues.add(kind.detailKey, "registry.detailsMissing",
                en: "An event of kind \(kind.rawValue) needs the '\(kind.detailKey)' block.",
                vi: "Sự kiện loại \(kind.rawValue) cần khối '\(kind.detailKey)'.")
        }

        if let birth {
            issues.text(birth.birthCertificateNumber, at: "birth.birthCertificateNumber", required: true, maxLength: 50)
            birth.mother.validate(at: "birth.mother", identifierRequired: true, into: &issues)
            birth.father?.validate(at: "birth.father", identifierRequired: false, into: &issues)
            if let w = birth.birthWeightGrams, !(200...8000).contains(w) {
                issues.add("birth.birthWeightGrams", "value.outOfRange", en: "Birth weight must be 200–8000 g.",
                           vi: "Cân nặng khi sinh phải từ 200 đến 8000 g.")
            }
            issues.facility(birth.birthFacility, at: "birth.birthFacility", required: false)
            if kind == .birth, let birthDate, birthDate.precision < .day {
                issues.add("person.birthDate", "birthDate.tooImprecise",
                    en: "A newborn's birth date must be a full date.", vi: "Ngày sinh của trẻ sơ sinh phải đủ ngày tháng năm.")
            }
        }
        if let death {
            let time = issues.date(death.deathTime, at: "death.deathTime", required: true)
            issues.order(birthDate, time, at: "death.deathTime", code: "deathTime.beforeBirth",
                en: "Death is before birth.", vi: "Thời gian tử vong trước ngày sinh.")
            if let cause = death.causeCode {
                issues.parse("death.causeCode") { () throws(FieldProblem) in try ICD10Code(parsing: cause) }
            }
            issues.text(death.place, at: "death.place", required: false, maxLength: 1024)
        }
        if let move {
            if move.from == nil, move.to == nil {
                issues.add("move", "move.empty", en: "A move needs a from or to address.", vi: "Chuyển đi/đến cần địa chỉ đi hoặc đến.")
            }
            move.from?.validate(at: "move.from", asOf: occurred, into: &issues)
            move.to?.validate(at: "move.to", asOf: occurred, into: &issues)
        }
        if let correction {
            if correction.correctedFields.isEmpty {
                issues.add("correction.correctedFields", "correction.noFields", en: "Name at least one corrected field.",
                           vi: "Cần nêu ít nhất một trường được sửa.")
            }
            for (i, field) in correction.correctedFields.enumerated() where field.isEmpty {
                issues.missing(indexPath("correction.correctedFields", i))
            }
            issues.text(correction.reason, at: "correction.reason", required: true, maxLength: 1024)
        }
        if let supplement { validateSupplement(supplement, occurred: occurred, into: &issues) }
        if let details = newPersonalId { validateNewPersonalID(details, birthYear: birthDate?.year, into: &issues) }
        return issues.issues
    }

    private func validateSupplement(_ s: CitizenSupplement, occurred: PartialDate?, into issues: inout IssueCollector) {
        issues.date(s.personalIdIssueDate, at: "supplement.personalIdIssueDate", required: false, minimum: .day)
        issues.text(s.personalIdIssuePlace, at: "supplement.personalIdIssuePlace", required: false, maxLength: 255)
        if let email = s.email, !Self.looksLikeEmail(email) {
            issues.add("supplement.email", "email.format", .warning, en: "E-mail address looks malformed.",
                       vi: "Địa chỉ e-mail có vẻ không đúng định dạng.")
        }
        if let code = s.insuranceCardCode {
            issues.parse("supplement.insuranceCardCode") { () throws(FieldProblem) in try InsuranceCardCode(parsing: code) }
        }
        s.permanentAddress?.validate(at: "supplement.permanentAddress", asOf: occurred, into: &issues)
        s.temporaryAddress?.validate(at: "supplement.temporaryAddress", asOf: occurred, into: &issues)
        issues.text(s.householdNumber, at: "supplement.householdNumber", required: false, maxLength: 50)
        s.householdHead?.validate(at: "supplement.householdHead", identifierRequired: false, into: &issues)
        issues.text(s.relationToHead, at: "supplement.relationToHead", required: false, maxLength: 100)
        for (i, r) in (s.relations ?? []).enumerated() {
            r.person.validate(at: joinPath(indexPath("supplement.relations", i), "person"), identifierRequired: false, into: &issues)
        }
    }

    private func validateNewPersonalID(_ d: NewPersonalIDDetails, birthYear: Int?, into issues: inout IssueCollector) {
        let old = issues.parse("newPersonalId.oldPersonalId") { () throws(FieldProblem) in try PersonalID(parsing: d.oldPersonalId) }
        let new = issues.parse("newPersonalId.newPersonalId") { () throws(FieldProblem) in try PersonalID(parsing: d.newPersonalId) }
        if let old, let new, old == new {
            issues.add("newPersonalId.newPersonalId", "newPersonalId.sameAsOld", en: "The new number equals the cancelled one.",
                       vi: "Số mới trùng với số đã hủy.")
        }
        if let new, let current = person.parsedPersonalID, current != new {
            issues.add("person.personalId", "newPersonalId.personMismatch",
                en: "person.personalId must be the new number.", vi: "person.personalId phải là số định danh mới.")
        }
        issues.date(d.cancelledAt, at: "newPersonalId.cancelledAt", required: false)
    }

    /// Deliberately loose: one `@`, something on each side, a dot in the domain.
    static func looksLikeEmail(_ s: String) -> Bool {
        let parts = s.split(separator: "@", omittingEmptySubsequences: false)
        return parts.count == 2 && !parts[0].isEmpty && parts[1].contains(".") && !s.contains(" ")
    }
}
