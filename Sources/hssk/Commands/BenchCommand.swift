import Foundation
import Tooling

let benchCommand = Command(
    name: "bench", summary: "Measure hssk against its targets (DESIGN.md §10); ratios come from one run.",
    usage: "bench [kafka|store|ingest|load|linkage|feed|all] [--quick] [--records N] [--json FILE] [--postgres URL]",
    details: """
    Parts: kafka — produce and consume ~500-byte records through hssk's Swift API and through a minimal
    raw-C librdkafka loop on the same embedded cluster; the target is a ratio ≥ 0.95 for both, in records/s and in process CPU per record.
    store — batched encrypted apply (records + offsets) per backend next to a raw C-API insert loop of the
    same rows; PostgreSQL runs when --postgres or HSSK_BENCH_POSTGRES_URL is given (a scratch database).
    ingest — a synthetic population (with noise and records to reject) on the embedded cluster through the
    whole ingest service per backend, next to the raw insert loop of the same values; targets ≥ 20,000/s
    (SQLite) and ≥ 10,000/s (PostgreSQL) on 2 cores and a ratio ≥ 0.5.
    load — a city's first load: --persons citizens (default 8,400,000; quick and `all`: 270,000, about a million
    records) generated in shards and streamed to the embedded cluster while ingest stores them in a fresh store
    (SQLite, or PostgreSQL with --postgres); prints the rate of every minute, the total time, the store's size
    on disk, peak resident memory and linkage precision/recall from the ground truth. --records caps the
    records published; --keep keeps the store (its path is printed). Target: 30 M records in ≤ 30 minutes.
    linkage — linking cost per record (ingest's resolver on SQLite) with 10 k, 100 k and 1 M persons in the index
    (quick: 10 k and 50 k); the target is a ratio < 2 between the largest and the smallest. Stores are kept
    under --cache (default .build/bench-cache when .build exists) and reused.
    feed — the whole chain in one process on the embedded cluster (source producer → ingest → SQLite store →
    feed publisher → hssk.citizen-feed.v1 → pusher → HTTP → reference sink) at a steady --rate visits/s for
    --seconds; per visit, the time from being handed to the source's producer to the sink storing the first
    document of that person that shows it. The target is p99 ≤ 2 s at 1,000 records/s.
    """,
    options: [
        Option(name: "quick", value: nil, help: "A short run (smoke test; under 2 minutes on 2 cores)."),
        Option(name: "records", value: "N", help: "Records per measurement.", defaultValue: "500000 (quick: 50000)"),
        Option(name: "rounds", value: "N", help: "Runs of each side; the best counts (kafka: the median, single rounds stray on shared cores).", defaultValue: "3 (quick: 1)"),
        Option(name: "json", value: "FILE", help: "Also write the results as JSON."),
        Option(name: "postgres", value: "URL", help: "PostgreSQL server for the store part (or HSSK_BENCH_POSTGRES_URL)."),
        Option(name: "seconds", value: "N", help: "Seconds of steady load for the feed part.", defaultValue: "60 (quick: 10)"),
        Option(name: "rate", value: "N", help: "Visits per second for the feed part.", defaultValue: "1000"),
        Option(name: "persons", value: "N", help: "Citizens of the load part's city.", defaultValue: "8400000 (quick and all: 270000)"),
        Option(name: "keep", value: nil, help: "Keep the load part's store and print where it is."),
        Option(name: "cache", value: "DIR", help: "Where the linkage part keeps its stores between runs.", defaultValue: ".build/bench-cache if .build exists"),
    ],
    run: { arguments in
        let parts = arguments.positional.isEmpty ? ["kafka"] : arguments.positional
        for part in parts where !["kafka", "store", "ingest", "load", "linkage", "feed", "all"].contains(part) {
            throw UsageError(description: "unknown benchmark part '\(part)' (available: kafka, store, ingest, load, linkage, feed, all)")
        }
        let quick = arguments.flag("quick")
        var report = BenchReport()
        if parts.contains("store") || parts.contains("all") {
            var bench = StoreBench()
            bench.records = try arguments.int("records", default: quick ? 10_000 : 50_000, in: 1...50_000_000)
            bench.rounds = try arguments.int("rounds", default: quick ? 1 : 2, in: 1...20)
            bench.postgresURL = arguments.string("postgres") ?? ProcessInfo.processInfo.environment["HSSK_BENCH_POSTGRES_URL"]
            let store = try await bench.run { printError($0) }
            report.store = store
            print("""
            | part  | measure | hssk apply | raw inserts | ratio | target |
            |-------|---------|-----------:|------------:|------:|-------:|
            """)
            print(String(format: "| store | sqlite records/s | %.0f | %.0f | %.2f | ≥ 0.50 |", store.sqliteApplyPerS, store.sqliteRawPerS, store.sqliteRatio))
            if let apply = store.postgresApplyPerS, let raw = store.postgresRawPerS, let ratio = store.postgresRatio {
                print(String(format: "| store | postgres records/s | %.0f | %.0f | %.2f | ≥ 0.50 |", apply, raw, ratio))
            }
            print(String(format: "\napply with a new person per record (2 identifiers, 1 blocking key): sqlite %.0f records/s", store.sqliteApplyWithPersonsPerS)
                  + (store.postgresApplyWithPersonsPerS.map { String(format: ", postgres %.0f records/s", $0) } ?? ""))
            print("\(store.records) visits in batches of \(store.batchSize), best of \(store.rounds) round(s).\n")
        }
        if parts.contains("ingest") || parts.contains("all") {
            var bench = IngestBench()
            bench.records = try arguments.int("records", default: quick ? 20_000 : 200_000, in: 100...50_000_000)
            bench.postgresURL = arguments.string("postgres") ?? ProcessInfo.processInfo.environment["HSSK_BENCH_POSTGRES_URL"]
            let ingest = try await bench.run { printError($0) }
            report.ingest = ingest
            print("""
            | part   | measure | hssk ingest | raw inserts | ratio | target |
            |--------|---------|------------:|------------:|------:|-------:|
            """)
            print(String(format: "| ingest | sqlite records/s | %.0f | %.0f | %.2f | ≥ 20000/s, ≥ 0.50 |", ingest.sqliteIngestPerS, ingest.sqliteRawPerS,
                         ingest.sqliteIngestPerS / max(ingest.sqliteRawPerS, 1)))
            if let rate = ingest.postgresIngestPerS, let raw = ingest.postgresRawPerS {
                print(String(format: "| ingest | postgres records/s | %.0f | %.0f | %.2f | ≥ 10000/s, ≥ 0.50 |", rate, raw, rate / max(raw, 1)))
            }
            print("\n\(ingest.records) source records end to end (\(ingest.deadLettered) dead-lettered, \(ingest.personsCreated) persons created).\n")
        }
        if parts.contains("load") || parts.contains("all") {
            var bench = LoadBench()
            let small = quick || !parts.contains("load")
            bench.persons = try arguments.int("persons", default: small ? 270_000 : 8_400_000, in: 10...200_000_000)
            bench.recordLimit = try arguments.string("records").map { _ in try arguments.int("records", default: 0, in: 100...500_000_000) }
            bench.postgresURL = arguments.string("postgres") ?? ProcessInfo.processInfo.environment["HSSK_BENCH_POSTGRES_URL"]
            bench.keepStore = arguments.flag("keep")
            let load = try await bench.run { printError($0) }
            report.load = load
            print("""
            | part | measure | hssk | target |
            |------|---------|-----:|-------:|
            """)
            print("| load | \(load.backend) records/s | " + String(format: "%.0f", load.recordsPerS) + " | 30 M in ≤ 30 min (16,667/s) |")
            print("| load | last minute / first minute | " + (load.lastOverFirst.map { String(format: "%.2f", $0) } ?? "n/a") + " | within 20 % |")
            print(String(format: "| load | linkage precision / recall | %.4f / %.4f | precision 1.000 |", load.precision, load.recall))
            print(String(format: "\n%d records of %d citizens in %.0f s: %d stored, %d dead-lettered, %d persons created, %d reviews; %d records left unlinked;"
                         + " %d to accept were dead-lettered, %d to reject were stored.",
                         load.records, load.citizens, load.seconds, load.stored, load.deadLettered, load.personsCreated, load.reviews, load.unlinkedRecords,
                         load.missingRecords, load.wronglyStoredRecords))
            print(String(format: "Store %.2f GB on disk; peak resident memory %.2f GB (bench, embedded cluster and ingest in one process); publisher CPU %.0f s.",
                         Double(load.storeBytes) / 1e9, Double(load.peakResidentBytes) / 1e9, load.publisherCPUSeconds))
            print(String(format: "CPU per record: %.0f µs in this process without the publisher (ingest, its Kafka client, the embedded brokers), %.0f µs elsewhere on the machine (the database server when it runs here).\n",
                         load.processCPUMicrosPerRecord, load.otherCPUMicrosPerRecord)
                  + (load.storePath.map { "Store kept at \($0).\n" } ?? ""))
        }
        if parts.contains("linkage") || parts.contains("all") {
            var bench = LinkageBench()
            if quick { bench.sizes = [10_000, 50_000] }
            bench.rounds = try arguments.int("rounds", default: quick ? 1 : 3, in: 1...20)
            bench.cacheDirectory = arguments.string("cache")
                ?? (FileManager.default.fileExists(atPath: ".build") ? ".build/bench-cache" : nil)
            let linkage = try await bench.run { printError($0) }
            report.linkage = linkage
            print("""
            | part    | persons | µs/record |
            |---------|--------:|----------:|
            """)
            for size in linkage.sizes { print(String(format: "| linkage | %d | %.1f |", size.persons, size.microsecondsPerRecord)) }
            print(String(format: "\nratio %d / %d persons: %.2f (target < 2.00); %d probe visits known by a facility id only, best of %d round(s).\n",
                         linkage.sizes.last?.persons ?? 0, linkage.sizes.first?.persons ?? 0, linkage.ratio, linkage.probes, bench.rounds))
        }
        if parts.contains("feed") || parts.contains("all") {
            var bench = FeedBench()
            bench.seconds = try arguments.int("seconds", default: quick ? 10 : 60, in: 1...3_600)
            bench.rate = try arguments.int("rate", default: 1_000, in: 1...100_000)
            // Fewer citizens in a quick run: generating them is part of its budget.
            if quick { bench.persons = 2_000 }
            let feed = try await bench.run { printError($0) }
            report.feed = feed
            print("""
            | part | measure | p50 | p99 | max | target |
            |------|---------|----:|----:|----:|-------:|
            """)
            print(String(format: "| feed | publish → sink, ms | %.0f | %.0f | %.0f | p99 ≤ 2000 |", feed.p50Ms, feed.p99Ms, feed.maxMs))
            print(String(format: "\n%d visits at %.0f/s (asked %.0f/s) over %d s, %d reached the sink in a document showing them; "
                         + "sink: %d documents, %d duplicates, %d out of order.", feed.records, feed.sentPerS, feed.targetPerS, bench.seconds,
                         feed.delivered, feed.documents, feed.duplicates, feed.outOfOrder))
            print("Latency per visit: from the source handing it to its Kafka producer to the sink storing the first document of "
                  + "that person that shows it (ingest, SQLite store, publisher, feed topic, pusher, HTTP all included).\n")
        }
        if parts.contains("kafka") || parts.contains("all") {
            var bench = KafkaBench()
            bench.records = try arguments.int("records", default: quick ? 50_000 : 500_000, in: 1...50_000_000)
            bench.rounds = try arguments.int("rounds", default: quick ? 1 : 3, in: 1...20)
            let kafka = try await bench.run { printError($0) }

            print("""
            | part  | measure | hssk Swift API | raw librdkafka C | ratio | target |
            |-------|---------|---------------:|-----------------:|------:|-------:|
            """)
            print(String(format: "| kafka | produce records/s | %.0f | %.0f | %.2f | ≥ 0.95 |", kafka.producePerS, kafka.rawProducePerS, kafka.produceRatio))
            print(String(format: "| kafka | consume records/s | %.0f | %.0f | %.2f | ≥ 0.95 |", kafka.consumePerS, kafka.rawConsumePerS, kafka.consumeRatio))
            print(String(format: "| kafka | produce CPU µs/record (raw ÷ Swift) | %.2f | %.2f | %.2f | ≥ 0.95 |", kafka.produceCPUMicros, kafka.rawProduceCPUMicros, kafka.produceCPURatio))
            print(String(format: "| kafka | consume CPU µs/record (raw ÷ Swift) | %.2f | %.2f | %.2f | ≥ 0.95 |", kafka.consumeCPUMicros, kafka.rawConsumeCPUMicros, kafka.consumeCPURatio))
            print("\n\(kafka.records) records of \(kafka.valueBytes) bytes, median of \(kafka.rounds) alternating round(s); CPU is the whole process's"
                  + " (application, librdkafka and the embedded brokers), from each side's start to its end.")
            report.kafka = kafka
        }

        if let path = arguments.string("json") {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(report).write(to: URL(fileURLWithPath: path))
        }
        return 0
    })

/// `--json` output: one key per part that ran.
private struct BenchReport: Encodable {
    var kafka: KafkaBench.Result?
    var store: StoreBench.Result?
    var ingest: IngestBench.Result?
    var load: LoadBench.Result?
    var linkage: LinkageBench.Result?
    var feed: FeedBench.Result?
}
