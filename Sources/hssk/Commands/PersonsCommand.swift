import Foundation
import HealthModel
import RecordStore

// hssk persons: look at a person of the index and correct merges (docs/person-index.md).

private let storeOptions = [storeOption, keysOption]
private let privacyNote = "Output holds names and identifiers: it is personal data (dữ liệu cá nhân); do not paste it into tickets."

/// A person id given as `p12` or `12`.
func personArgument(_ text: String) throws -> PersonID {
    guard let value = Int64(text.hasPrefix("p") ? String(text.dropFirst()) : text), value > 0 else {
        throw UsageError(description: "'\(text)' is not a person id (p12 or 12)")
    }
    return PersonID(value)
}

/// The one positional argument of a subcommand.
func singleArgument(_ arguments: ParsedArguments, _ what: String) throws -> String {
    guard arguments.positional.count == 1, let value = arguments.positional.first else { throw UsageError(description: "give exactly one \(what)") }
    return value
}

/// A positive whole number given as a positional argument.
func idArgument(_ arguments: ParsedArguments, _ what: String) throws -> Int64 {
    let text = try singleArgument(arguments, what)
    guard let value = Int64(text), value > 0 else { throw UsageError(description: "'\(text)' is not a \(what)") }
    return value
}

/// Prints a person: demographics, identifiers (active and closed), record count.
func printPerson(_ id: PersonID, _ person: StoredPerson?, role: String? = nil) {
    printLine("person \(id)" + (role.map { " (\($0))" } ?? "") + (person == nil ? ": not found" : ""))
    guard let person else { return }
    if let survivor = person.mergedInto { printLine("  merged into \(survivor)") }
    let d = person.demographics
    let facts = [d?.fullName, d?.birthDate.map { "born \($0)" }, d?.sex.map { "sex \($0)" }, d?.communeCode.map { "commune \($0)" },
                 d?.phone.map { "phone \($0)" }, "\(person.recordCount) record(s)"].compactMap { $0 }
    printLine("  " + facts.joined(separator: " · "))
    for identifier in person.identifiers {
        let validity = identifier.validTo.map { "closed \($0)" } ?? "since \(identifier.validFrom)"
        printLine("  \(identifier.type.rawValue.padding(toLength: 18, withPad: " ", startingAt: 0))\(identifier.value)  (\(validity))")
    }
}

let personsCommand = Command(
    name: "persons", summary: "Show a person of the index; merge two persons or undo a merge.",
    usage: "persons <show|merge|undo-merge> ... --store PATH|URL [options]",
    details: "Merges and undos are logged (merge log and audit, with --actor) and tell the citizen feed. See docs/person-index.md.",
    options: [],
    subcommands: [
        Command(
            name: "show", summary: "A person: demographics, identifiers, relations, merges, records.",
            usage: "persons show P --store PATH|URL [--keys FILE]", details: privacyNote, options: storeOptions,
            run: { arguments in
                let id = try personArgument(try singleArgument(arguments, "person id"))
                return try await withStore(arguments) { store in
                    guard let file = try await store.personFile(id) else {
                        printError("no person \(id)")
                        return 1
                    }
                    printPerson(id, file.person)
                    for relation in file.relations {
                        printLine(relation.person == id ? "  has \(relation.kind.rawValue) \(relation.other)" : "  is \(relation.kind.rawValue) of \(relation.person)")
                    }
                    for merge in try await store.merges(involving: id) {
                        printLine("  merge \(merge.id): \(merge.merged) into \(merge.survivor) by \(merge.actor) (\(merge.reason))" + (merge.undone ? ", undone" : ""))
                    }
                    for record in file.records {
                        printLine("  record \(record.id): \(record.kind.rawValue) \(record.coordinates.topic)/\(record.coordinates.partition)@\(record.coordinates.offset) from \(record.sender)")
                    }
                    return 0
                }
            }),
        Command(
            name: "merge", summary: "Merge a person into another (the first one's identifiers and records move).",
            usage: "persons merge P --into S --store PATH|URL [--keys FILE] [--actor NAME] [--reason TEXT]",
            details: "Prints the merge id; 'hssk persons undo-merge ID' reverses it exactly.",
            options: storeOptions + [actorOption, Option(name: "into", value: "S", help: "The person that stays."),
                                     Option(name: "reason", value: "TEXT", help: "Why (no personal data).", defaultValue: "manual")],
            run: { arguments in
                let merged = try personArgument(try singleArgument(arguments, "person id"))
                let survivor = try personArgument(try required(arguments, "into"))
                let actor = try operatorName(arguments)
                return try await withStore(arguments) { store in
                    let id = try await store.merge(merged, into: survivor, reason: arguments.string("reason") ?? "manual", actor: actor)
                    printLine("merge \(id): \(merged) into \(survivor)")
                    return 0
                }
            }),
        Command(
            name: "undo-merge", summary: "Undo a merge: what it moved goes back and the merged person is active again.",
            usage: "persons undo-merge MERGE_ID --store PATH|URL [--keys FILE] [--actor NAME]",
            details: "Records linked to the survivor after the merge stay with it. A survivor merged again later must be un-merged first.",
            options: storeOptions + [actorOption],
            run: { arguments in
                let id = try idArgument(arguments, "merge id")
                let actor = try operatorName(arguments)
                return try await withStore(arguments) { store in
                    try await store.undoMerge(id, actor: actor)
                    printLine("merge \(id) undone")
                    return 0
                }
            }),
    ])
