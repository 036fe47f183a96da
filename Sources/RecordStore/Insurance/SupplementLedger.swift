import Foundation
import HealthModel

/// The supplement ledger: what hssk decided to tell insurance, whether it went out, and BHXH's answer.
extension StoreEngine {
    private static let ledgerColumns =
        "supplement_id, bhxh_enc, field, value_enc, status, reason_code, reason_enc, created_at, sent_at, answered_at"

    /// Decodes a row selected with `ledgerColumns`.
    private func ledgerEntry(_ row: SQLRow) throws -> SupplementLedgerEntry {
        guard let status = SupplementStatus(rawValue: try row.text(4)) else {
            throw StoreError.schemaInvalid("insurance_supplement holds an unknown status")
        }
        // Every ciphertext of a ledger row is bound to its supplement id, by which the row is found.
        let id = try row.text(0)
        return SupplementLedgerEntry(
            supplementID: id, bhxhNumber: try cipher.openText(try row.blob(1), column: "insurance_supplement.bhxh_enc", row: .name(id)),
            field: try row.text(2), value: try cipher.openText(try row.blob(3), column: "insurance_supplement.value_enc", row: .name(id)),
            status: status, reasonCode: row[5].text,
            reason: try row[6].blob.map { try cipher.openText($0, column: "insurance_supplement.reason_enc", row: .name(id)) },
            createdAt: try row.text(7), sentAt: row[8].text, answeredAt: row[9].text)
    }

    /// Records drafts as pending and marks the outbox rows that led to them done, in one transaction.
    ///
    /// A draft whose value equals the newest ledger value of its (BHXH number, field) is skipped: the
    /// check runs inside the write transaction, so a repeated or concurrent decision cannot record the
    /// same value twice. Returns the drafts recorded.
    func planSupplements(_ drafts: [SupplementDraft], outboxDone: [Int64]) throws -> [SupplementDraft] {
        try db.transaction {
            let now = Self.timestamp()
            var planned: [SupplementDraft] = []
            var latest: [[UInt8]: String] = [:]   // bhxh index ‖ field → newest value, including this call's
            for draft in drafts {
                let index = identifierIndex(.bhxhNumber, draft.bhxhNumber)
                let key = index + Array(draft.field.utf8)
                if latest[key] == nil, let row = try db.queryOne(
                    "SELECT value_enc, supplement_id FROM insurance_supplement WHERE bhxh_index = ? AND field = ? ORDER BY id DESC LIMIT 1",
                    [.blob(index), .text(draft.field)]) {
                    latest[key] = try cipher.openText(try row.blob(0), column: "insurance_supplement.value_enc", row: .name(try row.text(1)))
                }
                guard latest[key] != draft.value else { continue }
                latest[key] = draft.value
                try db.execute("""
                    INSERT INTO insurance_supplement (supplement_id, bhxh_index, field, bhxh_enc, value_enc, payload_enc, status, created_at)
                    VALUES (?, ?, ?, ?, ?, ?, 'pending', ?)
                    """, [.text(draft.supplementID), .blob(index), .text(draft.field),
                          .blob(try cipher.seal(draft.bhxhNumber, column: "insurance_supplement.bhxh_enc", row: .name(draft.supplementID))),
                          .blob(try cipher.seal(draft.value, column: "insurance_supplement.value_enc", row: .name(draft.supplementID))),
                          .blob(try cipher.seal(draft.payload, column: "insurance_supplement.payload_enc", row: .name(draft.supplementID))), .text(now)])
                planned.append(draft)
            }
            for id in outboxDone { try db.execute("UPDATE outbox SET done_at = ? WHERE id = ? AND done_at IS NULL", [.text(now), .int(id)]) }
            let fields = Dictionary(grouping: planned, by: \.field).mapValues(\.count).sorted { $0.key < $1.key }
                .map { "\($0.key)=\($0.value)" }.joined(separator: ",")
            try appendAudit(actor: "insurance-sync", action: "plan-supplements", subject: "insurance_supplement",
                            detail: "planned=\(planned.count) skipped=\(drafts.count - planned.count) outbox=\(outboxDone.count) fields=[\(fields)]",
                            at: now)
            return planned
        }
    }

    /// Pending supplements, oldest first.
    func pendingSupplements(limit: Int) throws -> [PendingSupplement] {
        try db.query("SELECT supplement_id, bhxh_enc, payload_enc FROM insurance_supplement WHERE status = 'pending' ORDER BY id LIMIT ?",
                     [.int(Int64(limit))]).map { row in
            let id = try row.text(0)
            return PendingSupplement(supplementID: id,
                                     bhxhNumber: try cipher.openText(try row.blob(1), column: "insurance_supplement.bhxh_enc", row: .name(id)),
                                     payload: try cipher.open(try row.blob(2), column: "insurance_supplement.payload_enc", row: .name(id)))
        }
    }

    /// Marks supplements delivered; an answer that arrived first (after a crash) is kept.
    func markSupplementsSent(_ ids: [String]) throws {
        guard !ids.isEmpty else { return }
        try db.transaction {
            let now = Self.timestamp()
            for id in ids {
                try db.execute("""
                    UPDATE insurance_supplement SET status = CASE WHEN status = 'pending' THEN 'sent' ELSE status END,
                      sent_at = COALESCE(sent_at, ?) WHERE supplement_id = ?
                    """, [.text(now), .text(id)])
            }
        }
    }

    /// Ledger rows by supplement id (ids the ledger does not hold are absent).
    func supplements(ids: [String]) throws -> [String: SupplementLedgerEntry] {
        var out: [String: SupplementLedgerEntry] = [:]
        try selectIn("SELECT \(Self.ledgerColumns) FROM insurance_supplement WHERE supplement_id IN", ids.map { .text($0) }) { row in
            let entry = try ledgerEntry(row)
            out[entry.supplementID] = entry
        }
        return out
    }

    /// Records BHXH's answers, the dead letters of unusable acknowledgements and the acknowledgement
    /// consumer's offsets in one transaction (exactly once, fenced like `apply`). Returns how many
    /// ledger rows changed.
    ///
    /// An answer only moves a supplement forward: an unanswered one takes any answer, an answered one
    /// only an answer BHXH gave later (`SupplementAnswer.receivedAt`, strictly). A replay of an older
    /// answer, the same answer again, or an answer without a time for an answered supplement changes
    /// nothing; so does an answer for a supplement superseded by a newer one of its field (our value
    /// changed since: that row is history). Answers apply in order, each against the row as it is.
    func recordSupplementAnswers(_ answers: [SupplementAnswer], deadLetters: [DeadLetterDraft], offsets: [ConsumerOffset], actor: String) throws -> Int {
        try db.transaction {
            let now = Self.timestamp()
            var changed = 0
            for answer in answers {
                let status: SupplementStatus = answer.accepted ? .accepted : .rejected
                let time: SQLValue = answer.receivedAt.map { .text(Self.timestamp($0)) } ?? .null
                changed += try db.execute("""
                    UPDATE insurance_supplement SET status = ?, reason_code = ?, reason_enc = ?, answered_at = ?, answer_received_at = ?
                    WHERE supplement_id = ?
                      AND (status IN ('pending', 'sent') OR answer_received_at < ?)
                      AND NOT EXISTS (SELECT 1 FROM insurance_supplement newer WHERE newer.bhxh_index = insurance_supplement.bhxh_index
                                      AND newer.field = insurance_supplement.field AND newer.id > insurance_supplement.id)
                    """, [.text(status.rawValue), answer.reasonCode.map { .text($0) } ?? .null,
                          try answer.reason.map { .blob(try cipher.seal($0, column: "insurance_supplement.reason_enc", row: .name(answer.supplementID))) } ?? .null,
                          .text(now), time, .text(answer.supplementID), time])
            }
            if let group = offsets.first?.group { try insertDeadLetters(deadLetters, group: group, at: now) }
            // Every acknowledgement read is an answer (no row of its own) or a dead letter.
            var absorbed: [TopicPartition: Int] = [:]
            for offset in offsets {
                absorbed[offset.partition] = offset.records - deadLetters.filter {
                    $0.source.topic == offset.partition.topic && $0.source.partition == offset.partition.partition
                }.count
            }
            try storeOffsets(offsets, absorbed: absorbed, at: now)
            let accepted = answers.filter(\.accepted).count
            let positions = offsets.map { "\($0.group):\($0.partition)=\($0.from)..<\($0.nextOffset)" }.joined(separator: ",")
            try appendAudit(actor: actor, action: "supplement-answers", subject: "insurance_supplement",
                            detail: "accepted=\(accepted) rejected=\(answers.count - accepted) changed=\(changed) offsets=[\(positions)]", at: now)
            return changed
        }
    }

    /// Queues one outbox message of `kind` for every active person linked to a card; returns how many.
    func queueForCardHolders(kind: String, payload: [UInt8]) throws -> Int {
        try db.transaction {
            let now = Self.timestamp()
            let persons = try db.query("""
                SELECT DISTINCT c.person_id FROM insurance_card c JOIN person p ON p.id = c.person_id
                WHERE p.status = 'active' ORDER BY c.person_id
                """, []).map { try $0.int(0) }
            try insertOutbox(persons.map { (kind, String($0), payload) }, at: now)
            try appendAudit(actor: "insurance-sync", action: "queue-card-holders", subject: "outbox", detail: "kind=\(kind) persons=\(persons.count)", at: now)
            return persons.count
        }
    }

    /// The insurance report's counts, validity judged on `day` (`YYYY-MM-DD`).
    func insuranceReport(day: String) throws -> InsuranceReport {
        func count(_ sql: String, _ params: [SQLValue] = []) throws -> Int { Int(try db.queryOne(sql, params)?.int(0) ?? 0) }
        let persons = try count("SELECT COUNT(*) FROM person WHERE status = 'active'")
        let valid = try count("""
            SELECT COUNT(DISTINCT c.person_id) FROM insurance_card c
            JOIN insurance_card_state s ON s.bhxh_index = c.bhxh_index JOIN person p ON p.id = c.person_id
            WHERE p.status = 'active' AND s.status = 'active' AND s.valid_from <= ? AND s.valid_to >= ?
            """, [.text(day), .text(day)])
        let cards = try count("SELECT COUNT(*) FROM insurance_card_state")
        let unlinked = try count("""
            SELECT COUNT(*) FROM insurance_card_state s WHERE NOT EXISTS
              (SELECT 1 FROM insurance_card c WHERE c.bhxh_index = s.bhxh_index AND c.person_id IS NOT NULL)
            """)
        let suspended = try count("SELECT COUNT(*) FROM insurance_card_state WHERE status = 'suspended'")
        var open: [String: Int] = [:]
        for row in try db.query("""
            SELECT field, COUNT(*) FROM insurance_supplement s WHERE status <> 'accepted' AND id =
              (SELECT MAX(id) FROM insurance_supplement t WHERE t.bhxh_index = s.bhxh_index AND t.field = s.field)
            GROUP BY field
            """, []) {
            open[try row.text(0)] = Int(try row.int(1))
        }
        var byStatus: [String: Int] = [:]
        for row in try db.query("SELECT status, COUNT(*) FROM insurance_supplement GROUP BY status", []) {
            byStatus[try row.text(0)] = Int(try row.int(1))
        }
        let accepted = byStatus[SupplementStatus.accepted.rawValue] ?? 0, rejected = byStatus[SupplementStatus.rejected.rawValue] ?? 0
        let awaiting = byStatus[SupplementStatus.sent.rawValue] ?? 0
        let supplements = SupplementCounts(sent: accepted + rejected + awaiting, accepted: accepted, rejected: rejected, awaitingAnswer: awaiting,
                                           pending: byStatus[SupplementStatus.pending.rawValue] ?? 0)
        return InsuranceReport(day: day, persons: persons, personsWithValidCard: valid, personsWithoutValidCard: persons - valid,
                               cards: cards, cardsNotLinked: unlinked, cardsSuspended: suspended, openDiscrepancies: open,
                               supplements: supplements)
    }
}
