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
    /// Modules of the package, so that system modules (Foundation, XCTest…) are told apart.
    private let packageModules: Set<String> = [
        "HealthModel", "DedicatedThreads", "Kafka", "Linkage", "RecordStore", "HTTPResponder", "ServiceRuntime", "PersonIndex", "Ingest",
        "CitizenFeed", "InsuranceSync", "SourceAdapters", "Administration", "Tooling", "Chaos", "SyntheticPopulation", "CKafkaBaseline",
        "HSSKTesting", "CRdKafka", "CSQLite", "CPostgres", "COpenSSL", "hssk",
    ]

    func testEveryImportFollowsTheModuleGraph() throws {
        let sources = repositoryRoot.appendingPathComponent("Sources")
        var problems: [String] = []
        var checked = 0
        for (module, permitted) in allowed {
            let folder = sources.appendingPathComponent(module)
            let files = try XCTUnwrap(FileManager.default.enumerator(at: folder, includingPropertiesForKeys: nil)?.allObjects as? [URL], module)
            for file in files where file.pathExtension == "swift" {
                let text = try String(contentsOf: file, encoding: .utf8)
                for line in text.split(separator: "\n") where line.hasPrefix("import ") || line.hasPrefix("@testable import ") {
                    let imported = String(line.split(separator: " ").last ?? "")
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

    /// Package.swift declares the same edges for the production modules (an undeclared import would
    /// not build; a declared but unused edge would let the next change slip one in).
    func testPackageDeclaresNoEdgeTheGraphForbids() throws {
        let manifest = try String(contentsOf: repositoryRoot.appendingPathComponent("Package.swift"), encoding: .utf8)
        for (module, permitted) in allowed {
            guard let start = manifest.range(of: ".target(name: \"\(module)\"") else { return XCTFail("\(module) is not a target") }
            let declaration = manifest[start.upperBound...].prefix { $0 != ")" }
            let dependencies = declaration.split(separator: "\"").enumerated().filter { $0.offset % 2 == 1 }.map { String($0.element) }
            XCTAssertEqual(Set(dependencies).subtracting(permitted), [], "\(module) declares dependencies the graph does not allow")
        }
    }
}
