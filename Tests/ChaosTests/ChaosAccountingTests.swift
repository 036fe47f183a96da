@testable import Chaos
import XCTest

/// The rules a chaos run is judged by, on small hand-made outcomes.
final class ChaosAccountingTests: XCTestCase {
    private func record(_ offset: Int64, _ key: String, _ value: String, expected: String = "stored", partition: Int32 = 1) -> ChaosAccounting.Published {
        ChaosAccounting.Published(topic: "hssk.visits.v1", partition: partition, offset: offset, key: key, value: Array(value.utf8), expected: expected)
    }

    private func version(_ offset: Int64, _ value: String, current: Bool, partition: Int32 = 1) -> ChaosAccounting.Version {
        ChaosAccounting.Version(partition: partition, offset: offset, original: Array(value.utf8), current: current)
    }

    private let key = "hssk.visits.v1\u{0}01001:LK-1"

    func testCleanRunHasNoFindings() {
        let published = [record(0, "01001:LK-1", "A"), record(1, "01001:LK-1", "B"), record(2, "01001:LK-2", "x", expected: "signature.invalid")]
        let findings = ChaosAccounting().account(
            published: published,
            letters: [ChaosAccounting.Letter(sourceTopic: "hssk.visits.v1", sourcePartition: 1, sourceOffset: 2, code: "signature.invalid")],
            versions: [key: [version(0, "A", current: false), version(1, "B", current: true)]])
        XCTAssertEqual(findings.lost, [])
        XCTAssertEqual(findings.duplicated, [])
        XCTAssertEqual(findings.stale, [])
        XCTAssertEqual(findings.stored, 2)
        XCTAssertEqual(findings.deadLettered, 1)
    }

    /// The loss issue #16 found: the position moved on while records in between were neither stored
    /// nor dead-lettered.
    func testRecordsNeitherStoredNorDeadLetteredAreLost() {
        let published = (0..<5).map { record(Int64($0), "01001:LK-\($0)", "v\($0)") } + [record(5, "01001:LK-5", "x", expected: "json.malformed")]
        let versions = ["hssk.visits.v1\u{0}01001:LK-0": [version(0, "v0", current: true)], "hssk.visits.v1\u{0}01001:LK-4": [version(4, "v4", current: true)]]
        let findings = ChaosAccounting().account(published: published, letters: [], versions: versions)
        XCTAssertEqual(findings.lost.count, 4)
        XCTAssertTrue(findings.lost.contains("hssk.visits.v1/1/1"))
        XCTAssertTrue(findings.lost.contains { $0.hasPrefix("hssk.visits.v1/1/5") && $0.contains("not dead-lettered") })
    }

    func testTwiceAtOneOffsetOrTwoLettersAreDuplicates() {
        let published = [record(0, "01001:LK-1", "A"), record(1, "01001:LK-9", "x", expected: "signature.missing")]
        let letter = ChaosAccounting.Letter(sourceTopic: "hssk.visits.v1", sourcePartition: 1, sourceOffset: 1, code: "signature.missing")
        let findings = ChaosAccounting().account(published: published, letters: [letter, letter],
                                                 versions: [key: [version(0, "A", current: false), version(0, "A", current: true)]])
        XCTAssertEqual(findings.duplicated, ["hssk.visits.v1/1/0", "hssk.visits.v1/1/1"])
    }

    /// A replay of the current content leaves no row of its own and is no loss; a correction back
    /// (A, B, A) must leave A current, and B current is stale.
    func testReplaysAndCorrectionsBack() {
        let published = [record(0, "01001:LK-1", "A"), record(1, "01001:LK-1", "A"), record(2, "01001:LK-1", "B"), record(3, "01001:LK-1", "A")]
        let good = ChaosAccounting().account(published: published, letters: [],
                                             versions: [key: [version(0, "A", current: false), version(2, "B", current: false), version(3, "A", current: true)]])
        XCTAssertEqual(good.lost, [])
        XCTAssertEqual(good.replays, 1)
        XCTAssertEqual(good.stale, [])
        let wrong = ChaosAccounting().account(published: published, letters: [],
                                              versions: [key: [version(0, "A", current: false), version(2, "B", current: true)]])
        XCTAssertEqual(wrong.stale.count, 1, "B stayed current after the correction back to A")
        XCTAssertEqual(wrong.replays, 2, "the third A was taken for a duplicate of the superseded A")
    }

    func testWrongCodeAndRejectedButStored() {
        let published = [record(0, "01001:LK-1", "A", expected: "signature.invalid"), record(1, "01001:LK-2", "B", expected: "field.missing")]
        let findings = ChaosAccounting().account(
            published: published,
            letters: [ChaosAccounting.Letter(sourceTopic: "hssk.visits.v1", sourcePartition: 1, sourceOffset: 0, code: "sender.unknownAccount")],
            versions: ["hssk.visits.v1\u{0}01001:LK-2": [version(1, "B", current: true)]])
        XCTAssertEqual(findings.wrongCode.count, 1)
        XCTAssertEqual(findings.lost, ["hssk.visits.v1/1/1 (expected field.missing, stored)"])
    }
}
