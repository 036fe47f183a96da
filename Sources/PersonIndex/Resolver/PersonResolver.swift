import Foundation
import HealthModel
import Linkage
import RecordStore
import ServiceRuntime

/// Links a batch of accepted records to persons through the store's indexes (DESIGN §8, reference §6):
/// identifiers first (active or old personal ID, CMND, BHXH number, local ids, temporary code), then
/// blocking and Fellegi–Sunter scoring, else a new person. Conflicts open review tasks and never merge.
///
/// Three store round trips per batch: every identifier (with the holders' snapshots); the members of
/// the blocks of records that no identifier resolved (blocks larger than `maxBlockSize` are not read);
/// snapshots of each record's best-placed candidates (those sharing the most blocking keys with it, at
/// most `maxCandidates`). The work per record is so bounded however large the index grows. Persons
/// created earlier in the same batch are found through local indexes.
package struct PersonResolver: Sendable {
    /// Identifier types in the order they decide, strongest first.
    static let deterministicOrder: [IdentifierType] = [
        .personalId, .legacyId, .bhxhNumber, .passport, .birthCertificate, .immunizationCode, .facilityPatientId, .temporaryCode,
    ]
    /// Types a person holds one active value of: a different value means a different person.
    static let singleValued = IdentifierType.singleValued

    let store: any PersonIndexStore
    package var matcher = ProbabilisticMatcher()
    /// A block shared by more persons is unselective (a very common name and birth year in a city):
    /// the record's other keys find its person.
    package var maxBlockSize = 50
    /// Store persons scored per record, those sharing the most blocking keys with it first.
    package var maxCandidates = 5

    /// A resolver over `store` with the default match model.
    package init(store: any PersonIndexStore) { self.store = store }

    /// A resolver scoring with the store's match model (its EM estimate, else the defaults), saying
    /// which in a `matchModel.loaded` log line. Ingest calls it at start: a new estimate takes effect
    /// at the next start.
    package static func loading(store: any PersonIndexStore, log: EventLog) async throws -> PersonResolver {
        let settings = try await MatchModelSettings.load(from: store)
        settings.log(log, component: "ingest")
        var resolver = PersonResolver(store: store)
        resolver.matcher.model = settings.model
        return resolver
    }

    /// The linking of one batch.
    package struct Resolution: Sendable {
        /// The person of each record (nil: left unlinked pending review).
        package var persons: [PersonRef?] = []
        /// Identity changes to apply with the records.
        package var identity: [IdentityChange] = []
        package var created = 0
        package var linked = 0
        package var reviews = 0
        /// Candidate pairs the matcher scored.
        package var scored = 0
    }

    /// What linking needs of one record.
    package struct Facts: Sendable {
        package var identifiers: [IdentifierEntry]
        var details: PersonDetails
        package var profile: PersonProfile
        var blockingKeys: [String]
        /// The mother named by a birth event, by her identifiers.
        var mother: [IdentifierKey]
        /// The new personal ID of a re-issue event: it closes the person's active one when attached.
        var reissued: IdentifierEntry?
    }

    /// Links a batch's records, in order.
    package func resolve(_ records: [IncomingRecord]) async throws -> Resolution {
        let facts = records.map(Self.facts)
        let keys = facts.flatMap { $0.identifiers.map { IdentifierKey($0.type, $0.value) } + $0.mother + ($0.reissued.map { [IdentifierKey($0.type, $0.value)] } ?? []) }
        let byIdentifier = try await store.lookupIdentity(identifiers: keys, blockingKeys: [], maxBlockSize: maxBlockSize)
        let unresolved = facts.filter { fact in !fact.identifiers.contains { byIdentifier.holders[IdentifierKey($0.type, $0.value)] != nil } }
        let blocks = unresolved.isEmpty ? [:] : try await store.blockMembers(unresolved.flatMap(\.blockingKeys), maxBlockSize: maxBlockSize)
        let wanted = Set(unresolved.flatMap { BatchState.ranked($0.blockingKeys, in: blocks, limit: maxCandidates) })
            .subtracting(byIdentifier.persons.keys)
        let candidates = wanted.isEmpty ? [:] : try await store.personSnapshots(Array(wanted))
        var state = BatchState(holders: byIdentifier.holders, blocks: blocks, snapshots: byIdentifier.persons.merging(candidates) { a, _ in a },
                               maxCandidates: maxCandidates)
        var resolution = Resolution()
        for (record, fact) in zip(records, facts) {
            resolution.persons.append(link(record, fact, &state, &resolution))
        }
        return resolution
    }

    // MARK: - One record

    private func link(_ record: IncomingRecord, _ fact: Facts, _ state: inout BatchState, _ out: inout Resolution) -> PersonRef? {
        let found = state.holders(of: fact.identifiers.map { IdentifierKey($0.type, $0.value) })
        let person: PersonRef?
        if found.count > 1 {
            out.identity.append(.openReview(ReviewTaskDraft(kind: "identifierConflict", persons: found, evidence: ReviewEvidence(
                rule: "identifier", reason: "the record's identifiers belong to different persons", record: Self.reference(record)).json)))
            out.reviews += 1
            person = nil
        } else if let match = found.first {
            if let conflict = state.conflict(match, fact) {
                out.identity.append(.openReview(ReviewTaskDraft(kind: conflict, persons: [match],
                    evidence: ReviewEvidence(rule: "identifier", reason: conflict, record: Self.reference(record)).json)))
                out.reviews += 1
                person = nil
            } else {
                attach(fact, to: match, record, &state, &out)
                name(match, from: fact, &state, &out)
                out.linked += 1
                person = match
            }
        } else {
            person = probabilistic(record, fact, &state, &out)
        }
        if let person, let mother = state.holders(of: fact.mother).first,
           mother != person, state.relations.insert([person, mother]).inserted {
            out.identity.append(.relate(person, .mother, mother))
        }
        return person
    }

    private func probabilistic(_ record: IncomingRecord, _ fact: Facts, _ state: inout BatchState, _ out: inout Resolution) -> PersonRef {
        let candidates = state.candidates(for: fact)
        out.scored += candidates.count
        let decision = matcher.decide(fact.profile, candidates: candidates)
        switch decision.verdict {
        case .link(let match):
            attach(fact, to: match, record, &state, &out)
            out.identity.append(.addBlockingKeys(match, fact.blockingKeys))
            name(match, from: fact, &state, &out)
            out.linked += 1
            return match
        case .review(let close):
            let created = create(fact, record, &state, &out)
            out.identity.append(.openReview(ReviewTaskDraft(kind: "possibleDuplicate", persons: [created] + close,
                                                            evidence: ReviewEvidence(decision, record: Self.reference(record)).json)))
            out.reviews += 1
            return created
        case .none:
            return create(fact, record, &state, &out)
        }
    }

    private func create(_ fact: Facts, _ record: IncomingRecord, _ state: inout BatchState, _ out: inout Resolution) -> PersonRef {
        state.nextLocal += 1
        let person = PersonRef.new(local: state.nextLocal)
        out.identity.append(.newPerson(local: state.nextLocal, Self.demographics(fact.details)))
        out.identity.append(.addBlockingKeys(person, fact.blockingKeys))
        state.addLocal(person, profile: fact.profile, blockingKeys: fact.blockingKeys)
        attach(fact, to: person, record, &state, &out)
        out.created += 1
        return person
    }

    /// Adds the identifiers the person does not hold yet. A single-valued one is added only when the
    /// person has none of its type (a differing value was a conflict, handled before), except the new
    /// personal ID of a re-issue, which replaces the active one. A re-issued number that another person
    /// already holds (records with the new number arrived first) is never moved: the two persons go to
    /// review as a likely duplicate.
    private func attach(_ fact: Facts, to person: PersonRef, _ record: IncomingRecord, _ state: inout BatchState, _ out: inout Resolution) {
        for entry in fact.identifiers + (fact.reissued.map { [$0] } ?? []) {
            let key = IdentifierKey(entry.type, entry.value)
            if state.holds(person, key) { continue }
            if Self.singleValued.contains(entry.type), !state.values(of: person, entry.type).isEmpty, entry != fact.reissued { continue }
            if entry == fact.reissued, let holder = state.holders(of: [key]).first(where: { $0 != person }) {
                out.identity.append(.openReview(ReviewTaskDraft(kind: "possibleDuplicate", persons: [holder, person], evidence: ReviewEvidence(
                    rule: "reissue", reason: "the re-issued personal ID already belongs to this person", record: Self.reference(record)).json)))
                out.reviews += 1
                continue
            }
            out.identity.append(.addIdentifier(person, entry))
            state.addHolder(person, key, type: entry.type)
        }
    }

    /// Gives a person known only by a newborn's placeholder name ("Con bà …") the name the record
    /// brings, with the record's blocking keys, so that later records find the child by name. The
    /// placeholder's phone was the mother's: it is not kept.
    private func name(_ person: PersonRef, from fact: Facts, _ state: inout BatchState, _ out: inout Resolution) {
        guard fact.profile.hasName, let known = state.profile(of: person), !known.hasName else { return }
        var kept = state.demographics(of: person)
        kept?.phone = nil
        out.identity.append(.updateDemographics(person, Self.demographics(fact.details, keeping: kept)))
        out.identity.append(.addBlockingKeys(person, fact.blockingKeys))
        state.rename(person, profile: fact.profile, blockingKeys: fact.blockingKeys)
    }

    /// The demographics a record gives, with what it lacks taken from `kept` (e.g. a contact phone).
    package static func demographics(_ d: PersonDetails, keeping kept: Demographics? = nil) -> Demographics {
        Demographics(fullName: d.fullName, birthDate: d.parsedBirthDate.map { _ in d.birthDate } ?? kept?.birthDate,
                     sex: d.parsedSex?.rawValue ?? kept?.sex, phone: d.parsedPhone?.value ?? kept?.phone,
                     address: d.address?.text ?? kept?.address, communeCode: d.address?.communeCode ?? kept?.communeCode)
    }

    /// Where the record behind a review task can be found again.
    static func reference(_ record: IncomingRecord) -> ReviewEvidence.RecordRef {
        ReviewEvidence.RecordRef(kind: record.record.kind.rawValue, topic: record.coordinates.topic, partition: record.coordinates.partition,
                                 offset: record.coordinates.offset, key: record.record.kafkaKey)
    }

    // MARK: - Facts of a record

    /// What linking needs of one record: its identifiers parsed into their types, the demographics
    /// folded into a profile, its blocking keys. Pure, so callers may read it on any core.
    package static func facts(_ record: IncomingRecord) -> Facts {
        let subject = record.record.subject
        // Identifiers remember their source in a plain column. A card's key is its holder's BHXH number
        // (personal data), so a card names its message instead, which points at the same stored record.
        let source = record.record.kind == .insuranceCard
            ? "\(record.coordinates.topic)/\(record.coordinates.partition)/\(record.coordinates.offset)" : record.record.kafkaKey
        var identifiers = personIdentifiers(subject, source: source)
        var mother: [IdentifierKey] = []
        var reissued: IdentifierEntry?
        switch record.record {
        case .visit(let visit):
            let local = VietnameseText.normalize(visit.patientId)
            if !local.isEmpty { identifiers.append(IdentifierEntry(.facilityPatientId, "\(keyFacility(visit.facilityCode)):\(local)", source: source)) }
        case .insuranceCard(let card):
            if let number = try? SocialInsuranceNumber(parsing: card.bhxhNumber) { identifiers.append(IdentifierEntry(.bhxhNumber, number.value, source: source)) }
        case .registryEvent(let event):
            if let birth = event.birth {
                let certificate = VietnameseText.normalize(birth.birthCertificateNumber)
                if !certificate.isEmpty { identifiers.append(IdentifierEntry(.birthCertificate, certificate, source: source)) }
                mother = personIdentifiers(birth.mother)
            }
            if let reissue = event.newPersonalId, let old = try? PersonalID(parsing: reissue.oldPersonalId),
               let new = try? PersonalID(parsing: reissue.newPersonalId) {
                // Found by the old number; the new one closes it when attached.
                identifiers.removeAll { $0.type == .personalId }
                identifiers.insert(IdentifierEntry(.personalId, old.value, source: source), at: 0)
                reissued = IdentifierEntry(.personalId, new.value, validFrom: reissue.cancelledAt ?? event.occurredAt, source: source)
            }
        case .vaccination:
            break
        }
        var unique: [IdentifierEntry] = []
        for entry in identifiers where !unique.contains(where: { $0.type == entry.type && $0.value == entry.value }) { unique.append(entry) }
        let profile = PersonProfile(subject)
        return Facts(identifiers: unique.sorted { order($0.type) < order($1.type) }, details: subject, profile: profile,
                     blockingKeys: IncrementalLinker.blockingKeys(profile), mother: mother, reissued: reissued)
    }

    private static func order(_ type: IdentifierType) -> Int { deterministicOrder.firstIndex(of: type) ?? deterministicOrder.count }

    private static func keyFacility(_ code: String) -> String { (try? FacilityCode(parsing: code).value) ?? VietnameseText.normalize(code) }

    private static func personIdentifiers(_ p: PersonDetails, source: String) -> [IdentifierEntry] {
        var out: [IdentifierEntry] = []
        if let id = p.parsedPersonalID { out.append(IdentifierEntry(.personalId, id.value, source: source)) }
        if let legacy = p.legacyId.flatMap({ try? LegacyIDNumber(parsing: $0) }) { out.append(IdentifierEntry(.legacyId, legacy.value, source: source)) }
        if let bhxh = p.bhxhNumber.flatMap({ try? SocialInsuranceNumber(parsing: $0) }) { out.append(IdentifierEntry(.bhxhNumber, bhxh.value, source: source)) }
        if let temporary = p.temporaryCode.flatMap({ try? TemporaryPersonCode(parsing: $0) }) {
            out.append(IdentifierEntry(.temporaryCode, temporary.value, source: source))
        }
        if let passport = p.passportNumber.map(VietnameseText.normalize), !passport.isEmpty {
            out.append(IdentifierEntry(.passport, passport.uppercased(), source: source))
        }
        if let code = p.immunizationCode.map(VietnameseText.normalize), !code.isEmpty { out.append(IdentifierEntry(.immunizationCode, code, source: source)) }
        return out
    }

    private static func personIdentifiers(_ p: PersonReference) -> [IdentifierKey] {
        var out: [IdentifierKey] = []
        if let id = p.personalId.flatMap({ try? PersonalID(parsing: $0) }) { out.append(IdentifierKey(.personalId, id.value)) }
        if let legacy = p.legacyId.flatMap({ try? LegacyIDNumber(parsing: $0) }) { out.append(IdentifierKey(.legacyId, legacy.value)) }
        if let bhxh = p.bhxhNumber.flatMap({ try? SocialInsuranceNumber(parsing: $0) }) { out.append(IdentifierKey(.bhxhNumber, bhxh.value)) }
        return out
    }
}

extension PersonProfile {
    /// What the matcher compares of a person's stored demographics.
    init(stored d: Demographics) {
        self.init(PersonDetails(fullName: d.fullName, birthDate: d.birthDate ?? "", sex: d.sex ?? Sex.undetermined.rawValue,
                                address: Address(text: d.address, communeCode: d.communeCode), phone: d.phone))
    }
}
