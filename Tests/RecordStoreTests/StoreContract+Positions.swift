import Foundation
import HealthModel
@testable import RecordStore
import XCTest

/// Consumer positions that never skip, the ranges `verify` checks, accepted gaps and the dead
/// letters written with a batch, on both backends (issue #16).
extension StoreContract {
    private var partition: TopicPartition { TopicPartition("hssk.visits.v1", 0) }

    private func batch(_ episodes: [String], from: Int64, group: String = "hssk-ingest") throws -> StoreBatch {
        let records = try episodes.enumerated().map { try Fixtures.incoming(Fixtures.visit($1), offset: from + Int64($0)) }
        return StoreBatch(records: records, offsets: [Fixtures.offset(from + Int64(episodes.count), from: from, group: group)])
    }

    /// A batch that starts after the stored position would skip the records in between: refused,
    /// like one that starts before it. (The old fence, `stored <= first offset`, accepted it: that
    /// is how a rebalance mid-batch lost 285 records.)
    func positionsNeverSkip() async throws {
        let store = try await open(try await fixture.freshLocation())
        _ = try await store.apply(try batch(["LK-1", "LK-2", "LK-3"], from: 0))
        await assertStoreError({ try await store.apply(try batch(["LK-9"], from: 5)) }) {
            if case .offsetMoved = $0 { return true } else { return false }
        }
        await assertStoreError({ try await store.apply(try batch(["LK-9"], from: 2)) }) {
            if case .offsetMoved = $0 { return true } else { return false }
        }
        let skipped = try await store.sourceVersions(topic: "hssk.visits.v1", key: "01001:LK-9")
        XCTAssertTrue(skipped.isEmpty, "a refused batch leaves nothing behind")
        // A record (or dead letter) outside the offsets its batch moves would escape the fence.
        var stray = try batch(["LK-8"], from: 3)
        stray.records.append(try Fixtures.incoming(Fixtures.visit("LK-STRAY"), offset: 0, partition: 1))
        await assertStoreError({ try await store.apply(stray) }) { if case .invalidRequest = $0 { return true } else { return false } }
        stray = try batch(["LK-8"], from: 3)
        stray.deadLetters = [DeadLetterDraft(source: KafkaCoordinates(topic: "hssk.visits.v1", partition: 0, offset: 9), topic: "hssk.visits.v1.dlq",
                                             code: "x", letter: [1])]
        await assertStoreError({ try await store.apply(stray) }) { if case .invalidRequest = $0 { return true } else { return false } }
        _ = try await store.apply(try batch(["LK-4"], from: 3))
        let stored = try await store.offsets(group: "hssk-ingest", partitions: [partition])
        XCTAssertEqual(stored[partition], 4)
        let ranges = try await store.consumerRanges(group: "hssk-ingest")
        XCTAssertEqual(ranges.map { "\($0.kind.rawValue) \($0.from)..<\($0.next) \($0.records)" }, ["batch 0..<4 4"], "contiguous batches make one run")
        let report = try await store.verify()
        XCTAssertEqual(report.problems, [])
        await store.close()
    }

    /// `verify` finds what the store's positions do not account for: the loss the issue describes
    /// (a position moved from 238 to 522 while only records from 500 were stored), a run that
    /// claims more records than are held, and offsets with no record.
    func verifyFindsGapsInPositions() async throws {
        let location = try await fixture.freshLocation()
        let store = try await open(location)
        _ = try await store.apply(try batch(["LK-1", "LK-2"], from: 0))
        var report = try await store.verify()
        XCTAssertEqual(report.problems, [])
        await store.close()

        // Written as the old code would have: the position jumps past records never stored.
        let raw = try fixture.rawConnection(location)
        try raw.execute("""
            INSERT INTO consumer_range (group_id, topic, kafka_partition, from_offset, next_offset, kind, records, absorbed, created_at, updated_at)
            VALUES ('hssk-ingest', 'hssk.visits.v1', 0, 238, 522, 'batch', 22, 0, 'x', 'x')
            """, [])
        try raw.execute("UPDATE consumer_offset SET next_offset = 522", [])
        raw.close()
        let reopened = try await open(location)
        report = try await reopened.verify()
        XCTAssertTrue(report.problems.contains { $0.contains("0..<2") && $0.contains("238..<522") && $0.contains("do not meet") }, "\(report.problems)")
        XCTAssertTrue(report.problems.contains { $0.contains("238..<522") && $0.contains("delivered 22 records") }, "\(report.problems)")
        XCTAssertTrue(report.problems.contains { $0.contains("238..<522") && $0.contains("262 offsets hold no delivered record") }, "\(report.problems)")
        await reopened.close()
    }

    /// An operator accepts records that expired before they were read: only from exactly the stored
    /// position, recorded as a gap run and audited; `verify` stays clean.
    func acceptedGapIsRecorded() async throws {
        let location = try await fixture.freshLocation()
        let store = try await open(location)
        _ = try await store.apply(try batch(["LK-1"], from: 0))
        await assertStoreError({
            try await store.acceptGap(group: "hssk-ingest", partition: self.partition, from: 5, to: 90, actor: "op.lan", reason: "expired")
        }) { if case .offsetMoved = $0 { return true } else { return false } }
        await assertStoreError({
            try await store.acceptGap(group: "hssk-ingest", partition: self.partition, from: 1, to: 90, actor: "op.lan", reason: "  ")
        }) { if case .invalidRequest = $0 { return true } else { return false } }
        try await store.acceptGap(group: "hssk-ingest", partition: partition, from: 1, to: 90, actor: "op.lan",
                                  reason: "ingest down 9 days; BV Bạch Mai re-sends 1–89")
        let stored = try await store.offsets(group: "hssk-ingest", partitions: [partition])
        XCTAssertEqual(stored[partition], 90)
        _ = try await store.apply(try batch(["LK-90"], from: 90))
        let ranges = try await store.consumerRanges(group: "hssk-ingest")
        XCTAssertEqual(ranges.map { "\($0.kind.rawValue) \($0.from)..<\($0.next)" }, ["batch 0..<1", "gap 1..<90", "batch 90..<91"])
        XCTAssertEqual(ranges[1].detail, "accepted by op.lan: ingest down 9 days; BV Bạch Mai re-sends 1–89")
        let report = try await store.verify()
        XCTAssertEqual(report.problems, [])
        await store.close()
        let raw = try fixture.rawConnection(location)
        defer { raw.close() }
        let audit = try raw.query("SELECT actor, subject FROM audit_log WHERE action = 'acceptGap'", [])
        XCTAssertEqual(audit.map { "\($0[0].text ?? "") \($0[1].text ?? "")" }, ["op.lan hssk-ingest hssk.visits.v1/0"])
    }

    /// A topic recreated under the group: the operator moves the position back (`--reset-to`), and
    /// the new log's records at offsets the old one used are stored and dead-lettered again, in runs
    /// of their own; `verify` tells the two logs apart (the old log's rows stay where they were).
    func backwardResetStartsANewLog() async throws {
        let location = try await fixture.freshLocation()
        let store = try await open(location)
        func letter(_ offset: Int64) -> DeadLetterDraft {
            DeadLetterDraft(source: KafkaCoordinates(topic: "hssk.visits.v1", partition: 0, offset: offset), topic: "hssk.visits.v1.dlq",
                            code: "signature.invalid", letter: [UInt8(offset)])
        }
        var old = try batch(["LK-1", "LK-2"], from: 0)
        old.offsets = [Fixtures.offset(3, from: 0)]
        old.deadLetters = [letter(2)]
        _ = try await store.apply(old)
        try await store.acceptGap(group: "hssk-ingest", partition: partition, from: 3, to: 5, actor: "op.lan", reason: "expired")
        try await Task.sleep(for: .milliseconds(20))  // apart in time, for the upgrade below
        try await store.acceptGap(group: "hssk-ingest", partition: partition, from: 5, to: 0, actor: "op.lan", reason: "topic recreated")
        try await Task.sleep(for: .milliseconds(20))
        var new = try batch(["LK-N1", "LK-N2"], from: 0)
        new.offsets = [Fixtures.offset(3, from: 0)]
        new.deadLetters = [letter(2)]
        _ = try await store.apply(new)
        _ = try await store.apply(try batch(["LK-N3"], from: 3))
        let ranges = try await store.consumerRanges(group: "hssk-ingest")
        XCTAssertEqual(ranges.map { "\($0.kind.rawValue) \($0.from)..<\($0.next) \($0.records)" },
                       ["batch 0..<3 3", "gap 3..<5 0", "reset 5..<0 0", "batch 0..<4 4"], "only the new log's run grows")
        let letters = try await store.undeliveredDeadLetters(group: "hssk-ingest", limit: 10, maxBytes: 1 << 20)
        XCTAssertEqual(letters.map(\.source.offset), [2, 2], "both logs' letters are kept and sent")
        var report = try await store.verify()
        XCTAssertEqual(report.problems, [])
        await store.close()

        // A reset accepted before schema 10 (no bound, letters unnamed): the upgrade finds them by time.
        let raw = try fixture.rawConnection(location)
        try raw.execute("UPDATE consumer_range SET source_record_bound = NULL", [])
        try raw.execute("DROP INDEX dead_letter_source_current", [])
        try raw.execute("UPDATE dead_letter SET reset_range_id = NULL", [])
        try raw.execute("UPDATE schema_meta SET value = '9' WHERE name = 'schema_version'", [])
        raw.close()
        let upgraded = try await open(location)
        report = try await upgraded.verify()
        XCTAssertEqual(report.problems, [])
        await upgraded.close()
    }

    /// Dead letters are written with their batch (encrypted), one per record; a lease lets one
    /// relay at a time produce them; a successor learns the marks of an unfinished round.
    func deadLettersAndRelayLease() async throws {
        let location = try await fixture.freshLocation()
        let store = try await open(location)
        let secret = Array("value with \(Plain.personalID)".utf8)
        func letter(_ offset: Int64) -> DeadLetterDraft {
            DeadLetterDraft(source: KafkaCoordinates(topic: "hssk.visits.v1", partition: 0, offset: offset), topic: "hssk.visits.v1.dlq",
                            code: "signature.invalid", letter: secret + [UInt8(offset)])
        }
        var first = try batch(["LK-1"], from: 0)
        first.offsets = [Fixtures.offset(3, from: 0)]
        first.deadLetters = [letter(1), letter(2)]
        _ = try await store.apply(first)
        var report = try await store.verify()
        XCTAssertEqual(report.problems, [], "1 stored + 2 dead letters account for the 3 offsets")
        XCTAssertEqual(occurrences(of: Plain.personalID, in: try fixture.rawBytes(location)), 0, "letters are encrypted at rest")

        // The same record cannot be dead-lettered twice: a batch cannot name a record outside the
        // offsets it moves (the fence keeps those from going back), and a unique index backs that.
        var again = try batch([], from: 3)
        again.offsets = [Fixtures.offset(4, from: 3)]
        again.deadLetters = [letter(1)]
        await assertStoreError({ try await store.apply(again) }) { if case .invalidRequest = $0 { return true } else { return false } }

        let lease = try await store.acquireRelayLease("relay", holder: "a", ttl: .seconds(30))
        XCTAssertEqual(lease, RelayLease(takeover: false))
        let refused = try await store.acquireRelayLease("relay", holder: "b", ttl: .seconds(30))
        XCTAssertNil(refused, "another holder's lease runs")
        let none = try await store.undeliveredDeadLetters(group: "hssk-insurance-sync", limit: 10, maxBytes: 1 << 20)
        XCTAssertTrue(none.isEmpty, "each group relays its own letters")
        let letters = try await store.undeliveredDeadLetters(group: "hssk-ingest", limit: 10, maxBytes: 1 << 20)
        XCTAssertEqual(letters.map(\.source.offset), [1, 2])
        XCTAssertEqual(letters.first?.letter, secret + [1])
        XCTAssertNil(letters.first?.sending)
        let smallPage = try await store.undeliveredDeadLetters(group: "hssk-ingest", limit: 10, maxBytes: 1)
        XCTAssertEqual(smallPage.count, 1, "a page holds at least one letter, and no more than its bytes allow")
        let marks = [DeadLetterMark(topic: "hssk.visits.v1.dlq", partition: 0, offset: 17)]
        await assertStoreError({ try await store.markDeadLettersSending(letters.map(\.id), marks: marks, lease: "relay", holder: "b", ttl: .seconds(30)) }) {
            if case .invalidRequest = $0 { return true } else { return false }
        }
        try await store.markDeadLettersSending(letters.map(\.id), marks: marks, lease: "relay", holder: "a", ttl: .seconds(30))
        try await store.markDeadLettersDelivered([DeadLetterDelivery(id: letters[0].id, partition: 0, offset: 17)], lease: "relay", holder: "a")
        var backlog = try await store.deadLetterBacklog(group: "hssk-ingest")
        XCTAssertEqual(backlog.undelivered, 1)
        XCTAssertNotNil(backlog.oldestAge)

        // Holder a stops mid-round; b takes over and finds the letter with the marks it was sent with.
        try await store.releaseRelayLease("relay", holder: "a")
        let takeover = try await store.acquireRelayLease("relay", holder: "b", ttl: .seconds(30))
        XCTAssertEqual(takeover, RelayLease(takeover: true))
        let unsure = try await store.undeliveredDeadLetters(group: "hssk-ingest", limit: 10, maxBytes: 1 << 20)
        XCTAssertEqual(unsure.map { $0.sending?.marks }, [marks])
        // The former holder can change nothing any more.
        await assertStoreError({ try await store.markDeadLettersPending(unsure.map(\.id), lease: "relay", holder: "a") }) {
            if case .invalidRequest = $0 { return true } else { return false }
        }
        try await store.markDeadLettersPending(unsure.map(\.id), lease: "relay", holder: "b")
        try await store.markDeadLetterFailed(unsure[0].id, reason: "MSG_SIZE_TOO_LARGE", lease: "relay", holder: "b")
        backlog = try await store.deadLetterBacklog(group: nil)
        XCTAssertEqual(backlog, DeadLetterBacklog(undelivered: 0, oldestAge: nil, failed: 1))
        report = try await store.verify()
        XCTAssertEqual(report.problems, [])

        // A letter sealed under a key the key file lacks (rotated out while running) waits: the page
        // is refused with the missing key, never set aside. A damaged one comes back unreadable, and so
        // does one naming a key this store was never written with (its key id was damaged).
        var more = try batch([], from: 3)
        more.offsets = [Fixtures.offset(5, from: 3)]
        more.deadLetters = [letter(3), letter(4)]
        _ = try await store.apply(more)
        let raw = try fixture.rawConnection(location)
        defer { raw.close() }
        let ids = try raw.query("SELECT id FROM dead_letter WHERE source_offset IN (3, 4) ORDER BY source_offset", []).map { try $0.int(0) }
        let damaged = try raw.queryOne("SELECT letter_enc FROM dead_letter WHERE id = ?", [.int(ids[0])])!.blob(0)
        try raw.execute("UPDATE dead_letter SET letter_enc = ? WHERE id = ?", [.blob(damaged.dropLast() + [damaged.last! ^ 1]), .int(ids[0])])
        var page = try await store.undeliveredDeadLetters(group: "hssk-ingest", limit: 10, maxBytes: 1 << 20)
        XCTAssertEqual(page.map { $0.letter == nil }, [true, false], "a damaged letter is unreadable, the next one reads")
        let foreign = FieldCipher(keys: KeyRing(activeKeyID: "k9", encryptionKeys: ["k9": Array(repeating: 3, count: 32)],
                                                blindIndexKey: Array(repeating: 9, count: 32)))
        try raw.execute("UPDATE dead_letter SET letter_enc = ? WHERE id = ?",
                        [.blob(try foreign.seal([1], column: "dead_letter.letter_enc", row: .id(ids[1]))), .int(ids[1])])
        page = try await store.undeliveredDeadLetters(group: "hssk-ingest", limit: 10, maxBytes: 1 << 20)
        XCTAssertEqual(page.map { $0.letter == nil }, [true, true], "no key 'k9' ever wrote this store: damaged")
        try raw.execute("INSERT INTO schema_meta (name, value) VALUES ('key_check:k9', '00')", [])
        await assertStoreError({ page = try await store.undeliveredDeadLetters(group: "hssk-ingest", limit: 10, maxBytes: 1 << 20) }) {
            if case .missingKey = $0 { return true } else { return false }
        }
        await store.close()
    }

    /// A store written before schema 5 keeps its positions: each gets one unchecked run.
    func positionsMigration() async throws {
        let (store, location, _) = try await seeded()
        await store.close()
        let raw = try fixture.rawConnection(location)
        for table in ["consumer_range", "dead_letter", "relay_lease"] { try raw.executeScript("DROP TABLE \(table)") }
        // A later step that cannot run twice (it adds a column) is undone too; the others re-run harmlessly.
        try raw.executeScript("ALTER TABLE insurance_supplement DROP COLUMN answer_received_at")
        try raw.execute("UPDATE schema_meta SET value = '4' WHERE name = 'schema_version'", [])
        raw.close()
        let reopened = try await open(location)
        let ranges = try await reopened.consumerRanges(group: nil)
        XCTAssertEqual(ranges.map { "\($0.group) \($0.kind.rawValue) \($0.from)..<\($0.next)" }, ["hssk-ingest before-schema-5 0..<1"])
        _ = try await reopened.apply(try batch(["LK-7"], from: 1))
        let report = try await reopened.verify()
        XCTAssertEqual(report.problems, [])
        XCTAssertEqual(report.schemaVersion, Migrations.currentVersion)
        await reopened.close()
    }
}
