import Foundation
import HealthModel
@testable import Ingest
@testable import Kafka
import RecordStore
@testable import ServiceRuntime
import XCTest

/// Batch planning is pure: a unit is built from consumed records and their verdicts, split where
/// partitions are isolated, and narrowed when partitions were repositioned — all without a cluster.
final class IngestUnitTests: XCTestCase {
    private let a = Kafka.TopicPartition("hssk.visits.v1", 0)
    private let b = Kafka.TopicPartition("hssk.visits.v1", 1)

    private func record(_ partition: Kafka.TopicPartition, _ offset: Int64) -> ConsumerRecord {
        ConsumerRecord(topic: partition.topic, partition: partition.partition, offset: offset, key: Array("k\(offset)".utf8),
                       value: Array("v\(offset)".utf8), headers: [KafkaHeader("ce_source", "01001_lt_bvbm")])
    }

    private func accepted(_ record: ConsumerRecord) -> RecordTriage.Verdict {
        let visit = VisitRecord(facilityCode: "01001", episodeKey: "LK-\(record.offset)", patientId: "BN\(record.partition)-\(record.offset)", patient:
                                    PersonDetails(fullName: "Nguyễn Văn An", birthDate: "1990-05-01", sex: 1), visitType: "01",
                                admissionTime: "2025-09-01T08:00", diagnoses: [])
        return .accepted(IncomingRecord(record: .visit(visit), original: record.value ?? [],
                                        coordinates: KafkaCoordinates(topic: record.topic, partition: record.partition, offset: record.offset),
                                        sender: "01001_lt_bvbm"))
    }

    private func rejected(_ code: String) -> RecordTriage.Verdict {
        .rejected(Rejection(path: "$", code: code, en: "no", vi: "không"))
    }

    func testAUnitKeepsTheAcceptedAndADeadLetterForEachRejectedRecord() throws {
        let records = [record(a, 10), record(a, 11), record(b, 5), record(a, 13)]
        let ranges = [a: OffsetRange(from: 10, next: 14, epoch: 1), b: OffsetRange(from: 3, next: 6, epoch: 1)]
        let unit = IngestUnit(records, verdicts: [accepted(records[0]), rejected("signature.invalid"), rejected("json.malformed"), accepted(records[3])],
                              ranges: ranges)
        XCTAssertEqual(unit.accepted.map(\.coordinates.offset), [10, 13])
        XCTAssertEqual(unit.accepted.map(\.sourceKey), ["01001:LK-10", "01001:LK-13"])
        XCTAssertEqual(unit.deadLetters.map(\.source), [KafkaCoordinates(topic: a.topic, partition: 0, offset: 11),
                                                        KafkaCoordinates(topic: b.topic, partition: 1, offset: 5)])
        XCTAssertEqual(unit.deadLetters.map(\.topic), ["hssk.visits.v1.dlq", "hssk.visits.v1.dlq"])
        XCTAssertEqual(unit.codes, ["signature.invalid": 1, "json.malformed": 1])
        XCTAssertEqual(unit.records, [a: 3, b: 1])
        // The letter carries the original key and value for the sender to fix and replay.
        let letter = try XCTUnwrap(DeadLetterCodec.decode(unit.deadLetters[0].letter))
        XCTAssertEqual(letter.key, Array("k11".utf8))
        XCTAssertEqual(letter.value, Array("v11".utf8))
        // Offsets cover the whole range of each partition, the dead-lettered records' too, in partition order.
        XCTAssertEqual(unit.offsets(group: "g").map { [Int64($0.partition.partition), $0.from, $0.nextOffset, Int64($0.records)] },
                       [[0, 10, 14, 3], [1, 3, 6, 1]])
    }

    func testIsolatedPartitionsAreSplitIntoOneUnitPerRecordThatCoverTheRangeWithoutGaps() {
        let records = [record(a, 10), record(b, 3), record(a, 12), record(b, 4), record(a, 15)]
        let ranges = [a: OffsetRange(from: 9, next: 17, epoch: 1), b: OffsetRange(from: 3, next: 5, epoch: 1)]
        let units = IngestUnit.plan(records, ranges: ranges, isolating: [a])
        XCTAssertEqual(units.count, 4)
        XCTAssertEqual(units[0].records.map(\.offset), [3, 4])
        XCTAssertEqual(units[0].ranges, [b: ranges[b]!])
        // Each isolated record's unit starts where the previous ended; the last ends at the record.
        XCTAssertEqual(units.dropFirst().map { $0.records.map(\.offset) }, [[10], [12], [15]])
        XCTAssertEqual(units.dropFirst().map { [$0.ranges[a]!.from, $0.ranges[a]!.next] }, [[9, 11], [11, 13], [13, 16]])
    }

    func testRecordsOfAPartitionWithoutARangeAreNeverPlanned() {
        let records = [record(a, 10), record(b, 3)]
        let units = IngestUnit.plan(records, ranges: [a: OffsetRange(from: 10, next: 11, epoch: 1)], isolating: [])
        XCTAssertEqual(units.count, 1)
        XCTAssertEqual(units[0].records.map(\.topicPartition), [a])
    }

    func testExcludingARepositionedPartitionDropsItsRecordsLettersAndRange() {
        let records = [record(b, 3), record(a, 10), record(b, 4), record(a, 11)]
        let ranges = [a: OffsetRange(from: 10, next: 12, epoch: 1), b: OffsetRange(from: 3, next: 5, epoch: 1)]
        let unit = IngestUnit(records, verdicts: [accepted(records[0]), accepted(records[1]), rejected("json.malformed"), accepted(records[3])],
                              ranges: ranges)
        let kept = unit.excluding([b])
        XCTAssertEqual(kept.partitions, [a])
        XCTAssertEqual(kept.accepted.map(\.coordinates.offset), [10, 11])
        XCTAssertEqual(kept.accepted.map(\.sourceKey), ["01001:LK-10", "01001:LK-11"])
        XCTAssertTrue(kept.deadLetters.isEmpty)
        XCTAssertTrue(kept.codes.isEmpty)
        XCTAssertEqual(kept.next, [a: 12])
        XCTAssertTrue(unit.excluding([a, b]).isEmpty)
    }
}
