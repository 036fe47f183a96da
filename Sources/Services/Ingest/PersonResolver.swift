import Foundation
import HealthModel
import Linkage
import RecordStore

/// Links a batch of accepted records to persons through the store's indexes (DESIGN §8, reference §6):
/// identifiers first (active or old personal ID, CMND, BHXH number, local ids, temporary code), then
/// blocking and Fellegi–Sunter scoring, else a new person. Conflicts open review tasks and never merge.
///
/// Two store round trips per batch: every identifier, then the blocking keys of records that no
/// identifier resolved. Persons created earlier in the same batch are found through local indexes.
struct PersonResolver: Sendable {
    /// Identifier types in the order they decide, strongest first.
    static let deterministicOrder: [IdentifierType] = [
        .personalId, .legacyId, .bhxhNumber, .passport, .birthCertificate, .immunizationCode, .facilityPatientId, .temporaryCode,
    ]
    /// Types a person holds one active value of: a different value means a different person.
    static let singleValued: Set<IdentifierType> = [.personalId, .bhxhNumber, .birthCertificate, .immunizationCode]

    let store: any HealthRecordStore
    var matcher = ProbabilisticMatcher()
    var maxBlockSize = 400

    /// The linking of one batch.
    struct Resolution: Sendable {
        /// The person of each record (nil: left unlinked pending review).
        var persons: [PersonRef?] = []
        /// Identity changes to apply with the records.
        var identity: [IdentityChange] = []
        var created = 0
        var linked = 0
        var reviews = 0
    }

    /// What linking needs of one record.
    struct Facts {
        var identifiers: [IdentifierEntry]
        var details: PersonDetails
        var profile: PersonProfile
        var blockingKeys: [String]
        /// The mother named by a birth event, by her identifiers.
        var mother: [IdentifierKey]
        /// The new personal ID of a re-issue event: it closes the person's active one when attached.
        var reissued: IdentifierEntry?
    }

    func resolve(_ records: [AcceptedRecord]) async throws -> Resolution {
        let facts = records.map(Self.facts)
        let keys = facts.flatMap { $0.identifiers.map { IdentifierKey($0.type, $0.value) } + $0.mother + ($0.reissued.map { [IdentifierKey($0.type, $0.value)] } ?? []) }
        let byIdentifier = try await store.lookupIdentity(identifiers: keys, blockingKeys: [], maxBlockSize: maxBlockSize)
        let unresolved = facts.filter { fact in !fact.identifiers.contains { byIdentifier.holders[IdentifierKey($0.type, $0.value)] != nil } }
        let byBlock = unresolved.isEmpty ? IdentityLookup()
            : try await store.lookupIdentity(identifiers: [], blockingKeys: unresolved.flatMap(\.blockingKeys), maxBlockSize: maxBlockSize)
        var state = BatchState(holders: byIdentifier.holders, blocks: byBlock.blocks,
                               snapshots: byIdentifier.persons.merging(byBlock.persons) { a, _ in a })
        var resolution = Resolution()
        for (record, fact) in zip(records, facts) {
            resolution.persons.append(link(record, fact, &state, &resolution))
        }
        return resolution
    }

    // MARK: - One record

    private func link(_ record: AcceptedRecord, _ fact: Facts, _ state: inout BatchState, _ out: inout Resolution) -> PersonRef? {
        let found = state.holders(of: fact.identifiers.map { IdentifierKey($0.type, $0.value) })
        let person: PersonRef?
        if found.count > 1 {
            out.identity.append(.openReview(ReviewTaskDraft(kind: "identifierConflict", persons: found,
                evidence: #"{"rule":"identifier","reason":"the record's identifiers belong to different persons"}"#)))
            out.reviews += 1
            person = nil
        } else if let match = found.first {
            if let conflict = state.conflict(match, fact) {
                out.identity.append(.openReview(ReviewTaskDraft(kind: conflict, persons: [match],
                    evidence: #"{"rule":"identifier","reason":"\#(conflict)"}"#)))
                out.reviews += 1
                person = nil
            } else {
                attach(fact, to: match, &state, &out)
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

    private func probabilistic(_ record: AcceptedRecord, _ fact: Facts, _ state: inout BatchState, _ out: inout Resolution) -> PersonRef {
        let candidates = state.candidates(for: fact)
        let decision = matcher.decide(fact.profile, candidates: candidates)
        switch decision.verdict {
        case .link(let match):
            attach(fact, to: match, &state, &out)
            out.identity.append(.addBlockingKeys(match, fact.blockingKeys))
            out.linked += 1
            return match
        case .review(let close):
            let created = create(fact, &state, &out)
            out.identity.append(.openReview(ReviewTaskDraft(kind: "possibleDuplicate", persons: [created] + close,
                                                            evidence: Self.evidence(decision))))
            out.reviews += 1
            return created
        case .none:
            return create(fact, &state, &out)
        }
    }

    private func create(_ fact: Facts, _ state: inout BatchState, _ out: inout Resolution) -> PersonRef {
        state.nextLocal += 1
        let person = PersonRef.new(local: state.nextLocal)
        let d = fact.details
        out.identity.append(.newPerson(local: state.nextLocal, Demographics(
            fullName: d.fullName, birthDate: d.parsedBirthDate.map { _ in d.birthDate }, sex: d.parsedSex?.rawValue,
            phone: d.parsedPhone?.value, address: d.address?.text, communeCode: d.address?.communeCode)))
        out.identity.append(.addBlockingKeys(person, fact.blockingKeys))
        state.addLocal(person, profile: fact.profile, blockingKeys: fact.blockingKeys)
        attach(fact, to: person, &state, &out)
        out.created += 1
        return person
    }

    /// Adds the identifiers the person does not hold yet. A single-valued one is added only when the
    /// person has none of its type (a differing value was a conflict, handled before), except the new
    /// personal ID of a re-issue, which replaces the active one.
    private func attach(_ fact: Facts, to person: PersonRef, _ state: inout BatchState, _ out: inout Resolution) {
        for entry in fact.identifiers + (fact.reissued.map { [$0] } ?? []) {
            let key = IdentifierKey(entry.type, entry.value)
            if state.holds(person, key) { continue }
            if Self.singleValued.contains(entry.type), !state.values(of: person, entry.type).isEmpty, entry != fact.reissued { continue }
            out.identity.append(.addIdentifier(person, entry))
            state.addHolder(person, key, type: entry.type)
        }
    }

    private static func evidence(_ decision: ProbabilisticMatcher.Decision<PersonRef>) -> String {
        var object: [String: Any] = ["rule": "probabilistic"]
        if let score = decision.score { object["score"] = (score * 100).rounded() / 100 }
        if let runnerUp = decision.runnerUpScore { object["runnerUp"] = (runnerUp * 100).rounded() / 100 }
        object["weights"] = Dictionary(uniqueKeysWithValues: decision.evidence.map { ("\($0.key)", ($0.value * 100).rounded() / 100) })
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    // MARK: - Facts of a record

    static func facts(_ record: AcceptedRecord) -> Facts {
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
