import Foundation
import HealthModel
import RecordStore

/// Decides what to tell insurance about one person (Hà Nội regulation art. 18). Pure: everything comes
/// from the store's `InsurancePersonView`.
///
/// The no-echo rules live here:
/// - a value is known to the health record only through a record from another source (a visit, a dose,
///   a registry event): a value whose only evidence is insurance's own card changes is never sent back;
/// - nothing is sent when insurance's last known value already says the same;
/// - a card linked to more than one person is left alone (an identity question for review, not for BHXH).
/// The ledger rule (nothing is sent when the newest supplement of that BHXH number and field carried the
/// same value, whatever BHXH answered) is the store's: `planSupplements` applies it inside its write
/// transaction, so a retried or repeated decision cannot send a value twice either.
public enum SupplementPlanner {
    /// A value the health record knows, and why.
    struct Known: Sendable, Hashable {
        /// The value, normalised as it is sent.
        var value: String
        /// The newest non-insurance record that says so.
        var evidence: InsuranceSupplement.Evidence
        /// Cancelled personal IDs of the person (for `personalId` only).
        var previousPersonalIds: [String]?
    }

    /// The supplements to send for `view`, one per (card, field) that differs, each with a fresh id.
    public static func supplements(for view: InsurancePersonView, generatedAt: String) -> [InsuranceSupplement] {
        let known = self.known(view)
        guard !known.isEmpty else { return [] }
        var out: [InsuranceSupplement] = []
        for card in view.cards where card.persons.count <= 1 {
            let bhxh = card.state.bhxhNumber
            for field in InsuranceSupplement.Field.allCases {
                guard let ours = known[field] else { continue }
                let theirs = insuranceValue(field, card.state)
                if agrees(field, ours: ours.value, insurance: theirs) { continue }
                out.append(InsuranceSupplement(supplementId: "SUP-" + UUID().uuidString.lowercased(), bhxhNumber: bhxh, generatedAt: generatedAt, field: field,
                                               value: ours.value, insuranceValue: theirs, previousPersonalIds: ours.previousPersonalIds,
                                               evidence: ours.evidence))
            }
        }
        return out
    }

    /// What the health record knows of each field, from its non-insurance records and identifiers.
    static func known(_ view: InsurancePersonView) -> [InsuranceSupplement.Field: Known] {
        // Oldest first by the event's own time (arrival breaks ties): the last match is the newest.
        let records = view.records.compactMap { stored -> (stored: PersonRecord, record: SourceRecord, time: String)? in
            guard let record = RecordDecoder.decodeAccepted(Data(stored.original), kind: stored.kind), record.kind != .insuranceCard else { return nil }
            return (stored, record, eventTime(record))
        }.sorted { a, b in
            let x = try? PartialDate(iso: a.time), y = try? PartialDate(iso: b.time)
            if let x, let y, x != y { return x < y }
            return a.stored.id < b.stored.id
        }
        func evidence(_ entry: (stored: PersonRecord, record: SourceRecord, time: String)) -> InsuranceSupplement.Evidence {
            InsuranceSupplement.Evidence(topic: entry.stored.coordinates.topic, sender: entry.stored.sender, recordKey: entry.record.kafkaKey,
                                         recordType: recordType(entry.record), time: entry.time)
        }
        var known: [InsuranceSupplement.Field: Known] = [:]

        let identifiers = view.person.identifiers.filter { $0.type == .personalId }
        if let active = identifiers.last(where: { $0.validTo == nil })?.value,
           let source = records.last(where: { says($0.record, personalId: active) }) {
            let previous = Array(Set(identifiers.filter { $0.validTo != nil && $0.value != active }.map(\.value))).sorted()
            known[.personalId] = Known(value: active, evidence: evidence(source), previousPersonalIds: previous.isEmpty ? nil : previous)
        }
        if let source = records.last(where: { $0.record.subject.parsedPhone != nil }), let phone = source.record.subject.parsedPhone {
            known[.phone] = Known(value: phone.value, evidence: evidence(source))
        }
        for entry in records {
            guard case .registryEvent(let event) = entry.record else { continue }
            if verifies(event, "fullName") {
                known[.fullName] = Known(value: VietnameseText.normalize(event.person.fullName), evidence: evidence(entry))
            }
            if verifies(event, "birthDate"), let date = event.person.parsedBirthDate {
                known[.birthDate] = Known(value: date.isoString, evidence: evidence(entry))
            }
            if event.kind == .death, let death = event.death, let date = try? PartialDate(iso: death.deathTime) {
                known[.deathDate] = Known(value: date.isoString, evidence: evidence(entry))
            }
        }
        return known
    }

    /// Insurance's last known value of a field (none for death: card changes do not carry it).
    static func insuranceValue(_ field: InsuranceSupplement.Field, _ state: InsuranceCardState) -> String? {
        switch field {
        case .personalId: return state.holder.personalId
        case .phone: return state.holder.phone
        case .fullName: return state.holder.fullName
        case .birthDate: return state.holder.birthDate
        case .deathDate: return nil
        }
    }

    /// True when insurance already holds our value. A birth date insurance knows more precisely and
    /// compatibly (our "1985" against their "1985-06-15") is not a discrepancy either.
    static func agrees(_ field: InsuranceSupplement.Field, ours: String, insurance: String?) -> Bool {
        guard let insurance else { return false }
        switch field {
        case .fullName:
            return VietnameseText.normalize(insurance) == ours
        case .birthDate, .deathDate:
            guard let a = try? PartialDate(iso: ours), let b = try? PartialDate(iso: insurance) else { return insurance == ours }
            return a == b || (a.precision < b.precision && a.isCompatible(with: b))
        case .personalId, .phone:
            return insurance == ours
        }
    }

    /// True when the record states this personal ID for its subject.
    private static func says(_ record: SourceRecord, personalId: String) -> Bool {
        if record.subject.parsedPersonalID?.value == personalId { return true }
        if case .registryEvent(let event) = record, let reissue = event.newPersonalId {
            return (try? PersonalID(parsing: reissue.newPersonalId))?.value == personalId
        }
        return false
    }

    /// True when a registry event vouches for the subject's `field`: a birth registration, a correction
    /// naming the field, or (for the birth date) a personal ID re-issued for a corrected birth year.
    private static func verifies(_ event: RegistryEvent, _ field: String) -> Bool {
        switch event.kind {
        case .birth:
            return true
        case .demographicCorrection:
            return event.correction?.correctedFields.contains { $0 == field || $0.hasSuffix("." + field) } ?? false
        case .newPersonalIdIssued:
            return field == "birthDate" && event.newPersonalId?.reason == .birthYearCorrection
        case .death, .movedIn, .movedOut, .citizenSupplement:
            return false
        }
    }

    /// When the recorded event happened.
    private static func eventTime(_ record: SourceRecord) -> String {
        switch record {
        case .visit(let v): return v.dischargeTime ?? v.admissionTime
        case .vaccination(let d): return d.administeredAt
        case .registryEvent(let e): return e.occurredAt
        case .insuranceCard(let c): return c.effectiveAt
        }
    }

    private static func recordType(_ record: SourceRecord) -> String {
        switch record {
        case .visit: return "visit"
        case .vaccination: return "vaccination"
        case .registryEvent(let e): return e.kind.rawValue
        case .insuranceCard(let c): return c.kind.rawValue
        }
    }
}
