import Foundation
import HealthModel
import Linkage
import SyntheticPopulation

/// `hssk linkage-eval`: the person index against labelled data — FEBRL files (deduplication, one file
/// at a time) and the synthetic Vietnamese population with its ground truth.
public enum LinkageEvaluationJob {
    /// Deduplicates one FEBRL CSV file.
    public static func febrl(_ file: URL) throws -> LinkageScores {
        try FEBRLDataSet.evaluate(file)
    }

    /// Links the accepted records of a synthetic population in the order the sources send them:
    /// personal ID and BHXH number as deterministic identifiers, the probabilistic matcher otherwise.
    public static func synthetic(citizens: Int, seed: UInt64) -> LinkageScores {
        let records = PopulationGenerator(citizens: citizens, seed: seed).generate().acceptable
        var linker = IncrementalLinker()
        var truth: [Int] = []
        let clock = ContinuousClock()
        let start = clock.now
        for synthetic in records {
            let person = synthetic.record.subject
            var keys: [String] = []
            if let id = person.personalId { keys.append("pid:" + id) }
            if let bhxh = person.bhxhNumber { keys.append("bhxh:" + bhxh) }
            _ = linker.link(PersonProfile(person), identifiers: keys)
            truth.append(synthetic.truth.personIndex ?? -1)
        }
        let elapsed = clock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return LinkageScores.pairwise(predicted: linker.assignments, truth: truth, pairsCompared: linker.pairsCompared,
                                      recordsPerS: Double(records.count) / max(seconds, 1e-9))
    }
}
