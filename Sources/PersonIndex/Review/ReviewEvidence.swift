import Foundation
import Linkage
import RecordStore

/// Why a review task was opened, as stored (encrypted) in the task: the rule, the scores, and the
/// record that raised it, so that a reviewer can link exactly that record.
public struct ReviewEvidence: Codable, Sendable, Hashable {
    /// The source record behind a task: enough to find its stored version again.
    public struct RecordRef: Codable, Sendable, Hashable {
        /// Record kind (`visit`, `vaccination`, `insuranceCard`, `registryEvent`).
        public var kind: String
        /// Where it was read.
        public var topic: String
        /// Partition it was read from.
        public var partition: Int32
        /// Offset it was read at.
        public var offset: Int64
        /// Its source key (may be personal: stored only inside the encrypted evidence).
        public var key: String
    }

    /// `identifier`, `probabilistic`, `reissue` or `dedup`.
    public var rule: String
    /// Why, in words (no personal data).
    public var reason: String?
    /// The best candidate's score, in bits.
    public var score: Double?
    /// The runner-up's score, in bits.
    public var runnerUp: Double?
    /// Per-field weights of the best candidate, in bits.
    public var weights: [String: Double]?
    /// The record that raised the task, when one did.
    public var record: RecordRef?

    /// Creates evidence.
    public init(rule: String, reason: String? = nil, score: Double? = nil, runnerUp: Double? = nil, weights: [String: Double]? = nil,
                record: RecordRef? = nil) {
        self.rule = rule
        self.reason = reason
        self.score = score
        self.runnerUp = runnerUp
        self.weights = weights
        self.record = record
    }

    /// The evidence of a probabilistic decision (scores rounded to 0.01 bit).
    init<Person>(_ decision: ProbabilisticMatcher.Decision<Person>, rule: String = "probabilistic", record: RecordRef? = nil) {
        func rounded(_ value: Double) -> Double { (value * 100).rounded() / 100 }
        self.init(rule: rule, score: decision.score.map(rounded), runnerUp: decision.runnerUpScore.map(rounded),
                  weights: Dictionary(uniqueKeysWithValues: decision.evidence.map { ("\($0.key)", rounded($0.value)) }), record: record)
    }

    /// Sorted-key JSON, as stored.
    public var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        // A struct of strings, numbers and optionals always encodes.
        return (try? encoder.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? #"{"rule":"\#(rule)"}"#
    }

    /// Reads stored evidence; nil when it is not this shape (e.g. written by hand).
    public init?(json: String) {
        guard let evidence = try? JSONDecoder().decode(ReviewEvidence.self, from: Data(json.utf8)) else { return nil }
        self = evidence
    }
}
