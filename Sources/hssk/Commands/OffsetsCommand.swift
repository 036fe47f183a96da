import Administration
import Foundation
import Kafka
import RecordStore

// hssk offsets: consumer positions kept in the store, and retention gaps (docs/operations/record-store.md).

private let groupOption = Option(name: "group", value: "GROUP", help: "Consumer group, e.g. hssk-ingest or hssk-insurance-sync.")
private let bootstrapOption = Option(name: "bootstrap", value: "HOST:PORT,...", help: "Kafka brokers (to compare with what Kafka still keeps).")

private func client(_ arguments: ParsedArguments, required: Bool) throws -> KafkaClientConfig? {
    guard let bootstrap = arguments.string("bootstrap") else {
        if required { throw UsageError(description: "--bootstrap is required") }
        return nil
    }
    return try kafkaClient(arguments, bootstrap: bootstrap, clientID: "hssk-offsets")
}

let offsetsCommand = Command(
    name: "offsets", summary: "Consumer positions kept in the store; accept records that expired before they were read.",
    usage: "offsets <list|accept-gap> [options]",
    options: [],
    subcommands: [
        Command(
            name: "list", summary: "Each group's stored position per partition, the ranges it consumed, and (with --bootstrap) what Kafka keeps.",
            usage: "offsets list --store PATH|URL [--keys FILE] [--group GROUP] [--bootstrap B] [--json]",
            details: "A partition whose position is below Kafka's log start lost records to retention before they were read: it is marked EXPIRED, and ingest keeps it stopped until 'hssk offsets accept-gap' (or the sources re-send).",
            options: [storeOption, keysOption, groupOption, bootstrapOption, kafkaOption, Option(name: "json", value: nil, help: "Print JSON.")],
            run: { arguments in
                let kafka = try client(arguments, required: false)
                let states = try await withStore(arguments) { try await OffsetAdministration.list(store: $0, group: arguments.string("group"), client: kafka) }
                if arguments.flag("json") {
                    let encoder = JSONEncoder()
                    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                    printLine(String(decoding: try encoder.encode(states), as: UTF8.self))
                    return 0
                }
                for state in states {
                    var line = "\(state.group)  \(state.topic)/\(state.partition)  position \(state.position.map(String.init) ?? "-")"
                    if let low = state.logStart, let high = state.logEnd { line += "  kafka \(low)..<\(high)" }
                    if let expired = state.expired, let position = state.position, let low = state.logStart {
                        line += "  EXPIRED: offsets \(position)..<\(low) (\(expired) records) were never read"
                    }
                    printLine(line)
                    for range in state.ranges {
                        var text = "    \(range.kind.rawValue.padding(toLength: 16, withPad: " ", startingAt: 0)) \(range.from)..<\(range.next)"
                        if range.kind == .batch { text += "  records \(range.records), duplicates or answers \(range.absorbed)" }
                        if let detail = range.detail { text += "  \(detail)" }
                        printLine(text)
                    }
                }
                return 0
            }),
        Command(
            name: "accept-gap", summary: "Move a group's position past records that expired from Kafka before they were read (audited).",
            usage: "offsets accept-gap --store PATH|URL --bootstrap B --group GROUP --topic TOPIC --partition P --reason TEXT [--reset-to OFFSET] [--actor NAME] [--keys FILE]",
            details: "Only from exactly the stored position to Kafka's log start of the partition, and only when that start is past the position: records that still exist are never skipped. Ask the sources to re-send what the gap covers first (their records are identified by offsets in 'hssk offsets list' and the ingest log). A running ingest resumes the partition within seconds.",
            options: [storeOption, keysOption, bootstrapOption, kafkaOption, groupOption,
                      Option(name: "topic", value: "TOPIC", help: "Source topic."),
                      Option(name: "partition", value: "P", help: "Partition.", range: 0...Int(Int32.max)),
                      Option(name: "reason", value: "TEXT", help: "Why the records are let go (kept in the store and the audit log)."),
                      Option(name: "reset-to", value: "OFFSET", help: "Only when the position lies past the log's end (topic recreated or truncated): where to read again.",
                             range: 0...Int.max),
                      actorOption],
            run: { arguments in
                let kafka = try client(arguments, required: true)!
                let partition = RecordStore.TopicPartition(try required(arguments, "topic"), Int32(try arguments.int("partition", default: -1)))
                guard partition.partition >= 0 else { throw UsageError(description: "--partition is required") }
                let group = try required(arguments, "group"), reason = try required(arguments, "reason"), actor = try operatorName(arguments)
                let resetTo = arguments.string("reset-to") == nil ? nil : Int64(try arguments.int("reset-to", default: 0))
                let (from, to) = try await withStore(arguments) {
                    try await OffsetAdministration.acceptGap(store: $0, group: group, partition: partition, client: kafka, actor: actor, reason: reason,
                                                             resetTo: resetTo)
                }
                if to > from {
                    printLine("\(group) \(partition): offsets \(from)..<\(to) (\(to - from) records) accepted as expired by \(actor); the position is now \(to)")
                } else {
                    printLine("\(group) \(partition): the position moved back from \(from) to \(to) by \(actor) (the log ended before it)")
                }
                return 0
            }),
    ])
