import Foundation
import HealthModel
import Linkage
import RecordStore

/// Links labelled records through the resolver ingest runs and a real store, batch by batch in the
/// order given, and scores the persons they got against the truth: the accuracy `hssk linkage-eval`
/// reports is the product's, not that of another code path.
package struct ResolverEvaluation {
    /// What a run found.
    package struct Result: Sendable {
        /// Pairwise precision, recall and F1; `pairsCompared` counts the pairs the matcher scored and
        /// `recordsPerS` the records linked and stored per second.
        package var scores: LinkageScores
        /// Review tasks the resolver opened.
        package var reviewsOpened: Int
        /// Records left without a person (pending review).
        package var unlinked: Int
        /// Persons created.
        package var personsCreated: Int
    }

    /// The store the records are linked against and stored in (a fresh one, for a clean measure).
    package let store: any BatchStore & PersonIndexStore
    /// The resolver, with the match model the store would give ingest (`PersonResolver.loading`).
    package let resolver: PersonResolver
    /// Records per batch: ingest's largest batch (`IngestConfiguration.maxBatchRecords`).
    package var batchSize = 2_000

    /// An evaluation on `store` with `resolver`.
    package init(store: any BatchStore & PersonIndexStore, resolver: PersonResolver) {
        self.store = store
        self.resolver = resolver
    }

    /// Links and stores `records` (each labelled with its true entity; nil: no entity, left out of the
    /// scores) and scores the result. A record left unlinked counts as a person of its own.
    package func run(_ records: [IncomingRecord], truth: [Int?]) async throws -> Result {
        precondition(records.count == truth.count, "one truth label per record")
        var persons: [PersonID?] = []
        var total = PersonResolver.Resolution()
        let start = ContinuousClock.now
        for first in stride(from: 0, to: records.count, by: batchSize) {
            let (resolution, linked) = try await Self.link(Array(records[first..<min(first + batchSize, records.count)]), into: store,
                                                           resolver: resolver)
            persons += linked
            total.created += resolution.created
            total.reviews += resolution.reviews
            total.scored += resolution.scored
        }
        let elapsed = ContinuousClock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        var predicted: [Int] = [], labels: [Int] = []
        for (person, label) in zip(persons, truth) {
            guard let label else { continue }
            predicted.append(person.map { Int($0.rawValue) } ?? -1 - predicted.count)
            labels.append(label)
        }
        let scores = LinkageScores.pairwise(predicted: predicted, truth: labels, pairsCompared: total.scored,
                                            recordsPerS: Double(records.count) / max(seconds, 1e-9))
        return Result(scores: scores, reviewsOpened: total.reviews, unlinked: persons.filter { $0 == nil }.count, personsCreated: total.created)
    }

    /// Links one batch as ingest does and applies it with its identity changes (no offsets: the
    /// records are not read from Kafka); returns the linking and the stored person of each record.
    package static func link(_ records: [IncomingRecord], into store: any BatchStore & PersonIndexStore,
                             resolver: PersonResolver) async throws -> (resolution: PersonResolver.Resolution, persons: [PersonID?]) {
        let resolution = try await resolver.resolve(records)
        var linked = records
        for index in linked.indices { linked[index].person = resolution.persons[index] }
        let result = try await store.apply(StoreBatch(records: linked, identity: resolution.identity, actor: "linkage-eval"))
        let persons = resolution.persons.map { ref -> PersonID? in
            switch ref {
            case .existing(let id)?: return id
            case .new(let local)?: return result.newPersons[local]
            case nil: return nil
            }
        }
        return (resolution, persons)
    }
}
