import Foundation
import XCTest

/// `hssk demo` as `make demo` runs it: the whole pipeline in one process, with its summary and JSON.
final class DemoCommandTests: XCTestCase {
    var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("demo-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: folder)
    }

    func testASmallPopulationThroughTheWholePipelineLosesNothing() throws {
        let store = folder.appendingPathComponent("demo.sqlite").path
        let json = folder.appendingPathComponent("summary.json")
        let arguments = ["demo", "--citizens", "200", "--seed", "7", "--brokers", "1", "--store", store, "--json", json.path]
        let run = try runCommand(hssk, arguments)
        XCTAssertEqual(run.status, 0, run.output)
        XCTAssertTrue(run.output.contains("OK, nothing lost"), run.output)

        let summary = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: json)) as? [String: Any])
        for key in ["published", "stored", "duplicates", "dead_lettered", "dead_lettered_total", "persons_created", "linked", "reviews",
                    "feed", "insurance", "ingest_records_per_s", "batch_latency", "linkage", "processed", "nothing_lost",
                    "persons", "feed_pushed", "lost", "precision", "recall"] {
            XCTAssertNotNil(summary[key], "summary key \(key)")
        }
        XCTAssertEqual(summary["nothing_lost"] as? Bool, true)
        XCTAssertEqual(summary["lost"] as? Int, 0)
        XCTAssertEqual(summary["feed_pushed"] as? Int, (summary["feed"] as? [String: Any])?["upserts"] as? Int)
        XCTAssertEqual(summary["precision"] as? Double, (summary["linkage"] as? [String: Any])?["precision"] as? Double)
        let published = try XCTUnwrap(summary["published"] as? Int)
        XCTAssertGreaterThan(published, 200)
        XCTAssertEqual((summary["stored"] as? Int ?? 0) + (summary["duplicates"] as? Int ?? 0) + (summary["dead_lettered_total"] as? Int ?? 0),
                       published)
        XCTAssertGreaterThan(summary["dead_lettered_total"] as? Int ?? 0, 0, "the population carries records to reject")
        let linkage = try XCTUnwrap(summary["linkage"] as? [String: Any])
        XCTAssertGreaterThanOrEqual(linkage["precision"] as? Double ?? 0, 0.99)
        let feed = try XCTUnwrap(summary["feed"] as? [String: Any])
        XCTAssertGreaterThan(feed["documents"] as? Int ?? 0, 100)
        // The key file is private; the log went to a file, not the terminal.
        let keys = try FileManager.default.attributesOfItem(atPath: folder.appendingPathComponent("demo-keys.json").path)
        XCTAssertEqual((keys[.posixPermissions] as? NSNumber)?.intValue, 0o600)
        XCTAssertFalse(run.output.contains("\"event\""), "service logs belong in demo.log")

        // A second run replaces the demo's own store.
        let again = try runCommand(hssk, ["demo", "--citizens", "20", "--brokers", "1", "--store", store])
        XCTAssertEqual(again.status, 0, again.output)
    }

    func testCtrlCStopsTheServicesAndSaysSo() throws {
        let store = folder.appendingPathComponent("demo.sqlite").path
        let demo = try RunningProcess(hssk, ["demo", "--citizens", "20000", "--brokers", "1", "--store", store])
        defer { demo.terminate() }
        _ = try demo.waitForLine(prefix: "ingesting", timeout: 120)
        demo.interrupt()
        XCTAssertEqual(demo.waitForExit(), 130, demo.output)
        XCTAssertTrue(demo.output.contains("interrupted: services stopped, store closed"), demo.output)
        XCTAssertFalse(demo.output.contains("Connection refused"), "nothing outlives the cluster")
        // The interrupted demo's store is its own: the next run replaces it.
        let again = try runCommand(hssk, ["demo", "--citizens", "20", "--brokers", "1", "--store", store])
        XCTAssertEqual(again.status, 0, again.output)
    }

    func testRefusesToReplaceAFileTheDemoDidNotMake() throws {
        let store = folder.appendingPathComponent("precious.sqlite")
        try Data("not a demo".utf8).write(to: store)
        let run = try runCommand(hssk, ["demo", "--citizens", "20", "--store", store.path])
        XCTAssertEqual(run.status, 1, run.output)
        XCTAssertTrue(run.output.contains("not made by 'hssk demo'"), run.output)
        XCTAssertEqual(try Data(contentsOf: store), Data("not a demo".utf8))
    }
}
