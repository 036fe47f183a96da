import Foundation
import HealthModel

/// The citizen-visible document of one person on `hssk.citizen-feed.v1`
/// (`topics/schemas/citizen-document.v1.schema.json`): an allowlist of the fields of reference §3.
///
/// Every property is named in the schema and nothing else is encoded: a field added to a source
/// record never reaches the feed unless it is added here, to the schema and to the builder.
public struct CitizenDocument: Codable, Sendable, Hashable {
    /// The schema version this code writes.
    public static let currentSchemaVersion = 1

    /// Schema version, `1`.
    public var schemaVersion: Int
    /// The person's active personal ID (also the Kafka key).
    public var personalId: String
    /// Increases with every publication for this person (and for this key).
    public var version: Int64
    /// RFC 3339 time of publication.
    public var generatedAt: String
    /// (a) Administrative data, guardians and dependants.
    public var administrative: Administrative
    /// (b) History: diseases and vaccinations.
    public var history: History?
    /// (c) Visits and treatment episodes, oldest first.
    public var visits: [Visit]?
    /// (d) Treatment summaries, oldest first.
    public var treatmentSummaries: [TreatmentSummaryEntry]?

    /// Reference §3 (a).
    public struct Administrative: Codable, Sendable, Hashable {
        /// Full name, family name first.
        public var fullName: String
        /// Birth date, possibly year only.
        public var birthDate: String
        /// 1 male, 2 female, 3 undetermined.
        public var sex: Int
        /// Ethnicity code, two digits (MA_DANTOC).
        public var ethnicity: String?
        /// Nationality code, three digits (MA_QUOCTICH).
        public var nationality: String?
        /// Occupation code (MA_NGHE_NGHIEP).
        public var occupation: String?
        /// Issue date of the current personal ID card.
        public var personalIdIssueDate: String?
        /// Issue place of the current personal ID card.
        public var personalIdIssuePlace: String?
        /// Mobile phone, 10 digits.
        public var phone: String?
        /// BHYT card code.
        public var insuranceCardCode: String?
        /// Registered primary-care facility (MA_DKBD).
        public var registeredFacility: String?
        /// First valid day of the card.
        public var cardValidFrom: String?
        /// Last valid day of the card.
        public var cardValidTo: String?
        /// Residence address.
        public var address: Address?
        /// Legal representatives: guardians always, parents of a child under 14.
        public var guardians: [Guardian]?
        /// Persons whose book this person manages: wards always, own children under 14.
        public var dependants: [Dependant]?
    }

    /// A guardian or legal representative.
    public struct Guardian: Codable, Sendable, Hashable {
        /// Full name.
        public var fullName: String
        /// Active personal ID, when known.
        public var personalId: String?
        /// `mother`, `father`, `parent` or `guardian`.
        public var relation: String
        /// Mobile phone.
        public var phone: String?
    }

    /// A child under 14 or a ward.
    public struct Dependant: Codable, Sendable, Hashable {
        /// Full name.
        public var fullName: String
        /// Active personal ID, when the dependant has one (then they have a document of their own).
        public var personalId: String?
        /// `child` or `ward`.
        public var relation: String
        /// Birth date, possibly partial.
        public var birthDate: String?
    }

    /// Reference §3 (b).
    public struct History: Codable, Sendable, Hashable {
        /// Allergies (no source sends them yet).
        public var allergies: [String]?
        /// Each ICD-10 code diagnosed, once.
        public var diseases: [Disease]?
        /// Vaccine doses, oldest first.
        public var vaccinations: [Vaccination]?
    }

    /// A disease diagnosed at some visit.
    public struct Disease: Codable, Sendable, Hashable {
        /// ICD-10 code.
        public var code: String
        /// The doctor's text where the code was first diagnosed.
        public var name: String?
    }

    /// A vaccine dose.
    public struct Vaccination: Codable, Sendable, Hashable {
        /// Vaccine name.
        public var vaccineName: String
        /// When it was given.
        public var date: String
        /// Facility code of the vaccination site.
        public var place: String?
    }

    /// Reference §3 (c): one visit or treatment episode.
    public struct Visit: Codable, Sendable, Hashable {
        /// Treating facility (MA_CSKCB).
        public var facilityCode: String
        /// Facility name (no facility register yet: not filled).
        public var facilityName: String?
        /// Arrival time (NGAY_VAO).
        public var arrivalTime: String
        /// Inpatient admission time (NGAY_VAO_NOI_TRU).
        public var inpatientAdmissionTime: String?
        /// Discharge time (NGAY_RA).
        public var dischargeTime: String?
        /// Visit type "01"…"16" (MA_LOAI_KCB).
        public var visitType: String?
        /// Reason for the visit.
        public var reason: String?
        /// Discharge type 1–5 (MA_LOAI_RV).
        public var dischargeType: Int?
        /// Treatment result 1–7 (KET_QUA_DTRI).
        public var result: Int?
        /// Discharge diagnoses, main first.
        public var diagnoses: [VisitDiagnosis]?
        /// Blood group.
        public var bloodGroup: String?
        /// Height in cm.
        public var heightCm: Double?
        /// Weight in kg.
        public var weightKg: Double?
        /// Key lab results.
        public var labResults: [Lab]?
        /// Medicines.
        public var medicines: [VisitMedicine]?
        /// Procedures.
        public var procedures: [VisitProcedure]?
    }

    /// A discharge diagnosis (the first is the main one).
    public struct VisitDiagnosis: Codable, Sendable, Hashable {
        /// ICD-10 code.
        public var code: String
        /// The doctor's text.
        public var text: String?
    }

    /// A key lab result.
    public struct Lab: Codable, Sendable, Hashable {
        /// Test name.
        public var name: String
        /// Result as reported.
        public var value: String
        /// Unit.
        public var unit: String?
        /// Reference range as printed.
        public var referenceRange: String?
        /// When the result was issued.
        public var resultTime: String?
    }

    /// A medicine (no drug code: the citizen reads names).
    public struct VisitMedicine: Codable, Sendable, Hashable {
        /// Drug name.
        public var name: String
        /// Strength, e.g. "500 mg".
        public var strength: String?
        /// Route, e.g. "uống".
        public var route: String?
        /// Dosage instructions.
        public var dosage: String?
        /// Quantity dispensed.
        public var quantity: Double?
        /// Unit of the quantity.
        public var unit: String?
    }

    /// A procedure.
    public struct VisitProcedure: Codable, Sendable, Hashable {
        /// ICD-9-CM code.
        public var code: String
        /// Procedure name.
        public var name: String?
    }

    /// Reference §3 (d).
    public struct TreatmentSummaryEntry: Codable, Sendable, Hashable {
        /// Treating facility.
        public var facilityCode: String
        /// Discharge time of the episode.
        public var dischargeTime: String?
        /// Medical history.
        public var history: String?
        /// Course of illness and treatment.
        public var course: String?
        /// Key test results.
        public var keyResults: String?
        /// Treatment given.
        public var treatment: String?
        /// Next steps.
        public var nextSteps: String?
        /// Discharge prescription.
        public var prescription: String?
        /// Advice to the patient.
        public var advice: String?
        /// Treating doctor.
        public var treatingDoctor: String?
        /// Follow-up date (NGAY_TAI_KHAM).
        public var followUpDate: String?
    }

    /// The value bytes on the feed: JSON, keys sorted, slashes unescaped.
    public func encoded() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Strings, integers and finite doubles only (the builder drops non-finite numbers): cannot fail.
        return (try? encoder.encode(self)).map(Array.init) ?? []
    }
}
