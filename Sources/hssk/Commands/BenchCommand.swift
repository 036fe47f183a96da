import Foundation
import Services

let benchCommand = Command(
    name: "bench", summary: "Measure hssk against its targets (DESIGN.md §10); ratios come from one run.",
    usage: "bench [kafka] [--quick] [--records N] [--json FILE]",
    details: """
    Parts: kafka — produce and consume ~500-byte records through hssk's Swift API and through a minimal
    raw-C librdkafka loop on the same embedded cluster; the target is a ratio ≥ 0.8 for both.
    """,
    options: [
        Option(name: "quick", value: nil, help: "A short run (smoke test; under 2 minutes on 2 cores)."),
        Option(name: "records", value: "N", help: "Records per measurement.", defaultValue: "500000 (quick: 50000)"),
        Option(name: "rounds", value: "N", help: "Runs of each side; the best counts.", defaultValue: "3 (quick: 1)"),
        Option(name: "json", value: "FILE", help: "Also write the results as JSON."),
    ],
    run: { arguments in
        let parts = arguments.positional.isEmpty ? ["kafka"] : arguments.positional
        for part in parts where !["kafka", "all"].contains(part) {
            throw UsageError(description: "unknown benchmark part '\(part)' (available: kafka, all)")
        }
        let quick = arguments.flag("quick")
        var bench = KafkaBench()
        bench.records = try arguments.int("records", default: quick ? 50_000 : 500_000, in: 1...50_000_000)
        bench.rounds = try arguments.int("rounds", default: quick ? 1 : 3, in: 1...20)
        let kafka = try await bench.run { printError($0) }

        print("""
        | part  | measure | hssk Swift API | raw librdkafka C | ratio | target |
        |-------|---------|---------------:|-----------------:|------:|-------:|
        """)
        print(String(format: "| kafka | produce records/s | %.0f | %.0f | %.2f | ≥ 0.80 |", kafka.producePerS, kafka.rawProducePerS, kafka.produceRatio))
        print(String(format: "| kafka | consume records/s | %.0f | %.0f | %.2f | ≥ 0.80 |", kafka.consumePerS, kafka.rawConsumePerS, kafka.consumeRatio))
        print("\n\(kafka.records) records of \(kafka.valueBytes) bytes, best of \(kafka.rounds) round(s).")

        if let path = arguments.string("json") {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(["kafka": kafka]).write(to: URL(fileURLWithPath: path))
        }
        return 0
    })
