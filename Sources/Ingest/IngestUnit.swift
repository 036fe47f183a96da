import Foundation
import HealthModel
import Kafka
import RecordStore
import ServiceRuntime

/// A unit of ingest work after triage: the records to link and store, the dead letters of the
/// others, and the offsets the unit covers per partition. Applied in one store transaction, and only
/// where the store's position equals each range's start. Pure: built and split without I/O.
struct IngestUnit: Sendable {
    /// Records that passed triage, in consumption order.
    var accepted: [IncomingRecord] = []
    /// Dead letters of the records that did not.
    var deadLetters: [DeadLetterDraft] = []
    /// Offsets covered per partition (from the consumer's position, so nothing can be skipped).
    var ranges: [Kafka.TopicPartition: OffsetRange] = [:]
    /// Records delivered per partition inside its range.
    var records: [Kafka.TopicPartition: Int] = [:]
    /// Dead-letter codes and their counts.
    var codes: [String: Int] = [:]

    /// The partitions the unit covers.
    var partitions: Set<Kafka.TopicPartition> { Set(ranges.keys) }
    /// True when the unit covers nothing.
    var isEmpty: Bool { ranges.isEmpty }

    /// The positions the unit moves, for the store's fence.
    func offsets(group: String) -> [ConsumerOffset] {
        ranges.sorted { $0.key < $1.key }.map { partition, range in
            ConsumerOffset(group: group, partition: RecordStore.TopicPartition(partition.topic, partition.partition),
                           from: range.from, nextOffset: range.next, records: records[partition] ?? 0)
        }
    }

    /// The next offset of each partition once the unit is applied.
    var next: [Kafka.TopicPartition: Int64] { ranges.mapValues(\.next) }

    /// The unit without `partitions` (repositioned since they were read: read again, never applied).
    func excluding(_ partitions: Set<Kafka.TopicPartition>) -> IngestUnit {
        guard !partitions.isEmpty else { return self }
        func keep(_ coordinates: KafkaCoordinates) -> Bool {
            !partitions.contains(Kafka.TopicPartition(coordinates.topic, coordinates.partition))
        }
        var unit = IngestUnit(accepted: accepted.filter { keep($0.coordinates) }, deadLetters: deadLetters.filter { keep($0.source) },
                              ranges: ranges.filter { !partitions.contains($0.key) }, records: records.filter { !partitions.contains($0.key) })
        for letter in unit.deadLetters { unit.codes[letter.code, default: 0] += 1 }
        return unit
    }

    /// Splits a batch's records into units that each apply on their own, in order: one for every
    /// partition not isolated, then one per record of each isolated partition, each unit covering
    /// the offsets from the previous one's end (the first from the batch's range start).
    static func plan(_ records: [ConsumerRecord], ranges: [Kafka.TopicPartition: OffsetRange],
                     isolating isolated: Set<Kafka.TopicPartition>) -> [(records: [ConsumerRecord], ranges: [Kafka.TopicPartition: OffsetRange])] {
        var units: [(records: [ConsumerRecord], ranges: [Kafka.TopicPartition: OffsetRange])] = []
        // Records of a partition without a range (repositioned since they were read) are read again,
        // never applied: without their range they would be stored with no offsets to fence them.
        let records = records.filter { ranges[$0.topicPartition] != nil }
        let normal = records.filter { !isolated.contains($0.topicPartition) }
        let normalRanges = ranges.filter { !isolated.contains($0.key) }
        if !normalRanges.isEmpty { units.append((normal, normalRanges)) }
        for partition in isolated.sorted() {
            guard let range = ranges[partition] else { continue }
            var start = range.from
            for record in records where record.topicPartition == partition {
                units.append(([record], [partition: range.slice(start, record.offset + 1)]))
                start = record.offset + 1
            }
        }
        return units
    }
}

extension IngestUnit {
    /// A unit covering `ranges`, from consumed records and their triage verdicts (in the same order):
    /// the accepted records to link, a dead letter for each rejected one (key, value and headers as
    /// received, trimmed to fit), and the records counted per partition.
    init(_ consumed: [ConsumerRecord], verdicts: [RecordTriage.Verdict], ranges: [Kafka.TopicPartition: OffsetRange]) {
        self.ranges = ranges
        for (record, verdict) in zip(consumed, verdicts) {
            records[record.topicPartition, default: 0] += 1
            switch verdict {
            case .accepted(let accepted):
                self.accepted.append(accepted)
            case .rejected(let rejection):
                deadLetters.append(DeadLetterDraft(rejected: record, rejection))
                codes[rejection.code, default: 0] += 1
            }
        }
    }
}
