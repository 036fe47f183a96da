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
        public var fullName: String
        public var birthDate: String
        public var sex: Int
        public var ethnicity: String?
        public var nationality: String?
        public var occupation: String?
        public var personalIdIssueDate: String?
        public var personalIdIssuePlace: String?
        public var phone: String?
        public var insuranceCardCode: String?
        public var registeredFacility: String?
        public var cardValidFrom: String?
        public var cardValidTo: String?
        public var address: Address?
        /// Legal representatives: guardians always, parents of a child under 14.
        public var guardians: [Guardian]?
        /// Persons whose book this person manages: wards always, own children under 14.
        public var dependants: [Dependant]?
    }

    /// A guardian or legal representative.
    public struct Guardian: Codable, Sendable, Hashable {
        public var fullName: String
        public var personalId: String?
        /// `mother`, `father`, `parent` or `guardian`.
        public var relation: String
        public var phone: String?
    }

    /// A child under 14 or a ward.
    public struct Dependant: Codable, Sendable, Hashable {
        public var fullName: String
        public var personalId: String?
        /// `child` or `ward`.
        public var relation: String
        public var birthDate: String?
    }

    /// Reference §3 (b).
    public struct History: Codable, Sendable, Hashable {
        public var allergies: [String]?
        public var diseases: [Disease]?
        public var vaccinations: [Vaccination]?
    }

    /// A disease diagnosed at some visit.
    public struct Disease: Codable, Sendable, Hashable {
        public var code: String
        public var name: String?
    }

    /// A vaccine dose.
    public struct Vaccination: Codable, Sendable, Hashable {
        public var vaccineName: String
        public var date: String
        public var place: String?
    }

    /// Reference §3 (c): one visit or treatment episode.
    public struct Visit: Codable, Sendable, Hashable {
        public var facilityCode: String
        public var facilityName: String?
        public var arrivalTime: String
        public var inpatientAdmissionTime: String?
        public var dischargeTime: String?
        public var visitType: String?
        public var reason: String?
        public var dischargeType: Int?
        public var result: Int?
        public var diagnoses: [VisitDiagnosis]?
        public var bloodGroup: String?
        public var heightCm: Double?
        public var weightKg: Double?
        public var labResults: [Lab]?
        public var medicines: [VisitMedicine]?
        public var procedures: [VisitProcedure]?
    }

    /// A discharge diagnosis (the first is the main one).
    public struct VisitDiagnosis: Codable, Sendable, Hashable {
        public var code: String
        public var text: String?
    }

    /// A key lab result.
    public struct Lab: Codable, Sendable, Hashable {
        public var name: String
        public var value: String
        public var unit: String?
        public var referenceRange: String?
        public var resultTime: String?
    }

    /// A medicine (no drug code: the citizen reads names).
    public struct VisitMedicine: Codable, Sendable, Hashable {
        public var name: String
        public var strength: String?
        public var route: String?
        public var dosage: String?
        public var quantity: Double?
        public var unit: String?
    }

    /// A procedure.
    public struct VisitProcedure: Codable, Sendable, Hashable {
        public var code: String
        public var name: String?
    }

    /// Reference §3 (d).
    public struct TreatmentSummaryEntry: Codable, Sendable, Hashable {
        public var facilityCode: String
        public var dischargeTime: String?
        public var history: String?
        public var course: String?
        public var keyResults: String?
        public var treatment: String?
        public var nextSteps: String?
        public var prescription: String?
        public var advice: String?
        public var treatingDoctor: String?
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
