import Foundation

/// One insurance card used for a visit with its validity (MA_THE_BHYT, GT_THE_TU, GT_THE_DEN, MA_DKBD).
public struct InsuranceCoverage: Codable, Sendable, Hashable {
    /// Card code in any accepted form (MA_THE_BHYT).
    public var cardCode: String
    /// First valid day (GT_THE_TU).
    public var validFrom: String?
    /// Last valid day (GT_THE_DEN).
    public var validTo: String?
    /// Registered primary-care facility, 5-character code (MA_DKBD).
    public var registeredFacility: String?

    /// Creates a coverage entry.
    public init(cardCode: String, validFrom: String? = nil, validTo: String? = nil, registeredFacility: String? = nil) {
        self.cardCode = cardCode
        self.validFrom = validFrom
        self.validTo = validTo
        self.registeredFacility = registeredFacility
    }
}

/// A discharge diagnosis: the first of the list is the main one (MA_BENH_CHINH, then MA_BENH_KT).
public struct Diagnosis: Codable, Sendable, Hashable {
    /// ICD-10 code.
    public var code: String
    /// Diagnosis text as written by the doctor.
    public var text: String?

    /// Creates a diagnosis.
    public init(code: String, text: String? = nil) {
        self.code = code
        self.text = text
    }
}

/// A procedure performed (MA_PTTT_QT).
public struct Procedure: Codable, Sendable, Hashable {
    /// ICD-9-CM procedure code.
    public var code: String
    /// Procedure name.
    public var name: String?

    /// Creates a procedure.
    public init(code: String, name: String? = nil) {
        self.code = code
        self.name = name
    }
}

/// A medicine given or prescribed (summary of XML 130 table 2), shown in the citizen book.
public struct Medicine: Codable, Sendable, Hashable {
    /// The facility's or national drug code.
    public var code: String?
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
    /// Unit of the quantity, e.g. "viên".
    public var unit: String?

    /// Creates a medicine entry.
    public init(code: String? = nil, name: String, strength: String? = nil, route: String? = nil,
                dosage: String? = nil, quantity: Double? = nil, unit: String? = nil) {
        self.code = code
        self.name = name
        self.strength = strength
        self.route = route
        self.dosage = dosage
        self.quantity = quantity
        self.unit = unit
    }
}

/// A key laboratory result (summary of XML 130 table 4), shown in the citizen book.
public struct LabResult: Codable, Sendable, Hashable {
    /// Test code used by the facility.
    public var code: String?
    /// Test name.
    public var name: String
    /// Result value as reported (may be text, e.g. "Âm tính").
    public var value: String
    /// Unit of the value.
    public var unit: String?
    /// Reference range as printed.
    public var referenceRange: String?
    /// When the result was issued.
    public var resultTime: String?

    /// Creates a lab result.
    public init(code: String? = nil, name: String, value: String, unit: String? = nil,
                referenceRange: String? = nil, resultTime: String? = nil) {
        self.code = code
        self.name = name
        self.value = value
        self.unit = unit
        self.referenceRange = referenceRange
        self.resultTime = resultTime
    }
}

/// The treatment summary the citizen book shows (reference §3 (d)); line breaks are kept.
public struct TreatmentSummary: Codable, Sendable, Hashable {
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
    /// Treating doctor's name.
    public var treatingDoctor: String?

    /// Creates a summary.
    public init(history: String? = nil, course: String? = nil, keyResults: String? = nil, treatment: String? = nil,
                nextSteps: String? = nil, prescription: String? = nil, advice: String? = nil, treatingDoctor: String? = nil) {
        self.history = history
        self.course = course
        self.keyResults = keyResults
        self.treatment = treatment
        self.nextSteps = nextSteps
        self.prescription = prescription
        self.advice = advice
        self.treatingDoctor = treatingDoctor
    }

    /// JSON keys whose text keeps its line breaks on input.
    static let multilineKeys: Set<String> = ["history", "course", "keyResults", "treatment", "nextSteps", "prescription", "advice"]
}

/// Settlement and money fields (NGAY_TTOAN, NAM_QT/THANG_QT, T_*): kept, never shown to the citizen.
public struct Billing: Codable, Sendable, Hashable {
    /// Settlement time (NGAY_TTOAN).
    public var settledAt: String?
    /// Settlement year (NAM_QT).
    public var settlementYear: Int?
    /// Settlement month (THANG_QT).
    public var settlementMonth: Int?
    /// Amounts in VND keyed by their XML 130 names, e.g. `T_THUOC`, `T_BHTT`.
    public var amounts: [String: Decimal]?

    /// Creates a billing block.
    public init(settledAt: String? = nil, settlementYear: Int? = nil, settlementMonth: Int? = nil, amounts: [String: Decimal]? = nil) {
        self.settledAt = settledAt
        self.settlementYear = settlementYear
        self.settlementMonth = settlementMonth
        self.amounts = amounts
    }
}
