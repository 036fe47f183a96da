import Foundation
import HealthModel
@testable import RecordStore
import XCTest

/// Ciphertexts are bound to their row as well as their column (DESIGN §9): someone with write access to
/// the database cannot swap two rows' ciphertexts unnoticed, and stores written before the binding are
/// bound when they are first opened.
extension StoreContract {
    /// A store with a ciphertext in every encrypted column: two persons (demographics, identifiers), a
    /// visit of each, a review task, outbox rows, two dead letters, a card and its state, supplements
    /// (one answered with a reason), two accounts with signing keys.
    func storeWithEveryCiphertext() async throws -> (store: any HealthRecordStore, location: String, a: PersonID, b: PersonID) {
        let (store, location, a) = try await seeded()
        func letter(_ offset: Int64) -> DeadLetterDraft {
            DeadLetterDraft(source: KafkaCoordinates(topic: "hssk.visits.v1", partition: 0, offset: offset), topic: "hssk.visits.v1.dlq",
                            code: "signature.invalid", letter: Array("dead letter \(offset)".utf8))
        }
        let other = Fixtures.patient("Trần Thị Bình", personalID: "001190000002", phone: nil)
        let result = try await store.apply(StoreBatch(
            records: [try Fixtures.incoming(Fixtures.visit("LK-2", patient: other), offset: 1, person: .new(local: 1)),
                      IncomingRecord(record: .insuranceCard(Fixtures.card()), original: Array(try RecordDecoder.encode(Fixtures.card())),
                                     coordinates: KafkaCoordinates(topic: "hssk.insurance.cards.v1", partition: 0, offset: 0),
                                     sender: "bhxh_lt_hn", person: .existing(a))],
            identity: [.newPerson(local: 1, Demographics(fullName: "Trần Thị Bình", birthDate: "1990", sex: 2)),
                       .addIdentifier(.new(local: 1), IdentifierEntry(.personalId, "001190000002", source: "01001:LK-2")),
                       .openReview(ReviewTaskDraft(kind: "possibleDuplicate", persons: [.existing(a), .new(local: 1)], evidence: "name 0.91"))],
            outbox: [OutboxMessage(kind: "citizen-feed", key: .person(.new(local: 1)), payload: Array("{\"b\":true}".utf8))],
            offsets: [Fixtures.offset(4, from: 1),
                      ConsumerOffset(group: "hssk-ingest", partition: TopicPartition("hssk.insurance.cards.v1", 0), from: 0, nextOffset: 1, records: 1)],
            deadLetters: [letter(2), letter(3)]))
        let b = try XCTUnwrap(result.newPersons[1])
        let planned = try await store.planSupplements([
            SupplementDraft(supplementID: "S1", bhxhNumber: Plain.bhxh, field: "phone", value: Plain.phone, payload: Array("{\"s\":1}".utf8)),
            SupplementDraft(supplementID: "S2", bhxhNumber: Plain.bhxh, field: "personalId", value: Plain.personalID, payload: Array("{\"s\":2}".utf8)),
        ], outboxDone: [])
        XCTAssertEqual(planned.count, 2)
        _ = try await store.recordSupplementAnswers([SupplementAnswer(supplementID: "S1", accepted: false, reasonCode: "DT01", reason: "Sai số")],
                                                    deadLetters: [],
                                                    offsets: [ConsumerOffset(group: "hssk-insurance-sync", partition: TopicPartition("hssk.insurance.acks.v1", 0),
                                                                             from: 0, nextOffset: 1, records: 1)],
                                                    actor: "test")
        for (name, key) in [("01001_lt_bnv", "signing-key-bnv"), ("01002_lt_xp", "signing-key-xp")] {
            let created = try await store.createAccount(InteropAccount(name: name, facility: String(name.prefix(5)), signingKey: Array(key.utf8)),
                                                        actor: "op.lan")
            XCTAssertTrue(created)
        }
        return (store, location, a, b)
    }

    /// Swaps `column` of the rows `first` and `second` of `table` with a raw connection.
    private func swap(_ raw: SQLConnection, _ table: String, _ column: String, _ first: Int64, _ second: Int64) throws {
        let a = try XCTUnwrap(try raw.queryOne("SELECT \(column) FROM \(table) WHERE id = ?", [.int(first)])?[0])
        let b = try XCTUnwrap(try raw.queryOne("SELECT \(column) FROM \(table) WHERE id = ?", [.int(second)])?[0])
        XCTAssertNotEqual(a, b)
        try raw.execute("UPDATE \(table) SET \(column) = ? WHERE id = ?", [b, .int(first)])
        try raw.execute("UPDATE \(table) SET \(column) = ? WHERE id = ?", [a, .int(second)])
    }

    private func isIntegrity(_ error: StoreError) -> Bool { if case .integrity = error { return true } else { return false } }

    /// Two rows' ciphertexts of the same column swapped: both rows fail to read with `.integrity`, and
    /// verify names the table, column and both rows. Swapped back, everything reads again.
    func swappedCiphertextsAreDetected() async throws {
        let (store, location, a, b) = try await storeWithEveryCiphertext()
        let raw = try fixture.rawConnection(location)
        let records = try raw.query("SELECT id FROM source_record WHERE topic = 'hssk.visits.v1' ORDER BY id", []).map { try $0.int(0) }
        let accounts = try raw.query("SELECT id FROM account ORDER BY name", []).map { try $0.int(0) }
        let letters = try raw.query("SELECT id FROM dead_letter ORDER BY id", []).map { try $0.int(0) }
        XCTAssertEqual([records.count, accounts.count, letters.count], [2, 2, 2])
        let swaps: [(table: String, column: String, rows: [Int64])] = [
            ("person", "demographics_enc", [a.rawValue, b.rawValue]), ("source_record", "original_enc", records),
            ("account", "signing_key_enc", accounts), ("dead_letter", "letter_enc", letters),
        ]
        for (table, column, rows) in swaps { try swap(raw, table, column, rows[0], rows[1]) }

        for person in [a, b] { await assertStoreError({ try await store.person(person) }, isIntegrity) }
        for key in ["01001:LK-1", "01001:LK-2"] {
            await assertStoreError({ try await store.sourceVersions(topic: "hssk.visits.v1", key: key) }, isIntegrity)
        }
        for name in ["01001_lt_bnv", "01002_lt_xp"] { await assertStoreError({ try await store.account(named: name) }, isIntegrity) }
        // A letter that cannot be decrypted comes back without its bytes (the relay sets it aside).
        let swappedLetters = try await store.undeliveredDeadLetters(group: "hssk-ingest", limit: 10, maxBytes: 1 << 20)
        XCTAssertEqual(swappedLetters.map(\.letter), [nil, nil])
        let report = try await store.verify()
        let expected = swaps.flatMap { swap in swap.rows.map { "\(swap.table).\(swap.column) row \($0):" } }
        XCTAssertEqual(report.problems.count, expected.count, "\(report.problems)")
        for prefix in expected {
            XCTAssertTrue(report.problems.contains { $0.hasPrefix(prefix) }, "\(prefix) not in \(report.problems)")
        }

        for (table, column, rows) in swaps { try swap(raw, table, column, rows[0], rows[1]) }
        raw.close()
        let person = try await store.person(a)
        XCTAssertEqual(person?.demographics?.fullName, Plain.name)
        let account = try await store.account(named: "01002_lt_xp")
        XCTAssertEqual(account?.signingKey, Array("signing-key-xp".utf8))
        let letters2 = try await store.undeliveredDeadLetters(group: "hssk-ingest", limit: 10, maxBytes: 1 << 20)
        XCTAssertEqual(letters2.map(\.letter), [Array("dead letter 2".utf8), Array("dead letter 3".utf8)])
        let clean = try await store.verify()
        XCTAssertEqual(clean.problems, [])
        await store.close()
    }

    /// After key rotation every ciphertext is under the new key and still bound to its row.
    func rotationKeepsRowBinding() async throws {
        let (store, location, a, b) = try await storeWithEveryCiphertext()
        await store.close()
        var keys = Fixtures.keys
        let newID = try keys.addActiveKey()
        let rotated = try await open(location, keys: keys)
        let report = try await rotated.reencrypt(batchSize: 3)
        XCTAssertGreaterThan(report.reencrypted, 15)
        let verified = try await rotated.verify()
        XCTAssertEqual(verified.problems, [])
        XCTAssertEqual(Array(verified.keyUsage.keys), [newID])
        let raw = try fixture.rawConnection(location)
        try swap(raw, "person", "demographics_enc", a.rawValue, b.rawValue)
        raw.close()
        await assertStoreError({ try await rotated.person(a) }, isIntegrity)
        let swapped = try await rotated.verify()
        XCTAssertEqual(swapped.problems.count, 2, "\(swapped.problems)")
        XCTAssertTrue(swapped.problems.contains { $0.hasPrefix("person.demographics_enc row \(a.rawValue):") }, "\(swapped.problems)")
        XCTAssertTrue(swapped.problems.contains { $0.hasPrefix("person.demographics_enc row \(b.rawValue):") }, "\(swapped.problems)")
        await rotated.close()
    }

    /// A store written before ciphertexts were bound to rows (every ciphertext in format 1) opens, is
    /// bound on open and reads as before; afterwards a swap is detected. A format-1 ciphertext that does
    /// not authenticate is left as it was (its plaintext is unknown) and verify reports it; one written
    /// after the migration is refused and reported as column-bound.
    func columnBoundStoreIsBoundOnOpen() async throws {
        let (store, location, a, b) = try await storeWithEveryCiphertext()
        let before = try await store.verify()
        XCTAssertEqual(before.problems, [])
        await store.close()
        XCTAssertEqual(Set(ColumnBoundCiphertexts.columns.map { "\($0.table).\($0.column)" }),
                       Set(Migrations.encryptedColumns.map { "\($0.table).\($0.column)" }), "the test covers every encrypted column")
        var raw = try fixture.rawConnection(location)
        let rewritten = try ColumnBoundCiphertexts.downgrade(raw, keys: Fixtures.keys)
        XCTAssertEqual(rewritten, before.ciphertexts)
        // One old ciphertext is damaged: the migration cannot re-seal it and must not stop the store.
        let review = try XCTUnwrap(try raw.queryOne("SELECT id, evidence_enc FROM review_task ORDER BY id LIMIT 1", []))
        var damaged = try review.blob(1)
        damaged[damaged.count - 1] ^= 0x01
        try raw.execute("UPDATE review_task SET evidence_enc = ? WHERE id = ?", [.blob(damaged), review[0]])
        raw.close()

        let migrated = try await open(location)
        let report = try await migrated.verify()
        XCTAssertEqual(report.schemaVersion, Migrations.currentVersion)
        XCTAssertEqual(report.ciphertexts, rewritten - 1)
        XCTAssertEqual(report.problems.count, 1, "\(report.problems)")
        XCTAssertEqual(report.columnBound, 1, "the damaged one stays column-bound")
        XCTAssertTrue(report.problems.first?.hasPrefix("review_task.evidence_enc row \(try review.int(0)):") ?? false, "\(report.problems)")
        // Everything else reads as before.
        let person = try await migrated.person(a)
        XCTAssertEqual(person?.demographics?.fullName, Plain.name)
        XCTAssertEqual(person?.identifiers.map(\.value).sorted(), [Plain.personalID, Plain.phone].sorted())
        let versions = try await migrated.sourceVersions(topic: "hssk.visits.v1", key: "01001:LK-2")
        XCTAssertEqual(versions.count, 1)
        let account = try await migrated.account(named: "01001_lt_bnv")
        XCTAssertEqual(account?.signingKey, Array("signing-key-bnv".utf8))
        let letters = try await migrated.undeliveredDeadLetters(group: "hssk-ingest", limit: 10, maxBytes: 1 << 20)
        XCTAssertEqual(letters.map(\.letter), [Array("dead letter 2".utf8), Array("dead letter 3".utf8)])
        let card = try await migrated.insuranceCard(bhxhNumber: Plain.bhxh)
        XCTAssertEqual(card?.state.bhxhNumber, Plain.bhxh)
        let supplements = try await migrated.supplements(ids: ["S1", "S2"])
        XCTAssertEqual(supplements["S1"]?.reason, "Sai số")
        XCTAssertEqual(supplements["S2"]?.value, Plain.personalID)
        let outbox = try await migrated.pendingOutbox(kind: "citizen-feed", limit: 10)
        XCTAssertEqual(outbox.map(\.payload), [Array("{\"changed\":true}".utf8), Array("{\"b\":true}".utf8)])

        // Now a swap is detected, and a column-bound ciphertext written after the migration is refused.
        raw = try fixture.rawConnection(location)
        try swap(raw, "person", "demographics_enc", a.rawValue, b.rawValue)
        let letterID = try XCTUnwrap(try raw.queryOne("SELECT MIN(id) FROM dead_letter", [])?.int(0))
        try raw.execute("UPDATE dead_letter SET letter_enc = ? WHERE id = ?",
                        [.blob(try ColumnBoundCiphertexts.seal(Array("dead letter 2".utf8), column: "dead_letter.letter_enc", keys: Fixtures.keys)),
                         .int(letterID)])
        raw.close()
        await assertStoreError({ try await migrated.person(b) }, isIntegrity)
        let planted = try await migrated.undeliveredDeadLetters(group: "hssk-ingest", limit: 10, maxBytes: 1 << 20)
        XCTAssertNil(planted.first?.letter, "a column-bound letter planted after the migration is not read")
        let after = try await migrated.verify()
        // The damaged review task is still reported, beside the swapped persons and the planted letter.
        XCTAssertEqual(after.problems.count, 4, "\(after.problems)")
        XCTAssertEqual(after.columnBound, 2)
        for prefix in ["person.demographics_enc row \(a.rawValue):", "person.demographics_enc row \(b.rawValue):",
                       "dead_letter.letter_enc row \(letterID):", "review_task.evidence_enc row \(try review.int(0)):"] {
            XCTAssertTrue(after.problems.contains { $0.hasPrefix(prefix) }, "\(prefix) not in \(after.problems)")
        }
        XCTAssertTrue(after.problems.contains { $0.hasPrefix("dead_letter.letter_enc row \(letterID):") && $0.contains("column-bound") },
                      "\(after.problems)")
        await migrated.close()
    }

    /// An old store opened with the wrong key file is refused before anything is rewritten (the
    /// migration would otherwise take every ciphertext for damaged and leave it column-bound for good);
    /// with the right keys it is then bound as usual.
    func wrongKeyLeavesAnOldStoreUntouched() async throws {
        let (store, location, a, b) = try await storeWithEveryCiphertext()
        await store.close()
        var raw = try fixture.rawConnection(location)
        try ColumnBoundCiphertexts.downgrade(raw, keys: Fixtures.keys)
        raw.close()
        let before = try await digest(location)
        let wrong = KeyRing(activeKeyID: "k1", encryptionKeys: ["k1": Array(repeating: 8, count: 32)], blindIndexKey: Fixtures.keys.blindIndexKey)
        await assertStoreError({ try await open(location, keys: wrong) }) { if case .wrongKey = $0 { return true } else { return false } }
        let after = try await digest(location)
        XCTAssertEqual(before, after, "nothing was rewritten")
        let migrated = try await open(location)
        let report = try await migrated.verify()
        XCTAssertEqual(report.problems, [])
        XCTAssertEqual(report.columnBound, 0)
        await migrated.close()
        raw = try fixture.rawConnection(location)
        try swap(raw, "person", "demographics_enc", a.rawValue, b.rawValue)
        raw.close()
        let reopened = try await open(location)
        await assertStoreError({ try await reopened.person(a) }, isIntegrity)
        await reopened.close()
    }

    /// Every encrypted column's bytes and the schema version, read with a raw connection.
    private func digest(_ location: String) async throws -> [String] {
        let raw = try fixture.rawConnection(location)
        defer { raw.close() }
        var out = [try raw.queryOne("SELECT value FROM schema_meta WHERE name = 'schema_version'", [])?.text(0) ?? "none"]
        for (table, column, _) in ColumnBoundCiphertexts.columns {
            out += try raw.query("SELECT id, \(column) FROM \(table) ORDER BY id", []).map { "\(table).\(column) \($0[0]) \($0[1])" }
        }
        return out
    }

    /// A store bound only in part (a migration interrupted between batches, or some tables written
    /// after it) is bound completely on the next open; reopening an up-to-date store changes nothing.
    func partlyBoundStoreIsCompletedOnOpen() async throws {
        let (store, location, a, b) = try await storeWithEveryCiphertext()
        await store.close()
        let raw = try fixture.rawConnection(location)
        let rewritten = try ColumnBoundCiphertexts.downgrade(raw, keys: Fixtures.keys, tables: ["person", "account"])
        XCTAssertEqual(rewritten, 4)
        raw.close()
        let migrated = try await open(location)
        let report = try await migrated.verify()
        XCTAssertEqual(report.problems, [])
        let digest = try await migrated.contentDigest()
        await migrated.close()
        // Re-running the step on a bound store (as the schema tests do) rewrites nothing.
        let again = try fixture.rawConnection(location)
        try again.execute("UPDATE schema_meta SET value = '8' WHERE name = 'schema_version'", [])
        again.close()
        let reopened = try await open(location)
        var same = try await reopened.contentDigest()
        same["schema_meta"] = digest["schema_meta"]
        XCTAssertEqual(same, digest)
        let swapRaw = try fixture.rawConnection(location)
        let accounts = try swapRaw.query("SELECT id FROM account ORDER BY id", []).map { try $0.int(0) }
        try swap(swapRaw, "account", "signing_key_enc", accounts[0], accounts[1])
        try swap(swapRaw, "person", "demographics_enc", a.rawValue, b.rawValue)
        swapRaw.close()
        await assertStoreError({ try await reopened.account(named: "01001_lt_bnv") }, isIntegrity)
        await assertStoreError({ try await reopened.person(a) }, isIntegrity)
        await reopened.close()
    }
}
