import Foundation
import InsuranceSync
import RecordStore
import ServiceRuntime

// hssk insurance: the two-way connection with Vietnam Social Security (Hà Nội regulation art. 18;
// docs/insurance.md). Card changes come in through `hssk ingest`; this command sends what the health
// record knows that insurance lacks, records BHXH's answers, and reports.

/// Today in Vietnam (UTC+7) as `YYYY-MM-DD`: card validity is judged on the local day.
private func vietnamToday() -> String {
    var calendar = Calendar(identifier: .gregorian)
    calendar.timeZone = TimeZone(secondsFromGMT: 7 * 3600) ?? .gmt
    let c = calendar.dateComponents([.year, .month, .day], from: Date())
    return String(format: "%04d-%02d-%02d", c.year ?? 1970, c.month ?? 1, c.day ?? 1)
}

let insuranceCommand = Command(
    name: "insurance", summary: "Two-way insurance connection: send supplements to BHXH, record its answers, report.",
    usage: "insurance <sync|report> --store PATH|URL [options]",
    details: "Card changes from BHXH are stored by 'hssk ingest'. See docs/insurance.md for the fields, the no-echo rules and the acknowledgement format.",
    options: [],
    subcommands: [
        Command(
            name: "sync", summary: "Send supplements to hssk.insurance.supplements.v1 and record answers from hssk.insurance.acks.v1.",
            usage: "insurance sync --bootstrap HOST:PORT --store PATH|URL [--keys FILE] [--group NAME] [--key-file FILE] [--rescan] [--kafka KEY=VALUE ...] [--admin HOST:PORT]",
            details: """
            Runs until SIGINT/SIGTERM. Decides for the persons ingest queued (outbox kind insurance-supplement), records each
            supplement in the ledger before producing it, and records BHXH's acknowledgements with their offsets in one
            transaction. Acknowledgements that are unsigned, from a non-BHXH account or for an unknown supplement go to
            hssk.insurance.acks.v1.dlq. Logs are JSON lines on stderr with counts and codes only. Run one per store.
            """,
            options: [
                Option(name: "bootstrap", value: "HOST:PORT", help: "Kafka bootstrap servers."), storeOption, keysOption,
                Option(name: "group", value: "NAME", help: "Consumer group of the acknowledgement reader.", defaultValue: "hssk-insurance-sync"),
                Option(name: "key-file", value: "FILE", help: "hssk's own signing key (hex or base64): supplements then carry hssk-signature."),
                Option(name: "rescan", value: nil, help: "First queue every person linked to a card (first run on an existing store, after records were linked by review)."),
                Option(name: "kafka", value: "KEY=VALUE", help: "Any librdkafka setting, e.g. security.protocol=sasl_ssl (repeatable).", repeatable: true),
                adminOption,
            ],
            run: { arguments in
                let bootstrap = try required(arguments, "bootstrap")
                let location = try required(arguments, "store")
                var configuration = InsuranceSyncConfiguration(bootstrapServers: bootstrap)
                configuration.group = arguments.string("group") ?? configuration.group
                configuration.kafkaProperties = try kafkaProperties(arguments.strings("kafka"))
                if let path = arguments.string("key-file") {
                    do { configuration.signingKey = try SigningKey(contentsOf: URL(fileURLWithPath: path)) } catch {
                        throw UsageError(description: "--key-file: \(error)")
                    }
                }
                try await withServiceStore(location, keys: try keyRing(arguments)) { store in
                    let service = InsuranceSync(configuration: configuration, store: store)
                    if arguments.flag("rescan") {
                        let queued = try await service.queueAllCardHolders()
                        EventLog.standardError.event(.info, "insurance.rescan.queued", ["cardHolders": .int(Int64(queued))])
                    }
                    try await ServiceRunner.run(try withAdminEndpoint(service, arguments))
                }
                return 0
            }),
        Command(
            name: "report", summary: "Persons with and without a valid card, unlinked cards, open discrepancies, supplements by status.",
            usage: "insurance report --store PATH|URL [--keys FILE] [--day YYYY-MM-DD] [--json]",
            details: "Counts only, no personal data. An open discrepancy is a (BHXH number, field) whose newest supplement is not accepted yet (pending, sent or rejected).",
            options: [storeOption, keysOption,
                      Option(name: "day", value: "YYYY-MM-DD", help: "Judge card validity on this day.", defaultValue: "today in Vietnam"),
                      Option(name: "json", value: nil, help: "Print the report as JSON.")],
            run: { arguments in
                let day = arguments.string("day") ?? vietnamToday()
                guard day.utf8.count == 10, (try? Date.ISO8601FormatStyle().year().month().day().parse(day)) != nil else {
                    throw UsageError(description: "--day must be YYYY-MM-DD, not '\(day)'")
                }
                let report = try await withStore(arguments) { try await $0.insuranceReport(day: day) }
                if arguments.flag("json") {
                    let encoder = JSONEncoder()
                    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                    printLine(String(decoding: try encoder.encode(report), as: UTF8.self))
                    return 0
                }
                let open = report.openDiscrepancies.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
                let s = report.supplements
                printLine("""
                    insurance report for \(report.day)
                      persons                      \(report.persons)
                        with a valid card          \(report.personsWithValidCard)
                        without a valid card       \(report.personsWithoutValidCard)
                      cards                        \(report.cards)
                        not linked to a person     \(report.cardsNotLinked)
                        suspended                  \(report.cardsSuspended)
                      open discrepancies           \(open.isEmpty ? "none" : open)
                      supplements sent             \(s.sent)
                        accepted                   \(s.accepted)
                        rejected                   \(s.rejected)
                        awaiting an answer         \(s.awaitingAnswer)
                      supplements not yet sent     \(s.pending)
                    """)
                return 0
            }),
    ])
