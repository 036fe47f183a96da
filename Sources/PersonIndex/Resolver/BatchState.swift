import HealthModel
import Linkage
import RecordStore

/// What the resolver knows while it links one batch: the store's answers plus the persons,
/// identifiers and blocking keys the batch itself has added so far.
struct BatchState {
    private let storeHolders: [IdentifierKey: [IdentifierMatch]]
    private let storeBlocks: [String: [PersonID]]
    private let snapshots: [PersonID: PersonSnapshot]
    private let maxCandidates: Int
    private var localHolders: [IdentifierKey: PersonRef] = [:]
    private var localBlocks: [String: [PersonRef]] = [:]
    /// Profiles of persons created in the batch, and of stored persons once computed.
    private var profiles: [PersonRef: PersonProfile] = [:]
    /// Identifier values attached during the batch, by person and type.
    private var added: [PersonRef: [IdentifierType: Set<String>]] = [:]
    /// Batch-local number of the last person created.
    var nextLocal = 0
    /// Relations already planned (child, mother), so a repeated birth event adds one.
    var relations: Set<[PersonRef]> = []

    init(holders: [IdentifierKey: [IdentifierMatch]], blocks: [String: [PersonID]], snapshots: [PersonID: PersonSnapshot], maxCandidates: Int) {
        storeHolders = holders
        storeBlocks = blocks
        self.snapshots = snapshots
        self.maxCandidates = maxCandidates
        // Once per stored person: conflict checks and scoring ask for the same profiles many times.
        for (id, snapshot) in snapshots { if let d = snapshot.demographics { profiles[.existing(id)] = PersonProfile(stored: d) } }
    }

    /// The stored persons best placed to be a record's person, at most `limit`: those sharing the most
    /// of its blocking keys first (the record's own person usually shares five or more, a namesake one
    /// or two), then those whose shared block is smallest (a commune and birth date says more than a
    /// common name and birth year). Persons sharing three keys fewer than the best are left out, and
    /// at most two sharing a single key are kept: the cost per record stays flat as the index grows.
    static func ranked(_ keys: [String], in blocks: [String: [PersonID]], limit: Int) -> [PersonID] {
        var hits: [PersonID: (count: Int, smallest: Int)] = [:]
        for key in keys {
            guard let members = blocks[key] else { continue }
            for person in members {
                let known = hits[person] ?? (0, Int.max)
                hits[person] = (known.count + 1, min(known.smallest, members.count))
            }
        }
        guard let best = hits.values.map(\.count).max() else { return [] }
        let ordered = hits.filter { $0.value.count >= best - 2 }
            .sorted { ($0.value.count, $1.value.smallest, $1.key) > ($1.value.count, $0.value.smallest, $0.key) }
        var out: [PersonID] = []
        var singles = 0
        for (person, hit) in ordered where out.count < limit {
            if hit.count == 1 {
                guard singles < 2 else { break }
                singles += 1
            }
            out.append(person)
        }
        return out
    }

    /// Distinct persons holding any of the identifiers (active or historic), in order of first mention.
    func holders(of keys: [IdentifierKey]) -> [PersonRef] {
        var out: [PersonRef] = []
        for key in keys {
            if let local = localHolders[key], !out.contains(local) { out.append(local) }
            for match in storeHolders[key] ?? [] where snapshots[match.person] != nil {
                let ref = PersonRef.existing(match.person)
                if !out.contains(ref) { out.append(ref) }
            }
        }
        return out
    }

    /// Why `person` cannot be this record's person although an identifier says so, if it cannot:
    /// another value of a single-valued identifier, another sex, or another birth year.
    func conflict(_ person: PersonRef, _ fact: PersonResolver.Facts) -> String? {
        for entry in fact.identifiers where PersonResolver.singleValued.contains(entry.type) {
            let active = values(of: person, entry.type)
            if !active.isEmpty, !active.contains(entry.value), !values(of: person, entry.type, includeHistoric: true).contains(entry.value) {
                return "identifierConflict"
            }
        }
        guard let known = profile(of: person) else { return nil }
        if let a = known.sex, let b = fact.profile.sex, a != b, a != Sex.undetermined.rawValue, b != Sex.undetermined.rawValue {
            return "sexConflict"
        }
        if let a = known.birthDate?.year, let b = fact.profile.birthDate?.year, a != b { return "birthYearConflict" }
        return nil
    }

    /// Values of a type the person holds (active only unless asked), stored or added in the batch.
    func values(of person: PersonRef, _ type: IdentifierType, includeHistoric: Bool = false) -> Set<String> {
        var out = added[person]?[type] ?? []
        if case .existing(let id) = person, let snapshot = snapshots[id] {
            for identifier in snapshot.identifiers where identifier.type == type && (includeHistoric || identifier.validTo == nil) {
                out.insert(identifier.value)
            }
        }
        return out
    }

    /// True when the person already holds this identifier value (active).
    func holds(_ person: PersonRef, _ key: IdentifierKey) -> Bool { values(of: person, key.type).contains(key.value) }

    /// Records that the batch attached an identifier.
    mutating func addHolder(_ person: PersonRef, _ key: IdentifierKey, type: IdentifierType) {
        if localHolders[key] == nil { localHolders[key] = person }
        if type == .personalId, case .existing = person {
            // A re-issue closes the active personal ID: only the new one is active afterwards.
            added[person, default: [:]][type] = [key.value]
        } else {
            added[person, default: [:]][type, default: []].insert(key.value)
        }
    }

    /// Registers a person created in the batch.
    mutating func addLocal(_ person: PersonRef, profile: PersonProfile, blockingKeys: [String]) {
        profiles[person] = profile
        for key in blockingKeys { localBlocks[key, default: []].append(person) }
    }

    /// Persons sharing a blocking key with the record, minus those an identifier rules out.
    mutating func candidates(for fact: PersonResolver.Facts) -> [(person: PersonRef, profile: PersonProfile)] {
        var seen = Set<PersonRef>()
        var out: [(person: PersonRef, profile: PersonProfile)] = []
        let stored = Self.ranked(fact.blockingKeys, in: storeBlocks, limit: maxCandidates).map(PersonRef.existing)
        for person in stored + fact.blockingKeys.flatMap({ localBlocks[$0] ?? [] }) where seen.insert(person).inserted {
            guard !vetoed(person, fact), let profile = cachedProfile(of: person) else { continue }
            out.append((person, profile))
        }
        return out
    }

    /// Two different values of a single-valued identifier are two different people.
    private func vetoed(_ person: PersonRef, _ fact: PersonResolver.Facts) -> Bool {
        fact.identifiers.contains { entry in
            guard PersonResolver.singleValued.contains(entry.type) else { return false }
            let held = values(of: person, entry.type, includeHistoric: true)
            return !held.isEmpty && !held.contains(entry.value)
        }
    }

    /// Gives a person a new profile (a newborn named after a placeholder), findable by its blocking keys.
    mutating func rename(_ person: PersonRef, profile: PersonProfile, blockingKeys: [String]) {
        profiles[person] = profile
        for key in blockingKeys where !(localBlocks[key] ?? []).contains(person) { localBlocks[key, default: []].append(person) }
    }

    /// The stored demographics of an existing person.
    func demographics(of person: PersonRef) -> Demographics? {
        guard case .existing(let id) = person else { return nil }
        return snapshots[id]?.demographics
    }

    private mutating func cachedProfile(of person: PersonRef) -> PersonProfile? {
        if let known = profiles[person] { return known }
        let computed = profile(of: person)
        profiles[person] = computed
        return computed
    }

    /// What the person looks like to the matcher: as created or renamed in the batch, else as stored.
    func profile(of person: PersonRef) -> PersonProfile? {
        if let known = profiles[person] { return known }
        guard case .existing(let id) = person, let d = snapshots[id]?.demographics else { return nil }
        return PersonProfile(stored: d)
    }
}
