import Foundation
import HSSKTesting
import HealthModel
@testable import PersonIndex
import RecordStore
import SyntheticPopulation
import XCTest

/// The store-backed person index on a synthetic population with identifier gaps (visits with only a
/// facility id, doses with only an immunization code, newborns without personal ID, re-issued
/// personal IDs, twins, namesakes): no false merge, few split citizens.
final class PersonIndexQualityTests: XCTestCase {
    func testHardPopulationHasNoFalseMergeAndFewSplits() async throws {
        let store = try await RecordStores.open(try TestStores.freshLocation(.sqlite), keys: try KeyRing.generate())
        let population = PopulationGenerator(citizens: 2_000, seed: 5).generate()
        let citizens = population.citizens
        XCTAssertTrue(citizens.contains { $0.oldPersonalId != nil }, "re-issued personal IDs")
        XCTAssertTrue(citizens.contains { a in a.motherIndex != nil && citizens.contains { $0.index != a.index && $0.motherIndex == a.motherIndex && $0.birthDate == a.birthDate } },
                      "twins")
        let fixture = PersonIndexFixture(store: store, population: population)
        let resolution = try await fixture.ingest()
        let quality = try await fixture.quality()
        print("person index: \(quality); created \(resolution.created), linked \(resolution.linked), reviews \(resolution.reviews)")
        XCTAssertEqual(quality.falseMerges, 0, "persons holding more than one citizen")
        XCTAssertLessThan(Double(quality.split), Double(quality.citizens) * 0.05, "citizens split over several persons")
        XCTAssertLessThan(Double(quality.unlinked), Double(population.acceptable.count) * 0.01, "records left for review")

        // The sweep afterwards never merges two citizens either.
        let sweep = try await DuplicateSweep(store: store, actor: "test").run()
        let swept = try await fixture.quality()
        print("dedup: \(sweep); then \(swept)")
        XCTAssertEqual(swept.falseMerges, 0, "the sweep merged two citizens")
        XCTAssertLessThanOrEqual(swept.split, quality.split)
        await store.close()
    }
}
