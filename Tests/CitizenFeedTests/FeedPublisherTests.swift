@testable import CitizenFeed
import Foundation
import HSSKTesting
import HealthModel
import Kafka
@testable import RecordStore
@testable import ServiceRuntime
import XCTest

/// The publisher on a real store and the embedded cluster, fed exactly as ingest feeds the outbox.
final class FeedPublisherTests: XCTestCase {
    let personA = "001058012345"
    let personB = "001058054321"
    let reissued = "001058077777"

    func testDocumentsVersionsAndTombstonesAfterMergeAndReissue() async throws {
        try await documentsVersionsAndTombstones(try await FeedWorld())
    }

    /// The same on PostgreSQL (`scripts/with-postgres`); fails, never skips, without a server.
    func testDocumentsVersionsAndTombstonesOnPostgreSQL() async throws {
        try await documentsVersionsAndTombstones(try await FeedWorld(backend: .postgres))
    }

    private func documentsVersionsAndTombstones(_ world: FeedWorld) async throws {
        let producer = try world.producer()
        let reader = try await FeedReader(world.cluster)
        var configuration = FeedPublisherConfiguration()
        configuration.batchSize = 2   // several rounds per step: versions must still only grow
        let publisher = FeedPublisher(store: world.store, producer: producer, configuration: configuration, log: .silent)

        // A: identified, with restricted data in a visit. B: unidentified (temporary code) for now.
        var visit = FeedFixtures.visit("LK-1", patient: FeedFixtures.patient(personalID: personA),
                                       diagnoses: [Diagnosis(code: "J18.9", text: "Viêm phổi"), Diagnosis(code: "B20.7", text: "HIV")])
        visit.medicines = [Medicine(name: "Paracetamol 500mg"), Medicine(code: "J05AR27", name: "Viên phối hợp")]
        let a = try await world.newPerson(.visit(visit), personalID: personA)
        let b = try await world.newPerson(.vaccination(FeedFixtures.dose("D-1", person: FeedFixtures.patient("Trần Văn Bình", personalID: nil))),
                                          personalID: nil, demographics: Demographics(fullName: "Trần Văn Bình", birthDate: "1960", sex: 1))
        while try await publisher.publishOnce().rows > 0 {}
        var entries = try await reader.read(1)
        XCTAssertEqual(entries.map(\.key), [personA], "B has no personal ID yet: not published")
        let first = try XCTUnwrap(entries.first?.document)
        XCTAssertEqual(first.visits?.first?.diagnoses?.map(\.code), ["J18.9"])
        XCTAssertEqual(first.visits?.first?.medicines?.map(\.name), ["Paracetamol 500mg"])
        XCTAssertEqual(first.version, entries[0].version)

        // B gets a personal ID (outside a batch): published under it.
        try await world.store.addIdentifier(IdentifierEntry(.personalId, personB, validFrom: "2010-01-01", source: "review"), to: b, actor: "test")
        while try await publisher.publishOnce().rows > 0 {}
        entries = try await reader.read(1)
        XCTAssertEqual(entries.map(\.key), [personB])
        XCTAssertEqual(entries.first?.document?.history?.vaccinations?.count, 1)

        // B is merged into A: A keeps its key (the newer number) with B's dose; B's key is deleted.
        let mergeID = try await world.store.merge(b, into: a, reason: "duplicate", actor: "reviewer")
        while try await publisher.publishOnce().rows > 0 {}
        entries = try await reader.read(2)
        XCTAssertEqual(Set(entries.map(\.key)), [personA, personB])
        XCTAssertTrue(entries.first { $0.key == personB }?.isTombstone ?? false, "the absorbed key gets a tombstone")
        let merged = try XCTUnwrap(entries.first { $0.key == personA }?.document)
        XCTAssertEqual(merged.history?.vaccinations?.count, 1, "the absorbed person's records are in the survivor's document")

        // The merge is undone: B is published again, A without B's dose.
        try await world.store.undoMerge(mergeID, actor: "reviewer")
        while try await publisher.publishOnce().rows > 0 {}
        entries = try await reader.read(2)
        XCTAssertEqual(Set(entries.map(\.key)), [personA, personB])
        XCTAssertNil(entries.first { $0.key == personA }?.document?.history?.vaccinations)
        XCTAssertNotNil(entries.first { $0.key == personB }?.document)

        // A's number is re-issued (registry event, as ingest stores it): new key with the full document, old key deleted.
        var event = RegistryEvent(stationCode: "01I29", eventId: "ID-1", kind: .newPersonalIdIssued, occurredAt: "2025-06-01",
                                  person: FeedFixtures.patient(personalID: reissued))
        event.newPersonalId = NewPersonalIDDetails(oldPersonalId: personA, newPersonalId: reissued, reason: .other)
        try await world.ingest(.registryEvent(event), person: .existing(a),
                               identity: [.addIdentifier(.existing(a), IdentifierEntry(.personalId, reissued, validFrom: "2025-06-01", source: "01I29:ID-1"))])
        while try await publisher.publishOnce().rows > 0 {}
        entries = try await reader.read(2)
        XCTAssertTrue(entries.first { $0.key == personA }?.isTombstone ?? false, "the old key gets a tombstone")
        let moved = try XCTUnwrap(entries.first { $0.key == reissued }?.document)
        XCTAssertEqual(moved.personalId, reissued)
        XCTAssertEqual(moved.visits?.count, 1, "the new key carries the full document")

        // Versions only grow, per key and overall, and documents carry the header's version.
        var last: [String: Int64] = [:]
        for entry in reader.entries {
            XCTAssertGreaterThan(entry.version, last[entry.key] ?? 0, "\(entry.key)")
            last[entry.key] = entry.version
            if let document = entry.document { XCTAssertEqual(document.version, entry.version) }
        }
        let pending = try await world.store.pendingOutbox(kind: OutboxKinds.citizenFeed, limit: 10)
        XCTAssertTrue(pending.isEmpty)
        // The metrics count what the feed received, and the backlog is empty.
        await publisher.refreshGauges()
        let samples = try PrometheusParser.samples(PrometheusText.render(publisher.metricFamilies()))
        XCTAssertEqual(samples["hssk_feed_documents_total"], Double(reader.entries.filter { $0.document != nil }.count))
        XCTAssertEqual(samples["hssk_feed_tombstones_total"], Double(reader.entries.filter(\.isTombstone).count))
        XCTAssertGreaterThan(samples.filter { $0.key.hasPrefix("hssk_feed_restricted_removed_total{") }.values.reduce(0, +), 0, "the HIV diagnosis and ARV removed")
        XCTAssertEqual(samples[#"hssk_outbox_backlog{kind="citizen-feed"}"#], 0)

        // A restarted publisher finds nothing to do and continues with higher versions.
        let restarted = FeedPublisher(store: world.store, producer: producer, log: .silent)
        let idle = try await restarted.publishOnce()
        XCTAssertEqual(idle.rows, 0)
        try await world.ingest(.vaccination(FeedFixtures.dose("D-9", person: FeedFixtures.patient(personalID: reissued))), person: .existing(a))
        try await restarted.publishOnce()
        entries = try await reader.read(2)
        // Stateless: every publication also deletes the person's other numbers again (a lost or
        // compacted-away tombstone heals itself; persons with two numbers are rare).
        XCTAssertEqual(Set(entries.map(\.key)), [reissued, personA])
        XCTAssertTrue(entries.first { $0.key == personA }?.isTombstone ?? false)
        XCTAssertGreaterThan(entries.first { $0.key == reissued }?.version ?? 0, last[reissued] ?? .max)
        try await producer.close()
        try await reader.close()
        await world.close()
    }

    func testAGuardiansChangeRepublishesTheChildsDocumentAndRestrictedDataIsCounted() async throws {
        let world = try await FeedWorld()
        let producer = try world.producer()
        let reader = try await FeedReader(world.cluster)
        let lines = LogLines()
        let publisher = FeedPublisher(store: world.store, producer: producer, log: lines.log)
        let mother = try await world.newPerson(.vaccination(FeedFixtures.dose("D-M", person: FeedFixtures.patient("Lê Thị Mai", personalID: "001185000001", birthDate: "1985-09-09", sex: 2))),
                                               personalID: "001185000001",
                                               demographics: Demographics(fullName: "Lê Thị Mai", birthDate: "1985-09-09", sex: 2, phone: "0987654321"))
        let childDetails = FeedFixtures.patient("Nguyễn Minh Khôi", personalID: "001219000002", birthDate: "2019-06-01")
        try await world.ingest(.vaccination(FeedFixtures.dose("D-C", person: childDetails)), person: .new(local: 1), identity: [
            .newPerson(local: 1, Demographics(fullName: "Nguyễn Minh Khôi", birthDate: "2019-06-01", sex: 1)),
            .addIdentifier(.new(local: 1), IdentifierEntry(.personalId, "001219000002", source: "test")),
            .relate(.new(local: 1), .mother, .existing(mother)),
        ])
        try await publisher.publishOnce()
        var entries = try await reader.read(2)
        XCTAssertEqual(entries.first { $0.key == "001219000002" }?.document?.administrative.guardians?.map(\.fullName), ["Lê Thị Mai"])
        XCTAssertEqual(entries.first { $0.key == "001185000001" }?.document?.administrative.dependants?.map(\.relation), ["child"])

        // The mother's new phone (a visit with restricted data) reaches the child's document too.
        var visit = FeedFixtures.visit("LK-M", patient: FeedFixtures.patient("Lê Thị Mai", personalID: "001185000001", birthDate: "1985-09-09", sex: 2),
                                       diagnoses: [Diagnosis(code: "Z21")])
        visit.phoneUpdate()
        try await world.ingest(.visit(visit), person: .existing(mother),
                               identity: [.updateDemographics(.existing(mother), Demographics(fullName: "Lê Thị Mai", birthDate: "1985-09-09", sex: 2, phone: "0911222333"))])
        let round = try await publisher.publishOnce()
        XCTAssertEqual(round.relatives, 1)
        XCTAssertEqual(round.filtered.items[.visit], 1)
        entries = try await reader.read(2)
        XCTAssertEqual(entries.first { $0.key == "001219000002" }?.document?.administrative.guardians?.first?.phone, "0911222333")
        XCTAssertNil(entries.first { $0.key == "001185000001" }?.document?.visits, "a visit whose main diagnosis is restricted never appears")
        let removed = try XCTUnwrap(lines.all.first { $0.contains("feed.restricted.removed") })
        XCTAssertTrue(removed.contains("\"icd10:Z21\":1"), removed)
        for secret in ["Lê Thị Mai", "001185000001", "Z21\",\"text", "0911222333"] {
            XCTAssertFalse(lines.all.joined().contains(secret), "the log never carries \(secret)")
        }
        try await producer.close()
        try await reader.close()
        await world.close()
    }
}

extension FeedPublisherTests {
    /// One outbox row encrypted under another key and one person whose file cannot be read (a damaged
    /// demographics ciphertext), among good rows: the good rows are published, the bad ones are
    /// quarantined (never retried, logged with id and code, counted) and the publisher goes on (DESIGN §6).
    func testOneBadRowIsQuarantinedAndTheOthersArePublished() async throws {
        let world = try await FeedWorld()
        let producer = try world.producer()
        let reader = try await FeedReader(world.cluster)
        let lines = LogLines()
        let publisher = FeedPublisher(store: world.store, producer: producer, log: lines.log)
        let ids = ["001058000001", "001058000002", "001058000003", "001058000004"]
        var persons: [PersonID] = []
        for (n, id) in ids.enumerated() {
            persons.append(try await world.newPerson(.vaccination(FeedFixtures.dose("D-\(n)", person: FeedFixtures.patient(personalID: id))),
                                                     personalID: id))
        }
        let rows = try await world.store.pendingOutbox(kind: OutboxKinds.citizenFeed, limit: 10)
        XCTAssertEqual(rows.map(\.key), persons.map { String($0.rawValue) })
        let raw = try world.raw()
        // Person 2's row: a well-formed ciphertext under another key with the same key id.
        let wrongKey = FieldCipher(keys: KeyRing(activeKeyID: world.keys.activeKeyID, encryptionKeys: [world.keys.activeKeyID: Array(repeating: 1, count: 32)],
                                                 blindIndexKey: Array(repeating: 2, count: 32)))
        try raw.execute("UPDATE outbox SET payload_enc = ? WHERE id = ?",
                        [.blob(try wrongKey.seal(rows[1].payload, column: "outbox.payload_enc", row: .id(rows[1].id))), .int(rows[1].id)])
        // Person 3: one byte of the demographics ciphertext flipped, so the person's file cannot be read.
        var damaged = try XCTUnwrap(try raw.queryOne("SELECT demographics_enc FROM person WHERE id = ?", [.int(persons[2].rawValue)])?.blob(0))
        damaged[damaged.count - 1] ^= 0xff
        try raw.execute("UPDATE person SET demographics_enc = ? WHERE id = ?", [.blob(damaged), .int(persons[2].rawValue)])
        raw.close()

        let round = try await publisher.publishOnce()
        XCTAssertEqual(round.rows, 4)
        XCTAssertEqual(round.documents, 2)
        let entries = try await reader.read(2)
        XCTAssertEqual(Set(entries.map(\.key)), [ids[0], ids[3]])
        let pending = try await world.store.pendingOutbox(kind: OutboxKinds.citizenFeed, limit: 10)
        XCTAssertEqual(pending, [], "the bad rows are not pending any more: never retried")
        let again = try await publisher.publishOnce()
        XCTAssertEqual(again.rows, 0)
        let listed = try await world.store.quarantinedOutbox(kind: OutboxKinds.citizenFeed, limit: 10)
        XCTAssertEqual(listed.map(\.id), [rows[1].id, rows[2].id])
        XCTAssertEqual(listed.map(\.code), ["outbox.unreadable", "person.unreadable"])
        let logged = lines.all.filter { $0.contains("feed.outbox.quarantined") }
        XCTAssertEqual(logged.count, 2, "\(lines.all)")
        XCTAssertTrue(logged.contains { $0.contains("\"id\":\(rows[1].id)") && $0.contains("outbox.unreadable") }, "\(logged)")
        XCTAssertTrue(logged.contains { $0.contains("\"id\":\(rows[2].id)") && $0.contains("person.unreadable") }, "\(logged)")
        for secret in ids + ["Nguyễn Văn An"] { XCTAssertFalse(lines.all.joined().contains(secret), "the log never carries \(secret)") }
        let samples = try PrometheusParser.samples(PrometheusText.render(publisher.metricFamilies()))
        XCTAssertEqual(samples["hssk_feed_outbox_rows_total"], 2, "quarantined rows are not counted as published")
        XCTAssertEqual(samples[#"hssk_outbox_quarantined_total{code="outbox.unreadable"}"#], 1)
        XCTAssertEqual(samples[#"hssk_outbox_quarantined_total{code="person.unreadable"}"#], 1)
        try await producer.close()
        try await reader.close()
        await world.close()
    }
}

private extension VisitRecord {
    /// The visit's patient gives the new phone (as the record that changed the demographics would).
    mutating func phoneUpdate() { patient.phone = "0911222333" }
}
