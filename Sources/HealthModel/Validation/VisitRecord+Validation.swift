extension VisitRecord {
    /// Every problem of the visit: fields, codes and cross-field rules (times in order, personal ID vs
    /// birth date and sex, card validity).
    public func validate() -> [ValidationIssue] {
        var issues = IssueCollector()
        issues.schemaVersion(schemaVersion, expected: Self.currentSchemaVersion)
        issues.facility(facilityCode, at: "facilityCode", required: true)
        issues.text(episodeKey, at: "episodeKey", required: true, maxLength: 100)
        issues.text(patientId, at: "patientId", required: true, maxLength: 100)
        issues.text(medicalRecordNumber, at: "medicalRecordNumber", required: false, maxLength: 100)

        let admission = issues.date(admissionTime, at: "admissionTime", required: true, minimum: .day)
        if let admission, admission.precision < .minute {
            issues.add("admissionTime", "admissionTime.noTime", .warning,
                en: "Admission time has no hour and minute.", vi: "Thời gian vào viện thiếu giờ phút.")
        }
        let inpatient = issues.date(inpatientAdmissionTime, at: "inpatientAdmissionTime", required: false, minimum: .day)
        let discharge = issues.date(dischargeTime, at: "dischargeTime", required: false, minimum: .day)
        issues.order(admission, inpatient, at: "inpatientAdmissionTime", code: "inpatientAdmissionTime.beforeAdmission",
            en: "Inpatient admission is before arrival.", vi: "Thời gian vào nội trú trước thời gian vào viện.")
        issues.order(admission, discharge, at: "dischargeTime", code: "dischargeTime.beforeAdmission",
            en: "Discharge time is before admission time.", vi: "Thời gian ra viện trước thời gian vào viện.")
        issues.order(inpatient, discharge, at: "dischargeTime", code: "dischargeTime.beforeInpatientAdmission",
            en: "Discharge time is before inpatient admission.", vi: "Thời gian ra viện trước thời gian vào nội trú.")

        let birth = patient.validate(at: "patient", rules: PersonRules(identifierRequired: false, asOf: admission), into: &issues)
        _ = birth

        if VisitRecord.visitTypes[visitType] == nil {
            issues.add("visitType", "visitType.invalid",
                en: "Visit type (MA_LOAI_KCB) must be \"01\" to \"16\", found \"\(visitType)\".",
                vi: "Mã loại KCB (MA_LOAI_KCB) phải từ \"01\" đến \"16\" (đang là \"\(visitType)\").")
        } else if visitType == "03", inpatientAdmissionTime == nil {
            issues.add("inpatientAdmissionTime", "inpatientAdmissionTime.missing", .warning,
                en: "Inpatient visit without an inpatient admission time.",
                vi: "Điều trị nội trú nhưng thiếu thời gian vào nội trú (NGAY_VAO_NOI_TRU).")
        }
        issues.text(beneficiaryCategory, at: "beneficiaryCategory", required: false, maxLength: 10)
        for (field, value, max) in [("reason", reason, 1024), ("admissionDiagnosis", admissionDiagnosis, 2048),
                                    ("dischargeDiagnosis", dischargeDiagnosis, 2048), ("departmentCode", departmentCode, 50),
                                    ("traditionalMedicineDiagnoses", traditionalMedicineDiagnoses, 255),
                                    ("bloodGroup", bloodGroup, 10), ("note", note, 4000)] {
            issues.text(value, at: field, required: false, maxLength: max)
        }

        validateCards(admission: admission, into: &issues)
        validateDiagnoses(into: &issues)
        for (i, p) in (procedures ?? []).enumerated() {
            let path = indexPath("procedures", i)
            issues.parse(joinPath(path, "code")) { () throws(FieldProblem) in try ICD9CMProcedureCode(parsing: p.code) }
            issues.text(p.name, at: joinPath(path, "name"), required: false, maxLength: 1024)
        }
        issues.facility(referredFrom, at: "referredFrom", required: false, insuranceOnly: true)
        issues.facility(referredTo, at: "referredTo", required: false, insuranceOnly: true)
        issues.code(result, at: "result", allowed: 1...7, required: false, label: "result", labelVi: "Kết quả điều trị (KET_QUA_DTRI)")
        issues.code(dischargeType, at: "dischargeType", allowed: 1...5, required: false, label: "dischargeType", labelVi: "Loại ra viện (MA_LOAI_RV)")
        if dischargeType == 2, (referredTo ?? "").isEmpty {
            issues.add("referredTo", "referredTo.missing", .warning,
                en: "Discharge type is 'referred' but no destination facility (MA_NOI_DEN) is given.",
                vi: "Loại ra viện là chuyển tuyến nhưng thiếu nơi chuyển đến (MA_NOI_DEN).")
        }
        if let accidentCode, !(0...9).contains(accidentCode) {
            issues.add("accidentCode", "accidentCode.invalid", en: "Accident code must be one digit.", vi: "Mã tai nạn phải là một chữ số.")
        }
        if let treatmentDays, treatmentDays < 0 || treatmentDays > 999 {
            issues.add("treatmentDays", "treatmentDays.invalid", en: "Treatment days must be 0–999.", vi: "Số ngày điều trị phải từ 0 đến 999.")
        }
        issues.range(weightKg, at: "weightKg", 0.1...500, en: "Weight (kg)", vi: "Cân nặng (kg)")
        issues.range(heightCm, at: "heightCm", 10...300, en: "Height (cm)", vi: "Chiều cao (cm)")
        let followUp = issues.date(followUpDate, at: "followUpDate", required: false, minimum: .day)
        issues.order(discharge ?? admission, followUp, at: "followUpDate", code: "followUpDate.beforeVisit", severity: .warning,
            en: "Follow-up date is before the visit ended.", vi: "Ngày hẹn tái khám trước ngày kết thúc đợt khám.")
        validateClinicalExtras(into: &issues)
        return issues.issues
    }

    private func validateCards(admission: PartialDate?, into issues: inout IssueCollector) {
        for (i, card) in (insuranceCards ?? []).enumerated() {
            let path = indexPath("insuranceCards", i)
            if card.cardCode.isEmpty {
                issues.missing(joinPath(path, "cardCode"))
            } else if let code = issues.parse(joinPath(path, "cardCode"), { () throws(FieldProblem) in
                try InsuranceCardCode(parsing: card.cardCode)
            }) {
                for w in code.groupWarnings { issues.add(joinPath(path, "cardCode"), w) }
                if let id = code.personalID, let pid = patient.parsedPersonalID, id != pid {
                    issues.add(joinPath(path, "cardCode"), "insuranceCard.personalIdMismatch",
                        en: "The card number is a personal ID different from the patient's.",
                        vi: "Mã thẻ là số định danh khác với số định danh của người bệnh.")
                }
            }
            let from = issues.date(card.validFrom, at: joinPath(path, "validFrom"), required: false, minimum: .day)
            let to = issues.date(card.validTo, at: joinPath(path, "validTo"), required: false, minimum: .day)
            issues.order(from, to, at: joinPath(path, "validTo"), code: "insuranceCard.validityOrder",
                en: "Card validity ends before it starts.", vi: "Hạn thẻ đến (GT_THE_DEN) trước hạn thẻ từ (GT_THE_TU).")
            if let admission, let to, to.isDefinitelyBefore(admission.truncated(to: .day)) {
                issues.add(joinPath(path, "validTo"), "insuranceCard.expiredAtAdmission", .warning,
                    en: "The card had expired on the admission date.", vi: "Thẻ BHYT đã hết hạn vào ngày vào viện.")
            }
            issues.facility(card.registeredFacility, at: joinPath(path, "registeredFacility"), required: false, insuranceOnly: true)
        }
    }

    private func validateDiagnoses(into issues: inout IssueCollector) {
        if diagnoses.isEmpty {
            issues.add("diagnoses", "diagnoses.missing",
                en: "At least the main diagnosis (MA_BENH_CHINH) is required.",
                vi: "Cần ít nhất mã bệnh chính (MA_BENH_CHINH).")
        }
        if diagnoses.count > 1 + ICD10CodeList.maxSecondary {
            issues.add("diagnoses", "diagnoses.tooManySecondary",
                en: "At most \(ICD10CodeList.maxSecondary) secondary diagnoses (MA_BENH_KT) are allowed.",
                vi: "Tối đa \(ICD10CodeList.maxSecondary) mã bệnh kèm theo (MA_BENH_KT).")
        }
        var seen: Set<ICD10Code> = []
        for (i, d) in diagnoses.enumerated() {
            let path = indexPath("diagnoses", i)
            if let code = issues.parse(joinPath(path, "code"), { () throws(FieldProblem) in try ICD10Code(parsing: d.code) }) {
                if !seen.insert(code).inserted {
                    issues.add(joinPath(path, "code"), "diagnoses.duplicate", .warning,
                        en: "Diagnosis \(code) is listed twice.", vi: "Mã bệnh \(code) bị lặp.")
                }
            }
            issues.text(d.text, at: joinPath(path, "text"), required: false, maxLength: 1024)
        }
    }

    private func validateClinicalExtras(into issues: inout IssueCollector) {
        for (i, m) in (medicines ?? []).enumerated() {
            let path = indexPath("medicines", i)
            issues.text(m.name, at: joinPath(path, "name"), required: true, maxLength: 1024)
            if let q = m.quantity, q < 0 || q.isNaN {
                issues.add(joinPath(path, "quantity"), "value.outOfRange", en: "Quantity cannot be negative.", vi: "Số lượng không được âm.")
            }
        }
        for (i, lab) in (labResults ?? []).enumerated() {
            let path = indexPath("labResults", i)
            issues.text(lab.name, at: joinPath(path, "name"), required: true, maxLength: 1024)
            issues.text(lab.value, at: joinPath(path, "value"), required: true, maxLength: 1024)
            issues.date(lab.resultTime, at: joinPath(path, "resultTime"), required: false)
        }
        if let billing {
            issues.date(billing.settledAt, at: "billing.settledAt", required: false)
            issues.code(billing.settlementMonth, at: "billing.settlementMonth", allowed: 1...12, required: false,
                        label: "settlementMonth", labelVi: "Tháng quyết toán (THANG_QT)")
            for (key, amount) in (billing.amounts ?? [:]).sorted(by: { $0.key < $1.key }) {
                let path = "billing.amounts." + key
                if !key.hasPrefix("T_") || !key.dropFirst(2).utf8.allSatisfy({ (65...90).contains($0) || (48...57).contains($0) || $0 == 95 }) {
                    issues.add(path, "billing.unknownAmount",
                        en: "Amount names are the XML 130 T_* field names, e.g. T_THUOC.",
                        vi: "Tên khoản tiền phải là tên trường T_* của XML 130, ví dụ T_THUOC.")
                }
                if amount < 0 {
                    issues.add(path, "value.outOfRange", en: "Amount cannot be negative.", vi: "Số tiền không được âm.")
                }
            }
        }
    }
}
