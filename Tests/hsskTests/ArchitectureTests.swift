import Foundation
import XCTest

/// The module graph of docs/architecture.md, checked on every `import` of every source file: services
/// never import each other or the tooling, the shared layers never import a service, and nothing
/// production links imports the benchmarks' baselines or the synthetic population.
final class ArchitectureTests: XCTestCase {
    /// What each production module may import, beyond the system modules (Foundation, Dispatch…).
    private let allowed: [String: Set<String>] = [
        "HealthModel": [],
        "DedicatedThreads": [],
        "Kafka": ["CRdKafka", "DedicatedThreads"],
        "Linkage": ["HealthModel"],
        "RecordStore": ["HealthModel", "DedicatedThreads", "CSQLite", "CPostgres", "COpenSSL"],
        "HTTPResponder": [],
        "ServiceRuntime": ["HealthModel", "Kafka", "RecordStore", "HTTPResponder", "COpenSSL"],
        "PersonIndex": ["HealthModel", "Linkage", "RecordStore", "ServiceRuntime"],
        "Ingest": ["HealthModel", "Kafka", "RecordStore", "PersonIndex", "ServiceRuntime"],
        "CitizenFeed": ["HealthModel", "Kafka", "RecordStore", "ServiceRuntime"],
        "InsuranceSync": ["HealthModel", "Kafka", "RecordStore", "ServiceRuntime"],
        "SourceAdapters": ["HealthModel", "Kafka", "ServiceRuntime"],
        "Administration": ["HealthModel", "Kafka", "RecordStore", "ServiceRuntime", "COpenSSL"],
    ]
    /// The other targets: tooling, test support, the command line and the C system libraries. Every
    /// folder of `Sources/` is in exactly one of the two tables, so a new target cannot go unchecked.
    private let unchecked: Set<String> = [
        "Tooling", "Chaos", "SyntheticPopulation", "CKafkaBaseline", "HSSKTesting", "hssk", "CRdKafka", "CSQLite", "CPostgres", "COpenSSL",
    ]
    /// `import M`, `@preconcurrency import M`, `package import M`, `import struct M.T`, indented (inside `#if`) or not.
    private let importPattern = #"^\s*(?:@\w+\s+)*(?:(?:public|package|internal|private|fileprivate)\s+)?import\s+(?:(?:struct|class|enum|protocol|func|var|let|typealias)\s+)?(\w+)"#

    func testEveryImportFollowsTheModuleGraph() throws {
        let importLine = try NSRegularExpression(pattern: importPattern)
        let sources = repositoryRoot.appendingPathComponent("Sources")
        let folders = Set(try FileManager.default.contentsOfDirectory(atPath: sources.path).filter { !$0.hasPrefix(".") })
        XCTAssertEqual(folders.subtracting(allowed.keys).subtracting(unchecked), [], "every target is classified in this test")
        let packageModules = folders
        var problems: [String] = []
        var checked = 0
        for (module, permitted) in allowed {
            let folder = sources.appendingPathComponent(module)
            let files = try XCTUnwrap(FileManager.default.enumerator(at: folder, includingPropertiesForKeys: nil)?.allObjects as? [URL], module)
            for file in files where file.pathExtension == "swift" {
                let text = try String(contentsOf: file, encoding: .utf8)
                for line in text.split(separator: "\n") {
                    let line = String(line)
                    guard let match = importLine.firstMatch(in: line, range: NSRange(line.startIndex..., in: line)),
                          let range = Range(match.range(at: 1), in: line) else { continue }
                    let imported = String(line[range])
                    checked += 1
                    if packageModules.contains(imported), !permitted.contains(imported) {
                        problems.append("\(module)/\(file.lastPathComponent) imports \(imported)")
                    }
                }
            }
        }
        XCTAssertGreaterThan(checked, 200, "the source files were read")
        XCTAssertEqual(problems, [])
    }

    /// The import pattern sees every form an import can take.
    func testTheImportPatternSeesEveryForm() throws {
        let importLine = try NSRegularExpression(pattern: importPattern)
        for line in ["import Tooling", "@preconcurrency import Tooling", "package import Tooling", "import struct Tooling.DemoRun",
                     "    import Tooling", "@testable import Tooling // why"] {
            let match = importLine.firstMatch(in: line, range: NSRange(line.startIndex..., in: line))
            XCTAssertEqual(match.flatMap { Range($0.range(at: 1), in: line) }.map { String(line[$0]) }, "Tooling", line)
        }
        let comment = "// imports Tooling"
        XCTAssertNil(importLine.firstMatch(in: comment, range: NSRange(comment.startIndex..., in: comment)))
    }

    /// Package.swift declares the same edges for the production modules (an undeclared import would
    /// not build; a declared but unused edge would let the next change slip one in).
    func testPackageDeclaresNoEdgeTheGraphForbids() throws {
        let manifest = try String(contentsOf: repositoryRoot.appendingPathComponent("Package.swift"), encoding: .utf8)
        for (module, permitted) in allowed {
            guard let start = manifest.range(of: ".target(name: \"\(module)\"") else { return XCTFail("\(module) is not a target") }
            // The declaration up to its closing bracket: dependencies are plain target names here.
            let declaration = manifest[start.upperBound...].prefix { $0 != ")" }
            XCTAssertFalse(declaration.contains(".product("), "\(module): a package product in a production target")
            let dependencies = declaration.split(separator: "\"").enumerated().filter { $0.offset % 2 == 1 }.map { String($0.element) }
            XCTAssertEqual(Set(dependencies).subtracting(permitted), [], "\(module) declares dependencies the graph does not allow")
        }
    }
}
