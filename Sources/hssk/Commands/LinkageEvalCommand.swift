import Foundation
import Linkage
import Tooling

let linkageEvalCommand = Command(
    name: "linkage-eval", summary: "Measure the person index against labelled data: precision, recall, F1.",
    usage: "linkage-eval [--febrl FILE ...] [--synthetic N] [--seed S] [--json FILE]",
    details: """
    Runs the person index ingest runs (its resolver, on a fresh encrypted SQLite store, with the match
    model that store gives ingest), so the numbers are the product's. FEBRL files (rec-N-org /
    rec-N-dup-K ids give the truth) are deduplicated one file at a time, in batches as ingest reads
    them; --synthetic links the records of a synthetic Vietnamese population of N citizens.
    Column mapping and method: docs/person-index.md.
    """,
    options: [
        Option(name: "febrl", value: "FILE", help: "A FEBRL CSV file (repeatable).", repeatable: true),
        Option(name: "synthetic", value: "N", help: "Citizens of a synthetic population to link."),
        Option(name: "seed", value: "S", help: "Seed of the synthetic population.", defaultValue: "1"),
        Option(name: "json", value: "FILE", help: "Also write the results as JSON."),
    ],
    run: { arguments in
        var results: [String: LinkageEvaluationJob.Report] = [:]
        for file in arguments.strings("febrl") {
            results[URL(fileURLWithPath: file).lastPathComponent] = try await LinkageEvaluationJob.febrl(URL(fileURLWithPath: file))
        }
        if arguments.string("synthetic") != nil {
            let citizens = try arguments.int("synthetic", default: 2_000, in: 1...1_000_000)
            let seed = try arguments.int("seed", default: 1, in: 0...Int.max)
            results["synthetic-\(citizens)"] = try await LinkageEvaluationJob.synthetic(citizens: citizens, seed: UInt64(seed))
        }
        guard !results.isEmpty else { throw UsageError(description: "give --febrl FILE and/or --synthetic N") }
        print("| data | precision | recall | F1 | pairs scored | reviews opened | records unlinked | records/s |")
        print("|------|----------:|-------:|---:|-------------:|---------------:|-----------------:|----------:|")
        for (name, s) in results.sorted(by: { $0.key < $1.key }) {
            print(String(format: "| %@ | %.4f | %.4f | %.4f | %d | %d | %d | %.0f |", name, s.precision, s.recall, s.f1, s.pairsCompared,
                         s.reviewsOpened, s.recordsUnlinked, s.recordsPerS))
        }
        if let path = arguments.string("json") {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            // One data set: the flat object; several: one object per data set.
            let data = results.count == 1 ? try encoder.encode(results.values.first) : try encoder.encode(results)
            try data.write(to: URL(fileURLWithPath: path))
        }
        return 0
    })
