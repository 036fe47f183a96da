import Foundation
import HSSKTesting
import HealthModel
import Linkage
@testable import PersonIndex
import RecordStore
import SyntheticPopulation
import XCTest

/// `hssk dedup --estimate` and its use: EM on a synthetic population's store gives a sound model that
/// links that population as well as the targets ask; a store too small to estimate on refuses to save;
/// ingest's linker reads the stored model (a skewed one changes its decision) and says which it uses.
final class MatchModelEstimationTests: XCTestCase {
    func testEstimateOnSyntheticPopulationKeepsPrecisionAndRecall() async throws {
        let population = PopulationGenerator(citizens: 2_000, seed: 5).generate()
        let first = try await RecordStores.open(try TestStores.freshLocation(.sqlite), keys: try KeyRing.generate())
        let withDefaults = PersonIndexFixture(store: first, population: population)
        _ = try await withDefaults.ingest()
        let defaultScores = try await withDefaults.scores()

        let estimation = MatchModelEstimation(store: first)
        let estimate = try await estimation.estimate()
        XCTAssertNil(estimate.refusal, "\(estimate.refusal.map(String.init(describing:)) ?? "")")
        XCTAssertEqual(estimate.model.degeneracies(), [])
        try await estimation.save(estimate, actor: "op.lan")
        let stored = try await first.matchModel()
        XCTAssertEqual(stored?.estimatedAt, estimate.estimatedAt)
        XCTAssertEqual(stored?.pairs, estimate.candidatePairs + estimate.randomPairs)
        print("estimate: \(estimate.persons) persons, \(estimate.records) records, \(estimate.candidatePairs) candidate pairs, \(estimate.randomPairs) random pairs")
        for field in ComparedField.allCases {
            let levels = 1..<field.levels
            print("  \(field): m \(levels.map { String(format: "%.4f", estimate.model.m[field.rawValue][$0]) }) u \(levels.map { String(format: "%.4f", estimate.model.u[field.rawValue][$0]) }) bits \(levels.map { String(format: "%+.2f", estimate.model.weight(field, $0)) })")
        }

        // The same population ingested again, by a linker that loads the estimate from its store.
        let second = try await RecordStores.open(try TestStores.freshLocation(.sqlite), keys: try KeyRing.generate())
        try await second.saveMatchModel(try XCTUnwrap(stored), actor: "op.lan")
        let lines = LogLines()
        let resolver = try await PersonResolver.loading(store: second, log: lines.log)
        XCTAssertEqual(resolver.matcher.model, estimate.model)
        XCTAssertTrue(lines.all.contains { $0.contains(#""event":"matchModel.loaded""#) && $0.contains(#""source":"stored""#) }, "\(lines.all)")
        var withEstimate = PersonIndexFixture(store: second, population: population)
        withEstimate.resolver = resolver
        _ = try await withEstimate.ingest()
        let estimatedScores = try await withEstimate.scores()
        print("synthetic population (\(population.acceptable.count) records): defaults precision \(defaultScores.precision) recall \(defaultScores.recall); "
              + "estimated precision \(estimatedScores.precision) recall \(estimatedScores.recall)")
        XCTAssertGreaterThanOrEqual(estimatedScores.precision, 0.999)
        XCTAssertGreaterThanOrEqual(estimatedScores.recall, 0.97)

        // The measure sees the model: a deliberately weak one loses links on the same population.
        let third = try await RecordStores.open(try TestStores.freshLocation(.sqlite), keys: try KeyRing.generate())
        var withWeak = PersonIndexFixture(store: third, population: population)
        var weak = PersonResolver(store: third)
        weak.matcher.model = Self.weakAgreement
        withWeak.resolver = weak
        _ = try await withWeak.ingest()
        let weakScores = try await withWeak.scores()
        print("weak model: precision \(weakScores.precision) recall \(weakScores.recall)")
        XCTAssertLessThan(weakScores.recall, estimatedScores.recall)
        await first.close()
        await second.close()
        await third.close()
    }

    func testTooSmallStoreRefusesToSaveSQLite() async throws { try await tooSmallStoreRefusesToSave(.sqlite) }
    func testTooSmallStoreRefusesToSavePostgres() async throws { try await tooSmallStoreRefusesToSave(.postgres) }

    func tooSmallStoreRefusesToSave(_ backend: TestStores.Backend) async throws {
        let store = try await RecordStores.open(try TestStores.freshLocation(backend), keys: try KeyRing.generate())
        _ = try await PersonIndexFixture(store: store, population: PopulationGenerator(citizens: 40, seed: 3).generate()).ingest()
        let estimation = MatchModelEstimation(store: store)
        let estimate = try await estimation.estimate()
        guard case .tooFewPairs(let persons, _, _, _)? = estimate.refusal else { return XCTFail("expected a refusal, got \(String(describing: estimate.refusal))") }
        XCTAssertLessThan(persons, MatchModelEstimation.minimumPersons)
        do {
            try await estimation.save(estimate, actor: "op.lan")
            XCTFail("a refused estimate was saved")
        } catch let refusal as MatchModelEstimation.Refusal {
            XCTAssertTrue(refusal.description.contains("nothing saved"), refusal.description)
        }
        let stored = try await store.matchModel()
        XCTAssertNil(stored, "nothing stored")
        let settings = try await MatchModelSettings.load(from: store)
        XCTAssertEqual(settings.source, .defaults)
        await store.close()
    }

    func testDegenerateEstimatesAreRefused() async throws {
        XCTAssertEqual(MatchModel.defaults.degeneracies(), [])
        var nan = MatchModel.defaults
        nan.m[ComparedField.name.rawValue][4] = .nan
        XCTAssertFalse(nan.degeneracies().isEmpty)
        var inverted = MatchModel.defaults
        // Phone agreement as common among strangers as for the same person: it would not discriminate.
        inverted.m[ComparedField.phone.rawValue] = [0, 0.9999, 0.0001]
        XCTAssertTrue(inverted.degeneracies().contains { $0.hasPrefix("phone: full agreement") }, "\(inverted.degeneracies())")
        var shape = MatchModel.defaults
        shape.u.removeLast()
        XCTAssertFalse(shape.degeneracies().isEmpty)

        // Such a model is never saved, and one found stored (written by hand) is not used.
        let store = try await RecordStores.open(try TestStores.freshLocation(.sqlite), keys: try KeyRing.generate())
        let estimate = MatchModelEstimation.Estimate(model: inverted, persons: 5_000, sampledPersons: 5_000, records: 9_000, candidatePairs: 50_000,
                                                     randomPairs: 20_000, observed: [:], estimatedAt: "2026-11-21T23:00:00.000Z", refusal: nil)
        do {
            try await MatchModelEstimation(store: store).save(estimate, actor: "op.lan")
            XCTFail("a degenerate model was saved")
        } catch MatchModelEstimation.Refusal.degenerate(let problems) {
            XCTAssertFalse(problems.isEmpty)
        }
        try await store.saveMatchModel(StoredMatchModel(modelJSON: try MatchModelSettings.json(inverted), estimatedAt: "2026-11-21T23:00:00.000Z", pairs: 1),
                                       actor: "op.lan")
        let lines = LogLines()
        let resolver = try await PersonResolver.loading(store: store, log: lines.log)
        XCTAssertEqual(resolver.matcher.model, .defaults)
        XCTAssertTrue(lines.all.contains { $0.contains(#""source":"defaults""#) && $0.contains(#""level":"warning""#) && $0.contains("rejected") }, "\(lines.all)")
        await store.close()
    }

    func testResolverUsesTheStoredModelSQLite() async throws { try await resolverUsesTheStoredModel(.sqlite) }
    func testResolverUsesTheStoredModelPostgres() async throws { try await resolverUsesTheStoredModel(.postgres) }

    /// Two visits of one person at two hospitals (no shared identifier): the defaults link them on name,
    /// birth date, sex, commune and address; a stored model that makes every agreement weak (sound,
    /// but skewed) leaves the second visit a new person. So the linker scores with what the store holds.
    func resolverUsesTheStoredModel(_ backend: TestStores.Backend) async throws {
        let patient = PersonIndexScenarioTests.person("Trịnh Văn Khải", "1971-06-21")
        for skewed in [false, true] {
            let store = try await RecordStores.open(try TestStores.freshLocation(backend), keys: try KeyRing.generate())
            if skewed {
                try await store.saveMatchModel(StoredMatchModel(modelJSON: try MatchModelSettings.json(Self.weakAgreement), estimatedAt: "2026-11-21T23:00:00.000Z",
                                                                pairs: 70_000), actor: "op.lan")
            }
            let lines = LogLines()
            let resolver = try await PersonResolver.loading(store: store, log: lines.log)
            let loaded = try XCTUnwrap(lines.all.first { $0.contains(#""event":"matchModel.loaded""#) })
            XCTAssertTrue(loaded.contains(skewed ? #""source":"stored""# : #""source":"defaults""#), loaded)
            XCTAssertEqual(loaded.contains(#""estimated_at":"2026-11-21T23:00:00.000Z""#), skewed, loaded)
            let first = try await PersonIndexFixture.link([PersonIndexScenarioTests.visit("01001", "E-1", patient)], into: store, resolver: resolver)
            let second = try await PersonIndexFixture.link([PersonIndexScenarioTests.visit("01002", "E-2", patient)], into: store, firstOffset: 1, resolver: resolver)
            if skewed {
                XCTAssertEqual(second.resolution.created, 1, "the skewed stored model does not link")
                XCTAssertNotEqual(second.persons, first.persons)
            } else {
                XCTAssertEqual(second.resolution.linked, 1, "the defaults link")
                XCTAssertEqual(second.persons, first.persons)
            }
            await store.close()
        }
    }

    /// Sound (every agreement still says "match", a little) but far weaker than the defaults.
    static let weakAgreement: MatchModel = {
        var model = MatchModel.defaults
        for field in ComparedField.allCases {
            let f = field.rawValue, top = field.levels - 1
            model.m[f] = model.u[f]
            let moved = model.u[f][1] * 0.01
            model.m[f][1] -= moved
            model.m[f][top] += moved
        }
        return model
    }()
}
