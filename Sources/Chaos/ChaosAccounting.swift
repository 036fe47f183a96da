import Foundation

/// The verdict of a chaos run, computed from what Kafka holds, what the dead-letter topics hold and
/// what the store holds — pure, so that the rules are tested without a run.
///
/// Every record on a source topic carries the outcome its publisher expected (`stored` or a
/// dead-letter code). A record expected to be stored must have exactly one stored version at its
/// coordinates, or — a replay of content already stored — none, with a stored version of its key
/// holding the same bytes. A record expected to be rejected must have exactly one dead letter at its
/// coordinates, with that code, and no stored version. Per key, the current version must be the
/// content of the key's last valid record (the latest offset wins).
public struct ChaosAccounting: Sendable {
    /// A record as read back from a source topic.
    public struct Published: Sendable, Hashable {
        public var topic: String
        public var partition: Int32
        public var offset: Int64
        public var key: String
        public var value: [UInt8]
        /// `stored` or the dead-letter code.
        public var expected: String

        public init(topic: String, partition: Int32, offset: Int64, key: String, value: [UInt8], expected: String) {
            self.topic = topic
            self.partition = partition
            self.offset = offset
            self.key = key
            self.value = value
            self.expected = expected
        }
    }

    /// A dead letter as read back from a dead-letter topic.
    public struct Letter: Sendable, Hashable {
        public var sourceTopic: String
        public var sourcePartition: Int32
        public var sourceOffset: Int64
        public var code: String

        public init(sourceTopic: String, sourcePartition: Int32, sourceOffset: Int64, code: String) {
            self.sourceTopic = sourceTopic
            self.sourcePartition = sourcePartition
            self.sourceOffset = sourceOffset
            self.code = code
        }
    }

    /// A stored version of a source key.
    public struct Version: Sendable, Hashable {
        public var partition: Int32
        public var offset: Int64
        public var original: [UInt8]
        public var current: Bool

        public init(partition: Int32, offset: Int64, original: [UInt8], current: Bool) {
            self.partition = partition
            self.offset = offset
            self.original = original
            self.current = current
        }
    }

    /// What went wrong, by kind, with the record's coordinates (`topic/partition/offset`).
    public struct Findings: Sendable, Hashable, Codable {
        /// Neither stored nor dead-lettered (or dead-lettered though valid, stored though invalid).
        public var lost: [String] = []
        /// Stored twice at one offset, or dead-lettered more than once.
        public var duplicated: [String] = []
        /// Dead-lettered with another code than expected.
        public var wrongCode: [String] = []
        /// Keys whose current version is not their last valid record.
        public var stale: [String] = []
        /// Records stored as a new row.
        public var stored = 0
        /// Valid records recognised as replays of content already stored (no row of their own).
        public var replays = 0
        /// Records dead-lettered once with the expected code.
        public var deadLettered = 0
    }

    public init() {}

    /// Accounts for every published record; `versions` are keyed by `topic` + NUL + source key.
    public func account(published: [Published], letters: [Letter], versions: [String: [Version]]) -> Findings {
        var findings = Findings()
        var lettersAt: [String: [String]] = [:]
        for letter in letters { lettersAt["\(letter.sourceTopic)/\(letter.sourcePartition)/\(letter.sourceOffset)", default: []].append(letter.code) }
        var lastValid: [String: Published] = [:]
        for record in published {
            let coordinates = "\(record.topic)/\(record.partition)/\(record.offset)"
            let keyVersions = versions[record.topic + "\u{0}" + record.key] ?? []
            let atCoordinates = keyVersions.filter { $0.partition == record.partition && $0.offset == record.offset }.count
            let codes = lettersAt[coordinates] ?? []
            if codes.count > 1 || atCoordinates > 1 { findings.duplicated.append(coordinates) }
            if record.expected == "stored" {
                if lastValid[record.topic + "\u{0}" + record.key].map({ $0.offset < record.offset }) ?? true {
                    lastValid[record.topic + "\u{0}" + record.key] = record
                }
                if !codes.isEmpty {
                    findings.lost.append("\(coordinates) (valid, dead-lettered \(codes.joined(separator: ",")))")
                } else if atCoordinates >= 1 {
                    findings.stored += 1
                } else if keyVersions.contains(where: { $0.original == record.value && ($0.partition, $0.offset) < (record.partition, record.offset) }) {
                    findings.replays += 1
                } else {
                    findings.lost.append(coordinates)
                }
            } else {
                if atCoordinates > 0 {
                    findings.lost.append("\(coordinates) (expected \(record.expected), stored)")
                } else if codes.isEmpty {
                    findings.lost.append("\(coordinates) (expected \(record.expected), not dead-lettered)")
                } else if !codes.contains(record.expected) {
                    findings.wrongCode.append("\(coordinates) (expected \(record.expected), got \(codes.joined(separator: ",")))")
                } else {
                    findings.deadLettered += 1
                }
            }
        }
        for (key, record) in lastValid.sorted(by: { $0.key < $1.key }) {
            let current = (versions[key] ?? []).filter(\.current)
            // Coordinates, not the key: a key may be personal (a BHXH number keys card changes).
            if current.count != 1 || current[0].original != record.value {
                findings.stale.append("\(record.topic)/\(record.partition)/\(record.offset) is its key's last valid record but not its current version")
            }
        }
        return findings
    }
}
