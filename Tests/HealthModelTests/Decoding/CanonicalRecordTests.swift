import Foundation
@testable import HealthModel
import XCTest

/// A publisher encodes a record once: `RecordDecoder.canonical` gives the bytes ingest will decode
/// back to the same record, re-encoding only when normalising changed the record.
final class CanonicalRecordTests: XCTestCase {
    func testAnNFCRecordKeepsItsFirstEncodingAndDecodesBackToItself() throws {
        let visit = RecordFixtures.visit
        let (canonical, issues) = RecordDecoder.canonical(.visit(visit))
        XCTAssertFalse(issues.hasErrors, "\(issues)")
        let result = try XCTUnwrap(canonical)
        XCTAssertEqual(result.record, .visit(visit))
        XCTAssertEqual(result.value, Array(try RecordDecoder.encode(visit)))
        XCTAssertEqual(RecordDecoder.decode(Data(result.value), kind: .visit).record, .visit(visit))
    }

    func testDecomposedTextIsSentInNFC() throws {
        var visit = RecordFixtures.visit
        visit.patient.fullName = "Nguyễn Văn An".decomposedStringWithCanonicalMapping
        let result = try XCTUnwrap(RecordDecoder.canonical(.visit(visit)).canonical)
        XCTAssertEqual(result.record, .visit(RecordFixtures.visit))
        XCTAssertEqual(result.value, Array(try RecordDecoder.encode(RecordFixtures.visit)))
    }

    func testAnInvalidRecordHasNoCanonicalFormButItsIssues() throws {
        var visit = RecordFixtures.visit
        visit.patient.birthDate = "1958-02-30"
        let (canonical, issues) = RecordDecoder.canonical(.visit(visit))
        XCTAssertNil(canonical)
        XCTAssertTrue(issues.contains { $0.path == "patient.birthDate" && $0.severity == .error }, "\(issues)")
        let json = RecordDecoder.canonical(json: try RecordDecoder.encode(visit), kind: .visit)
        XCTAssertNil(json.canonical)
        XCTAssertEqual(json.record?.kafkaKey, visit.kafkaKey)
    }
}
