@testable import Tooling
import XCTest

final class LoadBenchTests: XCTestCase {
    /// A small city through the whole path `hssk bench load` measures: generated in two shards, streamed
    /// with a lead smaller than the records (so publishing waits for ingest), stored, then measured
    /// against the ground truth read back from the store.
    func testASmallCityIsLoadedAccountedAndMeasured() async throws {
        var bench = LoadBench()
        bench.persons = 600
        bench.shardCitizens = 300
        bench.partitions = 4
        bench.maxLead = 800
        bench.batchSize = 300
        bench.stallLimit = .seconds(60)
        let result = try await bench.run()
        XCTAssertGreaterThan(result.records, 2 * 600, "every citizen has records, most several")
        XCTAssertEqual(result.stored + result.deadLettered, result.records, "every record stored or dead-lettered once")
        XCTAssertGreaterThan(result.deadLettered, 0, "the ~1 % to reject are there")
        XCTAssertEqual(result.linkedRecords + result.unlinkedRecords + result.deadLettered, result.records,
                       "the ground truth found every stored record by its partition and offset")
        XCTAssertEqual(result.missingRecords, 0, "no record to accept was dead-lettered")
        XCTAssertEqual(result.wronglyStoredRecords, 0, "no record to reject was stored")
        XCTAssertGreaterThan(result.precision, 0.99)
        XCTAssertGreaterThan(result.recall, 0.95)
        XCTAssertLessThan(result.precision, 1.0001)
        XCTAssertGreaterThan(result.personsCreated, 550)
        XCTAssertGreaterThan(result.storeBytes, 100_000)
        XCTAssertGreaterThan(result.peakResidentBytes, 10_000_000)
        XCTAssertGreaterThan(result.publisherCPUSeconds, 0)
        XCTAssertGreaterThan(result.processCPUMicrosPerRecord, 0, "ingest costs CPU")
    }

    /// Precision and recall are pairwise; recall counts the pairs of records left unlinked or not stored.
    func testPairwiseQualityFromTheStoredPersons() throws {
        // Citizen 0 split over persons 1 and 2, one of its records left unlinked and one never stored
        // (offset 7); person 3 holds citizens 1 and 2 (a false merge); offset 5 should have been rejected.
        let truth: [[[Int32]]] = [[[0, 0, 0, 1, 2, -1, 0, 0]]]
        let rows: [(String, Int, Int, Int64?)] = [("t", 0, 0, 1), ("t", 0, 1, 1), ("t", 0, 2, 2), ("t", 0, 3, 3), ("t", 0, 4, 3), ("t", 0, 5, 9), ("t", 0, 6, nil)]
        let quality = LoadGroundTruth.quality(rows: rows, truth: truth, topics: ["t"], citizens: 3)
        // Together: the pair inside person 1. Same person: person 1 (1 pair) + person 3 (1 pair).
        // Same citizen: the 5 records of citizen 0 make 10 pairs.
        XCTAssertEqual(quality.precision, 0.5, accuracy: 1e-9)
        XCTAssertEqual(quality.recall, 0.1, accuracy: 1e-9)
        XCTAssertEqual(quality.linked, 5)
        XCTAssertEqual(quality.unlinked, 1)
        XCTAssertEqual(quality.missing, 1)
        XCTAssertEqual(quality.wronglyStored, 1)
    }
}
