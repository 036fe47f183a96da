import Foundation
import XCTest
@testable import HealthModel

/// Every example under `topics/examples/` gets the verdict of its folder from the Swift decoder and
/// validator; `expected.json` names codes that must be reported. The same files are checked against
/// the JSON Schemas by `scripts/check-topic-examples.py`.
final class TopicExamplesTests: XCTestCase {
    /// The repository's `topics/` folder, found from this file's path.
    static let topicsURL: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()   // Examples
        .deletingLastPathComponent()   // HealthModelTests
        .deletingLastPathComponent()   // Tests
        .deletingLastPathComponent()   // repository root
        .appendingPathComponent("topics")

    private struct Topic: Decodable {
        var name: String
        var ceType: String?
        var valueSchema: String?
        var deadLetterTopic: String?
    }

    private struct Expectations: Decodable {
        struct Entry: Decodable {
            var errors: [String]?
            var warnings: [String]?
        }
        var examples: [String: Entry]
    }

    private func topics() throws -> [Topic] {
        let files = try FileManager.default.contentsOfDirectory(at: Self.topicsURL, includingPropertiesForKeys: nil)
            .filter { $0.pathExtension == "json" }
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
        return try files.map { try JSONDecoder().decode(Topic.self, from: Data(contentsOf: $0)) }
    }

    func testEverySourceTopicHasAKindAndExamples() throws {
        let all = try topics()
        let kinds = all.compactMap { $0.ceType.flatMap(RecordKind.init(ceType:)) }
        XCTAssertEqual(Set(kinds), Set(RecordKind.allCases), "each record kind has exactly one source topic")
        XCTAssertEqual(kinds.count, RecordKind.allCases.count)
        let names = Set(all.map(\.name))
        for topic in all {
            if let dlq = topic.deadLetterTopic { XCTAssertTrue(names.contains(dlq), "\(topic.name) → \(dlq)") }
            if topic.ceType.flatMap(RecordKind.init(ceType:)) != nil {
                XCTAssertNotNil(topic.deadLetterTopic, "\(topic.name) is consumed by ingest and needs a DLQ")
            }
        }
    }

    func testExamplesGetTheVerdictOfTheirFolder() throws {
        var checked = 0
        for topic in try topics() {
            guard let kind = topic.ceType.flatMap(RecordKind.init(ceType:)) else { continue }
            let dir = Self.topicsURL.appendingPathComponent("examples").appendingPathComponent(topic.name)
            let manifestURL = dir.appendingPathComponent("expected.json")
            let manifest = FileManager.default.fileExists(atPath: manifestURL.path)
                ? try JSONDecoder().decode(Expectations.self, from: Data(contentsOf: manifestURL)).examples : [:]
            for folder in ["valid", "invalid"] {
                let files = try FileManager.default.contentsOfDirectory(at: dir.appendingPathComponent(folder), includingPropertiesForKeys: nil)
                    .filter { $0.pathExtension == "json" }
                XCTAssertGreaterThanOrEqual(files.count, 3, "\(topic.name)/\(folder) needs several examples")
                for file in files {
                    let name = "\(topic.name)/\(folder)/\(file.lastPathComponent)"
                    let result = RecordDecoder.decode(try Data(contentsOf: file), kind: kind)
                    checked += 1
                    if folder == "valid" {
                        XCTAssertNotNil(result.record, name)
                        XCTAssertEqual(result.issues.errors, [], name)
                    } else {
                        XCTAssertTrue(result.issues.hasErrors, "\(name) should be rejected")
                    }
                    let expected = manifest["\(folder)/\(file.lastPathComponent)"]
                    for code in expected?.errors ?? [] {
                        XCTAssertTrue(result.issues.errors.contains { $0.code == code }, "\(name): expected error \(code), got \(result.issues)")
                    }
                    for code in expected?.warnings ?? [] {
                        XCTAssertTrue(result.issues.warnings.contains { $0.code == code }, "\(name): expected warning \(code), got \(result.issues)")
                    }
                    for issue in result.issues {
                        XCTAssertFalse(issue.message.vi.isEmpty, name)
                        XCTAssertFalse(issue.path.isEmpty, name)
                    }
                }
            }
        }
        XCTAssertGreaterThan(checked, 20)
    }

    func testNFDExampleIsStoredAsNFC() throws {
        let file = Self.topicsURL.appendingPathComponent(
            "examples/hssk.visits.v1/valid/station-outpatient-year-only-dob-nfd-10-digit-card-plus84.json")
        let raw = try String(contentsOf: file, encoding: .utf8)
        // Swift's == ignores normalisation, so compare scalars.
        XCTAssertNotEqual(Array(raw.unicodeScalars), Array(raw.precomposedStringWithCanonicalMapping.unicodeScalars),
                          "the fixture must really contain NFD text")
        let visit = try XCTUnwrap(RecordDecoder.decode(try Data(contentsOf: file), as: VisitRecord.self).record)
        XCTAssertEqual(visit.patient.fullName, "Đặng Thị Hường")
        XCTAssertEqual(Array(visit.patient.fullName.unicodeScalars), Array("Đặng Thị Hường".precomposedStringWithCanonicalMapping.unicodeScalars))
        XCTAssertEqual(visit.patient.parsedPhone?.value, "0912345678")
        XCTAssertEqual(visit.patient.parsedBirthDate?.precision, .year)
    }
}
