import Foundation
import HealthModel
import Kafka
import ServiceRuntime

// hssk dlq: list, show and replay dead letters (DESIGN.md §5, docs/operations/dead-letters.md).

private let bootstrapOption = Option(name: "bootstrap", value: "HOST:PORT,...", help: "Kafka brokers.")
private let topicOption = Option(name: "topic", value: "TOPIC", help: "Source topic or its dead-letter topic, e.g. hssk.visits.v1 or hssk.visits.v1.dlq.")
private let codeOption = Option(name: "code", value: "CODE", help: "Only dead letters with this hssk-error-code.")
private let partitionOption = Option(name: "partition", value: "P", help: "Partition of the dead-letter topic.")
private let offsetOption = Option(name: "offset", value: "O", help: "Offset on that partition.")

private let privacyNote = "Output holds source keys (for cards, BHXH numbers) and show prints the record: treat it as personal data."

/// What every dlq subcommand needs: the cluster and the dead-letter topic.
private struct Target {
    var client: KafkaClientConfig
    var topic: DeadLetterTopic

    init(_ arguments: ParsedArguments) throws {
        client = try kafkaClient(arguments, clientID: "hssk-dlq")
        do { topic = try DeadLetterTopic(try required(arguments, "topic")) } catch { throw UsageError(description: "--topic: \(error)") }
    }

    /// Runs `body` with a reader, closing it afterwards.
    func reading<T>(_ body: (DeadLetterReader) async throws -> T) async throws -> T {
        let reader = try DeadLetterReader(client: client)
        do {
            let result = try await body(reader)
            try await reader.close()
            return result
        } catch {
            try? await reader.close()
            throw error
        }
    }
}

/// An optional whole-number option within `range`.
private func optionalInt(_ arguments: ParsedArguments, _ name: String, in range: ClosedRange<Int>) throws -> Int? {
    guard arguments.string(name) != nil else { return nil }
    return try arguments.int(name, default: 0, in: range)
}

/// The filter given by `--code`, `--partition`, `--offset`; an offset needs its partition.
private func filter(_ arguments: ParsedArguments) throws -> DeadLetterFilter {
    let partition = try optionalInt(arguments, "partition", in: 0...Int(Int32.max)).map { Int32($0) }
    let offset = try optionalInt(arguments, "offset", in: 0...Int.max).map { Int64($0) }
    if offset != nil && partition == nil { throw UsageError(description: "--offset needs --partition") }
    return DeadLetterFilter(code: arguments.string("code"), partition: partition, offset: offset)
}

/// One dead letter as a JSON Lines object (`list --json`).
private struct ListedLetter: Encodable {
    var partition: Int32
    var offset: Int64
    var failedAt: String?
    var errorCode: String?
    var sourceTopic: String?
    var sourcePartition: Int32?
    var sourceOffset: Int64?
    var key: String

    init(_ letter: DeadLetter) {
        partition = letter.partition
        offset = letter.offset
        failedAt = letter.failedAt
        errorCode = letter.errorCode
        sourceTopic = letter.sourceTopic
        sourcePartition = letter.sourcePartition
        sourceOffset = letter.sourceOffset
        key = letter.keyText
    }
}

/// `hssk.visits.v1[2]@40`, with `?` for what the headers lack.
private func sourceText(_ letter: DeadLetter) -> String {
    "\(letter.sourceTopic ?? "?")[\(letter.sourcePartition.map(String.init) ?? "?")]@\(letter.sourceOffset.map(String.init) ?? "?")"
}

let dlqCommand = Command(
    name: "dlq", summary: "Dead letters: list, show and replay what ingest could not accept.",
    usage: "dlq <list|show|replay> --bootstrap B --topic T [options]",
    details: "Reads <topic>.dlq from its first to its last record without joining a consumer group. See docs/operations/dead-letters.md.",
    options: [],
    subcommands: [
        Command(
            name: "list", summary: "One line per dead letter: partition/offset, failed-at, error code, source, key.",
            usage: "dlq list --bootstrap B --topic T [--code C] [--partition P] [--json]",
            details: privacyNote,
            options: [bootstrapOption, topicOption, codeOption, partitionOption,
                      Option(name: "json", value: nil, help: "One JSON object per line."), kafkaOption],
            run: { arguments in
                let target = try Target(arguments)
                let selection = try filter(arguments)
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
                let count = try await target.reading { reader in
                    try await reader.read(target.topic, filter: selection) { letters in
                        for letter in letters {
                            if arguments.flag("json") {
                                printLine(String(decoding: try encoder.encode(ListedLetter(letter)), as: UTF8.self))
                            } else {
                                printLine([letter.position, letter.failedAt ?? "-", letter.errorCode ?? "-", sourceText(letter), letter.keyText]
                                    .joined(separator: "  "))
                            }
                        }
                    }
                }
                printError("\(count) dead letter(s) on \(target.topic)")
                return 0
            }),
        Command(
            name: "show", summary: "One dead letter: headers, the problems in English and Vietnamese, the value.",
            usage: "dlq show --bootstrap B --topic T --partition P --offset O",
            details: "Exit status: 0 shown, 1 no dead letter there (or Kafka error), 64 usage. \(privacyNote)",
            options: [bootstrapOption, topicOption, partitionOption, offsetOption, kafkaOption],
            run: { arguments in
                let target = try Target(arguments)
                let selection = try filter(arguments)
                guard selection.partition != nil, selection.offset != nil else { throw UsageError(description: "--partition and --offset are required") }
                let letters = try await target.reading { try await $0.readAll(target.topic, filter: selection) }
                guard let letter = letters.first else {
                    printError("no dead letter at \(selection.partition!)/\(selection.offset!) of \(target.topic) (never written, or past retention)")
                    return 1
                }
                show(letter)
                return 0
            }),
        Command(
            name: "replay", summary: "Produce dead letters again to their source topic, as the sender sent them.",
            usage: "dlq replay --bootstrap B --topic T (--code C | --partition P --offset O | --all) [--dry-run]",
            details: """
                Each letter goes back to its hssk-source-topic and -partition with its original key, value and headers, plus \
                hssk-replay-of: <dlq>/<partition>/<offset>; ingest checks it again (signature, account, content). Repeating a replay \
                stores nothing twice. Letters whose hssk-source-topic is missing or is not the dead-letter topic's source are refused. \
                Fix the cause first; do not replay a letter whose sender has since sent a corrected version (it would supersede it).
                Exit status: 0 all selected letters replayed, 1 some refused or the letter asked for does not exist (or Kafka error), 64 usage.
                """,
            options: [bootstrapOption, topicOption, codeOption, partitionOption, offsetOption,
                      Option(name: "all", value: nil, help: "Every dead letter of the topic."),
                      Option(name: "dry-run", value: nil, help: "Show what would be replayed; send nothing."), kafkaOption],
            run: { try await replay($0) }),
    ])

/// Prints one dead letter for a person to read.
private func show(_ letter: DeadLetter) {
    printLine("dead letter:  \(letter.topic) \(letter.position)")
    printLine("error code:   \(letter.errorCode ?? "-")")
    printLine("failed at:    \(letter.failedAt ?? "-")")
    printLine("source:       \(sourceText(letter))")
    printLine("key:          \(letter.keyText)")
    printLine("headers:")
    for header in letter.headers { printLine("  \(header.key): \(header.value.map(DeadLetter.displayText) ?? "(null)")") }
    if let details = letter.details {
        printLine("problems:")
        for detail in details {
            printLine("  \(detail.field)  \(detail.code)")
            printLine("    en: \(detail.message.en)")
            printLine("    vi: \(detail.message.vi)")
        }
    } else {
        printLine("problems:     (\(DeadLetterHeaders.errorDetail) missing or not the documented JSON list)")
    }
    printLine("value:")
    printLine(letter.value.map { String(validating: $0, as: UTF8.self) ?? "(\($0.count) bytes, not UTF-8)" } ?? "(none)")
}

private func replay(_ arguments: ParsedArguments) async throws -> Int32 {
    let target = try Target(arguments)
    let selection = try filter(arguments)
    let selectors = [selection.code != nil, selection.partition != nil, arguments.flag("all")].filter { $0 }.count
    guard selectors == 1, (selection.partition == nil) == (selection.offset == nil) else {
        throw UsageError(description: "choose exactly one of --code C, --partition P --offset O, --all")
    }
    let dryRun = arguments.flag("dry-run")
    var producer: Producer?
    if !dryRun {
        producer = try await Producer.checked(client: target.client, topic: target.topic.sourceTopic, messageTimeoutMs: 30_000)
    }
    let replayer = DeadLetterReplayer(producer: producer)
    var replayed = 0, refused = 0
    let matched: Int
    do {
        matched = try await target.reading { reader in
            try await reader.read(target.topic, filter: selection) { letters in
                for (letter, outcome) in zip(letters, try await replayer.replay(letters)) {
                    switch outcome {
                    case .replayed(let report):
                        replayed += 1
                        printLine("replayed \(letter.position) → \(report.topic)[\(report.partition)]@\(report.offset)")
                    case .wouldReplay(let topic, let partition):
                        replayed += 1
                        printLine("would replay \(letter.position) → \(topic)[\(partition.map(String.init) ?? "by key")]")
                    case .refused(let refusal):
                        refused += 1
                        printLine("refused \(letter.position): \(refusal)")
                    }
                }
            }
        }
        try await producer?.close(timeout: .seconds(30))
    } catch {
        try? await producer?.close(timeout: .seconds(5))
        throw error
    }
    printError("\(replayed) \(dryRun ? "would be replayed" : "replayed"), \(refused) refused, of \(matched) selected on \(target.topic)")
    if selection.offset != nil && matched == 0 {
        printError("no dead letter at \(selection.partition!)/\(selection.offset!) of \(target.topic)")
        return 1
    }
    return refused > 0 ? 1 : 0
}
