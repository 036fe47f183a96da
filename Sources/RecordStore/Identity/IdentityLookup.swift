import Foundation
import HealthModel

/// A person as the linker sees it: demographics and identifiers, decrypted.
public struct PersonSnapshot: Sendable, Hashable {
    /// Id.
    public var id: PersonID
    /// Demographics, when known.
    public var demographics: Demographics?
    /// Identifiers, active and historic.
    public var identifiers: [StoredIdentifier]
}

/// What one batch look-up found: who holds each identifier, who shares each blocking key, and a
/// snapshot of every active person named.
public struct IdentityLookup: Sendable {
    /// Holders of each identifier asked for (active and historic); absent when nobody holds it.
    public var holders: [IdentifierKey: [IdentifierMatch]] = [:]
    /// Active persons sharing each blocking key asked for; a key shared by more than the limit is
    /// absent (too unselective to compare against).
    public var blocks: [String: [PersonID]] = [:]
    /// Every active person named in `holders` or `blocks`.
    public var persons: [PersonID: PersonSnapshot] = [:]
    /// Creates an empty look-up.
    public init() {}
}

extension StoreEngine {
    /// Runs a batch look-up's queries by index: on PostgreSQL in one read-only snapshot with sequential
    /// scans off (`readSnapshot(byIndex:)`); on SQLite as they are (its planner uses the indexes).
    private func byIndex<T>(_ body: () throws -> T) throws -> T {
        db.dialect == .postgres ? try readSnapshot(byIndex: true, body) : try body()
    }

    /// One round trip for a whole batch: identifier holders, block members (merged persons are
    /// followed to their survivor) and snapshots of all of them.
    func lookupIdentity(identifiers: [IdentifierKey], blockingKeys: [String], maxBlockSize: Int) throws -> IdentityLookup {
        try byIndex { try lookupIdentityByIndex(identifiers: identifiers, blockingKeys: blockingKeys, maxBlockSize: maxBlockSize) }
    }

    private func lookupIdentityByIndex(identifiers: [IdentifierKey], blockingKeys: [String], maxBlockSize: Int) throws -> IdentityLookup {
        var lookup = IdentityLookup()
        var keyOfIndex: [[UInt8]: IdentifierKey] = [:]
        for key in Set(identifiers) { keyOfIndex[identifierIndex(key.type, key.value)] = key }
        try selectIn("SELECT value_index, type, person_id, valid_from, valid_to FROM identifier WHERE value_index IN",
                     keyOfIndex.keys.map { .blob($0) }) { row in
            // Indexes are domain-separated by type, but check: a stray equal index must not match.
            guard let key = keyOfIndex[try row.blob(0)], key.type.rawValue == (try row.text(1)) else { return }
            lookup.holders[key, default: []].append(IdentifierMatch(person: PersonID(try row.int(2)), active: row[4].isNull,
                                                                    validFrom: try row.text(3), validTo: row[4].text))
        }
        let members = try rawBlockMembers(blockingKeys, maxBlockSize: maxBlockSize)
        let named = Set(lookup.holders.values.flatMap { $0.map(\.person) } + members.values.flatMap { $0 })
        let survivors = try survivorsOf(named)
        for key in Array(lookup.holders.keys) {
            lookup.holders[key] = lookup.holders[key]?.map { var m = $0; m.person = survivors[m.person] ?? m.person; return m }
        }
        for (key, persons) in members { lookup.blocks[key] = Array(Set(persons.map { survivors[$0] ?? $0 })).sorted() }
        lookup.persons = try snapshots(Set(survivors.values))
        return lookup
    }

    /// Members of each block of at most `maxBlockSize` rows, without snapshots or merges followed:
    /// a merge moves every key the survivor lacks, so a merged person's leftover rows name blocks the
    /// survivor is in already (`personSnapshots` leaves merged persons out).
    func blockMembers(_ blockingKeys: [String], maxBlockSize: Int) throws -> [String: [PersonID]] {
        try byIndex { try rawBlockMembers(blockingKeys, maxBlockSize: maxBlockSize) }
    }

    /// Snapshots of the active persons among `ids` (a merged person is absent: ask for its survivor).
    func personSnapshots(_ ids: [PersonID]) throws -> [PersonID: PersonSnapshot] {
        try byIndex { try snapshots(Set(ids)) }
    }

    /// Rows of each block with at most `maxBlockSize` rows. A block of a very common name must cost the
    /// same in a city as in a village, so it is never read whole: SQLite (in process) reads one row past
    /// the limit per key; PostgreSQL counts each block in the database (an index-only count, one round
    /// trip for all the keys, passed as one `bytea[]` parameter).
    private func rawBlockMembers(_ blockingKeys: [String], maxBlockSize: Int) throws -> [String: [PersonID]] {
        var keyOfBlock: [[UInt8]: String] = [:]
        for key in Set(blockingKeys) { keyOfBlock[cipher.blindIndex("block", key)] = key }
        var members: [String: [PersonID]] = [:]
        guard !keyOfBlock.isEmpty, maxBlockSize > 0 else { return members }
        if db.dialect == .sqlite {
            for (index, key) in keyOfBlock {
                let rows = try db.query("SELECT person_id FROM blocking_key WHERE key_index = ? LIMIT ?", [.blob(index), .int(Int64(maxBlockSize + 1))])
                guard !rows.isEmpty, rows.count <= maxBlockSize else { continue }
                members[key] = try rows.map { PersonID(try $0.int(0)) }
            }
            return members
        }
        guard let array = postgresArray(keyOfBlock.keys.map { .blob($0) }) else { return members }
        let sql = """
            SELECT key_index, person_id FROM blocking_key WHERE key_index IN (
              SELECT key_index FROM blocking_key WHERE key_index = ANY(CAST(? AS BYTEA[])) GROUP BY key_index HAVING COUNT(*) <= ?)
            """
        for row in try db.query(sql, [.text(array.literal), .int(Int64(maxBlockSize))]) {
            guard let key = keyOfBlock[try row.blob(0)] else { continue }
            members[key, default: []].append(PersonID(try row.int(1)))
        }
        return members
    }

    /// A page of active persons in id order, with snapshots.
    func activePersons(after: PersonID?, limit: Int) throws -> [PersonSnapshot] {
        guard limit > 0 else { return [] }
        let ids = try db.query("SELECT id FROM person WHERE status = 'active' AND id > ? ORDER BY id LIMIT ?",
                               [.int(after?.rawValue ?? 0), .int(Int64(limit))]).map { PersonID(try $0.int(0)) }
        let found = try snapshots(Set(ids))
        return ids.compactMap { found[$0] }
    }

    /// Maps each person to the active person it is (itself, or the end of its merge chain).
    private func survivorsOf(_ persons: Set<PersonID>) throws -> [PersonID: PersonID] {
        var result: [PersonID: PersonID] = [:]
        var pending = persons
        var hops = 0
        var next: [PersonID: PersonID] = [:]
        while !pending.isEmpty && hops < 16 {
            var further: Set<PersonID> = []
            try selectIn("SELECT id, status, merged_into FROM person WHERE id IN", pending.map { .int($0.rawValue) }) { row in
                let id = PersonID(try row.int(0))
                if try row.text(1) == "active" { next[id] = id } else if let target = row[2].int { next[id] = PersonID(target); further.insert(PersonID(target)) }
            }
            pending = further.subtracting(next.keys)
            hops += 1
        }
        for person in persons {
            var current = person
            var steps = 0
            while let target = next[current], target != current, steps < 16 { current = target; steps += 1 }
            if next[current] == current { result[person] = current }
        }
        return result
    }

    /// Decrypted snapshots of active persons.
    private func snapshots(_ ids: Set<PersonID>) throws -> [PersonID: PersonSnapshot] {
        var out: [PersonID: PersonSnapshot] = [:]
        let decoder = JSONDecoder()
        try selectIn("SELECT id, demographics_enc FROM person WHERE status = 'active' AND id IN", ids.map { .int($0.rawValue) }) { row in
            let id = PersonID(try row.int(0))
            let demographics = row[1].blob.flatMap { blob in
                try? decoder.decode(Demographics.self, from: Data(try cipher.open(blob, column: "person.demographics_enc", row: .id(id.rawValue))))
            }
            out[id] = PersonSnapshot(id: id, demographics: demographics, identifiers: [])
        }
        try selectIn("SELECT person_id, type, value_enc, valid_from, valid_to, source, id FROM identifier WHERE person_id IN",
                     out.keys.map { .int($0.rawValue) }) { row in
            let id = PersonID(try row.int(0))
            guard out[id] != nil, let type = IdentifierType(rawValue: try row.text(1)) else { return }
            out[id]?.identifiers.append(StoredIdentifier(type: type, value: try cipher.openText(try row.blob(2), column: "identifier.value_enc", row: .id(try row.int(6))),
                                                         validFrom: try row.text(3), validTo: row[4].text, source: try row.text(5)))
        }
        return out
    }
}

extension PersonRef {
    /// The person meant, given the ids the batch's new persons got.
    func resolved(_ newPersons: [Int: PersonID]) throws(StoreError) -> PersonID {
        switch self {
        case .existing(let id): return id
        case .new(let local):
            guard let id = newPersons[local] else {
                throw StoreError.invalidRequest("PersonRef.new(local: \(local)) names no IdentityChange.newPerson in the batch")
            }
            return id
        }
    }
}
