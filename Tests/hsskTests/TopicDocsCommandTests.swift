import Foundation
import XCTest

/// `hssk topics docs` and the committed docs/topics.md: the reference cannot drift from topics/.
final class TopicDocsCommandTests: XCTestCase {
    func testCommittedTopicReferenceMatchesTheGenerator() throws {
        let generated = try runCommand(hssk, ["topics", "docs", "--topics-dir", repositoryRoot.appendingPathComponent("topics").path])
        XCTAssertEqual(generated.status, 0, generated.output)
        let committed = try String(contentsOf: repositoryRoot.appendingPathComponent("docs/topics.md"), encoding: .utf8)
        XCTAssertTrue(generated.output == committed,
                      "docs/topics.md is stale: run 'hssk topics docs --output docs/topics.md' and commit it")
    }

    func testReferenceListsEveryCatalogueTopicWithItsSettings() throws {
        let generated = try runCommand(hssk, ["topics", "docs", "--topics-dir", repositoryRoot.appendingPathComponent("topics").path])
        let files = try FileManager.default.contentsOfDirectory(atPath: repositoryRoot.appendingPathComponent("topics").path)
            .filter { $0.hasSuffix(".json") }
        XCTAssertEqual(files.count, 13)
        for file in files {
            XCTAssertTrue(generated.output.contains("\n## \(file.dropLast(5))\n"), "no section for \(file)")
        }
        XCTAssertTrue(generated.output.contains("| `patient` | yes |"), "visit fields are listed")
        XCTAssertTrue(generated.output.contains("`cleanup.policy=compact`"))
    }

    func testOutputFileAndBadCatalogue() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("topic-docs-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let output = folder.appendingPathComponent("topics.md")
        let written = try runCommand(hssk, ["topics", "docs", "--output", output.path,
                                            "--topics-dir", repositoryRoot.appendingPathComponent("topics").path])
        XCTAssertEqual(written.status, 0, written.output)
        XCTAssertTrue(try String(contentsOf: output, encoding: .utf8).hasPrefix("# Topic reference"))

        try Data("{".utf8).write(to: folder.appendingPathComponent("broken.json"))
        let broken = try runCommand(hssk, ["topics", "docs", "--topics-dir", folder.path])
        XCTAssertEqual(broken.status, 1, broken.output)
        XCTAssertTrue(broken.output.contains("broken.json"), broken.output)
    }
}

/// The repository this test file belongs to (docs/, deploy/, topics/).
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
