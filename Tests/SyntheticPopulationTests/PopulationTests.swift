import HealthModel
import XCTest
@testable import SyntheticPopulation

final class PopulationTests: XCTestCase {
    func testSameSeedSamePopulationDifferentSeedDifferentOne() {
        let a = PopulationGenerator(citizens: 300, seed: 7).generate()
        let b = PopulationGenerator(citizens: 300, seed: 7).generate()
        let c = PopulationGenerator(citizens: 300, seed: 8).generate()
        XCTAssertEqual(a.citizens, b.citizens)
        XCTAssertEqual(a.records.map(\.record), b.records.map(\.record))
        XCTAssertNotEqual(a.citizens, c.citizens)
    }

    func testNamesAndIdentifiersAreRealistic() throws {
        let population = PopulationGenerator(citizens: 5_000, seed: 1).generate()
        XCTAssertEqual(population.citizens.count, 5_000)
        let nguyen = Double(population.citizens.filter { $0.familyName == "Nguyễn" }.count) / 5_000
        XCTAssertEqual(nguyen, 0.38, accuracy: 0.04, "share of Nguyễn")
        XCTAssertTrue(population.citizens.contains { $0.birthDate.count == 4 }, "some older people have a birth year only")
        for citizen in population.citizens {
            XCTAssertEqual(citizen.fullName, citizen.fullName.precomposedStringWithCanonicalMapping)
            let id = try PersonalID(parsing: citizen.personalId)
            XCTAssertTrue(id.consistencyProblems(birthYear: citizen.birthYear, sex: Sex(rawValue: citizen.sex)).isEmpty,
                          "\(citizen.personalId) vs \(citizen.birthYear)/\(citizen.sex)")
            if let phone = citizen.phone { XCTAssertEqual(try PhoneNumber(parsing: phone).value, phone) }
            XCTAssertEqual(try InsuranceCardCode(parsing: citizen.cardCode).socialInsuranceNumber?.value, citizen.bhxhNumber)
        }
        XCTAssertEqual(Set(population.citizens.map(\.personalId)).count, 5_000, "personal IDs are unique")
    }

    /// A city generated in shards (`hssk bench load`): no identifier, record key or source id is given
    /// twice across shards, although each shard on its own starts again from citizen 0.
    func testShardsOfOneCityShareNoIdentifierOrKey() {
        var registry = IdentifierRegistry()
        var personalIds: [String] = [], bhxhNumbers: [String] = [], keys: [String] = []
        var patients: [String: Set<Int>] = [:]
        for shard in 0..<3 {
            // The same seed for every shard: the worst case, every random serial drawn again.
            var generator = PopulationGenerator(citizens: 400, seed: 5)
            generator.indexBase = shard * 400
            let population = generator.generate(sharing: &registry)
            personalIds += population.citizens.map(\.personalId)
            bhxhNumbers += population.citizens.map(\.bhxhNumber)
            keys += population.records.map(\.record.kafkaKey)
            for record in population.records {
                guard case .visit(let visit) = record.record, let citizen = record.truth.personIndex else { continue }
                patients["\(visit.facilityCode)/\(visit.patientId)", default: []].insert(shard * 400 + citizen)
            }
        }
        XCTAssertEqual(Set(personalIds).count, 1_200, "personal IDs")
        XCTAssertEqual(Set(bhxhNumbers).count, 1_200, "BHXH numbers")
        XCTAssertEqual(Set(keys).count, keys.count, "record keys")
        XCTAssertFalse(patients.isEmpty)
        XCTAssertTrue(patients.values.allSatisfy { $0.count == 1 }, "a facility's patient id names one citizen")
    }

    /// The first load's immunization history: COVID-19 doses of 2021–2022 for most people aged 12 or more.
    func testVaccinationHistoryAddsTheCampaignDoses() {
        var generator = PopulationGenerator(citizens: 1_000, seed: 3)
        let without = generator.generate()
        generator.vaccinationHistory = true
        let with = generator.generate()
        let doses = with.records.compactMap { record -> VaccinationDose? in
            guard case .vaccination(let dose) = record.record, dose.vaccineCode.hasPrefix("COVID") else { return nil }
            return dose
        }
        let adults = with.citizens.filter { $0.birthYear <= 2009 }.count
        XCTAssertEqual(Double(doses.count) / Double(adults), 0.8 * 2.4, accuracy: 0.25, "doses per person aged 12 or more")
        XCTAssertTrue(doses.allSatisfy { $0.administeredAt >= "2021-08" && $0.administeredAt < "2023" }, "dated in the campaign")
        XCTAssertEqual(with.records.count - doses.count, without.records.count, "the other records are the same")
        XCTAssertEqual(Set(doses.map(\.doseId)).count, doses.count)
    }

    func testIdentifiersNameOnePersonEach() {
        // Seed 2026 with 10,000 citizens drew one personal ID twice before repeats took the next serial.
        let citizens = PopulationGenerator(citizens: 10_000, seed: 2026).citizensOnly()
        XCTAssertEqual(Set(citizens.map(\.personalId)).count, citizens.count, "personal IDs")
        XCTAssertEqual(Set(citizens.map(\.bhxhNumber)).count, citizens.count, "BHXH numbers")
        let codes = citizens.compactMap(\.immunizationCode)
        XCTAssertEqual(Set(codes).count, codes.count, "immunization codes")
        for citizen in citizens { XCTAssertEqual(citizen.cardCode.suffix(10), Substring(citizen.bhxhNumber)) }
        var used: Set<String> = ["001081999999"]
        XCTAssertEqual(PopulationGenerator.nextFree("001081999999", serialDigits: 6, &used), "001081000000", "wraps within the prefix")
        XCTAssertEqual(PopulationGenerator.nextFree("001081999999", serialDigits: 6, &used), "001081000001")
    }

    func testFamiliesHaveMothersNewbornsAndTwins() {
        let population = PopulationGenerator(citizens: 20_000, seed: 3).generate()
        let children = population.citizens.filter { $0.motherIndex != nil }
        XCTAssertGreaterThan(children.count, 3_000)
        for child in children {
            let mother = population.citizens[child.motherIndex ?? 0]
            XCTAssertEqual(mother.sex, 2)
            XCTAssertTrue((child.birthYear - mother.birthYear) >= 20 && (child.birthYear - mother.birthYear) <= 40)
            XCTAssertEqual(mother.household, child.household)
        }
        let byMotherAndBirth = Dictionary(grouping: children) { "\($0.motherIndex ?? -1)/\($0.birthDate)" }
        XCTAssertTrue(byMotherAndBirth.values.contains { $0.count == 2 }, "twins exist")
        for twins in byMotherAndBirth.values where twins.count == 2 {
            XCTAssertNotEqual(twins[0].givenName, twins[1].givenName, "twins have different given names")
            XCTAssertNotEqual(twins[0].personalId, twins[1].personalId)
        }
        for siblings in Dictionary(grouping: children, by: { $0.motherIndex ?? -1 }).values {
            XCTAssertEqual(Set(siblings.map(\.givenName)).count, siblings.count, "siblings never share a given name")
        }
        let births = population.records.filter { if case let .registryEvent(event) = $0.record { return event.kind == .birth }; return false }
        XCTAssertFalse(births.isEmpty, "newborns of the period are reported by the registry")
    }

    /// Sources leave identifiers out as they do in practice, and the ground truth still names the person.
    func testRecordsHaveRealisticIdentifierGaps() throws {
        let population = PopulationGenerator(citizens: 3_000, seed: 11).generate()
        let records = population.acceptable
        func share(_ kind: RecordKind, _ where: (PersonDetails) -> Bool) -> Double {
            let ofKind = records.filter { $0.record.kind == kind }
            return Double(ofKind.filter { `where`($0.record.subject) }.count) / Double(max(ofKind.count, 1))
        }
        let withoutIDs = share(.visit) { $0.personalId == nil && $0.bhxhNumber == nil }
        XCTAssertEqual(withoutIDs, 0.35, accuracy: 0.07, "visits known only by the facility's patient id")
        XCTAssertGreaterThan(share(.vaccination) { $0.personalId == nil && $0.bhxhNumber == nil && $0.immunizationCode != nil }, 0.3,
                             "doses with only the immunization code")
        XCTAssertGreaterThan(share(.vaccination) { $0.personalId == nil && $0.bhxhNumber == nil && $0.immunizationCode == nil }, 0,
                             "doses without any identifier")
        let births = records.compactMap { record -> (RegistryEvent, Int)? in
            guard case .registryEvent(let event) = record.record, event.kind == .birth, let truth = record.truth.personIndex else { return nil }
            return (event, truth)
        }
        XCTAssertTrue(births.contains { $0.0.person.personalId == nil && !($0.0.birth?.birthCertificateNumber ?? "").isEmpty },
                      "newborns registered before their personal ID")
        for (event, truth) in births {
            XCTAssertEqual(event.birth?.mother.fullName, population.citizens[population.citizens[truth].motherIndex ?? 0].fullName)
        }
        // A re-issued number: older records carry the old one, later ones the new one.
        let reissued = try XCTUnwrap(population.citizens.first { $0.oldPersonalId != nil })
        let ids = Set(records.filter { $0.truth.personIndex == reissued.index }.compactMap(\.record.subject.personalId))
        XCTAssertTrue(ids.isSubset(of: [reissued.personalId, reissued.oldPersonalId ?? ""]))
        XCTAssertTrue(records.contains { record in
            if case .registryEvent(let event) = record.record { return event.newPersonalId?.newPersonalId == reissued.personalId }
            return false
        })
        // Namesakes: unrelated citizens with the same full name and birth year.
        let byName = Dictionary(grouping: population.citizens) { "\($0.fullName)/\($0.birthYear)" }
        XCTAssertTrue(byName.values.contains { group in group.count > 1 && Set(group.map(\.household)).count > 1 }, "namesakes")
    }

    /// Every record's verdict from HealthModel's own validation is the one its ground truth states.
    func testEveryRecordValidatesAsItsGroundTruthSays() throws {
        let population = PopulationGenerator(citizens: 3_000, seed: 11).generate()
        var kinds: [String: Int] = [:]
        var rejected = 0
        for synthetic in population.records {
            let record = synthetic.record.record
            kinds[String(describing: type(of: record)), default: 0] += 1
            let errors = record.validate().filter { $0.severity == .error }
            if let code = synthetic.truth.rejectionCode {
                rejected += 1
                XCTAssertTrue(errors.contains { $0.code == code }, "\(record.kafkaKey): expected \(code), got \(errors.map(\.code))")
            } else {
                XCTAssertEqual(errors.map(\.code), [], "\(record.kafkaKey) \(synthetic.truth.noise): \(errors.map { "\($0.path) \($0.code)" })")
            }
            // The canonical JSON form round-trips through the decoder ingest uses.
            let decoded = RecordDecoder.decode(try RecordDecoder.encode(record), kind: synthetic.record.kind)
            XCTAssertEqual(decoded.record, synthetic.record, record.kafkaKey)
        }
        XCTAssertEqual(Set(kinds.keys), ["VisitRecord", "VaccinationDose", "InsuranceCardChange", "RegistryEvent"])
        XCTAssertGreaterThan(rejected, 0, "the noise includes invalid identifiers")
        XCTAssertTrue(population.records.contains { $0.truth.signing == .forged })
        XCTAssertTrue(population.records.contains { $0.truth.noise.contains("nfd") })
        XCTAssertTrue(population.records.contains { record in
            if case let .visit(visit) = record.record { return visit.diagnoses.contains { $0.code == "B20" || $0.code == "Z21" } }
            return false
        }, "a few restricted diagnoses, for the citizen-feed filter")
    }
}
