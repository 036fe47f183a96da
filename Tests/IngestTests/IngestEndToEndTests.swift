import Foundation
import HSSKTesting
import HealthModel
@testable import Ingest
import Kafka
import RecordStore
import SyntheticPopulation
import XCTest

/// `IngestService` on the embedded cluster and real stores: a synthetic population with noise,
/// invalid, unsigned and forged records goes in; every valid record is stored once, every other one
/// is dead-lettered with its code, and the persons found match the ground truth.
final class IngestEndToEndTests: XCTestCase {
    func testPopulationSQLite() async throws { try await population(.sqlite) }
    func testPopulationPostgres() async throws { try await population(.postgres) }

    func population(_ backend: TestStores.Backend) async throws {
        let scenario = try IngestScenario()
        let store = try await RecordStores.open(try TestStores.freshLocation(backend), keys: try KeyRing.generate())
        try await scenario.registerAccounts(in: store)
        let population = PopulationGenerator(citizens: 300, seed: 7).generate()
        let published = try await scenario.publish(population.records)
        let lines = LogLines()
        let service = IngestService(configuration: scenario.configuration(), store: store, log: lines.log)
        let running = Task { try await service.run() }
        let processed = try await scenario.waitUntilProcessed(store, ends: IngestScenario.ends(published))
        running.cancel()
        try await running.value
        XCTAssertTrue(processed, "ingest did not reach the end offsets")
        // No estimate was saved in this store: ingest says it scores with the defaults.
        XCTAssertTrue(lines.all.contains { $0.contains(#""event":"matchModel.loaded""#) && $0.contains(#""source":"defaults""#) },
                      "\(lines.all.prefix(5))")

        let expectedRejections = published.filter { $0.expectedCode != nil }.count
        XCTAssertGreaterThan(expectedRejections, 0, "the population must contain records to reject")
        let letters = try await scenario.deadLetters(atLeast: expectedRejections)
        let problems = try await scenario.check(published, store: store, deadLetters: letters)
        XCTAssertTrue(problems.isEmpty, "\(problems.count) problems, first: \(problems.prefix(5))")
        let counters = service.counters.snapshot
        XCTAssertEqual(counters.stored + counters.deadLetteredTotal, published.count)
        XCTAssertGreaterThan(counters.personsCreated, 0)
        print("ingest \(backend): published \(published.count), stored \(counters.stored), dead letters \(counters.deadLettered), persons \(counters.personsCreated), linked \(counters.linked), reviews \(counters.reviews), citizens \(population.citizens.count)")

        // Linkage against the ground truth: no two citizens in one person (precision first).
        var personOfRecord: [(truth: Int, person: PersonID)] = []
        for record in population.records where record.truth.isAcceptable {
            guard let truth = record.truth.personIndex else { continue }
            let versions = try await store.sourceVersions(topic: scenario.topics[record.record.kind]!, key: record.record.kafkaKey)
            if let person = versions.last?.person { personOfRecord.append((truth, person)) }
        }
        var citizensOfPerson: [PersonID: Set<Int>] = [:]
        for pair in personOfRecord { citizensOfPerson[pair.person, default: []].insert(pair.truth) }
        let falseMerges = citizensOfPerson.values.filter { $0.count > 1 }.count
        XCTAssertEqual(falseMerges, 0, "persons holding more than one citizen")
        var personsOfCitizen: [Int: Set<PersonID>] = [:]
        for pair in personOfRecord { personsOfCitizen[pair.truth, default: []].insert(pair.person) }
        let split = personsOfCitizen.values.filter { $0.count > 1 }.count
        print("linkage: \(personsOfCitizen.count) citizens, \(split) split, \(falseMerges) false merges")
        XCTAssertLessThan(Double(split), Double(personsOfCitizen.count) * 0.05, "citizens split over several persons: \(split)")
        await store.close()
        scenario.cluster.shutdown()
    }
}
