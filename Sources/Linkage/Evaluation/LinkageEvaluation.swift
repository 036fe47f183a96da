import Foundation
import HealthModel

/// Precision, recall and F1 of a linkage run over pairs of records (the usual record-linkage measure).
public struct LinkageScores: Sendable, Codable, Hashable {
    public var precision: Double
    public var recall: Double
    public var f1: Double
    public var pairsCompared: Int
    public var recordsPerS: Double

    enum CodingKeys: String, CodingKey {
        case precision, recall, f1
        case pairsCompared = "pairs_compared"
        case recordsPerS = "records_per_s"
    }

    /// Scores predicted clusters against true ones (both: one cluster label per record).
    public static func pairwise(predicted: [Int], truth: [Int], pairsCompared: Int, recordsPerS: Double) -> LinkageScores {
        func pairs(_ labels: [Int]) -> Set<Int64> {
            var byLabel: [Int: [Int]] = [:]
            for (record, label) in labels.enumerated() { byLabel[label, default: []].append(record) }
            var result = Set<Int64>()
            for members in byLabel.values where members.count > 1 {
                for i in 0..<members.count { for j in (i + 1)..<members.count { result.insert(Int64(members[i]) << 32 | Int64(members[j])) } }
            }
            return result
        }
        let p = pairs(predicted), t = pairs(truth)
        let hits = Double(p.intersection(t).count)
        let precision = p.isEmpty ? 1 : hits / Double(p.count)
        let recall = t.isEmpty ? 1 : hits / Double(t.count)
        let f1 = precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0
        return LinkageScores(precision: precision, recall: recall, f1: f1, pairsCompared: pairsCompared, recordsPerS: recordsPerS)
    }
}

/// FEBRL data sets (`rec-N-org` / `rec-N-dup-K`): their rows or profiles, and the true clusters.
///
/// Column mapping: surname → family name; given_name → given name; date_of_birth (yyyymmdd) → birth
/// date; postcode → locality; street_number, address_1, address_2, suburb → address words;
/// soc_sec_id → secondary identifier (compared with typo tolerance, never used as a deterministic key,
/// because FEBRL corrupts it in duplicates).
public enum FEBRLDataSet {
    /// A CSV file that cannot be read, and why.
    public struct ReadError: Error, CustomStringConvertible {
        public var description: String
    }

    /// One FEBRL record as the file has it.
    public struct Row: Sendable, Hashable {
        public var givenName: String, surname: String
        public var streetNumber: String, address1: String, address2: String, suburb: String, postcode: String
        /// `yyyymmdd`, possibly corrupted.
        public var dateOfBirth: String
        public var socialSecurityID: String
    }

    /// Reads one FEBRL CSV file: its rows, and the true cluster of each.
    public static func rows(_ url: URL) throws -> (rows: [Row], truth: [Int]) {
        let text: String
        do { text = try String(contentsOf: url, encoding: .utf8) } catch {
            throw ReadError(description: "\(url.path): \(error.localizedDescription)")
        }
        var lines = text.split(whereSeparator: \.isNewline)
        guard let header = lines.first else { throw ReadError(description: "\(url.path): empty file") }
        let columns = header.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        func column(_ name: String) throws -> Int {
            guard let index = columns.firstIndex(of: name) else { throw ReadError(description: "\(url.path): no column \(name)") }
            return index
        }
        let id = try column("rec_id"), given = try column("given_name"), surname = try column("surname")
        let number = try column("street_number"), address1 = try column("address_1"), address2 = try column("address_2")
        let suburb = try column("suburb"), postcode = try column("postcode"), dob = try column("date_of_birth")
        let ssn = try column("soc_sec_id")
        lines.removeFirst()
        var rows: [Row] = []
        var truth: [Int] = []
        var entities: [String: Int] = [:]
        for (lineNumber, line) in lines.enumerated() {
            let fields = line.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard fields.count == columns.count else {
                throw ReadError(description: "\(url.path):\(lineNumber + 2): \(fields.count) fields, expected \(columns.count)")
            }
            let entity = fields[id].split(separator: "-").dropFirst().first.map(String.init) ?? fields[id]
            truth.append(entities[entity] ?? { entities[entity] = entities.count; return entities.count - 1 }())
            rows.append(Row(givenName: fields[given], surname: fields[surname], streetNumber: fields[number], address1: fields[address1],
                            address2: fields[address2], suburb: fields[suburb], postcode: fields[postcode], dateOfBirth: fields[dob],
                            socialSecurityID: fields[ssn]))
        }
        return (rows, truth)
    }

    /// Reads one FEBRL CSV file as profiles for the in-memory linker.
    public static func read(_ url: URL) throws -> (profiles: [PersonProfile], truth: [Int]) {
        let (rows, truth) = try rows(url)
        let profiles = rows.map { row in
            let words = [row.streetNumber, row.address1, row.address2, row.suburb].flatMap { $0.lowercased().split(separator: " ").map(String.init) }
            return PersonProfile(family: VietnameseText.fold(row.surname), given: VietnameseText.fold(row.givenName),
                                 birthDate: try? PartialDate(xml130: row.dateOfBirth), locality: row.postcode.isEmpty ? nil : row.postcode,
                                 addressTokens: Set(words), secondaryID: row.socialSecurityID)
        }
        return (profiles, truth)
    }

    /// Deduplicates one file: EM estimates the model from its candidate pairs, then records are linked
    /// one at a time in file order.
    public static func evaluate(_ url: URL, thresholds: LinkThresholds = LinkThresholds()) throws -> LinkageScores {
        let (profiles, truth) = try read(url)
        let model = MatchModel.defaults.estimated(candidates: candidateVectors(profiles), randomPairs: randomVectors(profiles))
        var linker = IncrementalLinker(model: model, thresholds: thresholds)
        let clock = ContinuousClock()
        let start = clock.now
        for profile in profiles { _ = linker.link(profile) }
        let elapsed = clock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return LinkageScores.pairwise(predicted: linker.assignments, truth: truth, pairsCompared: linker.pairsCompared,
                                      recordsPerS: Double(profiles.count) / max(seconds, 1e-9))
    }

    /// Comparison vectors of seeded random pairs (for u).
    static func randomVectors(_ profiles: [PersonProfile], count: Int = 20_000) -> [ComparisonVector] {
        guard profiles.count > 1 else { return [] }
        var state: UInt64 = 0x5EED
        func next(_ bound: Int) -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int((state >> 33) % UInt64(bound))
        }
        return (0..<count).compactMap { _ in
            let i = next(profiles.count), j = next(profiles.count)
            return i == j ? nil : ComparisonVector(profiles[i], profiles[j])
        }
    }

    /// Comparison vectors of the pairs that share a blocking key (EM's unlabelled input).
    static func candidateVectors(_ profiles: [PersonProfile]) -> [ComparisonVector] {
        var blocks: [String: [Int]] = [:]
        for (index, profile) in profiles.enumerated() {
            for key in IncrementalLinker.blockingKeys(profile) { blocks[key, default: []].append(index) }
        }
        var seen = Set<Int64>()
        var vectors: [ComparisonVector] = []
        for members in blocks.values where members.count <= 400 {
            for i in 0..<members.count {
                for j in (i + 1)..<members.count where seen.insert(Int64(members[i]) << 32 | Int64(members[j])).inserted {
                    vectors.append(ComparisonVector(profiles[members[i]], profiles[members[j]]))
                }
            }
        }
        return vectors
    }
}
