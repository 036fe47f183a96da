import XCTest
@testable import Kafka

/// The bookkeeping of one poll, without librdkafka: which records count and what offsets they cover.
final class BatchAssemblyTests: XCTestCase {
    private let p = TopicPartition("t", 0)
    private let q = TopicPartition("t", 1)

    func testRangeStartsAtThePositionNotAtTheFirstRecord() {
        var assembly = BatchAssembly()
        let slot = assembly.open(p, at: PartitionPosition(next: 10, epoch: 1))!
        // 10 and 11 were compacted away: the batch still covers them.
        XCTAssertTrue(assembly.take(12, slot: slot))
        XCTAssertTrue(assembly.take(13, slot: slot))
        XCTAssertEqual(assembly.ranges[p], OffsetRange(from: 10, next: 14, epoch: 1))
    }

    func testLogicalPositionStartsAtTheFirstRecord() {
        var assembly = BatchAssembly()
        let slot = assembly.open(p, at: PartitionPosition(next: nil, epoch: 1))!
        XCTAssertTrue(assembly.take(5, slot: slot))
        XCTAssertEqual(assembly.ranges[p], OffsetRange(from: 5, next: 6, epoch: 1))
    }

    func testRecordBeforeThePositionIsDropped() {
        var assembly = BatchAssembly()
        let slot = assembly.open(p, at: PartitionPosition(next: 10, epoch: 1))!
        XCTAssertFalse(assembly.take(9, slot: slot))
        XCTAssertTrue(assembly.take(10, slot: slot))
        XCTAssertFalse(assembly.take(10, slot: slot), "the same offset twice")
        XCTAssertEqual(assembly.ranges[p], OffsetRange(from: 10, next: 11, epoch: 1))
    }

    func testUnassignedPartitionOpensNoSlot() {
        var assembly = BatchAssembly()
        XCTAssertNil(assembly.open(p, at: nil))
        XCTAssertTrue(assembly.ranges.isEmpty)
    }

    /// Revoked and re-assigned within one poll: what came before is dropped, what comes after counts
    /// from the new position.
    func testRepositionedPartitionRestartsFromItsNewPosition() {
        var assembly = BatchAssembly()
        let first = assembly.open(p, at: PartitionPosition(next: 100, epoch: 1))!
        let other = assembly.open(q, at: PartitionPosition(next: 7, epoch: 2))!
        XCTAssertTrue(assembly.take(100, slot: first))
        XCTAssertTrue(assembly.take(101, slot: first))
        XCTAssertTrue(assembly.take(7, slot: other))
        let closed = assembly.reconcile(with: [p: PartitionPosition(next: 100, epoch: 3), q: PartitionPosition(next: 8, epoch: 2)])
        XCTAssertEqual(closed, [first])
        XCTAssertFalse(assembly.take(102, slot: first), "a closed slot takes nothing")
        let again = assembly.open(p, at: PartitionPosition(next: 100, epoch: 3))!
        XCTAssertTrue(assembly.take(100, slot: again))
        XCTAssertEqual(assembly.ranges, [p: OffsetRange(from: 100, next: 101, epoch: 3), q: OffsetRange(from: 7, next: 8, epoch: 2)])
    }

    func testRevokedPartitionKeepsNothing() {
        var assembly = BatchAssembly()
        let slot = assembly.open(p, at: PartitionPosition(next: 0, epoch: 1))!
        XCTAssertTrue(assembly.take(0, slot: slot))
        XCTAssertEqual(assembly.reconcile(with: [:]), [slot])
        XCTAssertTrue(assembly.ranges.isEmpty)
    }
}
