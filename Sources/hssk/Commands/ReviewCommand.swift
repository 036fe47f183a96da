import Foundation
import HealthModel
import PersonIndex
import RecordStore

// hssk review: the person index's review queue (Hà Nội art. 13.5; docs/person-index.md).

private let storeOptions = [storeOption, keysOption]
private let decisionOptions = storeOptions + [actorOption]

/// Runs a decision on the desk and prints what it did.
private func decide(_ arguments: ParsedArguments, _ body: @Sendable (ReviewDesk, Int64) async throws -> ReviewDecision) async throws -> Int32 {
    let id = try idArgument(arguments, "review task id")
    let actor = try operatorName(arguments)
    return try await withStore(arguments) { store in
        switch try await body(ReviewDesk(store: store, actor: actor), id) {
        case .merged(let mergeID, let merged, let survivor):
            printLine("task \(id): \(merged) merged into \(survivor) (merge \(mergeID); undo with 'hssk persons undo-merge \(mergeID)')")
        case .recordLinked(let record, let person):
            printLine("task \(id): record \(record) linked to \(person)")
        case .keptApart:
            printLine("task \(id): kept apart")
        case .newPerson(let person, let record):
            printLine("task \(id): record \(record) is new person \(person)")
        }
        return 0
    }
}

/// `visit hssk.visits.v1/2@17`, or `-`.
private func recordText(_ reference: ReviewEvidence.RecordRef?) -> String {
    reference.map { "\($0.kind) \($0.topic)/\($0.partition)@\($0.offset)" } ?? "-"
}

let reviewCommand = Command(
    name: "review", summary: "The person index's review queue: list, show, and decide (link, split, new).",
    usage: "review <list|show|link|split|new> [ID] --store PATH|URL [options]",
    details: """
    possibleDuplicate tasks name a person that may be another one (first) and its candidates: 'link ID --person P' merges the
    first into P, 'split ID' (or 'new ID') keeps them apart. identifierConflict, sexConflict and birthYearConflict tasks hold a
    record back unlinked: 'link ID --person P' links it to P, 'new ID' makes it a new person. Decisions are audited with --actor.
    Exit status: 0 done, 1 refused (unknown or resolved task, merged person…) or store error, 64 usage.
    """,
    options: [],
    subcommands: [
        Command(
            name: "list", summary: "Open tasks: id, kind, persons, rule, score, record.",
            usage: "review list --store PATH|URL [--keys FILE] [--all]",
            options: storeOptions + [Option(name: "all", value: nil, help: "Include resolved tasks and their resolution.")],
            run: { arguments in
                guard arguments.positional.isEmpty else { throw UsageError(description: "list takes no arguments") }
                return try await withStore(arguments) { store in
                    let tasks = try await store.reviewTasks(includeResolved: arguments.flag("all"))
                    func row(_ cells: [String]) -> String {
                        zip(cells, [7, 20, 18, 15, 8, 34]).map { $0.padding(toLength: max($1, $0.count + 1), withPad: " ", startingAt: 0) }.joined()
                            + (cells.count > 6 ? cells[6] : "")
                    }
                    printLine(row(["ID", "KIND", "PERSONS", "RULE", "SCORE", "RECORD"] + (arguments.flag("all") ? ["RESOLUTION"] : [])))
                    for task in tasks {
                        let evidence = ReviewEvidence(json: task.evidence)
                        printLine(row([String(task.id), task.kind, task.persons.map(\.description).joined(separator: ","), evidence?.rule ?? "-",
                                       evidence?.score.map { String(format: "%.1f", $0) } ?? "-", recordText(evidence?.record)]
                                      + (arguments.flag("all") ? [task.resolution ?? "open"] : [])))
                    }
                    printError("\(tasks.count) task(s)")
                    return 0
                }
            }),
        Command(
            name: "show", summary: "A task: evidence, the held-back record as sent, and every person it names.",
            usage: "review show ID --store PATH|URL [--keys FILE]",
            details: "Output holds names and identifiers: it is personal data (dữ liệu cá nhân).", options: storeOptions,
            run: { arguments in
                let id = try idArgument(arguments, "review task id")
                return try await withStore(arguments) { store in
                    let review = try await ReviewDesk(store: store, actor: "read-only").reviewCase(id)
                    printLine("task \(id): \(review.task.kind), \(review.task.resolution.map { "resolved (\($0))" } ?? "open")")
                    if let evidence = review.evidence {
                        var line = "evidence: rule \(evidence.rule)"
                        if let reason = evidence.reason { line += ", \(reason)" }
                        if let score = evidence.score { line += String(format: ", score %.2f bits", score) }
                        if let runnerUp = evidence.runnerUp { line += String(format: ", runner-up %.2f", runnerUp) }
                        printLine(line)
                        if let weights = evidence.weights, !weights.isEmpty {
                            printLine("  weights: " + weights.sorted { $0.key < $1.key }.map { String(format: "%@ %.2f", $0.key, $0.value) }.joined(separator: ", "))
                        }
                    } else {
                        printLine("evidence: \(review.task.evidence)")
                    }
                    if let reference = review.evidence?.record {
                        printLine("record: \(recordText(reference))" + (review.record.map { " (source record \($0.id), person \($0.person.map(\.description) ?? "none"))" } ?? ", not stored"))
                        if let subject = review.decoded?.subject {
                            let ids = [("personalId", subject.personalId), ("bhxh", subject.bhxhNumber), ("legacyId", subject.legacyId),
                                       ("immunization", subject.immunizationCode), ("temporary", subject.temporaryCode)]
                                .compactMap { name, value in value.map { "\(name) \($0)" } }
                            printLine("  as sent: " + ([subject.fullName, "born \(subject.birthDate)", "sex \(subject.sex)"] + ids).joined(separator: " · "))
                        }
                    }
                    for (index, entry) in review.persons.enumerated() {
                        let role = review.task.kind == ReviewDesk.duplicateKind ? (index == 0 ? "to merge away" : "candidate") : "named by the record"
                        printPerson(entry.id, entry.person, role: role)
                    }
                    if review.task.resolution == nil {
                        printLine(review.task.kind == ReviewDesk.duplicateKind
                                  ? "decide: hssk review link \(id) --person P | split \(id)"
                                  : "decide: hssk review link \(id) --person P | new \(id)")
                    }
                    return 0
                }
            }),
        Command(
            name: "link", summary: "Decide 'this is person P': merge the duplicate into P, or link the held-back record to P.",
            usage: "review link ID --person P --store PATH|URL [--keys FILE] [--actor NAME]",
            options: decisionOptions + [Option(name: "person", value: "P", help: "The person it is (p12 or 12).")],
            run: { arguments in
                let person = try personArgument(try required(arguments, "person"))
                return try await decide(arguments) { desk, id in try await desk.link(id, to: person) }
            }),
        Command(
            name: "split", summary: "Decide 'different people': a possible duplicate stays a person of its own.",
            usage: "review split ID --store PATH|URL [--keys FILE] [--actor NAME]", options: decisionOptions,
            run: { arguments in try await decide(arguments) { desk, id in try await desk.split(id) } }),
        Command(
            name: "new", summary: "Decide 'nobody known': the held-back record becomes a new person.",
            usage: "review new ID --store PATH|URL [--keys FILE] [--actor NAME]",
            details: "The new person takes the record's identifiers that nobody else holds.", options: decisionOptions,
            run: { arguments in try await decide(arguments) { desk, id in try await desk.makeNewPerson(id) } }),
    ])
