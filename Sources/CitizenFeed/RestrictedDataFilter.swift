import Foundation
import HealthModel

/// Removes restricted data (HIV diagnoses, tests and ARV medicines) from source records before a
/// citizen document is built from them. Pure: no I/O, deterministic.
///
/// Rules for a visit, in order:
/// 1. a visit whose main diagnosis is restricted (by code, or its text names HIV or an ARV) is
///    dropped whole: the visit itself would disclose it;
/// 2. restricted diagnoses, ARV medicines (ATC prefix, active ingredient or regimen abbreviation in
///    any of its texts), HIV lab tests and procedures whose text names them are removed;
/// 3. a visit that lost anything also loses all its free text (reason, diagnosis texts of the
///    admission and discharge, treatment summary, note), which may describe what was removed;
///    free text that itself names a restricted term taints the visit the same way.
/// What was removed is counted in a `RestrictedFilterReport` by rule, never by content.
public struct RestrictedDataFilter: Sendable {
    /// The policy applied.
    public let policy: RestrictedDataPolicy

    /// A filter applying `policy`.
    public init(policy: RestrictedDataPolicy = .default) {
        self.policy = policy
    }

    /// The visit without restricted data, or nil when the whole visit is restricted.
    public func filter(_ visit: VisitRecord, report: inout RestrictedFilterReport) -> VisitRecord? {
        if let main = visit.diagnoses.first, let rule = restrictedRule(main) {
            report.count(.visit, rule)
            return nil
        }
        var out = visit
        var tainted = false
        out.diagnoses = visit.diagnoses.filter { diagnosis in
            guard let rule = restrictedRule(diagnosis) else { return true }
            report.count(.diagnosis, rule)
            tainted = true
            return false
        }
        out.medicines = visit.medicines.map { medicines in
            medicines.filter { medicine in
                guard let rule = restrictedRule(medicine) else { return true }
                report.count(.medicine, rule)
                tainted = true
                return false
            }
        }
        out.labResults = visit.labResults.map { labs in
            labs.filter { lab in
                guard let rule = mention(in: [lab.code, lab.name, lab.value, lab.unit, lab.referenceRange]) else { return true }
                report.count(.labResult, rule)
                tainted = true
                return false
            }
        }
        out.procedures = visit.procedures.map { procedures in
            procedures.filter { procedure in
                guard let rule = mention(in: [procedure.name]) else { return true }
                report.count(.procedure, rule)
                tainted = true
                return false
            }
        }
        let summary = visit.treatmentSummary
        let freeText = [visit.reason, visit.admissionDiagnosis, visit.dischargeDiagnosis, visit.note, visit.traditionalMedicineDiagnoses,
                        summary?.history, summary?.course, summary?.keyResults, summary?.treatment, summary?.nextSteps,
                        summary?.prescription, summary?.advice, summary?.treatingDoctor]
        if let rule = mention(in: freeText) {
            report.count(.text, rule)
            tainted = true
        }
        if tainted {
            let dropped = freeText.compactMap { $0 }.count
            if dropped > 0 { report.count(.text, "tainted", dropped) }
            out.reason = nil
            out.admissionDiagnosis = nil
            out.dischargeDiagnosis = nil
            out.note = nil
            out.traditionalMedicineDiagnoses = nil
            out.treatmentSummary = nil
        }
        return out
    }

    /// The dose, or nil when its vaccine names a restricted term (none does today; kept for safety).
    /// The note is not shown, so it is not read: a dose is never withheld for what a note says.
    public func filter(_ dose: VaccinationDose, report: inout RestrictedFilterReport) -> VaccinationDose? {
        guard let rule = mention(in: [dose.vaccineName, dose.vaccineCode]) else { return dose }
        report.count(.vaccination, rule)
        return nil
    }

    /// The rule a diagnosis breaks (its code, or a restricted term in its text), if any.
    public func restrictedRule(_ diagnosis: Diagnosis) -> String? {
        restrictedRule(icd10: diagnosis.code) ?? mention(in: [diagnosis.text])
    }

    /// `icd10:<prefix>` when the code falls under the policy's ICD-10 list.
    public func restrictedRule(icd10 code: String) -> String? {
        let compact = code.uppercased().filter { $0.isLetter || $0.isNumber }
        return policy.icd10.first { compact.hasPrefix($0) }.map { "icd10:\($0)" }
    }

    /// The rule an ARV medicine matches: its ATC prefix, or an ingredient or term in any of its texts.
    public func restrictedRule(_ medicine: Medicine) -> String? {
        let code = (medicine.code ?? "").uppercased().filter { $0.isLetter || $0.isNumber }
        if let prefix = policy.atc.first(where: { code.hasPrefix($0) }) { return "atc:\(prefix)" }
        return mention(in: [medicine.code, medicine.name, medicine.strength, medicine.route, medicine.dosage, medicine.unit])
    }

    /// The rule the first restricted mention in `texts` matches: an ICD-10 or ATC code written in the
    /// text (`icd10:<prefix>`, `atc:<prefix>`), an ARV ingredient (`ingredient`) or a term (`term`).
    public func mention(in texts: [String?]) -> String? {
        for case let text? in texts {
            if let rule = RestrictedText.mention(in: text, policy: policy) { return rule }
        }
        return nil
    }
}

/// What the filter removed: counts by kind of item and by rule, never the content.
public struct RestrictedFilterReport: Sendable, Hashable {
    /// Kinds of removed item.
    public enum Item: String, Sendable, Hashable, CaseIterable {
        case visit, diagnosis, medicine, labResult, procedure, text, vaccination
    }

    /// Removed items by kind.
    public private(set) var items: [Item: Int] = [:]
    /// Removals by rule (`icd10:B20`, `atc:J05AF`, `ingredient`, `term`, `tainted`).
    public private(set) var rules: [String: Int] = [:]

    /// An empty report.
    public init() {}

    /// Total items removed.
    public var total: Int { items.values.reduce(0, +) }

    /// Counts `n` removals of `item` under `rule`.
    mutating func count(_ item: Item, _ rule: String, _ n: Int = 1) {
        items[item, default: 0] += n
        rules[rule, default: 0] += n
    }

    /// Adds another report's counts.
    public mutating func add(_ other: RestrictedFilterReport) {
        for (item, n) in other.items { items[item, default: 0] += n }
        for (rule, n) in other.rules { rules[rule, default: 0] += n }
    }
}

/// Matching restricted terms in free text: folded (lower case, no diacritics, đ → d), split into
/// words of letters and digits; ICD-10 codes are recognised with or without their dot.
enum RestrictedText {
    /// Folded form used for terms and text alike.
    static func fold(_ text: String) -> String { VietnameseText.fold(text) }

    /// The rule matched by the first restricted mention in `text`, if any.
    static func mention(in text: String, policy: RestrictedDataPolicy) -> String? {
        let tokens = tokenize(fold(text))
        for token in tokens {
            let compact = token.replacingOccurrences(of: ".", with: "")
            let upper = compact.uppercased()
            if looksLikeICD10(compact), let prefix = policy.icd10.first(where: { upper.hasPrefix($0) }) {
                return "icd10:\(prefix)"
            }
            if let prefix = policy.atc.first(where: { upper.hasPrefix($0) }) { return "atc:\(prefix)" }
        }
        let words = tokens.flatMap { $0.split(separator: ".").map(String.init) }
        if contains(words, anyOf: policy.ingredientPhrases) { return "ingredient" }
        if contains(words, anyOf: policy.termPhrases) { return "term" }
        return nil
    }

    /// Runs of ASCII letters, digits and dots (dots at either end dropped).
    static func tokenize(_ folded: String) -> [String] {
        var tokens: [String] = []
        var current: [UInt8] = []
        func flush() {
            let trimmed = current.drop(while: { $0 == UInt8(ascii: ".") }).reversed().drop(while: { $0 == UInt8(ascii: ".") }).reversed()
            if !trimmed.isEmpty { tokens.append(String(decoding: trimmed, as: UTF8.self)) }
            current.removeAll(keepingCapacity: true)
        }
        for byte in folded.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."):
                current.append(byte)
            default:
                flush()  // any other byte, including every byte of a non-ASCII scalar
            }
        }
        flush()
        return tokens
    }

    /// A letter, two digits and up to two more letters or digits (`b20`, `b201`, `o987`).
    static func looksLikeICD10(_ token: String) -> Bool {
        let s = Array(token.utf8)  // tokens are ASCII
        guard (3...5).contains(s.count), Character(Unicode.Scalar(s[0])).isLetter else { return false }
        return s[1...2].allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }
    }

    /// True when some phrase of `phrases` (one or more words) occurs in `words`.
    static func contains(_ words: [String], anyOf phrases: [[String]]) -> Bool {
        for parts in phrases {
            guard parts.count <= words.count else { continue }
            for start in 0...(words.count - parts.count) where zip(words[start...], parts).allSatisfy(wordMatches) {
                return true
            }
        }
        return false
    }

    /// A word matches a term of five letters or more by prefix (spelling variants: `lamivudin` →
    /// `lamivudine`); a shorter term exactly or followed by digits only (`hiv` → `hiv1`, not `hives`).
    static func wordMatches(_ word: String, _ term: String) -> Bool {
        guard word.hasPrefix(term) else { return false }
        return term.count >= 5 || word.dropFirst(term.count).allSatisfy(\.isNumber)
    }
}
