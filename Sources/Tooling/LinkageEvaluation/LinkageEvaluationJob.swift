import Foundation
import HealthModel
import Linkage
import PersonIndex
import RecordStore
import ServiceRuntime
import SyntheticPopulation

/// `hssk linkage-eval`: the person index against labelled data — FEBRL files (deduplication, one file
/// at a time) and the synthetic Vietnamese population with its ground truth.
public enum LinkageEvaluationJob {
    /// Deduplicates one FEBRL CSV file.
    public static func febrl(_ file: URL) throws -> LinkageScores {
        try FEBRLDataSet.evaluate(file)
    }

    /// Links the accepted records of a synthetic population in the order the sources send them, with
    /// the identifiers ingest uses (personal ID, BHXH number, immunization code, birth certificate,
    /// facility patient id…) as deterministic keys, the probabilistic matcher otherwise.
    public static func synthetic(citizens: Int, seed: UInt64) -> LinkageScores {
        let records = PopulationGenerator(citizens: citizens, seed: seed).generate().acceptable
        var linker = IncrementalLinker()
        // The term frequencies ingest uses, so that this measures ingest's matcher.
        linker.nameFrequencies = .vietnamese
        var truth: [Int] = []
        let clock = ContinuousClock()
        let start = clock.now
        for synthetic in records {
            let facts = PersonResolver.facts(IncomingRecord(record: synthetic.record, original: [],
                                                            coordinates: KafkaCoordinates(topic: "", partition: 0, offset: 0), sender: synthetic.sender))
            // A person has one patient id per facility: the facility is part of the key's type, so
            // ids of two facilities never veto each other.
            let keys = facts.identifiers.map { entry in
                entry.type == .facilityPatientId ? "\(entry.type.rawValue)@\(entry.value)" : "\(entry.type.rawValue):\(entry.value)"
            }
            _ = linker.link(facts.profile, identifiers: keys)
            truth.append(synthetic.truth.personIndex ?? -1)
        }
        let elapsed = clock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return LinkageScores.pairwise(predicted: linker.assignments, truth: truth, pairsCompared: linker.pairsCompared,
                                      recordsPerS: Double(records.count) / max(seconds, 1e-9))
    }
}
