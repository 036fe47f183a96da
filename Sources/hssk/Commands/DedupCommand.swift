import Foundation
import Services

// hssk dedup: the duplicate sweep over the whole person index (docs/person-index.md).

let dedupCommand = Command(
    name: "dedup", summary: "Sweep the person index for duplicates: merge proven ones, send likely ones to review.",
    usage: "dedup --store PATH|URL [--dry-run] [--keys FILE] [--actor NAME] [--json]",
    details: """
    Each person is compared with older persons sharing a blocking key. A different personal ID, BHXH number, birth
    certificate or immunization code rules a pair out; a shared one (same sex and birth year) merges the newer person
    into the older (undo: hssk persons undo-merge); a probable match opens a possibleDuplicate review task, once per pair.
    Safe to run again: it raises nothing twice. Exit status: 0 done, 1 store error, 64 usage.
    """,
    options: [storeOption, keysOption, actorOption,
              Option(name: "dry-run", value: nil, help: "Change nothing; report what would be merged and reviewed."),
              Option(name: "json", value: nil, help: "Print the report as JSON.")],
    run: { arguments in
        guard arguments.positional.isEmpty else { throw UsageError(description: "dedup takes no arguments") }
        let actor = try operatorName(arguments)
        let dryRun = arguments.flag("dry-run")
        let report = try await withStore(arguments) { store in
            try await DuplicateSweep(store: store, actor: actor).run(dryRun: dryRun) { progress in
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
