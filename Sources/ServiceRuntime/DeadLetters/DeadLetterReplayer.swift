import Foundation
import HealthModel
import Kafka

/// Why a dead letter may not be replayed.
public struct ReplayRefusal: Error, Sendable, Hashable, CustomStringConvertible {
    /// Stable code: `replay.notDeadLetterTopic`, `replay.sourceTopicMissing`, `replay.sourceTopicMismatch`,
    /// `replay.sourcePartitionInvalid`.
    public var code: String
    /// Explanation.
    public var reason: String

    /// `code: reason`.
    public var description: String { "\(code): \(reason)" }
}

/// What became of one dead letter.
public enum ReplayOutcome: Sendable, Hashable {
    /// Produced again and acknowledged (`acks=all`) at this position of the source topic.
    case replayed(DeliveryReport)
    /// Dry run: this is the record that would be produced.
    case wouldReplay(topic: String, partition: Int32?)
    /// Not replayed, and why.
    case refused(ReplayRefusal)
}

/// Produces dead letters again to the topic they were read from, as the sender sent them: original
/// key, value and headers (without the dead-letter headers), plus `hssk-replay-of`.
///
/// Replaying is safe to repeat: ingest stores a record identical in topic, key and bytes only once,
/// so a letter replayed twice changes nothing the second time. Nothing is re-signed: ingest checks
/// the sender's signature, account and content again, so a replay cannot pass anything the sender
/// could not. But a replayed letter is a new arrival: if the sender has since sent a corrected
/// version of the same key, the replayed (older) content would supersede it; do not replay those.
public struct DeadLetterReplayer: Sendable {
    /// Header naming the dead letter a record replays: `<dead-letter topic>/<partition>/<offset>`.
    public static let replayOfHeader = "hssk-replay-of"

    private let producer: Producer?

    /// A replayer producing with `producer` (idempotent, `acks=all`); nil for a dry run that sends nothing.
    public init(producer: Producer?) {
        self.producer = producer
    }

    /// The record that replays `letter`, or why it may not be replayed.
    ///
    /// It goes only to the topic the dead-letter topic belongs to: a letter whose `hssk-source-topic`
    /// is missing or names another topic is refused, so nobody can use a dead-letter topic to inject
    /// records into a different topic. It goes to its original partition, beside the other versions
    /// of its key, whatever partitioner the sender used.
    public static func record(replaying letter: DeadLetter) -> Result<ProducerRecord, ReplayRefusal> {
        guard letter.topic.hasSuffix(DeadLetterTopic.suffix), letter.topic.count > DeadLetterTopic.suffix.count else {
            return .failure(ReplayRefusal(code: "replay.notDeadLetterTopic", reason: "\(letter.topic) is not a dead-letter topic (*\(DeadLetterTopic.suffix))"))
        }
        let expected = String(letter.topic.dropLast(DeadLetterTopic.suffix.count))
        guard let source = letter.sourceTopic else {
            return .failure(ReplayRefusal(code: "replay.sourceTopicMissing", reason: "no \(DeadLetterHeaders.sourceTopic) header"))
        }
        guard source == expected else {
            return .failure(ReplayRefusal(code: "replay.sourceTopicMismatch",
                                          reason: "\(DeadLetterHeaders.sourceTopic) is '\(source)' but \(letter.topic) holds dead letters of \(expected) only"))
        }
        var partition: Int32?
        if let text = letter.headers.text(DeadLetterHeaders.sourcePartition) {
            guard let number = Int32(text), number >= 0 else {
                return .failure(ReplayRefusal(code: "replay.sourcePartitionInvalid", reason: "\(DeadLetterHeaders.sourcePartition) is '\(text)'"))
            }
            partition = number
        }
        // A letter that was itself a replay names the earlier letter: only the newest origin is kept.
        let headers = letter.originalHeaders.filter { $0.key != replayOfHeader }
            + [KafkaHeader(replayOfHeader, "\(letter.topic)/\(letter.partition)/\(letter.offset)")]
        return .success(ProducerRecord(topic: source, partition: partition, key: letter.key, value: letter.value, headers: headers))
    }

    /// Replays `letters` one after another, in order (so the versions of a key keep their order);
    /// refused letters are skipped. A Kafka failure stops the replay: letters before it were delivered.
    public func replay(_ letters: [DeadLetter]) async throws -> [ReplayOutcome] {
        var outcomes: [ReplayOutcome] = []
        outcomes.reserveCapacity(letters.count)
        for letter in letters {
            switch Self.record(replaying: letter) {
            case .failure(let refusal):
                outcomes.append(.refused(refusal))
            case .success(let record):
                if let producer {
                    outcomes.append(.replayed(try await producer.send(record)))
                } else {
                    outcomes.append(.wouldReplay(topic: record.topic, partition: record.partition))
                }
            }
        }
        return outcomes
    }
}
