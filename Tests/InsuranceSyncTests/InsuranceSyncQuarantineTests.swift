import Foundation
import HSSKTesting
import HealthModel
@testable import InsuranceSync
@testable import RecordStore
@testable import ServiceRuntime
@testable import SourceAdapters
import XCTest

/// The insurance sync's decisions with bad rows among good ones (DESIGN §6: one bad row is
/// quarantined, never a stop).
final class InsuranceSyncQuarantineTests: XCTestCase {
    /// Three card holders whose visits give a phone insurance lacks; one outbox row is encrypted under
    /// another key and one person cannot be read: the third is decided, the two bad rows quarantined.
    func testOneBadRowIsQuarantinedAndTheOtherPersonsAreDecided() async throws {
        let location = try TestStores.freshLocation(.sqlite)
        let keys = try KeyRing.generate()
        let store = try await RecordStores.open(location, keys: keys)
        var persons: [PersonID] = []
        for n in 1...3 {
            let bhxh = "990000000\(n)", personalID = "00118500010\(n)"
            var holder = PersonDetails(fullName: "Lê Thị Hoa", birthDate: "1985-03-12", sex: 2, personalId: personalID, bhxhNumber: bhxh)
            var card = InsuranceCardChange(kind: .issued, cardCode: "DN401" + bhxh, bhxhNumber: bhxh, holder: holder, effectiveAt: "2025-01-01")
            card.validFrom = "2025-01-01"
            card.validTo = "2026-12-31"
            holder.phone = "091200000\(n)"
            let visit = SourceRecord.visit(VisitRecord(facilityCode: "01001", episodeKey: "LK-\(n)", patientId: "BN-\(n)", patient: holder,
                                                       visitType: "01", admissionTime: "2025-09-10T08:00",
                                                       diagnoses: [Diagnosis(code: "J06.9", text: "Viêm họng cấp")]))
            func incoming(_ record: SourceRecord, _ sender: String) throws -> IncomingRecord {
                IncomingRecord(record: record, original: Array(try RecordDecoder.encode(record)),
                               coordinates: KafkaCoordinates(topic: SourceTopics.defaults[record.kind] ?? "", partition: 0, offset: Int64(n)),
                               sender: sender, person: .new(local: 1))
            }
            let result = try await store.apply(StoreBatch(
                records: [try incoming(.insuranceCard(card), "bhxh_lt_hn"), try incoming(visit, "01001_lt_bvbm")],
                identity: [.newPerson(local: 1, Demographics(fullName: "Lê Thị Hoa", birthDate: "1985-03-12", sex: 2)),
                           .addIdentifier(.new(local: 1), IdentifierEntry(.personalId, personalID, source: "test")),
                           .addIdentifier(.new(local: 1), IdentifierEntry(.bhxhNumber, bhxh, source: "test"))],
                outbox: [PersonChange(reason: .record).message(kind: OutboxKinds.insuranceSupplement, for: .new(local: 1))]))
            persons.append(try XCTUnwrap(result.newPersons[1]))
        }
        let rows = try await store.pendingOutbox(kind: OutboxKinds.insuranceSupplement, limit: 10)
        XCTAssertEqual(rows.map(\.key), persons.map { String($0.rawValue) })
        let raw = try SQLiteConnection(path: location)
        // Person 2's row: a well-formed ciphertext under another key with the same key id.
        let wrongKey = FieldCipher(keys: KeyRing(activeKeyID: keys.activeKeyID, encryptionKeys: [keys.activeKeyID: Array(repeating: 1, count: 32)],
                                                 blindIndexKey: Array(repeating: 2, count: 32)))
        try raw.execute("UPDATE outbox SET payload_enc = ? WHERE id = ?",
                        [.blob(try wrongKey.seal(rows[1].payload, column: "outbox.payload_enc", row: .id(rows[1].id))), .int(rows[1].id)])
        // Person 3: one byte of the demographics ciphertext flipped, so the person cannot be read.
        var damaged = try XCTUnwrap(try raw.queryOne("SELECT demographics_enc FROM person WHERE id = ?", [.int(persons[2].rawValue)])?.blob(0))
        damaged[damaged.count - 1] ^= 0xff
        try raw.execute("UPDATE person SET demographics_enc = ? WHERE id = ?", [.blob(damaged), .int(persons[2].rawValue)])
        raw.close()

        let lines = LogLines()
        let sync = InsuranceSync(configuration: InsuranceSyncConfiguration(bootstrapServers: "127.0.0.1:9"), store: store, log: lines.log)
        try await sync.decide()
        let planned = try await store.pendingSupplements(limit: 10)
        XCTAssertEqual(planned.map(\.bhxhNumber), ["9900000001"], "the good person is decided")
        let pending = try await store.pendingOutbox(kind: OutboxKinds.insuranceSupplement, limit: 10)
        XCTAssertEqual(pending, [], "the bad rows are not pending any more: never retried")
        try await sync.decide()
        XCTAssertEqual(sync.counters.snapshot.outboxRows, 1, "quarantined rows are not counted as decided")
        let listed = try await store.quarantinedOutbox(kind: OutboxKinds.insuranceSupplement, limit: 10)
        XCTAssertEqual(listed.map(\.id), [rows[1].id, rows[2].id])
        XCTAssertEqual(listed.map(\.code), ["outbox.unreadable", "person.unreadable"])
        let logged = lines.all.filter { $0.contains("insurance.outbox.quarantined") }
        XCTAssertEqual(logged.count, 2, "\(lines.all)")
        XCTAssertTrue(logged.contains { $0.contains("\"id\":\(rows[1].id)") && $0.contains("outbox.unreadable") }, "\(logged)")
        XCTAssertTrue(logged.contains { $0.contains("\"id\":\(rows[2].id)") && $0.contains("person.unreadable") }, "\(logged)")
        for secret in ["9900000002", "001185000102", "Lê Thị Hoa"] {
            XCTAssertFalse(lines.all.joined().contains(secret), "the log never carries \(secret)")
        }
        let samples = try PrometheusParser.samples(PrometheusText.render(sync.metricFamilies()))
        XCTAssertEqual(samples[#"hssk_outbox_quarantined_total{code="outbox.unreadable"}"#], 1)
        XCTAssertEqual(samples[#"hssk_outbox_quarantined_total{code="person.unreadable"}"#], 1)
        await store.close()
    }
}
