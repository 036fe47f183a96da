import Foundation
import HealthModel

/// Insurance cards (Hà Nội regulation art. 18): the current state of each card, kept in step with its
/// change history inside the transaction that stores a change, and what the insurance sync reads.
extension StoreEngine {
    /// Refolds the state of every card a batch stored changes for; call inside `apply`'s transaction
    /// after the rows are written. `hasEarlierVersions` says whether the card had changes stored before
    /// this batch: if not, the batch's own (already decoded) changes are its whole history.
    func refreshCardStates(_ stored: [(record: IncomingRecord, hasEarlierVersions: Bool)], at now: String) throws {
        var order: [[UInt8]] = []
        var cards: [[UInt8]: (earlier: Bool, changes: [InsuranceCardChange])] = [:]
        for (incoming, earlier) in stored {
            guard case .insuranceCard(let change) = incoming.record else { continue }
            let index = identifierIndex(.bhxhNumber, incoming.sourceKey)
            if cards[index] == nil { order.append(index) }
            var card = cards[index] ?? (false, [])
            card.earlier = card.earlier || earlier
            card.changes.append(change)
            cards[index] = card
        }
        // Cards with changes stored before this batch: their whole history, read in one go.
        let stored = try storedCardChanges(order.filter { cards[$0]?.earlier == true })
        // One row per card (`order` holds each card once), so a multi-row upsert never meets the same
        // conflict key twice in one statement.
        var rows: [[SQLValue]] = []
        for index in order {
            guard let card = cards[index] else { continue }
            let history = card.earlier ? stored[index] ?? [] : card.changes
            guard let state = InsuranceCardState.fold(history) else { continue }
            let json: Data
            do { json = try jsonEncoder.encode(state) } catch { throw StoreError.invalidRequest("card state: \(error)") }
            rows.append([.blob(index), .text(state.status.rawValue), state.validFrom.map { .text(String($0.prefix(10))) } ?? .null,
                         state.validTo.map { .text(String($0.prefix(10))) } ?? .null, .text(state.effectiveAt), .int(Int64(state.changes)),
                         .blob(try cipher.seal(Array(json), column: "insurance_card_state.state_enc", row: .name(hex(index)))), .text(now)])
        }
        try insertMany("INSERT INTO insurance_card_state (bhxh_index, status, valid_from, valid_to, effective_at, changes, state_enc, updated_at)",
                       columns: 8, rows: rows, suffix: """
                        ON CONFLICT (bhxh_index) DO UPDATE SET status = excluded.status, valid_from = excluded.valid_from,
                         valid_to = excluded.valid_to, effective_at = excluded.effective_at, changes = excluded.changes,
                         state_enc = excluded.state_enc, updated_at = excluded.updated_at
                        """)
    }

    /// Every stored change of each card in `indexes`, in arrival order, decoded from the originals (one
    /// that no longer decodes is left out rather than failing the batch); chunked look-ups, not one per card.
    private func storedCardChanges(_ indexes: [[UInt8]]) throws -> [[UInt8]: [InsuranceCardChange]] {
        var found: [[UInt8]: [(id: Int64, change: InsuranceCardChange?)]] = [:]
        try selectIn("""
            SELECT c.bhxh_index, c.source_record_id, s.original_enc FROM insurance_card c JOIN source_record s ON s.id = c.source_record_id
            WHERE c.bhxh_index IN
            """, indexes.map { .blob($0) }) { row in
            let original = try cipher.open(try row.blob(2), column: "source_record.original_enc", row: .id(try row.int(1)))
            found[try row.blob(0), default: []].append((try row.int(1), RecordDecoder.decode(Data(original), as: InsuranceCardChange.self).record))
        }
        return found.mapValues { rows in rows.sorted { $0.id < $1.id }.compactMap(\.change) }
    }

    /// The card of a BHXH number, or nil when insurance never sent a change for it.
    func insuranceCard(bhxhNumber: String) throws -> InsuranceCardRecord? {
        try insuranceCard(index: identifierIndex(.bhxhNumber, bhxhNumber))
    }

    private func insuranceCard(index: [UInt8]) throws -> InsuranceCardRecord? {
        guard let row = try db.queryOne("SELECT state_enc FROM insurance_card_state WHERE bhxh_index = ?", [.blob(index)]) else { return nil }
        let json = try cipher.open(try row.blob(0), column: "insurance_card_state.state_enc", row: .name(hex(index)))
        let state: InsuranceCardState
        do { state = try JSONDecoder().decode(InsuranceCardState.self, from: Data(json)) } catch {
            throw StoreError.schemaInvalid("insurance_card_state holds a state this version cannot read")
        }
        let persons = try db.query("SELECT DISTINCT person_id FROM insurance_card WHERE bhxh_index = ? AND person_id IS NOT NULL ORDER BY person_id",
                                   [.blob(index)]).map { PersonID(try $0.int(0)) }
        return InsuranceCardRecord(state: state, persons: persons)
    }

    /// What the insurance sync needs of a person (merges followed to the survivor), read in one
    /// snapshot; nil when unknown. Records are read only when the person has a card: without one there
    /// is nothing to supplement.
    func insuranceView(_ id: PersonID) throws -> InsurancePersonView? {
        try readSnapshot { try insuranceViewInSnapshot(id) }
    }

    private func insuranceViewInSnapshot(_ id: PersonID) throws -> InsurancePersonView? {
        var current = id
        // A merge chain is short; the bound only guards against a corrupt cycle.
        for _ in 0..<32 {
            guard let row = try db.queryOne("SELECT merged_into FROM person WHERE id = ?", [.int(current.rawValue)]) else { return nil }
            guard let next = row[0].int else { break }
            current = PersonID(next)
        }
        guard let person = try person(current), person.mergedInto == nil else { return nil }
        let indexes = try db.query("SELECT DISTINCT bhxh_index FROM insurance_card WHERE person_id = ?", [.int(current.rawValue)])
            .map { try $0.blob(0) }
        let cards = try indexes.compactMap { try insuranceCard(index: $0) }.sorted { $0.state.bhxhNumber < $1.state.bhxhNumber }
        var records: [PersonRecord] = []
        if !cards.isEmpty {
            for row in try db.query("""
                SELECT id, kind, original_enc, topic, kafka_partition, kafka_offset, sender, version FROM source_record
                WHERE person_id = ? AND superseded_by IS NULL AND kind <> ? ORDER BY id
                """, [.int(current.rawValue), .text(RecordKind.insuranceCard.rawValue)]) {
                guard let kind = RecordKind(rawValue: try row.text(1)) else { continue }
                records.append(PersonRecord(id: try row.int(0), kind: kind,
                                            original: try cipher.open(try row.blob(2), column: "source_record.original_enc", row: .id(try row.int(0))),
                                            coordinates: KafkaCoordinates(topic: try row.text(3), partition: Int32(try row.int(4)), offset: try row.int(5)),
                                            sender: try row.text(6), version: Int(try row.int(7))))
            }
        }
        return InsurancePersonView(person: person, cards: cards, records: records)
    }
}
