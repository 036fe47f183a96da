import Foundation
import HealthModel
import RecordStore

/// What the feed publishes for one person: the document under the active personal ID, and the
/// person's other personal IDs, whose documents are deleted (tombstones).
public struct CitizenPublication: Sendable {
    /// Why nothing is published under a key.
    public enum Skip: String, Sendable, Hashable {
        /// No active personal ID yet: published once the person has one.
        case noPersonalID
        /// Merged into another person, who publishes the keys.
        case merged
        /// Name, birth date or sex unknown: the document would be invalid.
        case incomplete
    }

    /// The key: the active personal ID, when the person has one.
    public var key: String?
    /// The document, unless skipped.
    public var document: CitizenDocument?
    /// Why there is no document.
    public var skipped: Skip?
    /// The person's other personal IDs (historic after a re-issue, absorbed after a merge): each gets a tombstone.
    public var retiredKeys: [String]
    /// What the restricted-data filter removed.
    public var filtered: RestrictedFilterReport
    /// Current records that could not be decoded (left out).
    public var undecodable: Int
}

/// Builds a person's citizen document from their file: decode the current records, filter restricted
/// data (and check the result with `RestrictedDataGuard`), then copy allowlisted fields only. Pure; the same file, version and time give the same bytes.
public struct CitizenDocumentBuilder: Sendable {
    /// The restricted-data filter applied before anything is copied.
    public let filter: RestrictedDataFilter
    /// The independent check of the filter's result (`ICD10Code.isRestricted`, the ARV rule).
    private let restrictedGuard = RestrictedDataGuard()

    /// Ages below this make parents guardians and children dependants (VNeID accounts start at 14).
    public static let dependantAge = 14

    /// A builder with `filter`.
    public init(filter: RestrictedDataFilter = RestrictedDataFilter()) {
        self.filter = filter
    }

    /// The publication for `file` as of `generatedAt`, with `version`.
    public func build(_ file: PersonFile, version: Int64, generatedAt: Date) -> CitizenPublication {
        let person = file.person
        let personalIDs = Self.personalIDs(of: person)
        guard person.mergedInto == nil else {
            return CitizenPublication(key: nil, skipped: .merged, retiredKeys: [], filtered: RestrictedFilterReport(), undecodable: 0)
        }
        let key = personalIDs.active
        let retired = personalIDs.all.filter { $0 != key }
        var publication = CitizenPublication(key: key, skipped: nil, retiredKeys: retired, filtered: RestrictedFilterReport(), undecodable: 0)
        guard let key else {
            publication.skipped = .noPersonalID
            return publication
        }

        // Decode, then filter: nothing restricted reaches the code that copies fields.
        var records: [(time: String, id: Int64, record: SourceRecord)] = []
        for stored in file.records {
            guard let decoded = RecordDecoder.decodeAccepted(Data(stored.original), kind: stored.kind) else {
                publication.undecodable += 1
                continue
            }
            let kept: SourceRecord?
            switch decoded {
            case .visit(let visit):
                var filtered = filter.filter(visit, report: &publication.filtered)
                // Checked again by a rule that does not depend on the policy: a visit that still carries
                // restricted data is dropped whole, as the filter drops a visit it cannot clean.
                if let shown = filtered, let rule = restrictedGuard.violation(in: shown) {
                    publication.filtered.count(.visit, rule)
                    filtered = nil
                }
                kept = filtered.map(SourceRecord.visit)
            case .vaccination(let dose): kept = filter.filter(dose, report: &publication.filtered).map(SourceRecord.vaccination)
            case .insuranceCard, .registryEvent: kept = decoded
            }
            if let kept { records.append((Self.eventTime(kept), stored.id, kept)) }
        }
        records.sort { ($0.time, $0.id) < ($1.time, $1.id) }
        let sources = records.map(\.record)
        let reference = PartialDate.of(generatedAt)

        guard let administrative = administrative(person: person, key: key, sources: sources, file: file, asOf: reference) else {
            publication.skipped = .incomplete
            return publication
        }
        var document = CitizenDocument(schemaVersion: CitizenDocument.currentSchemaVersion, personalId: key, version: version,
                                       generatedAt: Self.rfc3339(generatedAt), administrative: administrative)
        var visits: [(VisitRecord, CitizenDocument.Visit)] = []
        var doses: [CitizenDocument.Vaccination] = []
        for source in sources {
            switch source {
            case .visit(let visit): if let shown = Self.visit(visit) { visits.append((visit, shown)) }
            case .vaccination(let dose): if let shown = Self.vaccination(dose) { doses.append(shown) }
            case .insuranceCard, .registryEvent: break
            }
        }
        var diseases: [CitizenDocument.Disease] = []
        for (_, shown) in visits {
            for diagnosis in shown.diagnoses ?? [] where !diseases.contains(where: { $0.code == diagnosis.code }) {
                diseases.append(CitizenDocument.Disease(code: diagnosis.code, name: diagnosis.text))
            }
        }
        if !diseases.isEmpty || !doses.isEmpty {
            document.history = CitizenDocument.History(allergies: nil, diseases: diseases.nonEmpty, vaccinations: doses.nonEmpty)
        }
        document.visits = visits.map(\.1).nonEmpty
        document.treatmentSummaries = visits.compactMap { Self.summary($0.0, shown: $0.1) }.nonEmpty
        publication.document = document
        return publication
    }

    // MARK: - Keys

    /// The person's personal IDs: all of them, and the one to publish under.
    ///
    /// After a merge of two identified persons, more than one may be active: the one valid from the
    /// latest date is the key (the most recently issued), the others are retired.
    static func personalIDs(of person: StoredPerson) -> (active: String?, all: [String]) {
        let ids = person.identifiers.filter { $0.type == .personalId }
        let active = ids.enumerated().filter { $0.element.validTo == nil }
            .max { ($0.element.validFrom, $0.offset) < ($1.element.validFrom, $1.offset) }?.element.value
        var seen = Set<String>()
        return (active, ids.map(\.value).filter { seen.insert($0).inserted })
    }

    // MARK: - (a) Administrative

    private func administrative(person: StoredPerson, key: String, sources: [SourceRecord], file: PersonFile,
                                asOf reference: PartialDate?) -> CitizenDocument.Administrative? {
        let latest = sources.last?.subject
        let demographics = person.demographics
        guard let fullName = Self.text(demographics?.fullName) ?? Self.text(latest?.fullName),
              let birthDate = Self.partialDate(demographics?.birthDate) ?? Self.partialDate(latest?.birthDate),
              let sex = [demographics?.sex, latest?.sex].compactMap({ $0 }).first(where: { (1...3).contains($0) }) else { return nil }
        var out = CitizenDocument.Administrative(fullName: fullName, birthDate: birthDate, sex: sex)
        // Codes and the address come from the most recent record that has them.
        for subject in sources.map(\.subject) {
            if let code = Self.digits(subject.ethnicity, 1...2) { out.ethnicity = code.count == 1 ? "0" + code : code }
            if let code = Self.digits(subject.nationality, 3...3) { out.nationality = code }
            if let code = Self.digits(subject.occupation, 1...5) { out.occupation = code }
            if let address = Self.address(subject.address) { out.address = address }
        }
        out.phone = Self.phone(demographics?.phone) ?? sources.reversed().lazy.compactMap { Self.phone($0.subject.phone) }.first
        if out.address == nil, let text = Self.text(demographics?.address) { out.address = Address(text: text) }
        applyCard(from: sources, to: &out)
        // The issue date and place belong to the current number only.
        for case .registryEvent(let event) in sources {
            guard let supplement = event.supplement, event.person.parsedPersonalID?.value == key else { continue }
            if let date = Self.fullDate(supplement.personalIdIssueDate) { out.personalIdIssueDate = date }
            if let place = Self.text(supplement.personalIdIssuePlace) { out.personalIdIssuePlace = place }
        }
        let minor = Self.isUnder(Self.dependantAge, birthDate: birthDate, asOf: reference)
        out.guardians = guardians(of: file, minor: minor).nonEmpty
        out.dependants = dependants(of: file, asOf: reference).nonEmpty
        return out
    }

    /// The card of the most recent card-bearing record; none when that record is a suspension.
    private func applyCard(from sources: [SourceRecord], to out: inout CitizenDocument.Administrative) {
        for source in sources.reversed() {
            switch source {
            case .insuranceCard(let change):
                guard change.kind != .suspended, let code = Self.cardCode(change.cardCode) else { return }
                out.insuranceCardCode = code
                out.registeredFacility = Self.insuranceFacility(change.registeredFacility)
                out.cardValidFrom = Self.fullDate(change.validFrom)
                out.cardValidTo = Self.fullDate(change.validTo)
                return
            case .visit(let visit):
                guard let card = visit.insuranceCards?.first, let code = Self.cardCode(card.cardCode) else { continue }
                out.insuranceCardCode = code
                out.registeredFacility = Self.insuranceFacility(card.registeredFacility)
                out.cardValidFrom = Self.fullDate(card.validFrom)
                out.cardValidTo = Self.fullDate(card.validTo)
                return
            case .registryEvent(let event):
                guard let code = Self.cardCode(event.supplement?.insuranceCardCode) else { continue }
                out.insuranceCardCode = code
                return
            case .vaccination:
                continue
            }
        }
    }

    /// Guardians always; parents (either direction of the relation) when the person is a minor.
    private func guardians(of file: PersonFile, minor: Bool) -> [CitizenDocument.Guardian] {
        var found: [(PersonID, String)] = []
        for relation in file.relations {
            if relation.person == file.person.id {
                switch relation.kind {
                case .guardian: found.append((relation.other, "guardian"))
                case .mother where minor, .father where minor: found.append((relation.other, relation.kind.rawValue))
                default: break
                }
            } else if relation.other == file.person.id, relation.kind == .child, minor {
                found.append((relation.person, "parent"))
            }
        }
        return Self.unique(found).compactMap { id, relation in
            guard let other = file.related[id], other.mergedInto == nil, let name = Self.text(other.demographics?.fullName) else { return nil }
            return CitizenDocument.Guardian(fullName: name, personalId: Self.personalIDs(of: other).active, relation: relation,
                                            phone: Self.phone(other.demographics?.phone))
        }
    }

    /// Wards always; own children (either direction of the relation) while under 14.
    private func dependants(of file: PersonFile, asOf reference: PartialDate?) -> [CitizenDocument.Dependant] {
        var found: [(PersonID, String)] = []
        for relation in file.relations {
            if relation.other == file.person.id {
                switch relation.kind {
                case .guardian: found.append((relation.person, "ward"))
                case .mother, .father: found.append((relation.person, "child"))
                default: break
                }
            } else if relation.person == file.person.id, relation.kind == .child {
                found.append((relation.other, "child"))
            }
        }
        return Self.unique(found).compactMap { id, relation in
            guard let other = file.related[id], other.mergedInto == nil, let name = Self.text(other.demographics?.fullName) else { return nil }
            let birthDate = Self.partialDate(other.demographics?.birthDate)
            // A child of unknown age is not listed: the book of an adult is their own.
            if relation == "child", !(birthDate.map { Self.isUnder(Self.dependantAge, birthDate: $0, asOf: reference) } ?? false) { return nil }
            return CitizenDocument.Dependant(fullName: name, personalId: Self.personalIDs(of: other).active, relation: relation,
                                             birthDate: birthDate)
        }
    }

    /// The first relation named for each person, in order.
    private static func unique(_ pairs: [(PersonID, String)]) -> [(PersonID, String)] {
        var seen = Set<PersonID>()
        return pairs.filter { seen.insert($0.0).inserted }
    }

    /// True when the person may still be younger than `years` at `reference` (the latest birthday
    /// the partial birth date allows counts: a year-only birth date errs towards "minor").
    static func isUnder(_ years: Int, birthDate: String, asOf reference: PartialDate?) -> Bool {
        guard let birth = try? PartialDate(iso: birthDate), let reference else { return false }
        let month = birth.month ?? 12
        let day = birth.day ?? PartialDate.daysIn(month: month, year: birth.year)
        let refMonth = reference.month ?? 1, refDay = reference.day ?? 1
        let age = reference.year - birth.year - ((refMonth, refDay) < (month, day) ? 1 : 0)
        return age < years
    }

    // MARK: - (b), (c), (d)

    /// The shown form of a visit; nil when its facility or arrival time is unusable.
    package static func visit(_ visit: VisitRecord) -> CitizenDocument.Visit? {
        guard let facility = facility(visit.facilityCode), let arrival = fullDate(visit.admissionTime) else { return nil }
        return CitizenDocument.Visit(
            facilityCode: facility, facilityName: nil, arrivalTime: arrival,
            inpatientAdmissionTime: fullDate(visit.inpatientAdmissionTime), dischargeTime: fullDate(visit.dischargeTime),
            visitType: VisitRecord.visitTypes[visit.visitType] != nil ? visit.visitType : nil,
            reason: text(visit.reason), dischargeType: visit.dischargeType.flatMap { (1...5).contains($0) ? $0 : nil },
            result: visit.result.flatMap { (1...7).contains($0) ? $0 : nil },
            diagnoses: visit.diagnoses.compactMap { d in icd10(d.code).map { CitizenDocument.VisitDiagnosis(code: $0, text: text(d.text)) } }.nonEmpty,
            bloodGroup: text(visit.bloodGroup).flatMap { $0.count <= 10 ? $0 : nil },
            heightCm: visit.heightCm.flatMap { $0.isFinite ? $0 : nil }, weightKg: visit.weightKg.flatMap { $0.isFinite ? $0 : nil },
            labResults: visit.labResults?.compactMap { lab in
                guard let name = text(lab.name), let value = text(lab.value) else { return nil }
                return CitizenDocument.Lab(name: name, value: value, unit: text(lab.unit), referenceRange: text(lab.referenceRange),
                                           resultTime: partialDate(lab.resultTime))
            }.nonEmpty,
            medicines: visit.medicines?.compactMap { m in
                text(m.name).map {
                    CitizenDocument.VisitMedicine(name: $0, strength: text(m.strength), route: text(m.route), dosage: text(m.dosage),
                                                  quantity: m.quantity.flatMap { $0.isFinite ? $0 : nil }, unit: text(m.unit))
                }
            }.nonEmpty,
            procedures: visit.procedures?.compactMap { p in
                (try? ICD9CMProcedureCode(parsing: p.code)).map { CitizenDocument.VisitProcedure(code: $0.value, name: text(p.name)) }
            }.nonEmpty)
    }

    /// The treatment summary of a visit, when it has one or a follow-up date.
    static func summary(_ visit: VisitRecord, shown: CitizenDocument.Visit) -> CitizenDocument.TreatmentSummaryEntry? {
        let s = visit.treatmentSummary
        let entry = CitizenDocument.TreatmentSummaryEntry(
            facilityCode: shown.facilityCode, dischargeTime: shown.dischargeTime, history: text(s?.history), course: text(s?.course),
            keyResults: text(s?.keyResults), treatment: text(s?.treatment), nextSteps: text(s?.nextSteps),
            prescription: text(s?.prescription), advice: text(s?.advice), treatingDoctor: text(s?.treatingDoctor),
            followUpDate: fullDate(visit.followUpDate))
        let hasContent = [entry.history, entry.course, entry.keyResults, entry.treatment, entry.nextSteps, entry.prescription,
                          entry.advice, entry.treatingDoctor, entry.followUpDate].contains { $0 != nil }
        return hasContent ? entry : nil
    }

    /// The shown form of a dose; the place is the vaccination site's facility code.
    static func vaccination(_ dose: VaccinationDose) -> CitizenDocument.Vaccination? {
        guard let name = text(dose.vaccineName), let date = fullDate(dose.administeredAt) else { return nil }
        return CitizenDocument.Vaccination(vaccineName: name, date: date, place: facility(dose.siteCode))
    }

    // MARK: - Field hygiene: only values the schema accepts are copied

    /// When the record happened, for ordering (ISO partial dates sort as text).
    static func eventTime(_ record: SourceRecord) -> String {
        switch record {
        case .visit(let v): return v.admissionTime
        case .vaccination(let d): return d.administeredAt
        case .insuranceCard(let c): return c.effectiveAt
        case .registryEvent(let e): return e.occurredAt
        }
    }

    static func text(_ value: String?) -> String? {
        guard let value else { return nil }
        let trimmed = value.trimmingCharacters(in: .whitespacesAndNewlines)
        return trimmed.isEmpty ? nil : trimmed
    }

    static func digits(_ value: String?, _ lengths: ClosedRange<Int>) -> String? {
        guard let value = text(value), lengths.contains(value.count), value.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return value
    }

    static func partialDate(_ value: String?) -> String? {
        value.flatMap { try? PartialDate(iso: $0) }?.isoString
    }

    static func fullDate(_ value: String?) -> String? {
        guard let date = value.flatMap({ try? PartialDate(iso: $0) }), date.precision >= .day else { return nil }
        return date.isoString
    }

    static func phone(_ value: String?) -> String? { value.flatMap { try? PhoneNumber(parsing: $0) }?.value }

    static func facility(_ value: String?) -> String? { value.flatMap { try? FacilityCode(parsing: $0) }?.value }

    static func insuranceFacility(_ value: String?) -> String? {
        facility(value).flatMap { $0.count == 5 ? $0 : nil }
    }

    static func cardCode(_ value: String?) -> String? { value.flatMap { try? InsuranceCardCode(parsing: $0) }?.value }

    static func icd10(_ value: String) -> String? { (try? ICD10Code(parsing: value))?.value }

    static func address(_ address: Address?) -> Address? {
        guard let address else { return nil }
        var out = Address(text: text(address.text).map { String($0.prefix(1024)) })
        // Unit codes only with their province (the schema's dependentRequired).
        if let province = digits(address.provinceCode, 2...2) {
            out.provinceCode = province
            out.districtCode = digits(address.districtCode, 3...3)
            out.communeCode = digits(address.communeCode, 5...5)
        }
        return out.text == nil && out.provinceCode == nil ? nil : out
    }

    /// RFC 3339 in UTC with milliseconds.
    package static func rfc3339(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }
}

extension PartialDate {
    /// The calendar day of `date` in Vietnam (UTC+7), where the book's dates are.
    static func of(_ date: Date) -> PartialDate? {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(secondsFromGMT: 7 * 3600) ?? .gmt
        let parts = calendar.dateComponents([.year, .month, .day], from: date)
        guard let year = parts.year else { return nil }
        return try? PartialDate(year: year, month: parts.month, day: parts.day)
    }
}

extension Array {
    /// nil for an empty array (the document omits empty lists).
    var nonEmpty: [Element]? { isEmpty ? nil : self }
}
