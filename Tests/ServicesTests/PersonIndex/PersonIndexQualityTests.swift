import Foundation
import HealthModel
import HSSKTesting
import RecordStore
@testable import Services
import SyntheticPopulation
import XCTest

/// The store-backed person index on a synthetic population with identifier gaps (visits with only a
/// facility id, doses with only an immunization code, newborns without personal ID, re-issued
/// personal IDs, twins, namesakes): no false merge, few split citizens.
final class PersonIndexQualityTests: XCTestCase {
    func testHardPopulationHasNoFalseMergeAndFewSplits() async throws {
        let store = try await RecordStores.open(try TestStores.freshLocation(.sqlite), keys: try KeyRing.generate())
        let population = PopulationGenerator(citizens: 2_000, seed: 5).generate()
        let citizens = population.citizens
        XCTAssertTrue(citizens.contains { $0.oldPersonalId != nil }, "re-issued personal IDs")
        XCTAssertTrue(citizens.contains { a in a.motherIndex != nil && citizens.contains { $0.index != a.index && $0.motherIndex == a.motherIndex && $0.birthDate == a.birthDate } },
                      "twins")
        let fixture = PersonIndexFixture(store: store, population: population)
        let resolution = try await fixture.ingest()
        let quality = try await fixture.quality()
        print("person index: \(quality); created \(resolution.created), linked \(resolution.linked), reviews \(resolution.reviews)")
        XCTAssertEqual(quality.falseMerges, 0, "persons holding more than one citizen")
        XCTAssertLessThan(Double(quality.split), Double(quality.citizens) * 0.05, "citizens split over several persons")
        XCTAssertLessThan(Double(quality.unlinked), Double(population.acceptable.count) * 0.01, "records left for review")

        // The sweep afterwards never merges two citizens either.
        let sweep = try await DuplicateSweep(store: store, actor: "test").run()
        let swept = try await fixture.quality()
        print("dedup: \(sweep); then \(swept)")
        XCTAssertEqual(swept.falseMerges, 0, "the sweep merged two citizens")
        XCTAssertLessThanOrEqual(swept.split, quality.split)
        await store.close()
    }

    /// Records with the new number arrive before the registry's re-issue event and create a second
    /// person: the event must not move the number (the store would refuse the batch) but send both
    /// persons to review.
    func testReissuedNumberAlreadyHeldGoesToReview() async throws {
        let store = try await RecordStores.open(try TestStores.freshLocation(.sqlite), keys: try KeyRing.generate())
        let old = "001080012345", new = "001080067890"
        var details = PersonDetails(fullName: "Nguyễn Văn An", birthDate: "1980-03-07", sex: 1, personalId: old)
        details.address = Address(text: "Số 1 Phố Huế, Hà Nội", provinceCode: "01", communeCode: "00256")
        let card = InsuranceCardChange(kind: .renewed, cardCode: "DN4010123456789", bhxhNumber: "0123456789", holder: details, effectiveAt: "2025-08-01")
        var later = details
        later.personalId = new
        let visit = VisitRecord(facilityCode: "01001", episodeKey: "LK-1", patientId: "BN-1", patient: later, visitType: "01",
                                admissionTime: "2025-09-01T08:00", diagnoses: [Diagnosis(code: "J06.9", text: "Viêm họng")])
        var event = RegistryEvent(stationCode: "01I29", eventId: "ID-1", kind: .newPersonalIdIssued, occurredAt: "2025-09-10", person: later)
        event.newPersonalId = NewPersonalIDDetails(oldPersonalId: old, newPersonalId: new, reason: .other, cancelledAt: "2025-08-20")

        try await PersonIndexFixture.link([(.insuranceCard(card), SyntheticAccounts.socialSecurity)], into: store, firstOffset: 0)
        let first = try await store.findPersons(.personalId, old, includeHistoric: false).map(\.person)
        try await PersonIndexFixture.link([(.visit(visit), "01001_lt_bvbm")], into: store, firstOffset: 1)
        let second = try await store.findPersons(.personalId, new, includeHistoric: false).map(\.person)
        XCTAssertEqual(first.count, 1)
        XCTAssertEqual(second.count, 1)
        XCTAssertNotEqual(first, second, "another personal ID vetoes the demographic match")
        let linked = try await PersonIndexFixture.link([(.registryEvent(event), SyntheticAccounts.station.account)], into: store, firstOffset: 2)
        XCTAssertEqual(linked.persons, first, "the event is the person of the old number")
        let tasks = try await store.reviewTasks(includeResolved: false)
        XCTAssertEqual(tasks.map(\.kind), ["possibleDuplicate"])
        XCTAssertEqual(Set(tasks.first?.persons ?? []), Set(first + second))
        let holders = try await store.findPersons(.personalId, new, includeHistoric: true).map(\.person)
        XCTAssertEqual(holders, second, "the number did not move")
        await store.close()
    }

    /// A newborn's birth dose ("Con bà <mother>", mother's phone, immunization code) never matches the
    /// mother; the birth registration finds the child and names it, and later doses follow.
    func testNewbornPlaceholderIsNamedByTheBirthRegistration() async throws {
        let store = try await RecordStores.open(try TestStores.freshLocation(.sqlite), keys: try KeyRing.generate())
        let address = Address(text: "Số 9 Kim Mã, Hà Nội", provinceCode: "01", communeCode: "00301")
        var mother = PersonDetails(fullName: "Trần Thị Chi", birthDate: "1995-04-02", sex: 2, personalId: "001195012345", phone: "0912345678")
        mother.address = address
        let card = InsuranceCardChange(kind: .renewed, cardCode: "DN4010123456789", bhxhNumber: "0123456789", holder: mother, effectiveAt: "2025-08-01")
        var placeholder = PersonDetails(fullName: "Con bà Trần Thị Chi", birthDate: "2025-10-05", sex: 1, immunizationCode: "TC012500000001",
                                        phone: "0912345678")
        placeholder.address = address
        let birthDose = VaccinationDose(siteCode: "01001", doseId: "D-1", person: placeholder, vaccineCode: "VGB-SS", vaccineName: "Viêm gan B sơ sinh",
                                        lotNumber: "L1", doseNumber: 1, administeredAt: "2025-10-05T09:00")
        var child = PersonDetails(fullName: "Lê Minh Khang", birthDate: "2025-10-05", sex: 1)
        child.address = address
        var birth = RegistryEvent(stationCode: "01I29", eventId: "BR-1", kind: .birth, occurredAt: "2025-10-05", person: child)
        birth.birth = BirthDetails(birthCertificateNumber: "GKS-1", mother: PersonReference(fullName: mother.fullName, personalId: mother.personalId))
        var named = child
        named.immunizationCode = "TC012500000001"
        let secondDose = VaccinationDose(siteCode: "01I29", doseId: "D-2", person: named, vaccineCode: "BCG", vaccineName: "Lao (BCG)",
                                         lotNumber: "L2", doseNumber: 1, administeredAt: "2025-10-20T09:00")
        var visitor = child
        visitor.fullName = "Le Minh Khang"
        let visit = VisitRecord(facilityCode: "01003", episodeKey: "LK-9", patientId: "BN-9", patient: visitor, visitType: "01",
                                admissionTime: "2025-11-02T08:00", diagnoses: [Diagnosis(code: "J06.9", text: "Viêm họng")])

        let steps: [(SourceRecord, String)] = [(.insuranceCard(card), SyntheticAccounts.socialSecurity), (.vaccination(birthDose), "01001_lt_bvbm"),
                                              (.registryEvent(birth), SyntheticAccounts.station.account), (.vaccination(secondDose), "01I29_lt_tyt"),
                                              (.visit(visit), "01003_lt_bvvd")]
        var persons: [PersonID?] = []
        for (offset, step) in steps.enumerated() {
            persons += try await PersonIndexFixture.link([step], into: store, firstOffset: Int64(offset)).persons
        }
        guard let motherID = persons[0], let childID = persons[1] else { return XCTFail("\(persons)") }
        XCTAssertNotEqual(motherID, childID, "the placeholder is not the mother")
        XCTAssertEqual(Array(persons.dropFirst(2)), [childID, childID, childID], "registration, dose and visit find the child")
        let name = try await store.person(childID)?.demographics?.fullName
        XCTAssertEqual(name, "Lê Minh Khang", "the child is named")
        let relations = try await store.relations(of: childID)
        XCTAssertEqual(relations.map(\.other), [motherID], "the birth relates the child to the mother")
        let tasks = try await store.reviewTasks(includeResolved: false)
        XCTAssertEqual(tasks.count, 0)
        await store.close()
    }
}
