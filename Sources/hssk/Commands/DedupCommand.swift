import Foundation
import Linkage
import PersonIndex

// hssk dedup: the duplicate sweep over the whole person index, and the estimate of its match model
// (docs/person-index.md).

let dedupCommand = Command(
    name: "dedup", summary: "Sweep the person index for duplicates: merge proven ones, send likely ones to review.",
    usage: "dedup --store PATH|URL [--dry-run] [--keys FILE] [--actor NAME] [--json]\n       hssk dedup --estimate --store PATH|URL [--dry-run] [--keys FILE] [--actor NAME] [--json]",
    details: """
    Each person is compared with older persons sharing a blocking key. A different personal ID, BHXH number, birth
    certificate or immunization code rules a pair out; a shared one (same sex and birth year) merges the newer person
    into the older (undo: hssk persons undo-merge); a probable match opens a possibleDuplicate review task, once per pair.
    Safe to run again: it raises nothing twice. Scores with the store's estimated match model, else the defaults.

    --estimate: estimates the match model's m/u by EM on the store's data (stored records against their blocks, and
    random pairs), prints them next to the defaults and saves them for ingest and dedup (ingest picks them up at its
    next start). Refuses, saving nothing (exit 1), with fewer than \(MatchModelEstimation.minimumPersons) persons,
    \(MatchModelEstimation.minimumCandidatePairs) candidate pairs or \(MatchModelEstimation.minimumRandomPairs) random
    pairs, or when the estimate is unsound (a probability that is not one, agreement counting against a match…).
    Exit status: 0 done, 1 store error or estimate refused, 64 usage.
    """,
    options: [storeOption, keysOption, actorOption,
              Option(name: "estimate", value: nil, help: "Estimate and save the match model instead of sweeping."),
              Option(name: "dry-run", value: nil, help: "Change nothing; report what would be merged and reviewed (or the estimate, unsaved)."),
              Option(name: "json", value: nil, help: "Print the report as JSON.")],
    run: { arguments in
        guard arguments.positional.isEmpty else { throw UsageError(description: "dedup takes no arguments") }
        let actor = try operatorName(arguments)
        let dryRun = arguments.flag("dry-run")
        if arguments.flag("estimate") { return try await estimateMatchModel(arguments, actor: actor, dryRun: dryRun) }
        let report = try await withStore(arguments) { store in
            var sweep = DuplicateSweep(store: store, actor: actor)
            let settings = try await MatchModelSettings.load(from: store)
            settings.log(.standardError, component: "dedup")
            sweep.matcher.model = settings.model
            return try await sweep.run(dryRun: dryRun) { progress in
                printError("… \(progress.persons) persons, \(progress.merged) merged, \(progress.reviewsOpened) sent to review")
            }
        }
        if arguments.flag("json") {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            printLine(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            let verb = dryRun ? "would be " : ""
            printLine("persons swept:        \(report.persons)")
            printLine("pairs scored:         \(report.pairsCompared)")
            printLine("pairs ruled out:      \(report.vetoed) (another identifier value)")
            printLine("merged:               \(report.merged) \(verb.isEmpty ? "" : "(\(verb)merged)")")
            printLine("sent to review:       \(report.reviewsOpened) \(verb.isEmpty ? "" : "(\(verb)opened)")")
            printLine("already in review:    \(report.alreadyInReview)")
        }
        return 0
    })

/// What `--estimate --json` prints.
private struct EstimateReport: Encodable {
    struct Field: Encodable {
        var levels: [String]
        var m: [Double]
        var u: [Double]
        var defaultM: [Double]
        var defaultU: [Double]
        var weightBits: [Double]
        var observedPairs: Int
        enum CodingKeys: String, CodingKey {
            case levels, m, u
            case defaultM = "default_m", defaultU = "default_u", weightBits = "weight_bits", observedPairs = "observed_pairs"
        }
    }
    var saved: Bool
    var refused: String?
    var persons: Int
    var sampledPersons: Int
    var records: Int
    var candidatePairs: Int
    var randomPairs: Int
    var estimatedAt: String
    var fields: [String: Field]
    enum CodingKeys: String, CodingKey {
        case saved, refused, persons, records, fields
        case sampledPersons = "sampled_persons", candidatePairs = "candidate_pairs", randomPairs = "random_pairs", estimatedAt = "estimated_at"
    }
}

/// Level names as docs/person-index.md gives them (level 0, missing, is never scored).
private func levelNames(_ field: ComparedField) -> [String] {
    switch field {
    case .name: return ["different", "similar", "close", "exact"]
    case .birthDate: return ["different", "same year", "day/month swapped", "exact"]
    case .sex, .phone, .locality: return ["disagree", "agree"]
    case .address: return ["fewer shared", "half shared"]
    case .secondaryID: return ["different", "one edit", "exact"]
    }
}

/// `hssk dedup --estimate`: estimate, print next to the defaults, save unless a dry run or refused.
private func estimateMatchModel(_ arguments: ParsedArguments, actor: String, dryRun: Bool) async throws -> Int32 {
    let (estimate, saved): (MatchModelEstimation.Estimate, Bool) = try await withStore(arguments) { store in
        let estimation = MatchModelEstimation(store: store)
        let estimate = try await estimation.estimate()
        guard estimate.refusal == nil, !dryRun else { return (estimate, false) }
        try await estimation.save(estimate, actor: actor)
        return (estimate, true)
    }
    let defaults = MatchModel.defaults
    let model = estimate.model
    if arguments.flag("json") {
        var fields: [String: EstimateReport.Field] = [:]
        for field in ComparedField.allCases {
            let f = field.rawValue, levels = 1..<field.levels
            fields["\(field)"] = EstimateReport.Field(levels: levelNames(field), m: levels.map { model.m[f][$0] }, u: levels.map { model.u[f][$0] },
                                                      defaultM: levels.map { defaults.m[f][$0] }, defaultU: levels.map { defaults.u[f][$0] },
                                                      weightBits: levels.map { model.weight(field, $0) }, observedPairs: estimate.observed[field] ?? 0)
        }
        let report = EstimateReport(saved: saved, refused: estimate.refusal?.description, persons: estimate.persons, sampledPersons: estimate.sampledPersons,
                                    records: estimate.records, candidatePairs: estimate.candidatePairs, randomPairs: estimate.randomPairs,
                                    estimatedAt: estimate.estimatedAt, fields: fields)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        // A NaN cannot be written as JSON: an unsound estimate is reported in text instead.
        if let data = try? encoder.encode(report) { printLine(String(decoding: data, as: UTF8.self)) }
    } else {
        printLine("persons: \(estimate.persons) (sampled \(estimate.sampledPersons)), records compared: \(estimate.records)")
        printLine("candidate pairs: \(estimate.candidatePairs), random pairs: \(estimate.randomPairs)")
        printLine("field        level                m (default)        u (default)          weight bits (default)")
        func cell(_ value: Double, _ old: Double) -> String {
            "\(String(format: "%.4f", value)) (\(String(format: "%.4f", old)))".padding(toLength: 19, withPad: " ", startingAt: 0)
        }
        for field in ComparedField.allCases {
            let f = field.rawValue
            let observed = estimate.observed[field] ?? 0
            for (index, level) in (1..<field.levels).enumerated() {
                let label = (index == 0 ? "\(field)" : "").padding(toLength: 13, withPad: " ", startingAt: 0)
                let name = levelNames(field)[index].padding(toLength: 21, withPad: " ", startingAt: 0)
                let bits = "\(String(format: "%+.2f", model.weight(field, level))) (\(String(format: "%+.2f", defaults.weight(field, level))))"
                printLine(label + name + cell(model.m[f][level], defaults.m[f][level]) + cell(model.u[f][level], defaults.u[f][level]) + bits)
            }
            if observed == 0 { printLine("             (no candidate pair has this field on both sides: m keeps its default)") }
        }
    }
    if let refusal = estimate.refusal {
        printError("hssk dedup --estimate: \(refusal)")
        return 1
    }
    printError(saved ? "saved as the store's match model (estimated_at \(estimate.estimatedAt)); ingest uses it from its next start"
                     : "dry run: nothing saved")
    return 0
}
