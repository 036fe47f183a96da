import Foundation
import HealthModel

/// Tables and columns that point at a person; a merge moves them and records exactly what moved.
private let personColumns: [(table: String, column: String)] = [
    ("identifier", "person_id"), ("blocking_key", "person_id"), ("source_record", "person_id"), ("visit", "person_id"),
    ("vaccination", "person_id"), ("insurance_card", "person_id"), ("registry_event", "person_id"),
    ("relation", "person_id"), ("relation", "related_person_id"),
]

extension StoreEngine {
    // MARK: - Persons and identifiers

    func updateDemographics(_ person: PersonID, _ demographics: Demographics, at now: String) throws {
        let changed = try db.execute("UPDATE person SET demographics_enc = ?, updated_at = ? WHERE id = ?",
                                     [.blob(try sealDemographics(demographics, of: person)), .text(now), .int(person.rawValue)])
        guard changed == 1 else { throw StoreError.invalidRequest("no person \(person)") }
    }

    /// The demographics' ciphertext for `person`'s row.
    func sealDemographics(_ demographics: Demographics, of person: PersonID) throws -> [UInt8] {
        let json: Data
        do { json = try jsonEncoder.encode(demographics) } catch { throw StoreError.invalidRequest("demographics: \(error)") }
        return try cipher.seal(Array(json), column: "person.demographics_enc", row: .id(person.rawValue))
    }

    func identifierIndex(_ type: IdentifierType, _ value: String) -> [UInt8] {
        cipher.blindIndex("id:" + type.rawValue, trimmedIdentifier(value))
    }

    /// Adds an identifier; idempotent for an identical active one. A new personal ID closes the
    /// person's active one (valid_to = the new one's valid_from), which stays searchable.
    func addIdentifier(_ entry: IdentifierEntry, to person: PersonID, at now: String) throws {
        _ = try applyIdentity([.addIdentifier(.existing(person), entry)], at: now)
    }

    func findPersons(_ type: IdentifierType, _ value: String, includeHistoric: Bool) throws -> [IdentifierMatch] {
        let sql = "SELECT person_id, valid_from, valid_to FROM identifier WHERE type = ? AND value_index = ?"
            + (includeHistoric ? "" : " AND valid_to IS NULL") + " ORDER BY id"
        return try db.query(sql, [.text(type.rawValue), .blob(identifierIndex(type, value))]).map { row in
            IdentifierMatch(person: PersonID(try row.int(0)), active: row[2].isNull, validFrom: try row.text(1), validTo: row[2].text)
        }
    }

    func findPersons(blockingKey: String) throws -> [PersonID] {
        try db.query("""
            SELECT b.person_id FROM blocking_key b JOIN person p ON p.id = b.person_id
            WHERE b.key_index = ? AND p.status = 'active' ORDER BY b.person_id
            """, [.blob(cipher.blindIndex("block", blockingKey))]).map { PersonID(try $0.int(0)) }
    }

    func person(_ id: PersonID) throws -> StoredPerson? {
        guard let row = try db.queryOne("SELECT demographics_enc, merged_into FROM person WHERE id = ?", [.int(id.rawValue)]) else { return nil }
        var demographics: Demographics?
        if let blob = row[0].blob {
            let json = try cipher.open(blob, column: "person.demographics_enc", row: .id(id.rawValue))
            demographics = try? JSONDecoder().decode(Demographics.self, from: Data(json))
        }
        let identifiers = try db.query("SELECT type, value_enc, valid_from, valid_to, source, id FROM identifier WHERE person_id = ? ORDER BY id",
                                       [.int(id.rawValue)]).compactMap { row -> StoredIdentifier? in
            guard let type = IdentifierType(rawValue: try row.text(0)) else { return nil }
            return StoredIdentifier(type: type, value: try cipher.openText(try row.blob(1), column: "identifier.value_enc", row: .id(try row.int(5))),
                                    validFrom: try row.text(2), validTo: row[3].text, source: try row.text(4))
        }
        let count = try db.queryOne("SELECT COUNT(*) FROM source_record WHERE person_id = ? AND superseded_by IS NULL", [.int(id.rawValue)])
        return StoredPerson(id: id, demographics: demographics, identifiers: identifiers, mergedInto: row[1].int.map { PersonID($0) },
                            recordCount: Int(try count?.int(0) ?? 0))
    }

    // MARK: - Merge and undo

    func merge(_ merged: PersonID, into survivor: PersonID, reason: String, actor: String, keepingActive: [IdentifierKey] = []) throws -> Int64 {
        guard merged != survivor else { throw StoreError.invalidRequest("cannot merge \(merged) into itself") }
        return try db.transaction {
            for p in [merged, survivor] {
                guard try db.queryOne("SELECT status FROM person WHERE id = ?", [.int(p.rawValue)])?.text(0) == "active" else {
                    throw StoreError.invalidRequest("person \(p) does not exist or was already merged")
                }
            }
            let now = Self.timestamp()
            var moved: [String: [Int64]] = [:]
            let superseded = try supersededIdentifiers(of: merged, by: survivor, keepingActive: keepingActive)
            for (table, column) in personColumns {
                // A blocking key the survivor already has stays behind (the pair is unique).
                let filter = table == "blocking_key"
                    ? " AND key_index NOT IN (SELECT key_index FROM blocking_key WHERE person_id = \(survivor.rawValue))" : ""
                let ids = try db.query("SELECT id FROM \(table) WHERE \(column) = ?\(filter) ORDER BY id", [.int(merged.rawValue)]).map { try $0.int(0) }
                guard !ids.isEmpty else { continue }
                moved["\(table).\(column)"] = ids
                try updateIDs(table: table, column: column, ids: ids, to: survivor)
            }
            if !superseded.isEmpty {
                moved[Self.closedOnMerge] = superseded
                // ids come from our own SELECT (integers), so inlining them is safe.
                try db.execute("UPDATE identifier SET valid_to = ? WHERE id IN (\(superseded.map(String.init).joined(separator: ",")))", [.text(now)])
            }
            try db.execute("UPDATE person SET status = 'merged', merged_into = ?, updated_at = ? WHERE id = ?",
                           [.int(survivor.rawValue), .text(now), .int(merged.rawValue)])
            let movedJSON: String
            do { movedJSON = String(decoding: try JSONEncoder().encode(moved), as: UTF8.self) } catch { throw StoreError.backend("\(error)") }
            let id = try db.insertReturningID("INSERT INTO merge_log (survivor_id, merged_id, reason, actor, moved, merged_at) VALUES (?, ?, ?, ?, ?, ?)",
                                              [.int(survivor.rawValue), .int(merged.rawValue), .text(reason), .text(actor), .text(movedJSON), .text(now)])
            // The survivor's citizen document changes and the absorbed person's key must go; the survivor may
            // now hold a card and values insurance lacks.
            let change = PersonChange(reason: .merge, other: merged.rawValue).payload
            try insertOutbox([(OutboxKinds.citizenFeed, String(survivor.rawValue), change),
                              (OutboxKinds.insuranceSupplement, String(survivor.rawValue), change)], at: now)
            try appendAudit(actor: actor, action: "merge", subject: "merge_log:\(id)",
                            detail: "merged=\(merged) survivor=\(survivor) rows=\(moved.values.map(\.count).reduce(0, +))", at: now)
            return id
        }
    }

    func undoMerge(_ mergeID: Int64, actor: String) throws {
        try db.transaction {
            guard let row = try db.queryOne("SELECT survivor_id, merged_id, moved, undone_at FROM merge_log WHERE id = ?", [.int(mergeID)]) else {
                throw StoreError.invalidRequest("no merge \(mergeID)")
            }
            guard row[3].isNull else { throw StoreError.invalidRequest("merge \(mergeID) was already undone") }
            let survivor = PersonID(try row.int(0)), merged = PersonID(try row.int(1))
            guard try db.queryOne("SELECT status FROM person WHERE id = ?", [.int(survivor.rawValue)])?.text(0) == "active" else {
                throw StoreError.invalidRequest("survivor \(survivor) was merged again later: undo that merge first")
            }
            let moved: [String: [Int64]]
            do { moved = try JSONDecoder().decode([String: [Int64]].self, from: Data(try row.text(2).utf8)) } catch {
                throw StoreError.schemaInvalid("merge_log \(mergeID) has an unreadable list of moved rows")
            }
            if let closed = moved[Self.closedOnMerge], !closed.isEmpty {
                try db.execute("UPDATE identifier SET valid_to = NULL WHERE id IN (\(closed.map(String.init).joined(separator: ",")))", [])
            }
            for (table, column) in personColumns {
                guard let ids = moved["\(table).\(column)"] else { continue }
                // Only rows still on the survivor go back; anything added since stays with it.
                for chunk in stride(from: 0, to: ids.count, by: 500).map({ Array(ids[$0..<min($0 + 500, ids.count)]) }) {
                    try db.execute("UPDATE \(table) SET \(column) = ? WHERE \(column) = ? AND id IN (\(chunk.map(String.init).joined(separator: ",")))",
                                   [.int(merged.rawValue), .int(survivor.rawValue)])
                }
            }
            let now = Self.timestamp()
            try db.execute("UPDATE person SET status = 'active', merged_into = NULL, updated_at = ? WHERE id = ?", [.text(now), .int(merged.rawValue)])
            try db.execute("UPDATE merge_log SET undone_at = ?, undone_by = ? WHERE id = ?", [.text(now), .text(actor), .int(mergeID)])
            // Both persons' citizen documents change: the restored person is published again. Both are
            // decided again for insurance too (what was sent stays in the ledger and is not repeated).
            let survivorChange = PersonChange(reason: .undoMerge, other: merged.rawValue).payload
            let mergedChange = PersonChange(reason: .undoMerge, other: survivor.rawValue).payload
            try insertOutbox([(OutboxKinds.citizenFeed, String(survivor.rawValue), survivorChange),
                              (OutboxKinds.citizenFeed, String(merged.rawValue), mergedChange),
                              (OutboxKinds.insuranceSupplement, String(survivor.rawValue), survivorChange),
                              (OutboxKinds.insuranceSupplement, String(merged.rawValue), mergedChange)],
                             at: now)
            try appendAudit(actor: actor, action: "undo-merge", subject: "merge_log:\(mergeID)",
                            detail: "merged=\(merged) survivor=\(survivor)", at: now)
        }
    }

    /// The merge log's key for identifier rows a merge closed (reopened by undo).
    static let closedOnMerge = "closed.identifier"

    /// Active single-valued identifiers of the two persons that cannot both stay active on the
    /// survivor: for each type both hold with different values, every active row but the kept ones
    /// (the values in `keepingActive`, else the survivor's). Row ids, to close.
    private func supersededIdentifiers(of merged: PersonID, by survivor: PersonID, keepingActive: [IdentifierKey]) throws -> [Int64] {
        let kept = Set(keepingActive.map { identifierIndex($0.type, $0.value) })
        var rows: [IdentifierType: [(id: Int64, person: PersonID, index: [UInt8])]] = [:]
        for row in try db.query("SELECT id, person_id, type, value_index FROM identifier WHERE person_id IN (?, ?) AND valid_to IS NULL ORDER BY id",
                                [.int(merged.rawValue), .int(survivor.rawValue)]) {
            guard let type = IdentifierType(rawValue: try row.text(2)), IdentifierType.singleValued.contains(type) else { continue }
            rows[type, default: []].append((try row.int(0), PersonID(try row.int(1)), try row.blob(3)))
        }
        var closed: [Int64] = []
        for (_, held) in rows where Set(held.map(\.index)).count > 1 {
            let named = held.filter { kept.contains($0.index) }
            let keep = named.isEmpty ? held.filter { $0.person == survivor } : named
            guard !keep.isEmpty else { continue }
            let keptIndexes = Set(keep.map(\.index))
            closed += held.filter { !keptIndexes.contains($0.index) }.map(\.id)
        }
        return closed.sorted()
    }

    private func updateIDs(table: String, column: String, ids: [Int64], to person: PersonID) throws {
        for start in stride(from: 0, to: ids.count, by: 500) {
            let chunk = ids[start..<min(start + 500, ids.count)]
            // ids come from our own SELECT (integers), so inlining them is safe.
            try db.execute("UPDATE \(table) SET \(column) = ? WHERE id IN (\(chunk.map(String.init).joined(separator: ",")))", [.int(person.rawValue)])
        }
    }

    func merges(involving person: PersonID) throws -> [MergeLogEntry] {
        try db.query("SELECT id, survivor_id, merged_id, reason, actor, undone_at FROM merge_log WHERE survivor_id = ? OR merged_id = ? ORDER BY id",
                     [.int(person.rawValue), .int(person.rawValue)]).map { row in
            MergeLogEntry(id: try row.int(0), survivor: PersonID(try row.int(1)), merged: PersonID(try row.int(2)),
                          reason: try row.text(3), actor: try row.text(4), undone: !row[5].isNull)
        }
    }

    func relations(of person: PersonID) throws -> [PersonRelation] {
        try db.query("SELECT person_id, kind, related_person_id FROM relation WHERE person_id = ? OR related_person_id = ? ORDER BY id",
                     [.int(person.rawValue), .int(person.rawValue)]).compactMap { row in
            guard let kind = RelationKind(rawValue: try row.text(1)) else { return nil }
            return PersonRelation(person: PersonID(try row.int(0)), kind: kind, other: PersonID(try row.int(2)))
        }
    }

    // MARK: - Review tasks

    /// Inserts an open review task; its id is reserved first, since the evidence is sealed for its row
    /// (in a batch, `apply` reserved it with the batch's other ids).
    func insertReview(kind: String, persons: [PersonID], evidence: String, at now: String) throws -> Int64 {
        guard let id = try reserveIDs("review_task", count: 1).first else { throw StoreError.backend("no review task id reserved") }
        try db.execute("INSERT INTO review_task (id, kind, persons, evidence_enc, status, created_at) VALUES (?, ?, ?, ?, 'open', ?)",
                       [.int(id), .text(kind), .text(persons.map { String($0.rawValue) }.joined(separator: ",")),
                        .blob(try cipher.seal(evidence, column: "review_task.evidence_enc", row: .id(id))), .text(now)])
        return id
    }

    func reviewTasks(includeResolved: Bool) throws -> [ReviewTask] {
        try db.query("SELECT id, kind, persons, evidence_enc, resolution FROM review_task" + (includeResolved ? "" : " WHERE status = 'open'") + " ORDER BY id", []).map { row in
            ReviewTask(id: try row.int(0), kind: try row.text(1),
                       persons: try row.text(2).split(separator: ",").compactMap { Int64($0) }.map { PersonID($0) },
                       evidence: try cipher.openText(try row.blob(3), column: "review_task.evidence_enc", row: .id(try row.int(0))), resolution: row[4].text)
        }
    }

    func resolveReview(_ id: Int64, resolution: String, actor: String) throws {
        try db.transaction {
            let now = Self.timestamp()
            let changed = try db.execute("UPDATE review_task SET status = 'resolved', resolution = ?, resolved_at = ?, resolved_by = ? WHERE id = ? AND status = 'open'",
                                         [.text(resolution), .text(now), .text(actor), .int(id)])
            guard changed == 1 else { throw StoreError.invalidRequest("no open review task \(id)") }
            try appendAudit(actor: actor, action: "resolve-review", subject: "review_task:\(id)", detail: "resolved", at: now)
        }
    }
}

/// An identifier value without surrounding spaces (plain Swift: Foundation's trimming bridges
/// through NSString and costs microseconds per call).
func trimmedIdentifier(_ value: String) -> String {
    guard let first = value.firstIndex(where: { !$0.isWhitespace }), let last = value.lastIndex(where: { !$0.isWhitespace }) else { return "" }
    return String(value[first...last])
}
