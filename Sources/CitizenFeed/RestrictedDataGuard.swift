import Foundation
import ServiceRuntime
import HealthModel

/// The last check before citizen data leaves hssk (DESIGN §9, reference §3: HIV tests, ARV
/// prescriptions, ICD-10 B20–B24, Z21, R75), independent of the filter's configurable policy: every
/// diagnosis code is checked with HealthModel's own rule (`ICD10Code.isRestricted`), and diagnosis
/// texts, medicines and lab results against the legal minimum (an ARV ATC class, an HIV code, or
/// "HIV", "AIDS", "ARV" in any of their texts). Pure.
///
/// The filter removes restricted data; the guard proves it did. The builder runs it on each filtered
/// visit (a visit that fails is dropped whole, as the filter drops a visit it cannot clean), and the
/// pusher on each document before posting it (a document that fails is dead-lettered, never posted).
/// Every policy contains the legal minimum, so the guard never refuses what a working filter let pass.
public struct RestrictedDataGuard: Sendable {
    /// The legal minimum's matching of codes and terms in texts (shared with the filter's tokenizer).
    private let legal = RestrictedDataFilter(policy: .legalMinimum)

    /// A guard.
    public init() {}

    /// `guard:icd10` when `code` is restricted: by `ICD10Code.isRestricted`, or, for a code that does
    /// not parse, by the legal prefixes (never let an odd spelling through).
    public func rule(diagnosisCode code: String) -> String? {
        if let parsed = try? ICD10Code(parsing: code) { return parsed.isRestricted ? "guard:icd10" : nil }
        return legal.restrictedRule(icd10: code).map { _ in "guard:icd10" }
    }

    /// The first rule a filtered visit still breaks, if any.
    public func violation(in visit: VisitRecord) -> String? {
        for diagnosis in visit.diagnoses {
            if let rule = rule(diagnosisCode: diagnosis.code) { return rule }
            if legal.mention(in: [diagnosis.text]) != nil { return "guard:diagnosis" }
        }
        if visit.medicines?.contains(where: { legal.restrictedRule($0) != nil }) == true { return "guard:arv" }
        if visit.labResults?.contains(where: { legal.mention(in: [$0.code, $0.name, $0.value, $0.unit, $0.referenceRange]) != nil }) == true {
            return "guard:hivTest"
        }
        return nil
    }

    /// The first rule a citizen document breaks, read from its JSON object (as the pusher parsed it):
    /// diagnoses and medicines of each visit, lab results, and the diseases of the history. A document
    /// whose parts have another shape cannot be shown clean and breaks `guard:unreadable`.
    public func violation(inDocument document: [String: Any]) -> String? {
        guard let visits = Self.objects(document["visits"]), let history = Self.object(document["history"]),
              let diseases = Self.objects(history["diseases"]) else { return "guard:unreadable" }
        for disease in diseases {
            if let rule = violation(code: disease["code"], text: disease["name"]) { return rule }
        }
        for visit in visits {
            guard let diagnoses = Self.objects(visit["diagnoses"]), let medicines = Self.objects(visit["medicines"]),
                  let labs = Self.objects(visit["labResults"]) else { return "guard:unreadable" }
            for diagnosis in diagnoses {
                if let rule = violation(code: diagnosis["code"], text: diagnosis["text"]) { return rule }
            }
            if medicines.contains(where: { legal.mention(in: Self.texts($0)) != nil }) { return "guard:arv" }
            if labs.contains(where: { legal.mention(in: Self.texts($0)) != nil }) { return "guard:hivTest" }
        }
        return nil
    }

    /// A diagnosis or disease: its code must be a string (absent only for a document of another shape).
    private func violation(code: Any?, text: Any?) -> String? {
        guard let code = code as? String, text == nil || text is String else { return "guard:unreadable" }
        if let rule = rule(diagnosisCode: code) { return rule }
        return legal.mention(in: [text as? String]) == nil ? nil : "guard:diagnosis"
    }

    /// An absent value as empty, an object as is; nil for any other shape.
    private static func object(_ value: Any?) -> [String: Any]? {
        value == nil || value is NSNull ? [:] : value as? [String: Any]
    }

    /// An absent value as no objects, an array of objects as is; nil for any other shape.
    private static func objects(_ value: Any?) -> [[String: Any]]? {
        value == nil || value is NSNull ? [] : value as? [[String: Any]]
    }

    /// Every string value of an object.
    private static func texts(_ object: [String: Any]) -> [String?] {
        object.values.compactMap { $0 as? String }
    }
}
