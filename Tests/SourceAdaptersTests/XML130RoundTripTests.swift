import Foundation
import HSSKTesting
import HealthModel
@testable import Ingest
import Kafka
import RecordStore
@testable import ServiceRuntime
@testable import SourceAdapters
import XCTest

/// XML 130 files as hospitals export them → `SourcePublisher` → `hssk ingest` → the store: the stored
/// visits are exactly the ones mapped from the files, and rejected episodes never reach Kafka.
final class XML130RoundTripTests: XCTestCase {
    func testXML130FilesEndInTheStoreAsTheirMappedVisits() async throws {
        var episodes: [XML130Episode] = []
        for file in ["valid-4750.xml", "variant-3176.xml", "nfd-cards-partial-dates.xml", "defects.xml"] {
            try XML130Reader.read(file: XML130ReaderTests.fixtures.appendingPathComponent(file)) { episodes.append($0); return true }
        }
        let visits = episodes.compactMap(\.visit)
        XCTAssertGreaterThan(episodes.filter(\.isRejected).count, 0, "the defects file has rejected episodes")
        XCTAssertGreaterThanOrEqual(visits.count, 4)

        let scenario = try IngestScenario(partitions: 2)
        let store = try await RecordStores.open(try TestStores.freshLocation(.sqlite), keys: try KeyRing.generate())
        // One interop account per facility found in the files, as the Department of Health would register them.
        var publishers: [String: SourcePublisher] = [:]
        var config = ProducerConfig(bootstrapServers: scenario.cluster.bootstrapServers)
        config.client.logLevel = 3
        let producer = try Producer(config: config)
        for facility in Set(visits.map(\.facilityCode)) {
            let name = try InteropAccountName(parsing: "\(facility)_lt_his")
            let key = try SigningKey(bytes: Array(repeating: facility.utf8.reduce(0, &+), count: 32))
            try await store.saveAccount(InteropAccount(name: name.value, facility: facility, signingKey: key.bytes))
            publishers[facility] = SourcePublisher(account: name, key: key, producer: producer)
        }
        var published: [IngestScenario.Published] = []
        for visit in visits {
            let results = try await publishers[visit.facilityCode]!.publish([.visit(visit)])
            guard case .published(let partition, let offset) = results[0].outcome else { return XCTFail("\(results[0])") }
            published.append(IngestScenario.Published(record: ProducerRecord(topic: "hssk.visits.v1", key: Array(visit.kafkaKey.utf8),
                                                                             value: Array(try RecordDecoder.encode(visit))),
                                                      partition: partition, offset: offset, expectedCode: nil))
        }
        try await producer.close()

        let service = IngestService(configuration: scenario.configuration(), store: store, log: .silent)
        let running = Task { try await service.run() }
        let processed = try await scenario.waitUntilProcessed(store, ends: IngestScenario.ends(published))
        running.cancel()
        try await running.value
        XCTAssertTrue(processed)
        XCTAssertEqual(service.counters.snapshot.deadLetteredTotal, 0)
        for visit in visits {
            let versions = try await store.sourceVersions(topic: "hssk.visits.v1", key: visit.kafkaKey)
            XCTAssertEqual(versions.count, 1, visit.kafkaKey)
            let stored = RecordDecoder.decode(Data(versions.first?.original ?? []), as: VisitRecord.self)
            XCTAssertEqual(stored.record, visit, "the stored visit is the one mapped from XML 130")
            XCTAssertNotNil(versions.first?.person, "linked to a person")
        }
        await store.close()
        scenario.cluster.shutdown()
    }
}
