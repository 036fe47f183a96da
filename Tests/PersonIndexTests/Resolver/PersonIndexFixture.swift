import Foundation
import HealthModel
import Linkage
@testable import PersonIndex
import RecordStore
@testable import ServiceRuntime
@testable import SourceAdapters
import SyntheticPopulation

/// Feeds a synthetic population's acceptable records straight to the ingest linker and the store (no
/// Kafka), in the order the sources send them, and measures the persons found against the ground truth.
struct PersonIndexFixture {
    let store: any HealthRecordStore
    let population: Population
    /// The linker to use (ingest's own, loaded with a model); nil: `PersonResolver(store:)` with the defaults.
    var resolver: PersonResolver? = nil
    /// Topic of each record kind (as ingest would store them).
    static let topics = SourceTopics.defaults

    /// What linking did to the citizens.
    struct Quality: CustomStringConvertible {
        /// Citizens with at least one linked record.
        var citizens = 0
        /// Citizens whose records are spread over several persons.
        var split = 0
        /// Persons holding records of more than one citizen.
        var falseMerges = 0
        /// Records left unlinked (pending review).
        var unlinked = 0
        var description: String { "\(citizens) citizens, \(split) split, \(falseMerges) false merges, \(unlinked) records unlinked" }
    }

    /// Links and stores every acceptable record, `batchSize` at a time.
    func ingest(batchSize: Int = 200) async throws -> PersonResolver.Resolution {
        var total = PersonResolver.Resolution()
        let records = population.acceptable
        for start in stride(from: 0, to: records.count, by: batchSize) {
            let (resolution, _) = try await Self.link(records[start..<min(start + batchSize, records.count)].map { ($0.record, $0.sender) },
                                                      into: store, firstOffset: Int64(start), resolver: resolver)
            total.created += resolution.created
            total.linked += resolution.linked
            total.reviews += resolution.reviews
        }
        return total
    }

    /// Links one batch of records as ingest does and stores it with its identity changes; returns the
    /// linking and the stored person of each record.
    @discardableResult
    static func link(_ records: [(SourceRecord, String)], into store: any HealthRecordStore,
                     firstOffset: Int64 = 0, resolver: PersonResolver? = nil) async throws -> (resolution: PersonResolver.Resolution, persons: [PersonID?]) {
        let accepted = try records.enumerated().map { offset, item in
            IncomingRecord(record: item.0, original: Array(try RecordDecoder.encode(item.0)),
                           coordinates: KafkaCoordinates(topic: topics[item.0.kind] ?? "", partition: 0, offset: firstOffset + Int64(offset)),
                           sender: item.1)
        }
        return try await ResolverEvaluation.link(accepted, into: store, resolver: resolver ?? PersonResolver(store: store))
    }

    /// Pairwise precision and recall of the stored linking against the ground truth (records of no
    /// citizen left out; a record left unlinked is a person of its own).
    func scores() async throws -> LinkageScores {
        var predicted: [Int] = [], truth: [Int] = []
        for synthetic in population.acceptable {
            guard let citizen = synthetic.truth.personIndex else { continue }
            let versions = try await store.sourceVersions(topic: Self.topics[synthetic.record.kind] ?? "", key: synthetic.record.kafkaKey)
            predicted.append(versions.last?.person.map { Int($0.rawValue) } ?? -1 - predicted.count)
            truth.append(citizen)
        }
        return LinkageScores.pairwise(predicted: predicted, truth: truth, pairsCompared: 0, recordsPerS: 0)
    }

    /// The person of each acceptable record now (merges followed), against the ground truth.
    func quality() async throws -> Quality {
        var quality = Quality()
        var citizensOfPerson: [PersonID: Set<Int>] = [:]
        var personsOfCitizen: [Int: Set<PersonID>] = [:]
        for synthetic in population.acceptable {
            guard let truth = synthetic.truth.personIndex else { continue }
            let versions = try await store.sourceVersions(topic: Self.topics[synthetic.record.kind] ?? "", key: synthetic.record.kafkaKey)
            guard let linked = versions.last?.person else {
                quality.unlinked += 1
                continue
            }
            citizensOfPerson[linked, default: []].insert(truth)
            personsOfCitizen[truth, default: []].insert(linked)
        }
        quality.citizens = personsOfCitizen.count
        quality.split = personsOfCitizen.values.filter { $0.count > 1 }.count
        quality.falseMerges = citizensOfPerson.values.filter { $0.count > 1 }.count
        return quality
    }
}
