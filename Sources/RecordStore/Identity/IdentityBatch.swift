import Foundation
import HealthModel

/// Applying a batch's identity changes with few statements: new persons get reserved ids and one
/// multi-row insert, identifier holders are looked up once, identifiers and blocking keys are
/// inserted in multi-row statements. The rules are those of one change at a time, in batch order.
extension StoreEngine {
    /// A holder of an identifier value, as known while the batch is applied.
    private struct Holder {
        var person: PersonID
        var type: String
        var active: Bool
    }

    /// An identifier row to insert.
    private struct PlannedIdentifier {
        var person: PersonID
        var type: IdentifierType
        var index: [UInt8]
        var value: String
        var validFrom: String
        var validTo: String?
        var source: String
    }

    /// Applies `changes`; returns the ids of the persons created, by batch-local number.
    /// All `newPerson` changes are created first, so any change of the batch may refer to them.
    ///
    /// Rows whose ciphertexts are bound to their ids (persons, identifiers, review tasks) get ids
    /// reserved before they are sealed: in one statement with the batch's other ids when `apply`
    /// reserved them (`withReservedIDs`), else here in one statement for the three tables.
    func applyIdentity(_ changes: [IdentityChange], at now: String) throws -> [Int: PersonID] {
        guard !changes.isEmpty else { return [:] }
        return try withReservedIDs(Self.identityIDs(changes)) { try applyIdentityReserved(changes, at: now) }
    }

    /// The ids `changes` may need, at most, by table.
    static func identityIDs(_ changes: [IdentityChange]) -> [String: Int] {
        var persons = 0, identifiers = 0, reviews = 0
        for change in changes {
            switch change {
            case .newPerson: persons += 1
            case .addIdentifier: identifiers += 1
            case .openReview: reviews += 1
            default: break
            }
        }
        return ["person": persons, "identifier": identifiers, "review_task": reviews]
    }

    private func applyIdentityReserved(_ changes: [IdentityChange], at now: String) throws -> [Int: PersonID] {
        var newPersons: [Int: PersonID] = [:]
        var drafts: [(local: Int, demographics: Demographics)] = []
        for case .newPerson(let local, let demographics) in changes {
            guard !drafts.contains(where: { $0.local == local }) else {
                throw StoreError.invalidRequest("new person \(local) created twice in one batch")
            }
            drafts.append((local, demographics))
        }
        let ids = try reserveIDs("person", count: drafts.count)
        var personRows: [[SQLValue]] = []
        for (draft, id) in zip(drafts, ids) {
            newPersons[draft.local] = PersonID(id)
            personRows.append([.int(id), .text("active"), .blob(try sealDemographics(draft.demographics, of: PersonID(id))), .text(now), .text(now)])
        }
        try insertMany("INSERT INTO person (id, status, demographics_enc, created_at, updated_at)", columns: 5, rows: personRows)
        let created = Set(newPersons.values)
        func resolve(_ ref: PersonRef) throws(StoreError) -> PersonID { try ref.resolved(newPersons) }

        // One look-up for every identifier value and every existing person the batch touches.
        var indexes: [[UInt8]] = []
        var existing: Set<PersonID> = []
        for case .addIdentifier(let ref, let entry) in changes {
            indexes.append(identifierIndex(entry.type, entry.value))
            if case .existing(let id) = ref { existing.insert(id) }
        }
        var holders: [[UInt8]: [Holder]] = [:]
        // Which holder lists name a person's personal IDs, so closing them does not scan every list.
        var personalIDKeys: [PersonID: Set<[UInt8]>] = [:]
        try selectIn("SELECT value_index, person_id, type, valid_to FROM identifier WHERE value_index IN", Array(Set(indexes)).map { .blob($0) }) { row in
            let holder = Holder(person: PersonID(try row.int(1)), type: try row.text(2), active: row[3].isNull)
            let index = try row.blob(0)
            holders[index, default: []].append(holder)
            if holder.type == IdentifierType.personalId.rawValue { personalIDKeys[holder.person, default: []].insert(index) }
        }
        var active: Set<PersonID> = created
        try selectIn("SELECT id FROM person WHERE status = 'active' AND id IN", existing.map { .int($0.rawValue) }) { row in
            active.insert(PersonID(try row.int(0)))
        }

        var planned: [PlannedIdentifier] = []
        var activePlannedPersonalID: [PersonID: Int] = [:]
        // Stored persons whose active personal IDs close, with the date they close on: the first new
        // personal ID of the batch closes them (later ones close the planned rows instead). Written
        // before the planned rows are inserted; nothing in between reads the identifier table.
        var closeStoredPersonalID: [PersonID: String] = [:]
        var closeOrder: [PersonID] = []
        var blocking: [[UInt8]: Set<PersonID>] = [:]
        var blockingRows: [[SQLValue]] = []
        for change in changes {
            switch change {
            case .newPerson:
                continue
            case .addIdentifier(let ref, let entry):
                let person = try resolve(ref)
                let value = trimmedIdentifier(entry.value)
                guard !value.isEmpty else { throw StoreError.invalidRequest("empty \(entry.type.rawValue)") }
                guard active.contains(person) else { throw StoreError.invalidRequest("no active person \(person)") }
                let index = identifierIndex(entry.type, value)
                let sameType = (holders[index] ?? []).filter { $0.type == entry.type.rawValue }
                if sameType.contains(where: { $0.person == person && $0.active }) { continue }
                if entry.type == .personalId, let other = sameType.first(where: { $0.person != person }) {
                    // A personal ID, even a cancelled one, is never given to anyone else (reference §2).
                    throw StoreError.identityConflict("this personal ID already belongs to person \(other.person); send it to review instead")
                }
                let validFrom = entry.validFrom ?? now
                if entry.type == .personalId {
                    // The person's active personal ID (stored or planned) closes when the new one starts.
                    if !created.contains(person) {
                        if closeStoredPersonalID[person] == nil {
                            closeStoredPersonalID[person] = validFrom
                            closeOrder.append(person)
                        }
                        for key in personalIDKeys[person] ?? [] {
                            guard var list = holders[key] else { continue }
                            for h in list.indices where list[h].person == person && list[h].type == "personalId" { list[h].active = false }
                            holders[key] = list
                        }
                    }
                    if let previous = activePlannedPersonalID[person] {
                        planned[previous].validTo = validFrom
                        let key = planned[previous].index
                        if var list = holders[key], let h = list.firstIndex(where: { $0.person == person && $0.active }) {
                            list[h].active = false
                            holders[key] = list
                        }
                    }
                    activePlannedPersonalID[person] = planned.count
                }
                planned.append(PlannedIdentifier(person: person, type: entry.type, index: index, value: value, validFrom: validFrom,
                                                 validTo: nil, source: entry.source))
                holders[index, default: []].append(Holder(person: person, type: entry.type.rawValue, active: true))
                if entry.type == .personalId { personalIDKeys[person, default: []].insert(index) }
            case .addBlockingKeys(let ref, let keys):
                let person = try resolve(ref)
                for key in keys {
                    let index = cipher.blindIndex("block", key)
                    if blocking[index, default: []].insert(person).inserted {
                        blockingRows.append([.int(person.rawValue), .blob(index)])
                    }
                }
            case .updateDemographics(let ref, let demographics):
                try updateDemographics(try resolve(ref), demographics, at: now)
            case .relate(let ref, let kind, let other):
                try db.execute("INSERT INTO relation (person_id, kind, related_person_id, created_at) VALUES (?, ?, ?, ?)",
                               [.int(try resolve(ref).rawValue), .text(kind.rawValue), .int(try resolve(other).rawValue), .text(now)])
            case .openReview(let draft):
                _ = try insertReview(kind: draft.kind, persons: try draft.persons.map(resolve), evidence: draft.evidence, at: now)
            case .linkRecord(let sourceRecordID, let ref):
                let person = try resolve(ref)
                guard try db.execute("UPDATE source_record SET person_id = ? WHERE id = ?", [.int(person.rawValue), .int(sourceRecordID)]) == 1 else {
                    throw StoreError.invalidRequest("no source record \(sourceRecordID)")
                }
                for table in ["visit", "vaccination", "insurance_card", "registry_event"] {
                    try db.execute("UPDATE \(table) SET person_id = ? WHERE source_record_id = ?", [.int(person.rawValue), .int(sourceRecordID)])
                }
            }
        }
        // `COALESCE(valid_to IS NULL, FALSE)` is `valid_to IS NULL` in a form the planner cannot match to
        // the partial index of active personal IDs: on a table without statistics PostgreSQL scanned
        // that index whole instead of reading the few rows of each person by `identifier_person`.
        try updateMany("identifier", set: "valid_to", type: "TEXT", key: "person_id",
                       closeOrder.compactMap { person in closeStoredPersonalID[person].map { (.int(person.rawValue), .text($0)) } },
                       filter: " AND type = 'personalId' AND COALESCE(valid_to IS NULL, FALSE)")
        let identifierIDs = try reserveIDs("identifier", count: planned.count)
        let identifierRows = try zip(planned, identifierIDs).map { p, id -> [SQLValue] in
            [.int(id), .int(p.person.rawValue), .text(p.type.rawValue), .blob(p.index),
             .blob(try cipher.seal(p.value, column: "identifier.value_enc", row: .id(id))),
             .text(p.validFrom), p.validTo.map { .text($0) } ?? .null, .text(p.source)]
        }
        try insertMany("INSERT INTO identifier (id, person_id, type, value_index, value_enc, valid_from, valid_to, source)", columns: 8,
                       rows: identifierRows)
        try insertMany("INSERT INTO blocking_key (person_id, key_index)", columns: 2, rows: blockingRows,
                       suffix: " ON CONFLICT (key_index, person_id) DO NOTHING")
        return newPersons
    }

    /// Runs `prefix (?, ?, …)` over `values` in chunks of a fixed size (padded with the first value,
    /// so one prepared statement serves every chunk) and hands each row to `body`. On PostgreSQL, when
    /// the values are all integers or all blobs, one statement instead: `= ANY` over one array parameter.
    func selectIn(_ prefix: String, _ values: [SQLValue], _ body: (SQLRow) throws -> Void) throws {
        guard let first = values.first else { return }
        if db.dialect == .postgres, prefix.hasSuffix(" IN"), let array = postgresArray(values) {
            let sql = String(prefix.dropLast(3)) + " = ANY(CAST(? AS \(array.type)))"
            for row in try db.query(sql, [.text(array.literal)]) { try body(row) }
            return
        }
        let chunk = 100
        let sql = prefix + " (" + Array(repeating: "?", count: chunk).joined(separator: ", ") + ")"
        for start in stride(from: 0, to: values.count, by: chunk) {
            var params = Array(values[start..<min(start + chunk, values.count)])
            params += Array(repeating: first, count: chunk - params.count)
            for row in try db.query(sql, params) { try body(row) }
        }
    }

    /// A PostgreSQL array literal of `values` and its SQL type, when they are all integers (`BIGINT[]`)
    /// or all blobs (`BYTEA[]`, as hex: only digits and hex letters come from the data); nil otherwise.
    func postgresArray(_ values: [SQLValue]) -> (literal: String, type: String)? {
        var ints: [String] = [], blobs: [String] = []
        for value in values {
            switch value {
            case .int(let v): ints.append(String(v))
            case .blob(let b): blobs.append("\"\\\\x" + hex(b) + "\"")
            case .null, .text: return nil
            }
        }
        if blobs.isEmpty { return ("{" + ints.joined(separator: ",") + "}", "BIGINT[]") }
        if ints.isEmpty { return ("{" + blobs.joined(separator: ",") + "}", "BYTEA[]") }
        return nil
    }
}
