import Foundation
import HealthModel
@testable import RecordStore
import XCTest

/// The outbox when a row is damaged (DESIGN §6: one bad row is quarantined, never a stop).
extension StoreContract {
    /// A row whose payload fails authentication is read with its problem, not thrown; quarantining it
    /// takes it out of the pending rows for good, records the code and audits it. A key id missing
    /// from the key file concerns every row under it: that read still fails.
    func outboxQuarantine() async throws {
        let (store, location, person) = try await seeded()
        _ = try await store.apply(StoreBatch(outbox: (1...3).map {
            OutboxMessage(kind: OutboxKinds.citizenFeed, key: .person(.existing(person)), payload: Array("{\"n\":\($0)}".utf8))
        }))
        let rows = try await store.pendingOutbox(kind: OutboxKinds.citizenFeed, limit: 10)
        XCTAssertEqual(rows.count, 4)
        let raw = try fixture.rawConnection(location)
        defer { raw.close() }
        var damaged = try XCTUnwrap(try raw.queryOne("SELECT payload_enc FROM outbox WHERE id = ?", [.int(rows[2].id)])?.blob(0))
        damaged[damaged.count - 1] ^= 0xff
        try raw.execute("UPDATE outbox SET payload_enc = ? WHERE id = ?", [.blob(damaged), .int(rows[2].id)])

        let read = try await store.pendingOutbox(kind: OutboxKinds.citizenFeed, limit: 10)
        XCTAssertEqual(read.map(\.id), rows.map(\.id))
        XCTAssertEqual(read.map { $0.problem == nil }, [true, true, false, true])
        guard case .integrity? = read[2].problem else { return XCTFail("\(String(describing: read[2].problem))") }
        XCTAssertEqual(read[2].payload, [])
        XCTAssertEqual(read[3].payload, Array("{\"n\":3}".utf8))

        let quarantined = try await store.quarantineOutbox([rows[2].id], code: "outbox.unreadable", actor: "feed-publisher")
        XCTAssertEqual(quarantined, 1)
        try await store.markOutboxDone([rows[0].id])
        let again = try await store.quarantineOutbox([rows[2].id, rows[0].id], code: "other", actor: "feed-publisher")
        XCTAssertEqual(again, 0, "rows already quarantined or done are left alone")
        let pending = try await store.pendingOutbox(kind: OutboxKinds.citizenFeed, limit: 10)
        XCTAssertEqual(pending.map(\.id), [rows[1].id, rows[3].id])
        let backlog = try await store.outboxBacklog(kind: OutboxKinds.citizenFeed)
        XCTAssertEqual(backlog, 2)
        let listed = try await store.quarantinedOutbox(kind: OutboxKinds.citizenFeed, limit: 10)
        XCTAssertEqual(listed.map(\.id), [rows[2].id])
        XCTAssertEqual(listed.map(\.code), ["outbox.unreadable"])
        XCTAssertEqual(listed.map(\.key), [String(person.rawValue)])
        XCTAssertEqual(listed.first?.kind, OutboxKinds.citizenFeed)
        let otherKind = try await store.quarantinedOutbox(kind: OutboxKinds.insuranceSupplement, limit: 10)
        XCTAssertEqual(otherKind, [])
        let audited = try raw.query("SELECT actor, subject, detail FROM audit_log WHERE action = 'quarantine'", [])
            .map { "\(try $0.text(0)) \(try $0.text(1)) \(try $0.text(2))" }
        XCTAssertEqual(audited, ["feed-publisher outbox:\(rows[2].id) code=outbox.unreadable"])
        // verify still reports the damaged ciphertext, and only it; the audit chain holds.
        let report = try await store.verify()
        XCTAssertEqual(report.problems.count, 1, "\(report.problems)")
        XCTAssertTrue(report.problems.first?.hasPrefix("outbox.payload_enc row \(rows[2].id):") ?? false, "\(report.problems)")

        let foreign = FieldCipher(keys: KeyRing(activeKeyID: "k9", encryptionKeys: ["k9": Array(repeating: 3, count: 32)],
                                                blindIndexKey: Array(repeating: 9, count: 32)))
        try raw.execute("UPDATE outbox SET payload_enc = ? WHERE id = ?",
                        [.blob(try foreign.seal([1], column: "outbox.payload_enc", row: .id(rows[3].id))), .int(rows[3].id)])
        await assertStoreError({ try await store.pendingOutbox(kind: OutboxKinds.citizenFeed, limit: 10) }) {
            if case .missingKey = $0 { return true } else { return false }
        }
        await store.close()
    }
}
