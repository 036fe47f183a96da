import Foundation
import HealthModel
@testable import RecordStore
import XCTest

/// The one behavioural suite both backends must pass; `SQLiteStoreTests` and `PostgresStoreTests`
/// run every case against a real database.
struct StoreContract {
    let fixture: any BackendFixture

    func open(_ location: String, keys: KeyRing = Fixtures.keys) async throws -> any HealthRecordStore {
        try await RecordStores.open(location, keys: keys)
    }

    /// A store with one person (personal ID, blocking key) and one visit linked to them.
    func seeded() async throws -> (store: any HealthRecordStore, location: String, person: PersonID) {
        let location = try await fixture.freshLocation()
        let store = try await open(location)
        let result = try await store.apply(StoreBatch(
            records: [try Fixtures.incoming(Fixtures.visit("LK-1"), offset: 0, person: .new(local: 1))],
            identity: [.newPerson(local: 1, Demographics(fullName: Plain.name, birthDate: "1958-03-07", sex: 1, phone: Plain.phone)),
                       .addIdentifier(.new(local: 1), IdentifierEntry(.personalId, Plain.personalID, validFrom: "2016-01-01", source: "01001:LK-1")),
                       .addIdentifier(.new(local: 1), IdentifierEntry(.phone, Plain.phone, source: "01001:LK-1")),
                       .addBlockingKeys(.new(local: 1), ["nguyen|an|1958"])],
            outbox: [OutboxMessage(kind: "citizen-feed", key: .person(.new(local: 1)), payload: Array("{\"changed\":true}".utf8))],
            offsets: [Fixtures.offset(1)]))
        guard let person = result.newPersons[1] else { throw StoreError.backend("no person created") }
        return (store, location, person)
    }

    func batchIdentityLookup() async throws {
        let (store, _, person) = try await seeded()
        let second = try await store.apply(StoreBatch(
            identity: [.newPerson(local: 1, Demographics(fullName: "Trần Thị Bình", birthDate: "1990", sex: 2, communeCode: "00004")),
                       .addIdentifier(.new(local: 1), IdentifierEntry(.bhxhNumber, "0123456789", source: "test")),
                       .addBlockingKeys(.new(local: 1), ["nguyen|an|1958", "tran|binh|1990"])]))
        let other = try XCTUnwrap(second.newPersons[1])
        let lookup = try await store.lookupIdentity(
            identifiers: [IdentifierKey(.personalId, Plain.personalID), IdentifierKey(.bhxhNumber, "0123456789"), IdentifierKey(.bhxhNumber, "9999999999")],
            blockingKeys: ["nguyen|an|1958", "tran|binh|1990", "nobody|1900"], maxBlockSize: 10)
        XCTAssertEqual(lookup.holders[IdentifierKey(.personalId, Plain.personalID)]?.map(\.person), [person])
        XCTAssertEqual(lookup.holders[IdentifierKey(.bhxhNumber, "0123456789")]?.map(\.person), [other])
        XCTAssertNil(lookup.holders[IdentifierKey(.bhxhNumber, "9999999999")])
        XCTAssertEqual(lookup.blocks["nguyen|an|1958"], [person, other].sorted())
        XCTAssertEqual(lookup.blocks["tran|binh|1990"], [other])
        XCTAssertNil(lookup.blocks["nobody|1900"])
        XCTAssertEqual(lookup.persons[other]?.demographics?.communeCode, "00004")
        XCTAssertEqual(lookup.persons[person]?.identifiers.first { $0.type == .personalId }?.value, Plain.personalID)
        // A block over the size limit is left out; a merged person is reported as its survivor.
        let limited = try await store.lookupIdentity(identifiers: [], blockingKeys: ["nguyen|an|1958"], maxBlockSize: 1)
        XCTAssertNil(limited.blocks["nguyen|an|1958"])
        _ = try await store.merge(other, into: person, reason: "test", actor: "tester")
        let merged = try await store.lookupIdentity(identifiers: [IdentifierKey(.bhxhNumber, "0123456789")], blockingKeys: ["tran|binh|1990"], maxBlockSize: 10)
        XCTAssertEqual(merged.holders[IdentifierKey(.bhxhNumber, "0123456789")]?.map(\.person), [person])
        XCTAssertEqual(merged.blocks["tran|binh|1990"], [person])
        XCTAssertNil(merged.persons[other])
    }

    func processingAttempts() async throws {
        let store = try await open(try await fixture.freshLocation())
        let p0 = TopicPartition("hssk.visits.v1", 0), p1 = TopicPartition("hssk.visits.v1", 1)
        var counts = try await store.recordAttempts(group: "g", starts: [p0: 10, p1: 0])
        XCTAssertEqual(counts, [p0: 1, p1: 1])
        counts = try await store.recordAttempts(group: "g", starts: [p0: 10])
        XCTAssertEqual(counts, [p0: 2])
        counts = try await store.recordAttempts(group: "other", starts: [p0: 10])
        XCTAssertEqual(counts, [p0: 1], "groups count separately")
        counts = try await store.recordAttempts(group: "g", starts: [p0: 11, p1: 0])
        XCTAssertEqual(counts, [p0: 1, p1: 2], "a new offset restarts the count")
    }

    func offsetFencing() async throws {
        let store = try await open(try await fixture.freshLocation())
        let partition = TopicPartition("hssk.visits.v1", 0)
        func batch(_ episode: String, from: Int64, to: Int64) throws -> StoreBatch {
            StoreBatch(records: [try Fixtures.incoming(Fixtures.visit(episode), offset: from)],
                       offsets: [ConsumerOffset(group: "hssk-ingest", partition: partition, from: from, nextOffset: to, records: 1)])
        }
        _ = try await store.apply(try batch("LK-1", from: 0, to: 5))
        // A second consumer that read the same records before the rebalance reached it must not apply them.
        await assertStoreError({ try await store.apply(try batch("LK-2", from: 3, to: 6)) }) {
            if case .offsetMoved = $0 { return true } else { return false }
        }
        let lost = try await store.sourceVersions(topic: "hssk.visits.v1", key: "01001:LK-2")
        XCTAssertTrue(lost.isEmpty, "a fenced batch leaves nothing behind")
        _ = try await store.apply(try batch("LK-3", from: 5, to: 9))
        let offsets = try await store.offsets(group: "hssk-ingest", partitions: [partition])
        XCTAssertEqual(offsets[partition], 9)
    }

    func atomicBatchWithOffsets() async throws {
        let (store, _, person) = try await seeded()
        let offsets = try await store.offsets(group: "hssk-ingest", partitions: [TopicPartition("hssk.visits.v1", 0), TopicPartition("hssk.visits.v1", 1)])
        XCTAssertEqual(offsets, [TopicPartition("hssk.visits.v1", 0): 1])
        let before = try await store.contentDigest()
        // The last outbox message names a person the batch never creates: the batch fails after
        // records, a person and identifiers were written, and none of it may remain.
        let failing = StoreBatch(
            records: [try Fixtures.incoming(Fixtures.visit("LK-2"), offset: 1, person: .existing(person)),
                      try Fixtures.incoming(Fixtures.visit("LK-3"), offset: 2, person: .new(local: 5))],
            identity: [.newPerson(local: 5, Demographics(fullName: "Trần Thị Bình")),
                       .addIdentifier(.new(local: 5), IdentifierEntry(.legacyId, "012345678", source: "test"))],
            outbox: [OutboxMessage(kind: "citizen-feed", key: .person(.new(local: 6)), payload: [1])],
            offsets: [Fixtures.offset(3, from: 1)])
        await assertStoreError({ try await store.apply(failing) }) { if case .invalidRequest = $0 { return true } else { return false } }
        let after = try await store.contentDigest()
        XCTAssertEqual(before, after, "a failed batch must leave nothing behind")
        let unchanged = try await store.offsets(group: "hssk-ingest", partitions: [TopicPartition("hssk.visits.v1", 0)])
        XCTAssertEqual(unchanged[TopicPartition("hssk.visits.v1", 0)], 1)
        let versions = try await store.sourceVersions(topic: "hssk.visits.v1", key: "01001:LK-2")
        XCTAssertTrue(versions.isEmpty)
        // The same batch without the bad message commits as a whole.
        var fixed = failing
        fixed.outbox = []
        let result = try await store.apply(fixed)
        XCTAssertEqual(result.records.count, 2)
        XCTAssertNotNil(result.newPersons[5])
        let moved = try await store.offsets(group: "hssk-ingest", partitions: [TopicPartition("hssk.visits.v1", 0)])
        XCTAssertEqual(moved[TopicPartition("hssk.visits.v1", 0)], 3)
        let pending = try await store.pendingOutbox(kind: "citizen-feed", limit: 10)
        XCTAssertEqual(pending.map(\.key), [String(person.rawValue)])
        XCTAssertEqual(pending.first?.payload, Array("{\"changed\":true}".utf8))
        let backlog = try await store.outboxBacklog(kind: "citizen-feed")
        XCTAssertEqual(backlog, 1)
        try await store.markOutboxDone(pending.map(\.id))
        let none = try await store.pendingOutbox(kind: "citizen-feed", limit: 10)
        XCTAssertTrue(none.isEmpty)
        let drained = try await store.outboxBacklog(kind: "citizen-feed")
        XCTAssertEqual(drained, 0)
        await store.close()
    }

    func idempotentReapply() async throws {
        let location = try await fixture.freshLocation()
        let store = try await open(location)
        var batch = StoreBatch(records: try (0..<5).map { try Fixtures.incoming(Fixtures.visit("LK-\($0)"), offset: Int64($0)) },
                               offsets: [Fixtures.offset(5, from: 0)])
        let first = try await store.apply(batch)
        XCTAssertEqual(first.duplicates, 0)
        let before = try await store.contentDigest()
        // The same batch again is refused by its offsets: the stored position is past its start.
        await assertStoreError({ try await store.apply(batch) }) { if case .offsetMoved = $0 { return true } else { return false } }
        // The same records again (a replay, read at later offsets) change nothing either.
        batch.records = try (0..<5).map { try Fixtures.incoming(Fixtures.visit("LK-\($0)"), offset: Int64(5 + $0)) }
        batch.offsets = [Fixtures.offset(10, from: 5)]
        let second = try await store.apply(batch)
        XCTAssertEqual(second.duplicates, 5)
        for (a, b) in zip(first.records, second.records) {
            guard case .stored(let id) = a, case .duplicate(let same) = b else { return XCTFail("\(a) \(b)") }
            XCTAssertEqual(id, same)
        }
        let after = try await store.contentDigest()
        for table in ["source_record", "visit", "person", "identifier", "outbox"] {
            XCTAssertEqual(before[table], after[table], "re-applying changed \(table)")
        }
        let report = try await store.verify()
        // 10 offsets, 10 records delivered: 5 stored, 5 absorbed as duplicates.
        XCTAssertEqual(report.problems, [])
        await store.close()
    }

    func supersedingVersions() async throws {
        let location = try await fixture.freshLocation()
        let store = try await open(location)
        let v1 = Fixtures.visit("LK-9")
        var v2 = v1
        v2.dischargeDiagnosis = "Đã khỏi"
        let r1 = try await store.apply(StoreBatch(records: [try Fixtures.incoming(v1, offset: 0)], offsets: [Fixtures.offset(1)]))
        let r2 = try await store.apply(StoreBatch(records: [try Fixtures.incoming(v2, offset: 1)], offsets: [Fixtures.offset(2)]))
        guard case .stored(let id1) = r1.records[0], case .superseded(let id2, let previous) = r2.records[0] else {
            return XCTFail("outcomes \(r1.records) \(r2.records)")
        }
        XCTAssertEqual(previous, id1)
        let versions = try await store.sourceVersions(topic: "hssk.visits.v1", key: v1.kafkaKey)
        XCTAssertEqual(versions.map(\.id), [id1, id2])
        XCTAssertEqual(versions.map(\.version), [1, 2])
        XCTAssertEqual(versions[0].supersededBy, id2)
        XCTAssertNil(versions[1].supersededBy)
        XCTAssertEqual(versions[0].original, Array(try RecordDecoder.encode(v1)), "the original must be kept unchanged")
        XCTAssertEqual(versions[1].original, Array(try RecordDecoder.encode(v2)))
        // The old version arriving again (a replay) is a duplicate, not a third version.
        let r3 = try await store.apply(StoreBatch(records: [try Fixtures.incoming(v1, offset: 0)]))
        XCTAssertEqual(r3.records, [.duplicate(id: id1)])
        // The change is audited and the chain holds.
        let raw = try fixture.rawConnection(location)
        defer { raw.close() }
        let audited = try raw.query("SELECT subject FROM audit_log WHERE action = 'supersede'", [])
        XCTAssertEqual(audited.map { $0[0].text }, ["source_record:\(id1)"])
        // Within one batch: a third and fourth version of the key, the third repeated, a new key twice.
        var v3 = v2, v4 = v2
        v3.dischargeDiagnosis = "v3"
        v4.dischargeDiagnosis = "v4"
        let other = Fixtures.visit("LK-10")
        let r4 = try await store.apply(StoreBatch(records: [try Fixtures.incoming(v3, offset: 2), try Fixtures.incoming(other, offset: 3),
                                                            try Fixtures.incoming(v3, offset: 4), try Fixtures.incoming(v4, offset: 5),
                                                            try Fixtures.incoming(other, offset: 6)],
                                                  offsets: [Fixtures.offset(7, from: 2)]))
        guard case .superseded(let id3, let p3) = r4.records[0], case .stored(let idOther) = r4.records[1],
              case .superseded(let id4, let p4) = r4.records[3] else { return XCTFail("\(r4.records)") }
        XCTAssertEqual(p3, id2)
        XCTAssertEqual(p4, id3)
        XCTAssertEqual(r4.records[2], .duplicate(id: id3))
        XCTAssertEqual(r4.records[4], .duplicate(id: idOther))
        let all = try await store.sourceVersions(topic: "hssk.visits.v1", key: v1.kafkaKey)
        XCTAssertEqual(all.map(\.version), [1, 2, 3, 4])
        XCTAssertEqual(all.map(\.supersededBy), [id2, id3, id4, nil])
        let current = try raw.query("SELECT v.source_record_id FROM visit v JOIN source_record s ON s.id = v.source_record_id WHERE s.version = 4", [])
        XCTAssertEqual(current.map { $0[0].int }, [id4], "the derived row follows the newest version")
        let report = try await store.verify()
        XCTAssertEqual(report.problems, [])
        await store.close()
    }

    func identifierHistory() async throws {
        let (store, _, person) = try await seeded()
        try await store.addIdentifier(IdentifierEntry(.personalId, Plain.newPersonalID, validFrom: "2025-07-01", source: "registry:EV-7"),
                                      to: person, actor: "test")
        let byOld = try await store.findPersons(.personalId, Plain.personalID, includeHistoric: true)
        XCTAssertEqual(byOld.map(\.person), [person])
        XCTAssertEqual(byOld.first?.active, false)
        XCTAssertEqual(byOld.first?.validTo, "2025-07-01")
        let activeOnly = try await store.findPersons(.personalId, Plain.personalID, includeHistoric: false)
        XCTAssertTrue(activeOnly.isEmpty)
        let byNew = try await store.findPersons(.personalId, Plain.newPersonalID, includeHistoric: false)
        XCTAssertEqual(byNew.map(\.person), [person])
        // Adding the same identifier again changes nothing.
        try await store.addIdentifier(IdentifierEntry(.personalId, Plain.newPersonalID, source: "again"), to: person, actor: "test")
        let stored = try await store.person(person)
        XCTAssertEqual(stored?.identifiers.filter { $0.type == .personalId }.map(\.value), [Plain.personalID, Plain.newPersonalID])
        XCTAssertEqual(stored?.demographics?.fullName, Plain.name)
        XCTAssertEqual(stored?.recordCount, 1)
        // Another person can never take either number, active or cancelled.
        let other = try await store.apply(StoreBatch(identity: [.newPerson(local: 1, Demographics(fullName: "Trần Thị Bình"))])).newPersons[1]!
        for number in [Plain.personalID, Plain.newPersonalID] {
            await assertStoreError({ try await store.addIdentifier(IdentifierEntry(.personalId, number, source: "x"), to: other, actor: "test") }) {
                if case .identityConflict = $0 { return true } else { return false }
            }
        }
        // Phones are shared: no uniqueness.
        try await store.addIdentifier(IdentifierEntry(.phone, Plain.phone, source: "x"), to: other, actor: "test")
        let byPhone = try await store.findPersons(.phone, Plain.phone, includeHistoric: false)
        XCTAssertEqual(Set(byPhone.map(\.person)), [person, other])
        let blocked = try await store.findPersons(blockingKey: "nguyen|an|1958")
        XCTAssertEqual(blocked, [person])
        // Inside one batch: a new person's first number is closed by a second one; a third person
        // claiming that second number fails the whole batch.
        let inBatch = try await store.apply(StoreBatch(identity: [
            .newPerson(local: 1, Demographics(fullName: "Lê Văn C")),
            .addIdentifier(.new(local: 1), IdentifierEntry(.personalId, "001090000001", validFrom: "2020-01-01", source: "a")),
            .addIdentifier(.new(local: 1), IdentifierEntry(.personalId, "001090000002", validFrom: "2025-07-01", source: "b")),
            .addIdentifier(.new(local: 1), IdentifierEntry(.personalId, "001090000002", source: "again"))]))
        let c = inBatch.newPersons[1]!
        let old = try await store.findPersons(.personalId, "001090000001", includeHistoric: true)
        XCTAssertEqual(old.map(\.active), [false])
        XCTAssertEqual(old.first?.validTo, "2025-07-01")
        let current = try await store.findPersons(.personalId, "001090000002", includeHistoric: true)
        XCTAssertEqual(current.map(\.person), [c])
        XCTAssertEqual(current.map(\.active), [true])
        await assertStoreError({ try await store.apply(StoreBatch(identity: [
            .newPerson(local: 1, Demographics(fullName: "Someone Else")),
            .addIdentifier(.new(local: 1), IdentifierEntry(.personalId, "001090000001", source: "c"))])) }) {
            if case .identityConflict = $0 { return true } else { return false }
        }
        await store.close()
    }

    func mergeAndUndo() async throws {
        let (store, _, survivor) = try await seeded()
        let second = try await store.apply(StoreBatch(
            records: [try Fixtures.incoming(Fixtures.visit("LK-50", patient: Fixtures.patient(personalID: nil)), offset: 1, person: .new(local: 1))],
            identity: [.newPerson(local: 1, Demographics(fullName: Plain.name)),
                       .addIdentifier(.new(local: 1), IdentifierEntry(.temporaryCode, "VD-01001-20240502-001", source: "01001:LK-50")),
                       .addBlockingKeys(.new(local: 1), ["nguyen|an|1958", "0912345678"])],
            offsets: [Fixtures.offset(2)]))
        let merged = second.newPersons[1]!
        let mergeID = try await store.merge(merged, into: survivor, reason: "same person: temporary code resolved", actor: "reviewer")
        let found = try await store.findPersons(.temporaryCode, "VD-01001-20240502-001", includeHistoric: true)
        XCTAssertEqual(found.map(\.person), [survivor])
        let after = try await store.person(survivor)
        XCTAssertEqual(after?.recordCount, 2)
        let gone = try await store.person(merged)
        XCTAssertEqual(gone?.mergedInto, survivor)
        let blocked = try await store.findPersons(blockingKey: "0912345678")
        XCTAssertEqual(blocked, [survivor])
        await assertStoreError({ try await store.merge(merged, into: survivor, reason: "again", actor: "x") }) {
            if case .invalidRequest = $0 { return true } else { return false }
        }
        // Something added to the survivor after the merge stays with it on undo.
        try await store.addIdentifier(IdentifierEntry(.legacyId, "012345678", source: "later"), to: survivor, actor: "test")
        try await store.undoMerge(mergeID, actor: "reviewer")
        let back = try await store.findPersons(.temporaryCode, "VD-01001-20240502-001", includeHistoric: true)
        XCTAssertEqual(back.map(\.person), [merged])
        let restored = try await store.person(merged)
        XCTAssertNil(restored?.mergedInto)
        XCTAssertEqual(restored?.recordCount, 1)
        let survivorAfter = try await store.person(survivor)
        XCTAssertEqual(survivorAfter?.recordCount, 1)
        XCTAssertTrue(survivorAfter?.identifiers.contains { $0.type == .legacyId } ?? false)
        let log = try await store.merges(involving: merged)
        XCTAssertEqual(log.map(\.undone), [true])
        await assertStoreError({ try await store.undoMerge(mergeID, actor: "x") }) {
            if case .invalidRequest = $0 { return true } else { return false }
        }
        let report = try await store.verify()
        XCTAssertEqual(report.problems, [])
        await store.close()
    }

    func relationsAndLaterLinks() async throws {
        let location = try await fixture.freshLocation()
        let store = try await open(location)
        // A newborn's visit arrives before the child is known; the birth registration links it later.
        let first = try await store.apply(StoreBatch(records: [try Fixtures.incoming(Fixtures.visit("LK-NB", patient: Fixtures.patient("Con bà Hoa", personalID: nil)), offset: 0)],
                                                     identity: [.newPerson(local: 1, Demographics(fullName: "Đặng Thị Hoa"))],
                                                     offsets: [Fixtures.offset(1)]))
        guard case .stored(let recordID) = first.records[0], let mother = first.newPersons[1] else { return XCTFail("\(first)") }
        let second = try await store.apply(StoreBatch(identity: [
            .newPerson(local: 1, Demographics(fullName: "Con bà Hoa", birthDate: "2025-08-02", sex: 2)),
            .relate(.new(local: 1), .mother, .existing(mother)),
            .linkRecord(sourceRecordID: recordID, .new(local: 1))]))
        let child = second.newPersons[1]!
        let relations = try await store.relations(of: mother)
        XCTAssertEqual(relations, [PersonRelation(person: child, kind: .mother, other: mother)])
        let stored = try await store.person(child)
        XCTAssertEqual(stored?.recordCount, 1)
        let versions = try await store.sourceVersions(topic: "hssk.visits.v1", key: "01001:LK-NB")
        XCTAssertEqual(versions.first?.person, child)
        await assertStoreError({ try await store.apply(StoreBatch(identity: [.linkRecord(sourceRecordID: 9_999, .existing(child))])) }) {
            if case .invalidRequest = $0 { return true } else { return false }
        }
        await store.close()
    }

    func reviewTasks() async throws {
        let (store, _, person) = try await seeded()
        let fromBatch = try await store.apply(StoreBatch(identity: [
            .newPerson(local: 1, Demographics(fullName: "Nguyễn Văn Ân")),
            .openReview(ReviewTaskDraft(kind: "possibleDuplicate", persons: [.existing(person), .new(local: 1)], evidence: "score 0.91 name+dob"))]))
        let id = try await store.openReview(ReviewTaskDraft(kind: "personalIdConflict", persons: [.existing(person)], evidence: "birth year differs"), actor: "linker")
        let open = try await store.reviewTasks(includeResolved: false)
        XCTAssertEqual(open.map(\.kind), ["possibleDuplicate", "personalIdConflict"])
        XCTAssertEqual(open.first?.persons, [person, fromBatch.newPersons[1]!])
        XCTAssertEqual(open.first?.evidence, "score 0.91 name+dob")
        try await store.resolveReview(id, resolution: "not the same person", actor: "district-centre")
        let stillOpen = try await store.reviewTasks(includeResolved: false)
        XCTAssertEqual(stillOpen.count, 1)
        let all = try await store.reviewTasks(includeResolved: true)
        XCTAssertEqual(all.last?.resolution, "not the same person")
        await store.close()
    }

    func auditChainDetectsTampering() async throws {
        let (store, location, _) = try await seeded()
        for i in 1...3 {
            _ = try await store.apply(StoreBatch(records: [try Fixtures.incoming(Fixtures.visit("LK-A\(i)"), offset: Int64(i))],
                                                 offsets: [Fixtures.offset(Int64(i + 1))]))
        }
        let clean = try await store.verify()
        XCTAssertEqual(clean.problems, [])
        XCTAssertGreaterThanOrEqual(clean.auditRows, 4)
        let raw = try fixture.rawConnection(location)
        defer { raw.close() }
        try raw.execute("UPDATE audit_log SET detail = 'records=0' WHERE seq = 2", [])
        let altered = try await store.verify()
        XCTAssertTrue(altered.problems.contains { $0.contains("row 2") && $0.contains("altered") }, "\(altered.problems)")
        try raw.execute("DELETE FROM audit_log WHERE seq = 3", [])
        let deleted = try await store.verify()
        XCTAssertTrue(deleted.problems.contains { $0.contains("missing") }, "\(deleted.problems)")
        await store.close()
    }

    func encryptionAtRest() async throws {
        let (store, location, person) = try await seeded()
        var card = Fixtures.card()
        card.holder.personalId = Plain.newPersonalID
        _ = try await store.apply(StoreBatch(records: [IncomingRecord(record: .insuranceCard(card), original: Array(try RecordDecoder.encode(card)),
                                                                     coordinates: KafkaCoordinates(topic: "hssk.insurance.cards.v1", partition: 0, offset: 0),
                                                                     sender: "bhxh_lt_vss", person: .existing(person))]))
        try await store.saveAccount(InteropAccount(name: "01001_lt_bnv", facility: "01001", signingKey: Array("secret-signing-key-1".utf8)))
        let account = try await store.account(named: "01001_lt_bnv")
        XCTAssertEqual(account?.signingKey, Array("secret-signing-key-1".utf8))
        let backupDir = try Fixtures.temporaryDirectory()
        let backup = try await store.backup(to: backupDir)
        await store.close()
        let needles = Plain.needles + ["secret-signing-key-1"]
        let stored = try fixture.rawBytes(location)
        XCTAssertGreaterThan(stored.count, 10_000)
        let backupBytes = Array(FileManager.default.contents(atPath: backup) ?? Data())
        XCTAssertGreaterThan(backupBytes.count, 1_000)
        for needle in needles {
            XCTAssertEqual(occurrences(of: needle, in: stored), 0, "'\(needle)' found in the \(type(of: fixture)) database")
            XCTAssertEqual(occurrences(of: needle, in: backupBytes), 0, "'\(needle)' found in the backup")
        }
        // The grep itself works: a non-personal code stored in clear is found.
        XCTAssertGreaterThan(occurrences(of: "01001_lt_bnv", in: stored), 0)
    }

    func wrongKeyIsAClearError() async throws {
        let (store, location, _) = try await seeded()
        await store.close()
        let wrong = KeyRing(activeKeyID: "k1", encryptionKeys: ["k1": Array(repeating: 8, count: 32)], blindIndexKey: Fixtures.keys.blindIndexKey)
        await assertStoreError({ try await open(location, keys: wrong) }) { if case .wrongKey(let m) = $0 { return m.contains("k1") } else { return false } }
        let wrongBlind = KeyRing(activeKeyID: "k1", encryptionKeys: ["k1": Array(repeating: 7, count: 32)], blindIndexKey: Array(repeating: 1, count: 32))
        await assertStoreError({ try await open(location, keys: wrongBlind) }) { if case .wrongKey = $0 { return true } else { return false } }
        // A key file without the id the data was written under: readable error on first read.
        let other = KeyRing(activeKeyID: "k9", encryptionKeys: ["k9": Array(repeating: 5, count: 32)], blindIndexKey: Fixtures.keys.blindIndexKey)
        let reopened = try await open(location, keys: other)
        await assertStoreError({ try await reopened.sourceVersions(topic: "hssk.visits.v1", key: "01001:LK-1") }) {
            if case .missingKey(let m) = $0 { return m.contains("k1") } else { return false }
        }
        await reopened.close()
        // A flipped byte in a ciphertext is an integrity error, never garbage.
        let raw = try fixture.rawConnection(location)
        let row = try raw.queryOne("SELECT id, original_enc FROM source_record ORDER BY id LIMIT 1", [])!
        var blob = try row.blob(1)
        blob[blob.count - 20] ^= 1
        try raw.execute("UPDATE source_record SET original_enc = ? WHERE id = ?", [.blob(blob), row[0]])
        raw.close()
        let store2 = try await open(location)
        await assertStoreError({ try await store2.sourceVersions(topic: "hssk.visits.v1", key: "01001:LK-1") }) {
            if case .integrity = $0 { return true } else { return false }
        }
        let report = try await store2.verify()
        XCTAssertTrue(report.problems.contains { $0.contains("source_record.original_enc") }, "\(report.problems)")
        await store2.close()
    }

    func keyRotation() async throws {
        let (store, location, person) = try await seeded()
        await store.close()
        var keys = Fixtures.keys
        let newID = try keys.addActiveKey()
        let rotated = try await open(location, keys: keys)
        let report = try await rotated.reencrypt(batchSize: 2)
        XCTAssertGreaterThan(report.reencrypted, 3)
        let again = try await rotated.reencrypt(batchSize: 2)
        XCTAssertEqual(again.reencrypted, 0, "a second pass has nothing left to do")
        let verified = try await rotated.verify()
        XCTAssertEqual(Array(verified.keyUsage.keys), [newID])
        XCTAssertEqual(verified.problems, [])
        await rotated.close()
        // The old key can now be dropped from the key file.
        let onlyNew = KeyRing(activeKeyID: newID, encryptionKeys: [newID: try keys.key(newID)], blindIndexKey: keys.blindIndexKey)
        let reopened = try await open(location, keys: onlyNew)
        let stored = try await reopened.person(person)
        XCTAssertEqual(stored?.demographics?.fullName, Plain.name)
        await reopened.close()
    }

    func backupRestoreIdenticalContents() async throws {
        let (store, _, person) = try await seeded()
        _ = try await store.merge(try await store.apply(StoreBatch(identity: [.newPerson(local: 1, Demographics(fullName: "X"))])).newPersons[1]!,
                                  into: person, reason: "test", actor: "test")
        let dir = try Fixtures.temporaryDirectory()
        let backup = try await store.backup(to: dir)
        let before = try await store.contentDigest()
        await store.close()
        let target = try await fixture.freshLocation()
        try await RecordStores.restore(backup: backup, into: target)
        let restored = try await open(target)
        let after = try await restored.contentDigest()
        XCTAssertEqual(before, after)
        let report = try await restored.verify()
        XCTAssertEqual(report.problems, [])
        let found = try await restored.findPersons(.personalId, Plain.personalID, includeHistoric: false)
        XCTAssertEqual(found.map(\.person), [person])
        await restored.close()
    }

    func concurrentWriters() async throws {
        let location = try await fixture.freshLocation()
        let first = try await open(location)
        let second = try await open(location)
        let writers = 4, batches = 10, perBatch = 20
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<writers {
                let store = writer % 2 == 0 ? first : second
                group.addTask {
                    for b in 0..<batches {
                        let base = Int64(b * perBatch)
                        let records = try (0..<perBatch).map { i in
                            try Fixtures.incoming(Fixtures.visit("W\(writer)-\(base + Int64(i))"), offset: base + Int64(i), partition: Int32(writer))
                        }
                        _ = try await store.apply(StoreBatch(records: records, identity: [.newPerson(local: 1, Demographics(fullName: "W\(writer)"))],
                                                             offsets: [Fixtures.offset(base + Int64(perBatch), from: base, partition: Int32(writer))]))
                    }
                }
            }
            try await group.waitForAll()
        }
        let digest = try await first.contentDigest()
        XCTAssertTrue(digest["source_record"]?.hasPrefix("\(writers * batches * perBatch):") ?? false, "\(digest["source_record"] ?? "")")
        XCTAssertTrue(digest["person"]?.hasPrefix("\(writers * batches):") ?? false)
        let offsets = try await second.offsets(group: "hssk-ingest", partitions: (0..<writers).map { TopicPartition("hssk.visits.v1", Int32($0)) })
        XCTAssertEqual(Set(offsets.values), [Int64(batches * perBatch)])
        let report = try await second.verify()
        XCTAssertEqual(report.problems, [])
        XCTAssertEqual(report.auditRows, writers * batches)
        await first.close()
        await second.close()
    }

    func lockedStoreIsTransient() async throws {
        let location = try await fixture.freshLocation()
        let store = try await RecordStores.open(location, keys: Fixtures.keys, lockTimeout: .milliseconds(200))
        let holder = try fixture.rawConnection(location)
        try holder.beginWrite()
        let batch = StoreBatch(records: [try Fixtures.incoming(Fixtures.visit("LK-L"), offset: 0)], offsets: [Fixtures.offset(1)])
        do {
            _ = try await store.apply(batch)
            XCTFail("apply went through while another writer held the lock")
        } catch let error as StoreError {
            XCTAssertTrue(error.isTransient, "\(error)")
            guard case .busy = error else { return XCTFail("expected .busy, got \(error)") }
        }
        holder.rollback()
        holder.close()
        let retried = try await store.apply(batch)
        XCTAssertEqual(retried.duplicates, 0, "the failed attempt left nothing behind")
        await store.close()
    }

    func outboxOrderAndAccounts() async throws {
        let location = try await fixture.freshLocation()
        let store = try await open(location)
        let payloads = (0..<150).map { Array("message \($0)".utf8) }
        let result = try await store.apply(StoreBatch(
            identity: [.newPerson(local: 1, Demographics(fullName: "A")), .newPerson(local: 2, Demographics(fullName: "B"))],
            outbox: payloads.enumerated().map { i, payload in
                OutboxMessage(kind: "citizen-feed", key: .person(.new(local: 1 + i % 2)), payload: payload)
            } + [OutboxMessage(kind: "insurance-supplement", key: .text("0123456789-ref"), payload: [1])]))
        let feed = try await store.pendingOutbox(kind: "citizen-feed", limit: 1000)
        XCTAssertEqual(feed.map(\.payload), payloads, "outbox order is batch order")
        XCTAssertEqual(feed.first?.key, String(result.newPersons[1]!.rawValue))
        XCTAssertEqual(feed.dropFirst().first?.key, String(result.newPersons[2]!.rawValue))
        let insurance = try await store.pendingOutbox(kind: "insurance-supplement", limit: 10)
        XCTAssertEqual(insurance.count, 1)
        try await store.saveAccount(InteropAccount(name: "01032_lt_bnv", facility: "01032", keyReference: "vault:hssk/01032"))
        try await store.touchAccount(named: "01032_lt_bnv")
        var account = try await store.account(named: "01032_lt_bnv")
        XCTAssertNotNil(account?.lastSeen)
        XCTAssertEqual(account?.locked, false)
        XCTAssertNil(account?.signingKey)
        account?.locked = true
        try await store.saveAccount(account!)
        let locked = try await store.account(named: "01032_lt_bnv")
        XCTAssertEqual(locked?.locked, true)
        let nobody = try await store.account(named: "nobody")
        XCTAssertNil(nobody)
        await store.close()
    }

    func personFileAndFeedMessages() async throws {
        let (store, _, person) = try await seeded()
        let nothing = try await store.personFile(PersonID(999_999))
        XCTAssertNil(nothing)
        // A newer version of LK-1 supersedes the first; LK-2 is a second current record; a child is related.
        var corrected = Fixtures.visit("LK-1")
        corrected.reason = "Sốt cao"
        let second = try await store.apply(StoreBatch(
            records: [try Fixtures.incoming(corrected, offset: 1, person: .existing(person)),
                      try Fixtures.incoming(Fixtures.visit("LK-2"), offset: 2, person: .existing(person))],
            identity: [.newPerson(local: 1, Demographics(fullName: "Nguyễn Văn Bé", birthDate: "2020-01-02", sex: 1)),
                       .relate(.new(local: 1), .father, .existing(person))],
            offsets: [Fixtures.offset(3, from: 1)]))
        let child = try XCTUnwrap(second.newPersons[1])
        let loaded = try await store.personFile(person)
        let file = try XCTUnwrap(loaded)
        XCTAssertEqual(file.person.id, person)
        XCTAssertEqual(file.records.map(\.kind), [.visit, .visit])
        XCTAssertEqual(file.records.map(\.version), [2, 1])
        XCTAssertEqual(file.records.map(\.coordinates.offset), [1, 2])
        XCTAssertEqual(file.records.first?.original, Array(try RecordDecoder.encode(corrected)), "original bytes, decrypted")
        XCTAssertEqual(file.relations, [PersonRelation(person: child, kind: .father, other: person)])
        XCTAssertEqual(file.related[child]?.demographics?.fullName, "Nguyễn Văn Bé")
        // Several files in one call: the same files, unknown persons absent.
        let childFile = try await store.personFile(child)
        let files = try await store.personFiles([person, PersonID(999_999), child])
        XCTAssertEqual(Set(files.keys), [person, child])
        XCTAssertEqual(try files[person]?.get(), file)
        XCTAssertEqual(try files[child]?.get(), childFile)
        let done = try await store.pendingOutbox(kind: OutboxKinds.citizenFeed, limit: 100)
        try await store.markOutboxDone(done.map(\.id))

        // A personal ID added outside a batch queues a feed message; another identifier does not.
        try await store.addIdentifier(IdentifierEntry(.legacyId, "012345678", source: "test"), to: child, actor: "test")
        try await store.addIdentifier(IdentifierEntry(.personalId, "001220000123", source: "test"), to: child, actor: "test")
        var pending = try await store.pendingOutbox(kind: OutboxKinds.citizenFeed, limit: 100)
        XCTAssertEqual(pending.map(\.key), [String(child.rawValue)])
        XCTAssertEqual(pending.compactMap { PersonChange(payload: $0.payload) }, [PersonChange(reason: .identifier)])
        try await store.markOutboxDone(pending.map(\.id))

        // Merge: one message for the survivor naming the absorbed person; undo: one for each, in that order.
        let mergeID = try await store.merge(child, into: person, reason: "test", actor: "test")
        pending = try await store.pendingOutbox(kind: OutboxKinds.citizenFeed, limit: 100)
        XCTAssertEqual(pending.map(\.key), [String(person.rawValue)])
        XCTAssertEqual(pending.compactMap { PersonChange(payload: $0.payload) }, [PersonChange(reason: .merge, other: child.rawValue)])
        let absorbedFile = try await store.personFile(child)
        let absorbed = try XCTUnwrap(absorbedFile)
        XCTAssertEqual(absorbed.person.mergedInto, person)
        XCTAssertTrue(absorbed.records.isEmpty)
        let survivorLoaded = try await store.personFile(person)
        let survivorFile = try XCTUnwrap(survivorLoaded)
        XCTAssertTrue(survivorFile.person.identifiers.contains { $0.value == "001220000123" }, "the absorbed personal ID moved")
        try await store.undoMerge(mergeID, actor: "test")
        let afterUndo = try await store.pendingOutbox(kind: OutboxKinds.citizenFeed, limit: 100)
        XCTAssertEqual(afterUndo.dropFirst().map(\.key), [String(person.rawValue), String(child.rawValue)])
        XCTAssertEqual(afterUndo.dropFirst().compactMap { PersonChange(payload: $0.payload) },
                       [PersonChange(reason: .undoMerge, other: child.rawValue), PersonChange(reason: .undoMerge, other: person.rawValue)])
        XCTAssertEqual(afterUndo.map(\.id), afterUndo.map(\.id).sorted(), "ids follow commit order")
        let report = try await store.verify()
        XCTAssertEqual(report.problems, [])
        await store.close()
    }

    func mustExistRefusesAnEmptyLocation() async throws {
        let location = try await fixture.freshLocation()
        await assertStoreError({ try await RecordStores.open(location, keys: Fixtures.keys, mustExist: true) }) {
            if case .invalidRequest(let m) = $0 { return m.contains("--store") } else { return false }
        }
        let created = try await RecordStores.open(location, keys: Fixtures.keys)
        await created.close()
        let reopened = try await RecordStores.open(location, keys: Fixtures.keys, mustExist: true)
        await reopened.close()
    }

    func refusesNewerSchema() async throws {
        let (store, location, _) = try await seeded()
        await store.close()
        let raw = try fixture.rawConnection(location)
        try raw.execute("UPDATE schema_meta SET value = '99' WHERE name = 'schema_version'", [])
        raw.close()
        await assertStoreError({ try await open(location) }) {
            if case .schemaTooNew(found: 99, supported: Migrations.currentVersion) = $0 { return true } else { return false }
        }
    }
}
