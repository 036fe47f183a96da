/// Residence administrative unit codes (MATINH_CU_TRU, MAHUYEN_CU_TRU, MAXA_CU_TRU) read in the coding
/// system valid at a given date.
///
/// Until 30 June 2025: province (2 digits) / district (3) / commune (5), QĐ 124/2004. From 1 July 2025:
/// 34 provinces, no district, new commune codes (QĐ 19/2025/QĐ-TTg). A district is never required.
public struct AdministrativeUnits: Sendable, Hashable, Codable {
    /// The coding system in force on a date.
    public enum System: String, Sendable, Hashable, Codable {
        /// QĐ 124/2004: province / district / commune.
        case before2025Reform
        /// QĐ 19/2025/QĐ-TTg: province / commune, no district.
        case after2025Reform

        /// First day of the post-reform system.
        public static let reformDate = PartialDate(trustedYear: 2025, month: 7, day: 1)

        /// The system in force on `date`; nil when the date's precision straddles the reform (e.g. year 2025 only).
        public static func inForce(on date: PartialDate) -> System? {
            if date.upperBound < reformDate.lowerBound { return .before2025Reform }
            if date.lowerBound >= reformDate.lowerBound { return .after2025Reform }
            return nil
        }
    }

    /// Province code, 2 digits.
    public let province: String
    /// District code, 3 digits (pre-reform only, optional).
    public let district: String?
    /// Commune code, 5 digits (optional).
    public let commune: String?
    /// The system the codes were read in; nil when the date did not decide it.
    public let system: System?

    /// Validates codes against the system in force on `date` (nil date: the format is checked only).
    ///
    /// Problems are returned per field (`province`, `district`, `commune`) so callers can attach paths.
    public static func check(
        province: String?, district: String?, commune: String?, validOn date: PartialDate?
    ) -> (units: AdministrativeUnits?, problems: [(field: String, problem: FieldProblem)]) {
        var problems: [(String, FieldProblem)] = []
        let system = date.flatMap(System.inForce(on:))
        func digits(_ value: String?, _ count: Int, _ field: String, _ en: String, _ vi: String) -> String? {
            guard let value else { return nil }
            let compact = IdentifierText.compact(value)
            guard compact.utf8.count == count, IdentifierText.isDigits(compact) else {
                problems.append((field, FieldProblem("adminUnit.\(field)Format",
                    en: "\(en) code must have \(count) digits.", vi: "Mã \(vi) phải gồm \(count) chữ số.")))
                return nil
            }
            return compact
        }
        let p = digits(province, 2, "province", "Province", "tỉnh")
        let d = digits(district, 3, "district", "District", "huyện")
        let c = digits(commune, 5, "commune", "Commune", "xã")
        if province == nil, district != nil || commune != nil {
            problems.append(("province", FieldProblem("adminUnit.provinceMissing",
                en: "A district or commune code is given without a province code.",
                vi: "Có mã huyện hoặc mã xã nhưng thiếu mã tỉnh.")))
        }
        if d != nil, system == .after2025Reform {
            problems.append(("district", FieldProblem("adminUnit.districtAfterReform", severity: .warning,
                en: "District codes were abolished on 1 July 2025; this date is after the reform.",
                vi: "Cấp huyện đã bỏ từ 01/07/2025; ngày của hồ sơ sau thời điểm này.")))
        }
        guard let p, problems.allSatisfy({ $0.1.severity == .warning }) else {
            return (nil, problems.map { (field: $0.0, problem: $0.1) })
        }
        return (AdministrativeUnits(province: p, district: d, commune: c, system: system),
                problems.map { (field: $0.0, problem: $0.1) })
    }
}
