import Foundation

/// What counts as restricted data (reference §3: HIV tests and ARV prescriptions, ICD-10 B20–B24,
/// Z21, R75): it never leaves hssk.
///
/// The legal minimum is always part of a policy; a configuration file can only add to it. The
/// default adds the other HIV-specific ICD-10 codes (a positive test in pregnancy, exposure,
/// screening, counselling, family history), integrase inhibitors (ATC J05AJ), the ARV active
/// ingredients and the abbreviations of the regimens used in Vietnam, so that free text naming
/// them is caught too. Erring on the side of filtering costs the citizen a line of their book;
/// the other error discloses an HIV status.
public struct RestrictedDataPolicy: Sendable, Hashable {
    /// ICD-10 code prefixes without the dot, upper case (`B20` covers `B20.1`; `O987` is O98.7).
    public private(set) var icd10: [String]
    /// ATC code prefixes of ARV medicines, upper case.
    public private(set) var atc: [String]
    /// ARV active ingredients, folded (lower case, no diacritics), spelled short enough to match
    /// both the English and the Vietnamese spelling (`lamivudin` matches `lamivudine`).
    public private(set) var ingredients: [String]
    /// Words that mark an HIV test or treatment in names and free text, folded.
    public private(set) var terms: [String]
    /// `ingredients` and `terms` split into words once, not for every text the filter reads.
    private(set) var ingredientPhrases: [[String]] = []
    private(set) var termPhrases: [[String]] = []

    /// What the regulation names: HIV disease, asymptomatic infection, inconclusive test; ARV classes.
    public static let legalMinimum = RestrictedDataPolicy(
        icd10: ["B20", "B21", "B22", "B23", "B24", "Z21", "R75"],
        atc: ["J05AE", "J05AF", "J05AG", "J05AR"],
        ingredients: [],
        terms: ["hiv", "aids", "arv"])

    /// The legal minimum plus HIV-specific codes, ingredients and regimen abbreviations.
    public static let `default` = legalMinimum.adding(
        icd10: ["O98.7", "Z20.6", "Z11.4", "Z71.7", "Z83.0"],
        atc: ["J05AJ"],
        ingredients: ["abacavir", "atazanavir", "bictegravir", "cabotegravir", "cobicistat", "darunavir", "didanosin",
                      "dolutegravir", "doravirin", "efavirenz", "elvitegravir", "emtricitabin", "enfuvirtid", "etravirin",
                      "fosamprenavir", "fostemsavir", "ibalizumab", "indinavir", "islatravir", "lamivudin", "lenacapavir",
                      "lopinavir", "maraviroc", "nelfinavir", "nevirapin", "raltegravir", "rilpivirin", "ritonavir",
                      "saquinavir", "stavudin", "tenofovir", "tipranavir", "zidovudin"],
        terms: ["cd4", "retrovirus", "opc", "prep", "tdf", "3tc", "ftc", "dtg", "efv", "azt", "nvp", "lpv", "tld", "tle"])

    private init(icd10: [String], atc: [String], ingredients: [String], terms: [String]) {
        self.icd10 = icd10
        self.atc = atc
        self.ingredients = ingredients
        self.terms = terms
        splitPhrases()
    }

    private mutating func splitPhrases() {
        ingredientPhrases = ingredients.map(RestrictedText.tokenize).filter { !$0.isEmpty }
        termPhrases = terms.map(RestrictedText.tokenize).filter { !$0.isEmpty }
    }

    /// This policy with more entries (normalised; duplicates dropped). ICD-10 entries may be ranges
    /// of categories, `B20-B24`.
    public func adding(icd10 codes: [String] = [], atc prefixes: [String] = [], ingredients names: [String] = [],
                       terms words: [String] = []) -> RestrictedDataPolicy {
        var copy = self
        copy.icd10 = Self.merged(icd10, codes.flatMap(Self.expandICD10))
        copy.atc = Self.merged(atc, prefixes.map { $0.uppercased().filter { $0.isLetter || $0.isNumber } })
        copy.ingredients = Self.merged(ingredients, names.map(RestrictedText.fold))
        copy.terms = Self.merged(terms, words.map(RestrictedText.fold))
        copy.splitPhrases()
        return copy
    }

    /// A problem with a policy file.
    public struct LoadError: Error, Sendable, Hashable, CustomStringConvertible {
        /// What is wrong, without the file's contents.
        public var description: String
    }

    /// The legal minimum plus the lists of a JSON file `{"icd10": [...], "atc": [...], "ingredients": [...],
    /// "terms": [...]}` (every key optional). The file replaces the default's additions, so an operator
    /// can narrow the default to the legal minimum, never below it.
    public init(contentsOf url: URL) throws(LoadError) {
        struct File: Decodable {
            var icd10: [String]?
            var atc: [String]?
            var ingredients: [String]?
            var terms: [String]?
        }
        let file: File
        do {
            file = try JSONDecoder().decode(File.self, from: Data(contentsOf: url))
        } catch {
            throw LoadError(description: "restricted-data list \(url.path) is not readable JSON of the form {\"icd10\": [...], \"atc\": [...], \"ingredients\": [...], \"terms\": [...]}")
        }
        for code in file.icd10 ?? [] where Self.expandICD10(code).isEmpty {
            throw LoadError(description: "restricted-data list \(url.path): '\(code)' is not an ICD-10 code, prefix or range like B20-B24")
        }
        self = Self.legalMinimum.adding(icd10: file.icd10 ?? [], atc: file.atc ?? [], ingredients: file.ingredients ?? [],
                                        terms: file.terms ?? [])
    }

    /// `B20-B24` → B20…B24; `O98.7` → O987; `b20` → B20; nonsense → [].
    static func expandICD10(_ text: String) -> [String] {
        let parts = text.uppercased().split(separator: "-").map { $0.filter { $0.isLetter || $0.isNumber } }
        func valid(_ code: String) -> Bool {
            let scalars = Array(code.unicodeScalars)
            return (3...5).contains(scalars.count) && ("A"..."Z").contains(scalars[0])
                && scalars[1...2].allSatisfy { ("0"..."9").contains($0) } && code.allSatisfy(\.isASCII)
        }
        switch parts.count {
        case 1 where valid(parts[0]):
            return [parts[0]]
        case 2 where valid(parts[0]) && valid(parts[1]) && parts[0].count == 3 && parts[1].count == 3 && parts[0].first == parts[1].first:
            guard let low = Int(parts[0].dropFirst()), let high = Int(parts[1].dropFirst()), low <= high else { return [] }
            let letter = String(parts[0].prefix(1))
            return (low...high).map { letter + ($0 < 10 ? "0\($0)" : String($0)) }
        default:
            return []
        }
    }

    private static func merged(_ base: [String], _ extra: [String]) -> [String] {
        var seen = Set<String>()
        return (base + extra).filter { !$0.isEmpty && seen.insert($0).inserted }
    }
}
