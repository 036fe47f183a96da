import Foundation
import HealthModel

/// Maps XML 130 tables onto `VisitRecord` field by field (docs/xml130-mapping.md is the same table).
///
/// Problems are reported with XML paths (`XML1.NGAY_SINH`, `XML2[3].TEN_THUOC`); rule checks are
/// left to `VisitRecord.validate`, whose canonical paths `xmlPath(for:)` translates back.
struct XML130VisitMapping {
    private(set) var issues: [ValidationIssue] = []
    private(set) var visit: VisitRecord?
    private var row: XML130Table.Row
    private var used: Set<String> = []

    /// XML1 fields that are known but not carried into the record (no warning for them).
    static let knownUnmapped: Set<String> = [
        "STT", "MA_KHUVUC", "MA_THE_TAM", "NAM_NAM_LIEN_TUC", "NGAY_MIEN_CCT", "LY_DO_VNT", "MA_LY_DO_VNT",
        "GIAY_CHUYEN_TUYEN", "CAN_NANG_CON", "MA_TTDV", "DU_PHONG",
    ]

    /// Canonical path → XML1 field name.
    static let xml1Fields: [String: String] = [
        "facilityCode": "MA_CSKCB", "episodeKey": "MA_LK", "patientId": "MA_BN", "medicalRecordNumber": "MA_HSBA",
        "patient.fullName": "HO_TEN", "patient.birthDate": "NGAY_SINH", "patient.sex": "GIOI_TINH",
        "patient.personalId": "SO_CCCD", "patient.legacyId": "SO_CCCD", "patient.passportNumber": "SO_CCCD",
        "patient.nationality": "MA_QUOCTICH", "patient.ethnicity": "MA_DANTOC", "patient.occupation": "MA_NGHE_NGHIEP",
        "patient.address.text": "DIA_CHI", "patient.address.provinceCode": "MATINH_CU_TRU",
        "patient.address.districtCode": "MAHUYEN_CU_TRU", "patient.address.communeCode": "MAXA_CU_TRU",
        "patient.phone": "DIEN_THOAI", "visitType": "MA_LOAI_KCB", "beneficiaryCategory": "MA_DOITUONG_KCB",
        "reason": "LY_DO_VV", "admissionDiagnosis": "CHAN_DOAN_VAO", "dischargeDiagnosis": "CHAN_DOAN_RV",
        "departmentCode": "MA_KHOA", "admissionTime": "NGAY_VAO", "inpatientAdmissionTime": "NGAY_VAO_NOI_TRU",
        "dischargeTime": "NGAY_RA", "treatmentDays": "SO_NGAY_DTRI", "diagnoses": "MA_BENH_CHINH",
        "traditionalMedicineDiagnoses": "MA_BENH_YHCT", "accidentCode": "MA_TAI_NAN", "referredFrom": "MA_NOI_DI",
        "referredTo": "MA_NOI_DEN", "result": "KET_QUA_DTRI", "dischargeType": "MA_LOAI_RV", "bloodGroup": "NHOM_MAU",
        "weightKg": "CAN_NANG", "followUpDate": "NGAY_TAI_KHAM", "note": "GHI_CHU", "billing.settledAt": "NGAY_TTOAN",
        "billing.settlementYear": "NAM_QT", "billing.settlementMonth": "THANG_QT",
    ]
    static let cardFields = ["cardCode": "MA_THE_BHYT", "validFrom": "GT_THE_TU", "validTo": "GT_THE_DEN", "registeredFacility": "MA_DKBD"]
    static let medicineFields = ["code": "MA_THUOC", "name": "TEN_THUOC", "strength": "HAM_LUONG", "route": "DUONG_DUNG",
                                 "dosage": "LIEU_DUNG", "quantity": "SO_LUONG", "unit": "DON_VI_TINH"]
    static let labFields = ["code": "MA_CHI_SO", "name": "TEN_CHI_SO", "value": "GIA_TRI", "unit": "DON_VI_DO", "resultTime": "NGAY_KQ"]
    static let summaryFields = ["course": "QT_BENHLY", "keyResults": "TOMTAT_KQ", "treatment": "PP_DIEUTRI", "advice": "GHI_CHU"]

    /// Maps table 1; `visit` is nil when a required field cannot be read.
    init(summary: XML130Table.Row) {
        row = summary
        for name in summary.duplicates {
            issues.append(.xml130("XML1.\(name)", "xml130.duplicateField", en: "Field \(name) appears twice in XML1.",
                                  vi: "Trường \(name) xuất hiện hai lần trong XML1."))
        }
        let patient = PersonDetails(fullName: text("HO_TEN") ?? "", birthDate: date("NGAY_SINH") ?? "",
                                    sex: int("GIOI_TINH", required: true) ?? 0)
        var visit = VisitRecord(facilityCode: code("MA_CSKCB") ?? "", episodeKey: code("MA_LK") ?? "",
                                patientId: code("MA_BN") ?? "", patient: patient, visitType: code("MA_LOAI_KCB") ?? "",
                                admissionTime: date("NGAY_VAO") ?? "", diagnoses: [])
        mapPatient(&visit.patient)
        visit.insuranceCards = cards()
        visit.medicalRecordNumber = code("MA_HSBA")
        visit.beneficiaryCategory = code("MA_DOITUONG_KCB")
        visit.reason = text("LY_DO_VV")
        visit.admissionDiagnosis = text("CHAN_DOAN_VAO")
        visit.dischargeDiagnosis = text("CHAN_DOAN_RV")
        visit.departmentCode = code("MA_KHOA")
        visit.inpatientAdmissionTime = date("NGAY_VAO_NOI_TRU")
        visit.dischargeTime = date("NGAY_RA")
        visit.treatmentDays = int("SO_NGAY_DTRI")
        let main = code("MA_BENH_CHINH").map { [Diagnosis(code: $0)] } ?? []
        if main.isEmpty {
            // Without this, the first MA_BENH_KT code would silently become the main diagnosis.
            issues.append(.xml130("XML1.MA_BENH_CHINH", "diagnoses.missing",
                en: "The main diagnosis (MA_BENH_CHINH) is required.", vi: "Cần mã bệnh chính (MA_BENH_CHINH)."))
        }
        visit.diagnoses = main + list("MA_BENH_KT").map { Diagnosis(code: $0) }
        visit.traditionalMedicineDiagnoses = text("MA_BENH_YHCT")
        let procedures = list("MA_PTTT_QT").map { Procedure(code: $0) }
        visit.procedures = procedures.isEmpty ? nil : procedures
        visit.accidentCode = int("MA_TAI_NAN")
        visit.referredFrom = code("MA_NOI_DI")
        visit.referredTo = code("MA_NOI_DEN")
        visit.result = int("KET_QUA_DTRI")
        visit.dischargeType = int("MA_LOAI_RV")
        visit.bloodGroup = code("NHOM_MAU")
        visit.weightKg = decimal("CAN_NANG").map { NSDecimalNumber(decimal: $0).doubleValue }
        let followUps = list("NGAY_TAI_KHAM")
        if followUps.count > 1 {
            issues.append(.xml130("XML1.NGAY_TAI_KHAM", "xml130.severalFollowUps", .warning,
                en: "Several follow-up dates: the first is kept.", vi: "Có nhiều ngày tái khám: chỉ lấy ngày đầu tiên."))
        }
        visit.followUpDate = followUps.first.flatMap { convertDate($0, at: "XML1.NGAY_TAI_KHAM") }
        visit.note = text("GHI_CHU")
        visit.billing = billing()
        for (name, _) in summary.fields where !used.contains(name) && !Self.knownUnmapped.contains(name) {
            issues.append(.xml130("XML1.\(name)", "xml130.unknownField", .warning,
                en: "Unknown field \(name) in XML1 is ignored.", vi: "Trường \(name) không có trong QĐ 130/4750/3176, bỏ qua."))
        }
        self.visit = visit
    }

    var episodeKey: String? { row.value("MA_LK").map(VietnameseText.normalize) }
    var facilityCode: String? { row.value("MA_CSKCB").map(VietnameseText.normalize) }

    private mutating func mapPatient(_ patient: inout PersonDetails) {
        if let id = code("SO_CCCD") {
            let digits = id.utf8.allSatisfy { (48...57).contains($0) }
            // SO_CCCD carries the personal ID, or an old CMND, or a passport number for foreigners.
            if digits && id.utf8.count == 9 { patient.legacyId = id } else if digits { patient.personalId = id } else { patient.passportNumber = id }
        }
        patient.nationality = code("MA_QUOCTICH")
        patient.ethnicity = code("MA_DANTOC")
        patient.occupation = code("MA_NGHE_NGHIEP")
        patient.phone = code("DIEN_THOAI")
        let address = Address(text: text("DIA_CHI"), provinceCode: code("MATINH_CU_TRU"),
                              districtCode: code("MAHUYEN_CU_TRU"), communeCode: code("MAXA_CU_TRU"))
        patient.address = address == Address() ? nil : address
    }

    /// Several cards are joined by ";" in MA_THE_BHYT; their validity and MA_DKBD are joined the same way.
    private mutating func cards() -> [InsuranceCoverage]? {
        let codes = list("MA_THE_BHYT")
        let from = list("GT_THE_TU"), to = list("GT_THE_DEN"), registered = list("MA_DKBD")
        guard !codes.isEmpty else { return nil }
        for (name, values) in [("GT_THE_TU", from), ("GT_THE_DEN", to), ("MA_DKBD", registered)]
        where !values.isEmpty && values.count != codes.count && values.count != 1 {
            issues.append(.xml130("XML1.\(name)", "xml130.cardListMismatch",
                en: "\(name) has \(values.count) values for \(codes.count) cards.",
                vi: "\(name) có \(values.count) giá trị cho \(codes.count) thẻ."))
        }
        // One value for several cards applies to all of them.
        func pick(_ values: [String], _ i: Int) -> String? { values.count == 1 ? values[0] : (i < values.count ? values[i] : nil) }
        return codes.enumerated().map { i, code in
            InsuranceCoverage(cardCode: code,
                              validFrom: pick(from, i).flatMap { convertDate($0, at: "XML1.GT_THE_TU[\(i)]") },
                              validTo: pick(to, i).flatMap { convertDate($0, at: "XML1.GT_THE_DEN[\(i)]") },
                              registeredFacility: pick(registered, i))
        }
    }

    private mutating func billing() -> Billing? {
        var amounts: [String: Decimal] = [:]
        for (name, _) in row.fields where name.hasPrefix("T_") {
            if let value = decimal(name) { amounts[name] = value }
        }
        let billing = Billing(settledAt: date("NGAY_TTOAN"), settlementYear: int("NAM_QT"), settlementMonth: int("THANG_QT"),
                              amounts: amounts.isEmpty ? nil : amounts)
        return billing == Billing() ? nil : billing
    }

    // MARK: Tables 2, 4 and 8

    mutating func medicines(_ table: XML130Table?) {
        guard let table, visit != nil else { return }
        var out: [Medicine] = []
        for (i, r) in table.rows.enumerated() {
            checkEpisodeKey(r, table: "XML2", row: i)
            out.append(Medicine(code: clean(r.value("MA_THUOC")), name: clean(r.value("TEN_THUOC")) ?? "",
                                strength: clean(r.value("HAM_LUONG")), route: clean(r.value("DUONG_DUNG")),
                                dosage: clean(r.value("LIEU_DUNG")),
                                quantity: number(r.value("SO_LUONG"), at: "XML2[\(i)].SO_LUONG").map { NSDecimalNumber(decimal: $0).doubleValue },
                                unit: clean(r.value("DON_VI_TINH"))))
        }
        visit?.medicines = out.isEmpty ? nil : out
    }

    mutating func labResults(_ table: XML130Table?) {
        guard let table, visit != nil else { return }
        var out: [LabResult] = []
        for (i, r) in table.rows.enumerated() {
            checkEpisodeKey(r, table: "XML4", row: i)
            // Imaging and other text results have KET_LUAN or MO_TA instead of a value.
            let value = clean(r.value("GIA_TRI")) ?? clean(r.value("KET_LUAN")) ?? clean(r.value("MO_TA")) ?? ""
            out.append(LabResult(code: clean(r.value("MA_CHI_SO")) ?? clean(r.value("MA_DICH_VU")),
                                 name: clean(r.value("TEN_CHI_SO")) ?? "", value: value, unit: clean(r.value("DON_VI_DO")),
                                 resultTime: clean(r.value("NGAY_KQ")).flatMap { convertDate($0, at: "XML4[\(i)].NGAY_KQ") }))
        }
        visit?.labResults = out.isEmpty ? nil : out
    }

    mutating func treatmentSummary(_ table: XML130Table?) {
        guard let table, visit != nil, let r = table.rows.first else { return }
        checkEpisodeKey(r, table: "XML8", row: nil)
        func long(_ name: String) -> String? {
            r.value(name).map(VietnameseText.normalizeMultiline).flatMap { $0.isEmpty ? nil : $0 }
        }
        let summary = TreatmentSummary(course: long("QT_BENHLY"), keyResults: long("TOMTAT_KQ"),
                                       treatment: long("PP_DIEUTRI"), advice: long("GHI_CHU"))
        visit?.treatmentSummary = summary == TreatmentSummary() ? nil : summary
    }

    /// Every table of an episode must carry the episode's MA_LK.
    private mutating func checkEpisodeKey(_ r: XML130Table.Row, table: String, row: Int?) {
        guard let key = clean(r.value("MA_LK")), let expected = episodeKey, key != expected else { return }
        let at = row.map { "\(table)[\($0)].MA_LK" } ?? "\(table).MA_LK"
        issues.append(.xml130(at, "xml130.episodeKeyMismatch",
            en: "MA_LK '\(key)' differs from the episode's '\(expected)' in XML1.",
            vi: "MA_LK '\(key)' khác MA_LK '\(expected)' của bảng XML1."))
    }

    // MARK: Field readers (XML1)

    private func clean(_ value: String?) -> String? {
        guard let value else { return nil }
        let t = VietnameseText.normalize(value)
        return t.isEmpty ? nil : t
    }

    private mutating func raw(_ name: String) -> String? {
        used.insert(name)
        return clean(row.value(name))
    }

    private mutating func text(_ name: String) -> String? { raw(name) }
    private mutating func code(_ name: String) -> String? { raw(name) }

    /// A ";"-joined list, empty items dropped.
    private mutating func list(_ name: String) -> [String] {
        (raw(name) ?? "").split(separator: ";").map { VietnameseText.normalize(String($0)) }.filter { !$0.isEmpty }
    }

    private mutating func int(_ name: String, required: Bool = false) -> Int? {
        guard let value = raw(name) else {
            if required {
                issues.append(.xml130("XML1.\(name)", "field.missing", en: "Required field \(name) is missing or empty.",
                                      vi: "Thiếu trường bắt buộc \(name) hoặc trường để trống."))
            }
            return nil
        }
        guard value.utf8.count <= 9, let n = Int(value) else {
            issues.append(.xml130("XML1.\(name)", "xml130.notANumber", en: "\(name) must be a whole number, found '\(value.prefix(40))'.",
                                  vi: "\(name) phải là số nguyên (đang là '\(value.prefix(40))')."))
            return nil
        }
        return n
    }

    private mutating func decimal(_ name: String) -> Decimal? { number(raw(name), at: "XML1.\(name)") }

    /// A decimal with "." as separator, as QĐ 130 requires.
    private mutating func number(_ text: String?, at path: String) -> Decimal? {
        guard let value = clean(text) else { return nil }
        let ok = value.utf8.count <= 30 && value.utf8.allSatisfy { (48...57).contains($0) || $0 == 46 || $0 == 45 }
        guard ok, let d = Decimal(string: value, locale: Locale(identifier: "en_US_POSIX")), value.filter({ $0 == "." }).count <= 1 else {
            issues.append(.xml130(path, "xml130.notANumber",
                en: "'\(value.prefix(40))' is not a number with '.' as decimal separator.",
                vi: "'\(value.prefix(40))' không phải số dùng dấu '.' thập phân."))
            return nil
        }
        return d
    }

    private mutating func date(_ name: String) -> String? {
        guard let value = raw(name) else { return nil }
        return convertDate(value, at: "XML1.\(name)")
    }

    /// `yyyymmdd[HHMM]` with `00`/`0000` unknown parts → canonical partial date.
    private mutating func convertDate(_ value: String, at path: String) -> String? {
        do {
            return try PartialDate(xml130: value).isoString
        } catch {
            issues.append(ValidationIssue(path: path, problem: error))
            return nil
        }
    }

    // MARK: Paths

    /// The XML 130 name of a canonical JSON path, e.g. `patient.birthDate` → `XML1.NGAY_SINH`.
    static func xmlPath(for path: String) -> String {
        if path == "$" { return "HOSO" }
        if let name = xml1Fields[path] { return "XML1.\(name)" }
        if path.hasPrefix("billing.amounts.") { return "XML1." + path.dropFirst("billing.amounts.".count) }
        if path.hasPrefix("treatmentSummary.") {
            let field = String(path.dropFirst("treatmentSummary.".count))
            return "XML8." + (summaryFields[field] ?? field)
        }
        guard let open = path.firstIndex(of: "["), let close = path.firstIndex(of: "]"), open < close,
              let index = Int(path[path.index(after: open)..<close]) else { return path }
        let base = String(path[..<open])
        let rest = path[path.index(after: close)...]
        let field = rest.hasPrefix(".") ? String(rest.dropFirst()) : ""
        switch base {
        case "insuranceCards": return "XML1.\(cardFields[field] ?? "MA_THE_BHYT")[\(index)]"
        case "diagnoses": return index == 0 ? "XML1.MA_BENH_CHINH" : "XML1.MA_BENH_KT[\(index - 1)]"
        case "procedures": return "XML1.MA_PTTT_QT[\(index)]"
        case "medicines": return "XML2[\(index)].\(medicineFields[field] ?? field)"
        case "labResults": return "XML4[\(index)].\(labFields[field] ?? field)"
        default: return path
        }
    }
}
