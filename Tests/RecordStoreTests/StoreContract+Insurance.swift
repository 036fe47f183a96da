import Foundation
import HealthModel
@testable import RecordStore
import XCTest

/// Insurance in the store: card state kept in step with the change history in effective order, the
/// supplement ledger, answers with fenced offsets, the report, and all of it encrypted at rest.
extension StoreContract {
    static let cardsTopic = "hssk.insurance.cards.v1"

    func cardChange(_ kind: InsuranceCardChange.ChangeKind, _ effective: String, bhxh: String = Plain.bhxh, validTo: String? = nil,
                    phone: String? = Plain.phone) -> InsuranceCardChange {
        var c = InsuranceCardChange(kind: kind, cardCode: "GD401" + bhxh, bhxhNumber: bhxh,
                                    holder: Fixtures.patient(phone: phone), effectiveAt: effective)
        if let validTo {
            c.validFrom = effective
            c.validTo = validTo
        }
        if kind == .suspended { c.reason = "Tạm dừng" }
        return c
    }

    func incomingCard(_ change: InsuranceCardChange, offset: Int64, person: PersonRef?) throws -> IncomingRecord {
        IncomingRecord(record: .insuranceCard(change), original: Array(try RecordDecoder.encode(change)),
                       coordinates: KafkaCoordinates(topic: Self.cardsTopic, partition: 0, offset: offset), sender: "bhxh_lt_hn", person: person)
    }

    /// Several cards with stored changes get new changes in one batch (interleaved, with versions of a
    /// key superseding each other): each card's state is the fold of its own whole history, and the
    /// audit chain of the supersedes stays valid.
    func cardStatesOfManyCardsInOneBatch() async throws {
        let store = try await open(try await fixture.freshLocation())
        let numbers = (0..<5).map { "01234000\(10 + $0)" }
        _ = try await store.apply(StoreBatch(records: try numbers.enumerated().map { i, bhxh in
            try incomingCard(cardChange(.issued, "2025-01-01", bhxh: bhxh, validTo: "2025-12-31"), offset: Int64(i), person: nil)
        }))
        var later: [IncomingRecord] = []
        for (i, bhxh) in numbers.enumerated() {
            later.append(try incomingCard(cardChange(.suspended, "2025-07-0\(1 + i)", bhxh: bhxh), offset: Int64(10 + 2 * i), person: nil))
        }
        for (i, bhxh) in numbers.enumerated() where i % 2 == 0 {
            later.append(try incomingCard(cardChange(.renewed, "2026-01-01", bhxh: bhxh, validTo: "2026-12-31"), offset: Int64(11 + 2 * i), person: nil))
        }
        _ = try await store.apply(StoreBatch(records: later))
        for (i, bhxh) in numbers.enumerated() {
            var history = [cardChange(.issued, "2025-01-01", bhxh: bhxh, validTo: "2025-12-31"), cardChange(.suspended, "2025-07-0\(1 + i)", bhxh: bhxh)]
            if i % 2 == 0 { history.append(cardChange(.renewed, "2026-01-01", bhxh: bhxh, validTo: "2026-12-31")) }
            let found = try await store.insuranceCard(bhxhNumber: bhxh)
            let card = try XCTUnwrap(found)
            XCTAssertEqual(card.state, InsuranceCardState.fold(history), bhxh)
            XCTAssertEqual(card.state.changes, history.count)
            XCTAssertEqual(card.state.status, i % 2 == 0 ? .active : .suspended)
        }
        let report = try await store.verify()
        XCTAssertEqual(report.problems, [])
        await store.close()
    }

    func cardStateFollowsEffectiveTime() async throws {
        let (store, _, person) = try await seeded()
        let issued = cardChange(.issued, "2025-01-01", validTo: "2025-12-31")
        let suspended = cardChange(.suspended, "2025-07-01")
        let renewed = cardChange(.renewed, "2026-01-01", validTo: "2026-12-31", phone: "0987000111")
        // One card arrives change by change, newest effective first; another gets all three in one batch.
        for (offset, change) in [renewed, suspended, issued].enumerated() {
            _ = try await store.apply(StoreBatch(records: [try incomingCard(change, offset: Int64(offset), person: .existing(person))]))
            if offset == 0 {
                let first = try await store.insuranceCard(bhxhNumber: Plain.bhxh)
                XCTAssertEqual(first?.state.validTo, "2026-12-31")
            }
        }
        let other = "0123400000"
        _ = try await store.apply(StoreBatch(records: try [renewed, suspended, issued].enumerated().map { offset, change in
            var change = change
            change.bhxhNumber = other
            change.cardCode = "GD401" + other
            return try incomingCard(change, offset: Int64(10 + offset), person: nil)
        }))
        let found = try await store.insuranceCard(bhxhNumber: Plain.bhxh)
        let card = try XCTUnwrap(found)
        let expected = try XCTUnwrap(InsuranceCardState.fold([issued, suspended, renewed]))
        XCTAssertEqual(card.state, expected)
        XCTAssertEqual(card.state.status, .active, "arrival order would have left the card suspended or expired")
        XCTAssertEqual(card.state.validTo, "2026-12-31")
        XCTAssertEqual(card.state.holder.phone, "0987000111")
        XCTAssertEqual(card.state.changes, 3)
        XCTAssertEqual(card.persons, [person])
        let foundOther = try await store.insuranceCard(bhxhNumber: other)
        let unlinked = try XCTUnwrap(foundOther)
        XCTAssertEqual(unlinked.state.validTo, "2026-12-31")
        XCTAssertEqual(unlinked.state.status, .active)
        XCTAssertEqual(unlinked.persons, [])
        // A replay changes nothing.
        let replay = try await store.apply(StoreBatch(records: [try incomingCard(issued, offset: 2, person: .existing(person))]))
        XCTAssertEqual(replay.duplicates, 1)
        let replayed = try await store.insuranceCard(bhxhNumber: Plain.bhxh)
        XCTAssertEqual(replayed?.state.changes, 3)
        let none = try await store.insuranceCard(bhxhNumber: "9999999999")
        XCTAssertNil(none)

        let report = try await store.insuranceReport(day: "2026-03-01")
        XCTAssertEqual(report.persons, 1)
        XCTAssertEqual(report.personsWithValidCard, 1)
        XCTAssertEqual(report.cards, 2)
        XCTAssertEqual(report.cardsNotLinked, 1)
        XCTAssertEqual(report.cardsSuspended, 0)
        let earlier = try await store.insuranceReport(day: "2025-08-01")
        XCTAssertEqual(earlier.personsWithValidCard, 0, "on 2025-08-01 the current state's validity has not begun")
        XCTAssertEqual(earlier.personsWithoutValidCard, 1)
    }

    func supplementLedger() async throws {
        let (store, location, person) = try await seeded()
        _ = try await store.apply(StoreBatch(records: [try incomingCard(cardChange(.issued, "2025-01-01", validTo: "2026-12-31", phone: nil),
                                                                        offset: 0, person: .existing(person))],
                                             outbox: [OutboxMessage(kind: "insurance-supplement", key: .person(.existing(person)), payload: [1])]))
        let found = try await store.insuranceView(person)
        let view = try XCTUnwrap(found)
        XCTAssertEqual(view.cards.map(\.state.bhxhNumber), [Plain.bhxh])
        XCTAssertEqual(view.records.map(\.kind), [.visit], "insurance's own records are not evidence")
        let outbox = try await store.pendingOutbox(kind: "insurance-supplement", limit: 10)
        XCTAssertEqual(outbox.count, 1)

        func draft(_ id: String, _ field: String, _ value: String) -> SupplementDraft {
            SupplementDraft(supplementID: id, bhxhNumber: Plain.bhxh, field: field, value: value, payload: Array("{\"value\":\"\(value)\"}".utf8))
        }
        let planned = try await store.planSupplements([draft("S1", "phone", Plain.phone), draft("S1b", "phone", Plain.phone),
                                                       draft("S2", "personalId", Plain.personalID)], outboxDone: outbox.map(\.id))
        XCTAssertEqual(planned.map(\.supplementID), ["S1", "S2"], "the same value twice is recorded once")
        let drained = try await store.pendingOutbox(kind: "insurance-supplement", limit: 10)
        XCTAssertEqual(drained, [], "the outbox rows are done with the decision")
        let again = try await store.planSupplements([draft("S3", "phone", Plain.phone)], outboxDone: [])
        XCTAssertEqual(again, [], "a value equal to the newest of its field is never recorded again")

        let pending = try await store.pendingSupplements(limit: 10)
        XCTAssertEqual(pending.map(\.supplementID), ["S1", "S2"])
        XCTAssertEqual(pending.first?.bhxhNumber, Plain.bhxh)
        XCTAssertEqual(pending.first?.payload, Array("{\"value\":\"\(Plain.phone)\"}".utf8))
        // BHXH answered S2 before it was marked sent (a crash in between): the answer is kept.
        let acks = TopicPartition("hssk.insurance.acks.v1", 0)
        _ = try await store.recordSupplementAnswers([SupplementAnswer(supplementID: "S2", accepted: true)], deadLetters: [],
                                                    offsets: [ConsumerOffset(group: "hssk-insurance-sync", partition: acks, from: 0, nextOffset: 1, records: 1)],
                                                    actor: "test")
        try await store.markSupplementsSent(["S1", "S2"])
        let stillPending = try await store.pendingSupplements(limit: 10)
        XCTAssertEqual(stillPending, [])
        var entries = try await store.supplements(ids: ["S1", "S2", "S9"])
        XCTAssertEqual(entries["S1"]?.status, .sent)
        XCTAssertNotNil(entries["S1"]?.sentAt)
        XCTAssertEqual(entries["S2"]?.status, .accepted)
        XCTAssertNil(entries["S9"])

        let changed = try await store.recordSupplementAnswers(
            [SupplementAnswer(supplementID: "S1", accepted: false, reasonCode: "DT01", reason: "Số điện thoại do chủ thẻ tự đăng ký")], deadLetters: [],
            offsets: [ConsumerOffset(group: "hssk-insurance-sync", partition: acks, from: 1, nextOffset: 2, records: 1)], actor: "test")
        XCTAssertEqual(changed, 1)
        entries = try await store.supplements(ids: ["S1"])
        XCTAssertEqual(entries["S1"]?.status, .rejected)
        XCTAssertEqual(entries["S1"]?.reasonCode, "DT01")
        XCTAssertEqual(entries["S1"]?.reason, "Số điện thoại do chủ thẻ tự đăng ký")
        // The same answers read again by a second consumer after a rebalance are fenced off.
        await assertStoreError({
            try await store.recordSupplementAnswers([SupplementAnswer(supplementID: "S1", accepted: true)], deadLetters: [],
                                                    offsets: [ConsumerOffset(group: "hssk-insurance-sync", partition: acks, from: 1, nextOffset: 2, records: 1)],
                                                    actor: "test")
        }) { if case .offsetMoved = $0 { return true } else { return false } }
        let stored = try await store.offsets(group: "hssk-insurance-sync", partitions: [acks])
        XCTAssertEqual(stored[acks], 2)
        entries = try await store.supplements(ids: ["S1"])
        XCTAssertEqual(entries["S1"]?.status, .rejected)

        // A new value of a rejected field is a new decision.
        let newPhone = try await store.planSupplements([draft("S4", "phone", "0977000222")], outboxDone: [])
        XCTAssertEqual(newPhone.map(\.supplementID), ["S4"])
        let ledger = try await store.supplements(ids: ["S1", "S2", "S4"])
        XCTAssertEqual(ledger.mapValues(\.value), ["S1": Plain.phone, "S2": Plain.personalID, "S4": "0977000222"])
        XCTAssertEqual(ledger["S4"]?.status, .pending)
        XCTAssertEqual(ledger["S4"]?.bhxhNumber, Plain.bhxh)
        XCTAssertEqual(ledger["S4"]?.field, "phone")

        let report = try await store.insuranceReport(day: "2025-06-01")
        XCTAssertEqual(report.openDiscrepancies, ["phone": 1], "the newest phone is pending; the personal ID was accepted")
        XCTAssertEqual(report.supplements, SupplementCounts(sent: 2, accepted: 1, rejected: 1, awaitingAnswer: 0, pending: 1))
        let queued = try await store.queueForCardHolders(kind: "insurance-supplement", payload: [1])
        XCTAssertEqual(queued, 1)
        let rescan = try await store.pendingOutbox(kind: "insurance-supplement", limit: 10)
        XCTAssertEqual(rescan.map(\.key), [String(person.rawValue)])
        try await store.markOutboxDone(rescan.map(\.id))

        // A merge may bring the card holder values insurance lacks: both ends are decided again.
        let other = try await store.apply(StoreBatch(identity: [.newPerson(local: 1, Demographics(fullName: "Nguyễn Văn Ân"))])).newPersons[1]
        let absorbed = try XCTUnwrap(other)
        let mergeID = try await store.merge(absorbed, into: person, reason: "test", actor: "test")
        let afterMerge = try await store.pendingOutbox(kind: "insurance-supplement", limit: 10)
        XCTAssertEqual(afterMerge.map(\.key), [String(person.rawValue)])
        try await store.markOutboxDone(afterMerge.map(\.id))
        try await store.undoMerge(mergeID, actor: "test")
        let afterUndo = try await store.pendingOutbox(kind: "insurance-supplement", limit: 10)
        XCTAssertEqual(afterUndo.map(\.key), [String(person.rawValue), String(absorbed.rawValue)])

        let verify = try await store.verify()
        XCTAssertTrue(verify.ok, "\(verify.problems)")
        await store.close()
        let bytes = try fixture.rawBytes(location)
        for needle in Plain.needles + ["0977000222"] {
            XCTAssertEqual(occurrences(of: needle, in: bytes), 0, "plaintext '\(needle)' found in the database")
        }
    }

    /// BHXH's answers only move a supplement forward (in BHXH's own answer time): a replay of an older
    /// answer, the same answer again, or an answer for a supplement superseded by a newer one of its
    /// field changes nothing; the acknowledgement offsets still move.
    func supplementAnswersOnlyMoveForward() async throws {
        let (store, location, _) = try await seeded()
        func draft(_ id: String, _ field: String, _ value: String) -> SupplementDraft {
            SupplementDraft(supplementID: id, bhxhNumber: Plain.bhxh, field: field, value: value, payload: Array("{\"value\":\"\(value)\"}".utf8))
        }
        _ = try await store.planSupplements([draft("S1", "phone", Plain.phone), draft("S2", "personalId", Plain.personalID),
                                             draft("S5", "birthDate", "1958-03-07")], outboxDone: [])
        try await store.markSupplementsSent(["S1", "S2", "S5"])
        let acks = TopicPartition("hssk.insurance.acks.v1", 0)
        var next: Int64 = 0
        func answer(_ answers: [SupplementAnswer]) async throws -> Int {
            defer { next += Int64(answers.count) }
            return try await store.recordSupplementAnswers(answers, deadLetters: [],
                                                           offsets: [ConsumerOffset(group: "hssk-insurance-sync", partition: acks, from: next,
                                                                                    nextOffset: next + Int64(answers.count), records: answers.count)],
                                                           actor: "test")
        }
        let t1 = Date(timeIntervalSince1970: 1_759_280_400), t2 = t1.addingTimeInterval(3_600), t3 = t2.addingTimeInterval(3_600)
        let rejectedAtT1 = SupplementAnswer(supplementID: "S1", accepted: false, reasonCode: "DT01", reason: "Số điện thoại do chủ thẻ tự đăng ký",
                                            receivedAt: t1)
        var changed = try await answer([rejectedAtT1])
        XCTAssertEqual(changed, 1)
        // BHXH revises its answer later: a newer answer moves the supplement on.
        changed = try await answer([SupplementAnswer(supplementID: "S1", accepted: true, receivedAt: t2)])
        XCTAssertEqual(changed, 1)
        var entries = try await store.supplements(ids: ["S1"])
        let accepted = try XCTUnwrap(entries["S1"])
        XCTAssertEqual(accepted.status, .accepted)
        XCTAssertNil(accepted.reasonCode)
        XCTAssertNil(accepted.reason)
        // The older answer replayed (a dead letter replayed, a second reader), the newer one again, and an
        // answer without a time: none changes anything, not even the time the answer was recorded.
        changed = try await answer([rejectedAtT1])
        XCTAssertEqual(changed, 0, "a replayed older answer must not overwrite the newer one")
        changed = try await answer([SupplementAnswer(supplementID: "S1", accepted: true, receivedAt: t2)])
        XCTAssertEqual(changed, 0)
        changed = try await answer([SupplementAnswer(supplementID: "S1", accepted: false, reasonCode: "X", reason: "x")])
        XCTAssertEqual(changed, 0)
        entries = try await store.supplements(ids: ["S1"])
        XCTAssertEqual(entries["S1"], accepted)
        // In one batch the answers apply in BHXH's order, whatever their order in the batch.
        changed = try await answer([SupplementAnswer(supplementID: "S5", accepted: true, receivedAt: t2),
                                    SupplementAnswer(supplementID: "S5", accepted: false, reasonCode: "DT02", reason: "cũ", receivedAt: t1)])
        XCTAssertEqual(changed, 1)
        entries = try await store.supplements(ids: ["S5"])
        XCTAssertEqual(entries["S5"]?.status, .accepted)

        // Our phone changed: S3 supersedes S1. A late answer for S1, however new, changes nothing.
        let planned = try await store.planSupplements([draft("S3", "phone", "0977000222")], outboxDone: [])
        XCTAssertEqual(planned.map(\.supplementID), ["S3"])
        changed = try await answer([SupplementAnswer(supplementID: "S1", accepted: false, reasonCode: "DT01", reason: "muộn", receivedAt: t3),
                                    SupplementAnswer(supplementID: "S2", accepted: true, receivedAt: t1)])
        XCTAssertEqual(changed, 1, "only S2, which nothing superseded")
        entries = try await store.supplements(ids: ["S1", "S2", "S3"])
        XCTAssertEqual(entries["S1"], accepted)
        XCTAssertEqual(entries["S2"]?.status, .accepted)
        XCTAssertEqual(entries["S3"]?.status, .pending)
        let stored = try await store.offsets(group: "hssk-insurance-sync", partitions: [acks])
        XCTAssertEqual(stored[acks], next, "answers that change nothing still move the position")
        let report = try await store.insuranceReport(day: "2025-06-01")
        XCTAssertEqual(report.supplements.accepted, 3)
        XCTAssertEqual(report.supplements.rejected, 0)
        let verify = try await store.verify()
        XCTAssertTrue(verify.ok, "\(verify.problems)")
        await store.close()
        let bytes = try fixture.rawBytes(location)
        for needle in ["Số điện thoại do chủ thẻ tự đăng ký", "0977000222"] {
            XCTAssertEqual(occurrences(of: needle, in: bytes), 0, "plaintext '\(needle)' found in the database")
        }
    }
}
