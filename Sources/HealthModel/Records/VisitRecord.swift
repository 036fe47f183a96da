/// A finished visit or treatment episode sent by a hospital or clinic: XML 130 table 1 (TONG_HOP)
/// semantics in canonical camelCase JSON, plus what the citizen book shows (medicines, key lab
/// results, treatment summary). Kafka key `<facility>:<MA_LK>`.
public struct VisitRecord: HealthRecord {
    /// Schema version of the canonical form.
    public static let currentSchemaVersion = 1
    /// Records of this type are visits.
    public static let kind = RecordKind.visit

    /// Canonical schema version, `1`.
    public var schemaVersion: Int
    /// Facility that treated the patient (MA_CSKCB); the sender must own it.
    public var facilityCode: String
    /// Episode key linking all XML 130 tables of the episode (MA_LK).
    public var episodeKey: String
    /// The facility's local patient id (MA_BN).
    public var patientId: String
    /// Medical record number (MA_HSBA).
    public var medicalRecordNumber: String?
    /// Patient demographics and identifiers.
    public var patient: PersonDetails
    /// Insurance cards used (MA_THE_BHYT and validity), several allowed.
    public var insuranceCards: [InsuranceCoverage]?
    /// Visit type "01"…"16" (MA_LOAI_KCB).
    public var visitType: String
    /// Beneficiary category, e.g. "1.11" (MA_DOITUONG_KCB).
    public var beneficiaryCategory: String?
    /// Reason for the visit (LY_DO_VV).
    public var reason: String?
    /// Admission diagnosis text (CHAN_DOAN_VAO).
    public var admissionDiagnosis: String?
    /// Discharge diagnosis text (CHAN_DOAN_RV).
    public var dischargeDiagnosis: String?
    /// Department code (MA_KHOA).
    public var departmentCode: String?
    /// Arrival / admission time (NGAY_VAO).
    public var admissionTime: String
    /// Inpatient admission time (NGAY_VAO_NOI_TRU).
    public var inpatientAdmissionTime: String?
    /// Discharge time (NGAY_RA).
    public var dischargeTime: String?
    /// Days of treatment (SO_NGAY_DTRI).
    public var treatmentDays: Int?
    /// Discharge diagnoses, ICD-10, the first is the main one (MA_BENH_CHINH; MA_BENH_KT ≤ 12).
    public var diagnoses: [Diagnosis]
    /// Traditional-medicine diagnosis codes as sent (MA_BENH_YHCT).
    public var traditionalMedicineDiagnoses: String?
    /// Procedures, ICD-9-CM (MA_PTTT_QT).
    public var procedures: [Procedure]?
    /// Accident code (MA_TAI_NAN).
    public var accidentCode: Int?
    /// Facility the patient was referred from (MA_NOI_DI).
    public var referredFrom: String?
    /// Facility the patient was referred to (MA_NOI_DEN).
    public var referredTo: String?
    /// Treatment result 1–7 (KET_QUA_DTRI): 1 cured … 5 died, 6 severe/left, 7 undetermined.
    public var result: Int?
    /// Discharge type 1–5 (MA_LOAI_RV): discharged, referred, absconded, left on request, transferred on request.
    public var dischargeType: Int?
    /// Blood group (NHOM_MAU).
    public var bloodGroup: String?
    /// Weight in kg (CAN_NANG).
    public var weightKg: Double?
    /// Height in cm.
    public var heightCm: Double?
    /// Follow-up date (NGAY_TAI_KHAM).
    public var followUpDate: String?
    /// Medicines (table 2 summary).
    public var medicines: [Medicine]?
    /// Key lab results (table 4 summary).
    public var labResults: [LabResult]?
    /// Treatment summary (table 8 / reference §3 (d)).
    public var treatmentSummary: TreatmentSummary?
    /// Money and settlement fields: kept, never shown.
    public var billing: Billing?
    /// Internal note (GHI_CHU): kept, never shown.
    public var note: String?

    /// Creates a visit with its required fields; set the optional ones afterwards.
    public init(facilityCode: String, episodeKey: String, patientId: String, patient: PersonDetails,
                visitType: String, admissionTime: String, diagnoses: [Diagnosis]) {
        schemaVersion = Self.currentSchemaVersion
        self.facilityCode = facilityCode
        self.episodeKey = episodeKey
        self.patientId = patientId
        self.patient = patient
        self.visitType = visitType
        self.admissionTime = admissionTime
        self.diagnoses = diagnoses
    }

    /// `<facility>:<MA_LK>`.
    public var kafkaKey: String {
        keyPart(facilityCode) { s throws(FieldProblem) in try FacilityCode(parsing: s).value } + ":" + episodeKey
    }

    /// The sender must own the treating facility.
    public var senderScope: SenderScope {
        .facility(keyPart(facilityCode) { s throws(FieldProblem) in try FacilityCode(parsing: s).value })
    }

    /// Parsed ICD-10 diagnoses, main first, when all are valid.
    public var diagnosisCodes: ICD10CodeList? {
        try? ICD10CodeList(parsing: diagnoses.map(\.code).joined(separator: ";"))
    }

    /// Visit types MA_LOAI_KCB "01"…"16" with their meaning (reference §4).
    public static let visitTypes: [String: String] = [
        "01": "consultation", "02": "outpatient treatment", "03": "inpatient", "04": "day care",
        "05": "long-term", "06": "station stay", "07": "scheduled medicine pick-up", "08": "long-term",
        "09": "inpatient < 4 h", "10": "other", "11": "mobile", "12": "at home", "13": "family medicine",
        "14": "remote", "15": "periodic check-up", "16": "screening",
    ]
}
