import Foundation
import XCTest

/// The operator and integrator docs stay in step with the schemas and with each other.
final class DocsTests: XCTestCase {
    /// Every field of the four source records and the citizen document (and of the shared person and
    /// address blocks) has a line in docs/data-dictionary.md.
    func testDataDictionaryNamesEverySchemaField() throws {
        let dictionary = try String(contentsOf: repositoryRoot.appendingPathComponent("docs/data-dictionary.md"), encoding: .utf8)
        let schemas = repositoryRoot.appendingPathComponent("topics/schemas")
        var missing: [String] = []
        func check(_ properties: [String: Any]?, in name: String) {
            // Named as `field`, `field[]`, `block.field` or `field.part`.
            for field in (properties ?? [:]).keys
            where !["`", "."].contains(where: { before in ["`", "[", "."].contains { after in dictionary.contains(before + field + after) } }) {
                missing.append("\(name): \(field)")
            }
        }
        for file in ["visit", "vaccination", "insurance-card", "registry", "citizen-document"] {
            let schema = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: schemas.appendingPathComponent("\(file).v1.schema.json"))) as? [String: Any])
            let properties = schema["properties"] as? [String: Any]
            check(properties, in: file)
            // One level down: the blocks defined inline (treatmentSummary, birth, administrative, …).
            for (field, value) in properties ?? [:] {
                guard let object = value as? [String: Any] else { continue }
                check(object["properties"] as? [String: Any], in: "\(file).\(field)")
                check((object["items"] as? [String: Any])?["properties"] as? [String: Any], in: "\(file).\(field)[]")
            }
        }
        let common = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: schemas.appendingPathComponent("common.v1.schema.json"))) as? [String: Any])
        let definitions = try XCTUnwrap(common["$defs"] as? [String: Any])
        for block in ["person", "address", "personReference"] {
            check((definitions[block] as? [String: Any])?["properties"] as? [String: Any], in: "common.\(block)")
        }
        XCTAssertTrue(missing.isEmpty, "fields without a line in docs/data-dictionary.md:\n" + missing.sorted().joined(separator: "\n"))
    }

    /// Relative links between the docs, the README and deploy/ point at files that exist.
    func testRelativeLinksResolve() throws {
        var pages = [repositoryRoot.appendingPathComponent("README.md"), repositoryRoot.appendingPathComponent("deploy/compose/README.md"),
                     repositoryRoot.appendingPathComponent("deploy/k8s/README.md")]
        let docs = repositoryRoot.appendingPathComponent("docs")
        let enumerator = try XCTUnwrap(FileManager.default.enumerator(at: docs, includingPropertiesForKeys: nil))
        for case let file as URL in enumerator where file.pathExtension == "md" {
            pages.append(file)
        }
        var broken: [String] = []
        for page in pages {
            let text = try String(contentsOf: page, encoding: .utf8)
            for match in text.matches(of: /\]\(([^)#\s]+)(#[^)]*)?\)/) {
                let target = String(match.1)
                if target.contains("://") || target.hasPrefix("mailto:") { continue }
                let resolved = page.deletingLastPathComponent().appendingPathComponent(target).standardizedFileURL
                if !FileManager.default.fileExists(atPath: resolved.path) {
                    broken.append("\(page.lastPathComponent): \(target)")
                }
            }
        }
        XCTAssertTrue(broken.isEmpty, "broken links:\n" + broken.joined(separator: "\n"))
    }
}
