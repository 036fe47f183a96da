import Foundation
import HealthModel

/// Interop accounts that send the synthetic records (`<facility>_lt_<initials>`, reference §2).
public enum SyntheticAccounts {
    /// Facilities that send visits and doses, with their interop account.
    public static let facilities: [(code: String, account: String)] = [
        ("01001", "01001_lt_bvbm"), ("01003", "01003_lt_bvvd"), ("01014", "01014_lt_bvtn"), ("01I29", "01I29_lt_tyt"),
    ]
    /// The commune health station that reports registry events.
    public static let station = (code: "01I29", account: "01I29_lt_tyt")
    /// Vietnam Social Security's account for card changes.
    public static let socialSecurity = "bhxh_lt_hn"
}

/// A record with the time it happened, for ordering the stream as sources would send it.
struct DatedRecord {
    var eventTime: String
    var sequence: Int
    var record: SyntheticRecord
}

/// Turns citizens into the records each source sends, with noise and ground truth.
struct SourceRecordFactory {
    let people: [Citizen]
    let noise: NoiseRates
    /// Added to citizens' indexes in keys and source ids (`PopulationGenerator.indexBase`).
    var indexBase = 0
    /// Adds the COVID-19 doses of 2021–2022 (`PopulationGenerator.vaccinationHistory`).
    var vaccinationHistory = false
    private static let calendar: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC") ?? calendar.timeZone
        return calendar
    }()
    private static let start = calendar.date(from: PopulationGenerator.periodStart) ?? Date(timeIntervalSince1970: 1_751_328_000)
    static let periodDays = 365

    static let diagnoses: [(String, String, Double)] = [
        ("J06.9", "Nhiễm trùng đường hô hấp trên cấp", 20), ("I10", "Tăng huyết áp vô căn", 15),
        ("E11.9", "Đái tháo đường típ 2", 8), ("K29.7", "Viêm dạ dày", 8), ("A09", "Tiêu chảy nhiễm trùng", 6),
        ("J18.9", "Viêm phổi", 5), ("M54.5", "Đau thắt lưng", 6), ("J45.9", "Hen phế quản", 4),
        ("S52.5", "Gãy đầu dưới xương quay", 2), ("O80", "Đẻ thường", 2),
        ("B20", "Bệnh HIV", 0.3), ("Z21", "Nhiễm HIV không triệu chứng", 0.2),  // restricted: never leaves hssk
    ]
    /// TCMR schedule (reference §5): vaccine, name, dose number, days after birth.
    static let schedule: [(String, String, Int, Int)] = [
        ("VGB-SS", "Viêm gan B sơ sinh", 1, 0), ("BCG", "Lao (BCG)", 1, 14),
        ("5IN1", "DPT-VGB-Hib (5 trong 1)", 1, 60), ("OPV", "Bại liệt uống (OPV)", 1, 60),
        ("5IN1", "DPT-VGB-Hib (5 trong 1)", 2, 90), ("OPV", "Bại liệt uống (OPV)", 2, 90),
        ("5IN1", "DPT-VGB-Hib (5 trong 1)", 3, 120), ("OPV", "Bại liệt uống (OPV)", 3, 120),
        ("IPV", "Bại liệt tiêm (IPV)", 1, 150), ("SOI", "Sởi", 1, 270), ("VNNB", "Viêm não Nhật Bản", 1, 365),
    ]

    /// The records, and the citizens as the period left them (deaths, re-issued personal IDs).
    func records(_ random: inout SeededGenerator, _ registry: inout IdentifierRegistry) -> (citizens: [Citizen], records: [DatedRecord]) {
        var out: [DatedRecord] = []
        var people = people
        for index in people.indices {
            if people[index].birthYear < 1956 && random.chance(0.02) {
                people[index].deathDate = Self.day(Int.random(in: 30..<Self.periodDays, using: &random))
            }
            if people[index].birthYear < 2005 && random.chance(noise.personalIdReissue) {
                reissue(&people[index], &out, &random, &registry)
            }
        }
        for citizen in people {
            card(citizen, &out, &random)
            if let birthDay = dayInPeriod(citizen.birthDate) { birth(citizen, day: birthDay, &out, &random) }
            vaccinations(citizen, &out, &random)
            if vaccinationHistory { covidDoses(citizen, &out) }
            visits(citizen, &out, &random)
            if let death = citizen.deathDate {
                var event = RegistryEvent(stationCode: SyntheticAccounts.station.code, eventId: "DT-\(tag(citizen))", kind: .death,
                                          occurredAt: death, person: citizen.details(on: death))
                event.death = DeathDetails(deathTime: death)
                append(.registryEvent(event), citizen, time: death, sender: SyntheticAccounts.station.account, &out)
            }
        }
        return (people, out)
    }

    // MARK: sources

    /// Days from birth to the birth registration (đăng ký khai sinh) the commune station reports.
    static let registrationDelay = 10
    /// Days from birth to the child's first card (issued with the personal ID given at registration).
    static let firstCardDelay = 15

    private func card(_ citizen: Citizen, _ out: inout [DatedRecord], _ random: inout SeededGenerator) {
        let day = Int.random(in: 0..<Self.periodDays, using: &random)
        let birthDay = dayInPeriod(citizen.birthDate)
        let at = birthDay.map { Self.day(min($0 + Self.firstCardDelay, Self.periodDays - 1)) } ?? Self.day(day)
        var change = InsuranceCardChange(kind: birthDay != nil ? .issued : .renewed, cardCode: citizen.cardCode,
                                         bhxhNumber: citizen.bhxhNumber, holder: citizen.details(on: at), effectiveAt: at)
        change.benefitLevel = Int(String(citizen.cardCode.dropFirst(2).prefix(1)))
        change.validFrom = at
        change.validTo = "2026-12-31"
        change.registeredFacility = SyntheticAccounts.facilities[citizen.household % SyntheticAccounts.facilities.count].code
        append(.insuranceCard(change), citizen, time: at, sender: SyntheticAccounts.socialSecurity, &out)
    }

    /// The birth registration: usually reported before the personal ID exists (birth certificate number
    /// and the mother's identifiers are then all that identify the child), and before any card.
    private func birth(_ child: Citizen, day: Int, _ out: inout [DatedRecord], _ random: inout SeededGenerator) {
        guard let motherIndex = child.motherIndex else { return }
        let at = Self.day(min(day + Self.registrationDelay, Self.periodDays - 1))
        var person = child.details(on: at)
        person.phone = nil
        person.bhxhNumber = nil
        var truth = RecordTruth(personIndex: child.index)
        if random.chance(noise.birthWithoutPersonalId) {
            person.personalId = nil
            truth.noise.append("newbornWithoutPersonalId")
        }
        var event = RegistryEvent(stationCode: SyntheticAccounts.station.code, eventId: "BR-\(tag(child))", kind: .birth,
                                  occurredAt: child.birthDate, person: person)
        event.birth = BirthDetails(birthCertificateNumber: "GKS-\(tag(child))", mother: people[motherIndex].reference(on: at),
                                   birthWeightGrams: Int.random(in: 2500...3900, using: &random), birthFacility: "01001")
        out.append(DatedRecord(eventTime: at, sequence: out.count,
                               record: SyntheticRecord(record: .registryEvent(event), truth: truth, sender: SyntheticAccounts.station.account)))
    }

    /// The TCMR schedule: the birth dose at the hospital names the newborn "Con bà <mother>" with the
    /// new immunization code only; later doses carry the immunization code, often nothing else, sometimes
    /// the personal ID and BHXH number, sometimes no identifier at all.
    private func vaccinations(_ child: Citizen, _ out: inout [DatedRecord], _ random: inout SeededGenerator) {
        guard child.birthYear >= 2024, let birth = Self.date(child.birthDate) else { return }
        for (code, name, dose, offset) in Self.schedule {
            guard let given = Self.calendar.date(byAdding: .day, value: offset + (offset == 0 ? 0 : Int.random(in: 0...10, using: &random)), to: birth),
                  let day = Self.calendar.dateComponents([.day], from: Self.start, to: given).day,
                  (0..<Self.periodDays).contains(day) else { continue }
            let time = Self.day(day) + "T09:00"
            var person = child.details(on: time)
            person.immunizationCode = child.immunizationCode
            let site = offset == 0 ? SyntheticAccounts.facilities[0] : SyntheticAccounts.facilities[3]
            var truth = RecordTruth(personIndex: child.index)
            if offset == 0, let mother = child.motherIndex {
                // Before naming and registration a newborn is "Con bà <mother>", without a personal ID.
                person.fullName = "Con bà \(people[mother].fullName)"
                person.personalId = nil
                person.bhxhNumber = nil
                person.phone = people[mother].phone
            } else if random.chance(noise.doseOnlyImmunizationCode) {
                person.personalId = nil
                person.bhxhNumber = nil
                truth.noise.append("onlyImmunizationCode")
            } else if random.chance(noise.doseWithoutIdentifiers), let phone = child.motherIndex.flatMap({ people[$0].phone }) {
                // No identifier at all: only the caregiver's phone lets the system find the child.
                person.personalId = nil
                person.bhxhNumber = nil
                person.immunizationCode = nil
                person.phone = phone
                truth.noise.append("noIdentifier")
            }
            person = noisy(person, &truth, &random)
            let record = VaccinationDose(siteCode: site.code, doseId: "TC-\(tag(child))-\(code)-\(dose)", person: person, vaccineCode: code,
                                         vaccineName: name, lotNumber: "L" + random.digits(4), doseNumber: dose, administeredAt: time)
            append(.vaccination(record), truth: truth, time: time, sender: site.account, &out, &random)
        }
    }

    /// Vaccines of the 2021–2022 COVID-19 campaign, as the immunization system names them.
    static let covidVaccines: [(String, String)] = [
        ("COVID-AZ", "Vắc xin phòng COVID-19 (AstraZeneca)"), ("COVID-PF", "Vắc xin phòng COVID-19 (Pfizer)"),
        ("COVID-VC", "Vắc xin phòng COVID-19 (Vero Cell)"), ("COVID-MD", "Vắc xin phòng COVID-19 (Moderna)"),
    ]

    /// Two or three COVID-19 doses of 2021–2022 for most people aged 12 or more then: recorded with the
    /// personal ID and phone the campaign collected, by any of the facilities, with the usual noise.
    /// Drawn from a generator of their own, so that the other records are those of a population without them.
    private func covidDoses(_ citizen: Citizen, _ out: inout [DatedRecord]) {
        var random = SeededGenerator(seed: UInt64(tag(citizen)) &* 0x9E37_79B9_7F4A_7C15 &+ 0xC0)
        guard citizen.birthYear <= 2009, random.chance(0.8) else { return }
        let doses = random.chance(0.4) ? 3 : 2
        let vaccine = Self.covidVaccines.randomElement(using: &random) ?? Self.covidVaccines[0]
        // Days from 1 July 2025 back to the campaign: dose 1 from Aug to Dec 2021, then 2 and 6 months later.
        var day = -Int.random(in: 1_280...1_430, using: &random)
        for dose in 1...doses {
            let time = Self.day(day) + "T08:30"
            var truth = RecordTruth(personIndex: citizen.index)
            let person = noisy(citizen.details(on: time), &truth, &random)
            let site = SyntheticAccounts.facilities.randomElement(using: &random) ?? SyntheticAccounts.facilities[0]
            let record = VaccinationDose(siteCode: site.code, doseId: "CV-\(tag(citizen))-\(dose)", person: person, vaccineCode: vaccine.0,
                                         vaccineName: vaccine.1, lotNumber: "L" + random.digits(4), doseNumber: dose, administeredAt: time)
            append(.vaccination(record), truth: truth, time: time, sender: site.account, &out, &random)
            day += dose == 1 ? Int.random(in: 28...60, using: &random) : Int.random(in: 150...200, using: &random)
        }
    }

    /// A citizen's number in keys and source ids.
    private func tag(_ citizen: Citizen) -> Int { indexBase + citizen.index }

    private func visits(_ citizen: Citizen, _ out: inout [DatedRecord], _ random: inout SeededGenerator) {
        let count = random.weighted([(0, 0.35), (1, 0.3), (2, 0.2), (3, 0.1), (4, 0.05)])
        let lastDay = citizen.deathDate.flatMap(dayInPeriod) ?? Self.periodDays - 1
        let firstDay = dayInPeriod(citizen.birthDate) ?? 0
        guard firstDay < lastDay else { return }
        for visit in 0..<count {
            let facility = SyntheticAccounts.facilities.randomElement(using: &random) ?? SyntheticAccounts.facilities[0]
            let day = Int.random(in: firstDay..<lastDay, using: &random)
            let inpatient = random.chance(0.1) && day + 7 < Self.periodDays
            let time = Self.day(day) + String(format: "T%02d:%02d", Int.random(in: 7...16, using: &random), Int.random(in: 0...59, using: &random))
            var truth = RecordTruth(personIndex: citizen.index)
            var details = citizen.details(on: time)
            // A self-paying patient: the facility knows them by its own patient id and what they say.
            let selfPaying = random.chance(noise.visitWithoutIdentifiers)
            if selfPaying {
                details.personalId = nil
                details.bhxhNumber = nil
                truth.noise.append("onlyFacilityId")
            }
            let person = noisy(details, &truth, &random)
            let diagnosisCount = Int.random(in: 1...3, using: &random)
            let diagnoses = (0..<diagnosisCount).map { _ in random.weighted(Self.diagnoses.map { (($0.0, $0.1), $0.2) }) }
            var uniqueCodes: [String] = []
            var record = VisitRecord(facilityCode: facility.code, episodeKey: "LK\(tag(citizen))-\(visit)",
                                     patientId: "BN\(facility.code)-\(tag(citizen) * 7 + facility.code.hashValueStable)",
                                     patient: person, visitType: inpatient ? "03" : "01", admissionTime: time,
                                     diagnoses: diagnoses.compactMap { code, text in
                                         guard !uniqueCodes.contains(code) else { return nil }
                                         uniqueCodes.append(code)
                                         return Diagnosis(code: code, text: text)
                                     })
            if !selfPaying {
                record.insuranceCards = [InsuranceCoverage(cardCode: citizen.cardCode, validFrom: "2025-01-01", validTo: "2026-12-31")]
            }
            if inpatient {
                record.dischargeTime = Self.day(day + Int.random(in: 2...7, using: &random)) + "T10:00"
                record.result = 1
                record.dischargeType = 1
            }
            append(.visit(record), truth: truth, time: time, sender: facility.account, &out, &random)
        }
    }

    /// The personal ID is cancelled and re-issued on a day of the period (e.g. a corrected birth year
    /// keeps the same year here): records before it carry the old number, the registry reports the
    /// change, and later records carry the new number.
    private func reissue(_ citizen: inout Citizen, _ out: inout [DatedRecord], _ random: inout SeededGenerator, _ registry: inout IdentifierRegistry) {
        let old = citizen.personalId
        let at = Self.day(Int.random(in: 30..<(Self.periodDays - 30), using: &random))
        citizen.oldPersonalId = old
        citizen.personalIdReissuedOn = at
        // A number is never given to two people (reference §2), nor to anyone of another shard of the city.
        citizen.personalId = PopulationGenerator.nextFree(
            PopulationGenerator.personalId(province: String(old.prefix(3)), sex: citizen.sex, year: citizen.birthYear, &random),
            serialDigits: 6, &registry.personalIds)
        var event = RegistryEvent(stationCode: SyntheticAccounts.station.code, eventId: "ID-\(tag(citizen))", kind: .newPersonalIdIssued,
                                  occurredAt: at, person: citizen.details(on: at))
        event.newPersonalId = NewPersonalIDDetails(oldPersonalId: old, newPersonalId: citizen.personalId, reason: .other, cancelledAt: at)
        append(.registryEvent(event), citizen, time: at, sender: SyntheticAccounts.station.account, &out)
    }

    // MARK: noise and bookkeeping

    /// Applies the sources' typical data-entry noise to a person's details, recording it in `truth`.
    func noisy(_ details: PersonDetails, _ truth: inout RecordTruth, _ random: inout SeededGenerator) -> PersonDetails {
        var details = details
        if random.chance(noise.swappedOrder) {
            var tokens = details.fullName.split(separator: " ").map(String.init)
            if tokens.count > 1 { tokens.append(tokens.removeFirst()) }
            details.fullName = tokens.joined(separator: " ")
            truth.noise.append("swappedOrder")
        }
        if random.chance(noise.typo) {
            var letters = Array(details.fullName)
            if letters.count > 3 {
                let at = Int.random(in: (letters.count - 3)..<(letters.count - 1), using: &random)
                letters.swapAt(at, at + 1)
                details.fullName = String(letters)
                truth.noise.append("typo")
            }
        }
        if random.chance(noise.noDiacritics) {
            details.fullName = Self.stripDiacritics(details.fullName)
            truth.noise.append("noDiacritics")
        } else if random.chance(noise.nfd) {
            details.fullName = details.fullName.decomposedStringWithCanonicalMapping
            truth.noise.append("nfd")
        }
        if random.chance(noise.noPersonalId) {
            details.personalId = nil
            truth.noise.append("noPersonalId")
        } else if let id = details.personalId, random.chance(noise.wrongCenturyDigit), let digit = Int(String(Array(id)[3])) {
            // Move to another century, keeping the sex parity: a century mismatch, not a sex mismatch.
            let wrong = digit >= 2 ? digit - 2 : digit + 2
            details.personalId = String(id.prefix(3)) + String(wrong) + String(id.dropFirst(4))
            truth.rejectionCode = "personalId.centuryDigitMismatch"
            truth.noise.append("wrongCenturyDigit")
        }
        return details
    }

    private func append(_ record: SourceRecord, _ citizen: Citizen, time: String, sender: String, _ out: inout [DatedRecord]) {
        out.append(DatedRecord(eventTime: time, sequence: out.count,
                               record: SyntheticRecord(record: record, truth: RecordTruth(personIndex: citizen.index), sender: sender)))
    }

    private func append(_ record: SourceRecord, truth: RecordTruth, time: String, sender: String, _ out: inout [DatedRecord],
                        _ random: inout SeededGenerator) {
        var truth = truth
        if random.chance(noise.unsigned) {
            truth.signing = .unsigned
        } else if random.chance(noise.forged) {
            truth.signing = .forged
        }
        out.append(DatedRecord(eventTime: time, sequence: out.count, record: SyntheticRecord(record: record, truth: truth, sender: sender)))
    }

    private func dayInPeriod(_ iso: String) -> Int? {
        guard let date = Self.date(iso), let day = Self.calendar.dateComponents([.day], from: Self.start, to: date).day,
              (0..<Self.periodDays).contains(day) else { return nil }
        return day
    }

    static func date(_ iso: String) -> Date? {
        let parts = iso.prefix(10).split(separator: "-").compactMap { Int($0) }
        guard parts.count == 3 else { return nil }
        return calendar.date(from: DateComponents(year: parts[0], month: parts[1], day: parts[2]))
    }

    static func day(_ offset: Int) -> String {
        let date = calendar.date(byAdding: .day, value: offset, to: start) ?? start
        let c = calendar.dateComponents([.year, .month, .day], from: date)
        return String(format: "%04d-%02d-%02d", c.year ?? 2025, c.month ?? 7, c.day ?? 1)
    }

    static func stripDiacritics(_ text: String) -> String {
        text.replacingOccurrences(of: "đ", with: "d").replacingOccurrences(of: "Đ", with: "D")
            .folding(options: .diacriticInsensitive, locale: nil)
    }
}

extension String {
    /// A hash that is the same in every run (Swift's `hashValue` is seeded per process).
    var hashValueStable: Int { unicodeScalars.reduce(0) { ($0 &* 31 &+ Int($1.value)) & 0xFFFF } }
}
