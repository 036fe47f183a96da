import Foundation
import HSSKTesting
import HealthModel
@testable import Ingest
@testable import PersonIndex
import RecordStore
@testable import ServiceRuntime
@testable import SourceAdapters
import SyntheticPopulation
import XCTest

/// The person index's named cases (issue 6), each through ingest's own linking (`PersonResolver`)
/// and the store's apply path, on both backends: what a clinician would call "the same person" ends
/// as one person, and different people never share one.
final class PersonIndexScenarioTests: XCTestCase {
    func testSamePersonByCCCDThenBHYTThenNameWithTypoSQLite() async throws { try await samePersonByCCCDThenBHYTThenNameWithTypo(.sqlite) }
    func testSamePersonByCCCDThenBHYTThenNameWithTypoPostgres() async throws { try await samePersonByCCCDThenBHYTThenNameWithTypo(.postgres) }
    func testNamesakesBornTheSameYearStayApartSQLite() async throws { try await namesakesBornTheSameYearStayApart(.sqlite) }
    func testNamesakesBornTheSameYearStayApartPostgres() async throws { try await namesakesBornTheSameYearStayApart(.postgres) }
    func testTwinsStayApartSQLite() async throws { try await twinsStayApart(.sqlite) }
    func testTwinsStayApartPostgres() async throws { try await twinsStayApart(.postgres) }
    func testReissuedPersonalIDKeepsThePersonAndTheOldNumberSQLite() async throws { try await reissuedPersonalIDKeepsThePersonAndTheOldNumber(.sqlite) }
    func testReissuedPersonalIDKeepsThePersonAndTheOldNumberPostgres() async throws { try await reissuedPersonalIDKeepsThePersonAndTheOldNumber(.postgres) }
    func testNewbornRegisteredThenPersonalIDAttachesToTheChildSQLite() async throws { try await newbornRegisteredThenPersonalIDAttachesToTheChild(.sqlite) }
    func testNewbornRegisteredThenPersonalIDAttachesToTheChildPostgres() async throws { try await newbornRegisteredThenPersonalIDAttachesToTheChild(.postgres) }
    func testConflictingSexOrBirthYearGoesToReviewUnlinkedSQLite() async throws { try await conflictingSexOrBirthYearGoesToReviewUnlinked(.sqlite) }
    func testConflictingSexOrBirthYearGoesToReviewUnlinkedPostgres() async throws { try await conflictingSexOrBirthYearGoesToReviewUnlinked(.postgres) }
    func testMergeThenUndoRestoresBothPersonsSQLite() async throws { try await mergeThenUndoRestoresBothPersons(.sqlite) }
    func testMergeThenUndoRestoresBothPersonsPostgres() async throws { try await mergeThenUndoRestoresBothPersons(.postgres) }
    func testConcurrentIngestOfOneNewPersonEndsAsOnePersonSQLite() async throws { try await concurrentIngestOfOneNewPersonEndsAsOnePerson(.sqlite) }
    func testConcurrentIngestOfOneNewPersonEndsAsOnePersonPostgres() async throws { try await concurrentIngestOfOneNewPersonEndsAsOnePerson(.postgres) }

    // MARK: - Records as their sources send them

    static let hueStreet = Address(text: "Số 1 Phố Huế, Hà Nội", provinceCode: "01", communeCode: "00256")
    static let kimMa = Address(text: "Số 9 Kim Mã, Hà Nội", provinceCode: "01", communeCode: "00301")

    static func person(_ name: String, _ birth: String, sex: Int = 1, pid: String? = nil, bhxh: String? = nil,
                       address: Address = hueStreet, phone: String? = nil) -> PersonDetails {
        var details = PersonDetails(fullName: name, birthDate: birth, sex: sex, personalId: pid, bhxhNumber: bhxh, phone: phone)
        details.address = address
        return details
    }

    /// A hospital visit; the facility's own patient id is always there.
    static func visit(_ facility: String, _ episode: String, _ patient: PersonDetails) -> (SourceRecord, String) {
        (.visit(VisitRecord(facilityCode: facility, episodeKey: episode, patientId: "BN-\(episode)", patient: patient, visitType: "01",
                            admissionTime: "2025-09-01T08:00", diagnoses: [Diagnosis(code: "J06.9", text: "Viêm họng")])), "\(facility)_lt_bv")
    }

    static func card(_ bhxh: String, _ holder: PersonDetails) -> (SourceRecord, String) {
        (.insuranceCard(InsuranceCardChange(kind: .renewed, cardCode: "DN401" + bhxh, bhxhNumber: bhxh, holder: holder, effectiveAt: "2025-08-01")),
         SyntheticAccounts.socialSecurity)
    }

    static func birth(_ event: String, _ child: PersonDetails, certificate: String, mother: PersonReference) -> (SourceRecord, String) {
        var registration = RegistryEvent(stationCode: "01I29", eventId: event, kind: .birth, occurredAt: child.birthDate, person: child)
        registration.birth = BirthDetails(birthCertificateNumber: certificate, mother: mother)
        return (.registryEvent(registration), SyntheticAccounts.station.account)
    }

    static func dose(_ site: String, _ id: String, _ person: PersonDetails, immunizationCode: String) -> (SourceRecord, String) {
        var vaccinated = person
        vaccinated.immunizationCode = immunizationCode
        return (.vaccination(VaccinationDose(siteCode: site, doseId: id, person: vaccinated, vaccineCode: "BCG", vaccineName: "Lao (BCG)",
                                             lotNumber: "L1", doseNumber: 1, administeredAt: "2025-10-20T09:00")), "\(site)_lt_tyt")
    }

    /// Links each record in its own batch, as records arriving one by one would be.
    func ingest(_ records: [(SourceRecord, String)], into store: any HealthRecordStore, from offset: inout Int64) async throws -> [PersonID?] {
        var persons: [PersonID?] = []
        for record in records {
            persons += try await PersonIndexFixture.link([record], into: store, firstOffset: offset).persons
            offset += 1
        }
        return persons
    }

    func open(_ backend: TestStores.Backend) async throws -> any HealthRecordStore {
        try await RecordStores.open(try TestStores.freshLocation(backend), keys: try KeyRing.generate())
    }

    // MARK: - Scenarios

    /// (a) Known first by the CCCD (with the BHYT number), then by the BHYT number alone at another
    /// hospital, then at a third by name, birth date and address only, the given name mistyped.
    func samePersonByCCCDThenBHYTThenNameWithTypo(_ backend: TestStores.Backend) async throws {
        let store = try await open(backend)
        var offset: Int64 = 0
        let persons = try await ingest([
            Self.visit("01001", "LK-1", Self.person("Nguyễn Văn Hùng", "1980-03-07", pid: "001080012345", bhxh: "0123456789")),
            Self.visit("01003", "LK-2", Self.person("Nguyen Van Hung", "1980-03-07", bhxh: "0123456789")),
            Self.visit("01005", "LK-3", Self.person("Nguyễn Văn Hưng", "1980-03-07")),
            Self.visit("01007", "LK-4", Self.person("Nguyễn Văn Hunh", "1980-03-07")),
        ], into: store, from: &offset)
        XCTAssertNotNil(persons[0])
        XCTAssertEqual(Set(persons), [persons[0]], "one person: \(persons)")
        let person = try await store.person(try XCTUnwrap(persons[0]))
        XCTAssertEqual(person?.recordCount, 4)
        XCTAssertEqual(Set(person?.identifiers.map(\.type) ?? []), [.personalId, .bhxhNumber, .facilityPatientId])
        let tasks = try await store.reviewTasks(includeResolved: false)
        XCTAssertTrue(tasks.isEmpty, "\(tasks.map(\.kind))")
        await store.close()
    }

    /// (b) Two men called Nguyễn Văn Hùng born in 1985, in other communes, one known only by a
    /// hospital's patient id: the commonest name in the country is not evidence enough.
    func namesakesBornTheSameYearStayApart(_ backend: TestStores.Backend) async throws {
        let store = try await open(backend)
        var offset: Int64 = 0
        let other = Address(text: "Số 12 Ngõ 5 Láng Hạ, Hà Nội", provinceCode: "01", communeCode: "00175")
        let persons = try await ingest([
            Self.card("0123456789", Self.person("Nguyễn Văn Hùng", "1985-05-12", pid: "001085012345")),
            Self.visit("01003", "LK-1", Self.person("Nguyễn Văn Hùng", "1985-11-02", address: other)),
            Self.visit("01003", "LK-2", Self.person("Nguyễn Văn Hùng", "1985", address: other)),
        ], into: store, from: &offset)
        guard let first = persons[0], let second = persons[1] else { return XCTFail("\(persons)") }
        XCTAssertNotEqual(first, second, "namesakes are two persons")
        XCTAssertNotEqual(persons[2], first, "a year-only birth date of the namesake is not the first man")
        await store.close()
    }

    /// (c) Twins: same mother, birth date, address and phone, different given names. Registered with
    /// their own birth certificates, then each seen at a hospital known only by name and birth date.
    func twinsStayApart(_ backend: TestStores.Backend) async throws {
        let store = try await open(backend)
        var offset: Int64 = 0
        let mother = Self.person("Trần Thị Chi", "1995-04-02", sex: 2, pid: "001195012345", address: Self.kimMa, phone: "0912345678")
        let motherRef = PersonReference(fullName: mother.fullName, personalId: mother.personalId)
        let khang = Self.person("Lê Minh Khang", "2025-10-05", address: Self.kimMa, phone: "0912345678")
        let khoi = Self.person("Lê Minh Khôi", "2025-10-05", address: Self.kimMa, phone: "0912345678")
        let persons = try await ingest([
            Self.card("0123456789", mother),
            Self.birth("BR-1", khang, certificate: "GKS-1", mother: motherRef),
            Self.birth("BR-2", khoi, certificate: "GKS-2", mother: motherRef),
            Self.visit("01003", "LK-1", khoi),
            Self.visit("01003", "LK-2", khang),
        ], into: store, from: &offset)
        guard let motherID = persons[0], let a = persons[1], let b = persons[2] else { return XCTFail("\(persons)") }
        XCTAssertEqual(Set([motherID, a, b]).count, 3, "mother and twins are three persons")
        XCTAssertEqual(persons[3], b, "Khôi's visit is Khôi's")
        XCTAssertEqual(persons[4], a, "Khang's visit is Khang's")
        let relations = try await store.relations(of: motherID)
        XCTAssertEqual(Set(relations.map(\.person)), [a, b], "both twins are related to the mother")

        // Other twins, known to a hospital only by its patient ids, the mother's phone and address.
        let hoa = Self.person("Phạm Thị Hoa", "2019-02-14", sex: 2, address: Self.hueStreet, phone: "0987654321")
        let hong = Self.person("Phạm Thị Hồng", "2019-02-14", sex: 2, address: Self.hueStreet, phone: "0987654321")
        let seen = try await ingest([Self.visit("01005", "LK-7", hoa), Self.visit("01005", "LK-8", hong)], into: store, from: &offset)
        XCTAssertNotNil(seen[0])
        XCTAssertNotEqual(seen[0], seen[1], "Hoa and Hồng are two persons")
        await store.close()
    }

    /// (d) The registry re-issues a personal ID: the person is the same, the new number becomes the
    /// active one, and records still carrying the old number find the person.
    func reissuedPersonalIDKeepsThePersonAndTheOldNumber(_ backend: TestStores.Backend) async throws {
        let store = try await open(backend)
        var offset: Int64 = 0
        let old = "001080012345", new = "001080067890"
        var event = RegistryEvent(stationCode: "01I29", eventId: "ID-1", kind: .newPersonalIdIssued, occurredAt: "2025-09-10",
                                  person: Self.person("Nguyễn Văn An", "1980-03-07", pid: new))
        event.newPersonalId = NewPersonalIDDetails(oldPersonalId: old, newPersonalId: new, reason: .other, cancelledAt: "2025-08-20")
        let persons = try await ingest([
            Self.card("0123456789", Self.person("Nguyễn Văn An", "1980-03-07", pid: old)),
            (.registryEvent(event), SyntheticAccounts.station.account),
            Self.visit("01001", "LK-1", Self.person("Nguyễn Văn An", "1980-03-07", pid: old)),
            Self.visit("01003", "LK-2", Self.person("Nguyễn Văn An", "1980-03-07", pid: new)),
        ], into: store, from: &offset)
        let person = try XCTUnwrap(persons[0])
        XCTAssertEqual(persons, [person, person, person, person])
        let byOld = try await store.findPersons(.personalId, old, includeHistoric: true)
        XCTAssertEqual(byOld.map(\.person), [person], "the old number still finds the person")
        XCTAssertEqual(byOld.map(\.active), [false], "the old number is closed")
        let byNew = try await store.findPersons(.personalId, new, includeHistoric: false)
        XCTAssertEqual(byNew.map(\.person), [person])
        let tasks = try await store.reviewTasks(includeResolved: false)
        XCTAssertTrue(tasks.isEmpty, "\(tasks.map(\.kind))")
        await store.close()
    }

    /// (e) A birth registration creates the child (birth certificate, mother, no personal ID yet);
    /// the child's first insurance card brings the personal ID, which attaches to that child.
    func newbornRegisteredThenPersonalIDAttachesToTheChild(_ backend: TestStores.Backend) async throws {
        let store = try await open(backend)
        var offset: Int64 = 0
        let mother = Self.person("Trần Thị Chi", "1995-04-02", sex: 2, pid: "001195012345", address: Self.kimMa, phone: "0912345678")
        let child = Self.person("Lê Minh Khang", "2025-10-05", address: Self.kimMa)
        let childID = "001225000009"
        var carded = child
        carded.personalId = childID
        let persons = try await ingest([
            Self.card("0123456789", mother),
            Self.birth("BR-1", child, certificate: "GKS-1", mother: PersonReference(fullName: mother.fullName, personalId: mother.personalId)),
            Self.card("0199999999", carded),
            Self.visit("01003", "LK-1", Self.person("Lê Minh Khang", "2025-10-05", pid: childID)),
        ], into: store, from: &offset)
        guard let motherID = persons[0], let newborn = persons[1] else { return XCTFail("\(persons)") }
        XCTAssertNotEqual(motherID, newborn)
        XCTAssertEqual(Array(persons.dropFirst(2)), [newborn, newborn], "the card and the visit are the child's")
        let holders = try await store.findPersons(.personalId, childID, includeHistoric: true)
        XCTAssertEqual(holders.map(\.person), [newborn], "the personal ID attached to the registered child")
        let identifiers = try await store.person(newborn)?.identifiers.map(\.type) ?? []
        XCTAssertTrue(identifiers.contains(.birthCertificate))
        let relations = try await store.relations(of: newborn)
        XCTAssertEqual(relations.map(\.other), [motherID])
        await store.close()
    }

    /// (f) A record names a known personal ID with another sex, another with another birth year: each
    /// opens a review task with its evidence and stays unlinked; the person is unchanged.
    func conflictingSexOrBirthYearGoesToReviewUnlinked(_ backend: TestStores.Backend) async throws {
        let store = try await open(backend)
        var offset: Int64 = 0
        let pid = "001080012345"
        let otherSex = Self.visit("01001", "LK-1", Self.person("Nguyễn Thị An", "1980-03-07", sex: 2, pid: pid))
        let otherYear = Self.visit("01001", "LK-2", Self.person("Nguyễn Văn An", "1990-03-07", pid: pid))
        let persons = try await ingest([Self.card("0123456789", Self.person("Nguyễn Văn An", "1980-03-07", pid: pid)), otherSex, otherYear],
                                       into: store, from: &offset)
        let person = try XCTUnwrap(persons[0])
        XCTAssertEqual(Array(persons.dropFirst()), [nil, nil], "conflicting records are held back")
        let tasks = try await store.reviewTasks(includeResolved: false)
        XCTAssertEqual(tasks.map(\.kind), ["sexConflict", "birthYearConflict"])
        XCTAssertEqual(tasks.map(\.persons), [[person], [person]])
        XCTAssertEqual(tasks.compactMap { ReviewEvidence(json: $0.evidence)?.record?.key }, [otherSex.0.kafkaKey, otherYear.0.kafkaKey],
                       "each task names the record it holds back")
        let stored = try await store.person(person)
        XCTAssertEqual(stored?.recordCount, 1)
        XCTAssertEqual(stored?.identifiers.map(\.type), [.personalId, .bhxhNumber], "nothing attached from a conflicting record")
        await store.close()
    }

    /// (g) Two persons merged by hand and the merge undone: each has its records and identifiers back.
    func mergeThenUndoRestoresBothPersons(_ backend: TestStores.Backend) async throws {
        let store = try await open(backend)
        var offset: Int64 = 0
        let visitOfB = Self.visit("01003", "LK-2", Self.person("Trần Văn Bình", "1975-01-01", address: Self.kimMa))
        let persons = try await ingest([
            Self.card("0123456789", Self.person("Nguyễn Văn An", "1980-03-07", pid: "001080012345")),
            Self.visit("01001", "LK-1", Self.person("Nguyễn Văn An", "1980-03-07", pid: "001080012345")),
            visitOfB,
        ], into: store, from: &offset)
        guard let a = persons[0], let b = persons[2] else { return XCTFail("\(persons)") }
        XCTAssertNotEqual(a, b)
        func snapshot(_ id: PersonID) async throws -> (records: Int, identifiers: Set<String>) {
            let person = try await store.person(id)
            return (person?.recordCount ?? -1, Set(person?.identifiers.map { "\($0.type.rawValue):\($0.value):\($0.validTo == nil)" } ?? []))
        }
        let beforeA = try await snapshot(a), beforeB = try await snapshot(b)
        let mergeID = try await store.merge(b, into: a, reason: "test", actor: "op.lan")
        let merged = try await snapshot(a)
        XCTAssertEqual(merged.records, 3)
        XCTAssertEqual(merged.identifiers, beforeA.identifiers.union(beforeB.identifiers))
        try await store.undoMerge(mergeID, actor: "op.lan")
        let afterA = try await snapshot(a), afterB = try await snapshot(b)
        XCTAssertEqual(afterA.records, beforeA.records)
        XCTAssertEqual(afterA.identifiers, beforeA.identifiers)
        XCTAssertEqual(afterB.records, beforeB.records)
        XCTAssertEqual(afterB.identifiers, beforeB.identifiers)
        let restored = try await store.person(b)
        XCTAssertNil(restored?.mergedInto)
        let visits = try await store.sourceVersions(topic: PersonIndexFixture.topics[.visit] ?? "", key: visitOfB.0.kafkaKey)
        XCTAssertEqual(visits.map(\.person), [b], "the record is its person's again")
        await store.close()
    }

    /// (h) Two ingest processes link records of the same new person at the same moment: both see an
    /// empty index and both create the person. With a personal ID, the store refuses the second
    /// batch (one active holder per number) and ingest links it again, now to the first person; with
    /// only an immunization code both persons are stored and `hssk dedup` merges them.
    func concurrentIngestOfOneNewPersonEndsAsOnePerson(_ backend: TestStores.Backend) async throws {
        let store = try await open(backend)
        let adult = Self.person("Phạm Thu Hà", "1990-06-15", sex: 2, pid: "001190054321")
        let byID = try await race(Self.visit("01001", "LK-1", adult), Self.visit("01003", "LK-2", adult), store: store, offsets: (0, 1))
        XCTAssertNotNil(byID.0)
        XCTAssertEqual(byID.0, byID.1, "the refused batch was linked again to the first person")

        let child = Self.person("Lê Minh Khang", "2025-10-05", address: Self.kimMa)
        let byCode = try await race(Self.dose("01001", "D-1", child, immunizationCode: "TC012500000001"),
                                    Self.dose("01I29", "D-2", child, immunizationCode: "TC012500000001"), store: store, offsets: (2, 3))
        guard let first = byCode.0, let second = byCode.1 else { return XCTFail("\(byCode)") }
        XCTAssertNotEqual(first, second, "both processes created the child")
        let sweep = try await DuplicateSweep(store: store, actor: "op.lan").run()
        XCTAssertEqual(sweep.merged, 1)
        let later = try await store.person(max(first, second))
        XCTAssertEqual(later?.mergedInto, min(first, second), "the later person merged into the earlier")
        let holders = try await store.findPersons(.immunizationCode, "TC012500000001", includeHistoric: true)
        XCTAssertEqual(Set(holders.map(\.person)), [min(first, second)], "one person holds the code")
        await store.close()
    }

    // MARK: - Variants (SQLite)

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

    /// Resolves two records against the same state of the store (as two processes would), then
    /// applies both; a batch the store refuses for a constraint is resolved and applied again, as
    /// `IngestService` does. Returns the stored person of each.
    private func race(_ a: (SourceRecord, String), _ b: (SourceRecord, String), store: any HealthRecordStore,
                      offsets: (Int64, Int64)) async throws -> (PersonID?, PersonID?) {
        func accepted(_ item: (SourceRecord, String), _ offset: Int64) throws -> IncomingRecord {
            IncomingRecord(record: item.0, original: Array(try RecordDecoder.encode(item.0)),
                           coordinates: KafkaCoordinates(topic: PersonIndexFixture.topics[item.0.kind] ?? "", partition: 0, offset: offset), sender: item.1)
        }
        let records = [try accepted(a, offsets.0), try accepted(b, offsets.1)]
        let resolver = PersonResolver(store: store)
        async let first = resolver.resolve([records[0]])
        async let second = resolver.resolve([records[1]])
        let resolutions = try await [first, second]
        var persons: [PersonID?] = []
        for (record, planned) in zip(records, resolutions) {
            var resolution = planned
            for attempt in 0... {
                do {
                    let incoming = IncomingRecord(record: record.record, original: record.original, coordinates: record.coordinates,
                                                  sender: record.sender, person: resolution.persons[0])
                    let result = try await store.apply(StoreBatch(records: [incoming], identity: resolution.identity))
                    switch resolution.persons[0] {
                    case .existing(let id)?: persons.append(id)
                    case .new(let local)?: persons.append(result.newPersons[local])
                    case nil: persons.append(nil)
                    }
                    break
                } catch StoreError.identityConflict where attempt < 2 {
                    resolution = try await resolver.resolve([record])
                }
            }
        }
        return (persons[0], persons[1])
    }
}
