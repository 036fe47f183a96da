import Foundation
import HealthModel
@testable import InsuranceSync
@testable import RecordStore
import ServiceRuntime
import XCTest

/// `SupplementPlanner` alone: what the health record knows, from which records, and when a difference
/// with insurance's last known values becomes a supplement.
final class SupplementPlannerTests: XCTestCase {
    private let bhxh = "0123456789"
    private let personalID = "001185000101"

    private func details(name: String = "Lê Thị Hoa", birth: String = "1985-03-12", personalId: String? = "001185000101",
                         phone: String? = "0912000001") -> PersonDetails {
        PersonDetails(fullName: name, birthDate: birth, sex: 2, personalId: personalId, bhxhNumber: bhxh, phone: phone)
    }

    private func stored(_ record: SourceRecord, id: Int64, sender: String = "01001_lt_bvbm") throws -> PersonRecord {
        let topic = SourceTopics.defaults[record.kind] ?? ""
        return PersonRecord(id: id, kind: record.kind, original: Array(try RecordDecoder.encode(record)),
                            coordinates: KafkaCoordinates(topic: topic, partition: 0, offset: id), sender: sender, version: 1)
    }

    private func visit(_ episode: String, _ patient: PersonDetails, at time: String = "2025-09-10T08:00") -> SourceRecord {
        .visit(VisitRecord(facilityCode: "01001", episodeKey: episode, patientId: "BN-1", patient: patient, visitType: "01",
                           admissionTime: time, diagnoses: [Diagnosis(code: "J06.9", text: "Viêm họng cấp")]))
    }

    private func registry(_ id: String, _ kind: RegistryEvent.EventKind, _ person: PersonDetails, at time: String = "2025-10-02",
                          _ edit: (inout RegistryEvent) -> Void = { _ in }) -> SourceRecord {
        var event = RegistryEvent(stationCode: "01I29", eventId: id, kind: kind, occurredAt: time, person: person)
        edit(&event)
        return .registryEvent(event)
    }

    /// A card whose holder insurance knows as `holder` (name, birth date, personal ID, phone), linked to `persons` persons.
    private func card(_ name: String, _ birth: String, personalId: String? = nil, phone: String? = nil, persons: Int = 1) throws -> InsuranceCardRecord {
        var change = InsuranceCardChange(kind: .issued, cardCode: "DN401" + bhxh, bhxhNumber: bhxh,
                                         holder: PersonDetails(fullName: name, birthDate: birth, sex: 2, personalId: personalId, phone: phone),
                                         effectiveAt: "2025-01-01")
        change.validFrom = "2025-01-01"
        change.validTo = "2026-12-31"
        return InsuranceCardRecord(state: try XCTUnwrap(InsuranceCardState.fold([change])), persons: (0..<persons).map { PersonID(Int64($0 + 1)) })
    }

    private func view(personalIDs: [(String, String?)] = [("001185000101", nil)], cards: [InsuranceCardRecord],
                      records: [PersonRecord]) -> InsurancePersonView {
        InsurancePersonView(person: StoredPerson(id: PersonID(1), demographics: nil,
                                                 identifiers: personalIDs.map { StoredIdentifier(type: .personalId, value: $0.0, validFrom: "2016-01-01",
                                                                                                 validTo: $0.1, source: "test") },
                                                 mergedInto: nil, recordCount: records.count),
                            cards: cards, records: records)
    }

    private func plan(_ view: InsurancePersonView) -> [String] {
        SupplementPlanner.supplements(for: view, generatedAt: "2025-10-05T01:00:00.000Z").map { "\($0.field.rawValue)=\($0.value)" }.sorted()
    }

    func testValuesWhoseOnlySourceIsInsuranceAreNeverSentBack() throws {
        // The personal ID reached the person index from a card change only; no other record carries it.
        let cardOnly = view(cards: [try card("Lê Thị Hoa", "1985-03-12")],
                            records: [try stored(visit("LK-1", details(personalId: nil, phone: nil)), id: 1)])
        XCTAssertEqual(plan(cardOnly), [])
        // The same ID carried by a visit is the health record's own knowledge.
        let fromVisit = view(cards: [try card("Lê Thị Hoa", "1985-03-12")],
                             records: [try stored(visit("LK-1", details(phone: nil)), id: 1)])
        let supplements = SupplementPlanner.supplements(for: fromVisit, generatedAt: "2025-10-05T01:00:00.000Z")
        XCTAssertEqual(supplements.map(\.field), [.personalId])
        XCTAssertNil(supplements.first?.insuranceValue)
        XCTAssertEqual(supplements.first?.evidence, InsuranceSupplement.Evidence(topic: "hssk.visits.v1", sender: "01001_lt_bvbm",
                                                                                  recordKey: "01001:LK-1", recordType: "visit", time: "2025-09-10T08:00"))
        XCTAssertEqual(supplements.first?.validate().errors, [])
    }

    func testNothingWhenInsuranceAgrees() throws {
        let agreeing = try card("Lê Thị Hoa", "1985-03-12", personalId: personalID, phone: "0912000001")
        XCTAssertEqual(plan(view(cards: [agreeing], records: [try stored(visit("LK-1", details()), id: 1)])), [])
    }

    func testNewestPhoneByEventTimeNotArrival() throws {
        let insurance = try card("Lê Thị Hoa", "1985-03-12", personalId: personalID, phone: "0912000001")
        // The visit of December arrived first; an older visit (a late XML 130 upload) arrived after it.
        let records = [try stored(visit("LK-2", details(phone: "0912000002"), at: "2025-12-01T08:00"), id: 1),
                       try stored(visit("LK-1", details(phone: "0912000009"), at: "2025-02-01T08:00"), id: 2)]
        XCTAssertEqual(plan(view(cards: [insurance], records: records)), ["phone=0912000002"])
    }

    func testNameAndBirthDateOnlyFromRegistryVerification() throws {
        let insurance = try card("Lê Thị Hoa", "1985", personalId: personalID, phone: "0912000001")
        // A hospital's spelling is not a correction.
        let typed = view(cards: [insurance], records: [try stored(visit("LK-1", details(name: "Le Thi Hoa")), id: 1)])
        XCTAssertEqual(plan(typed), [])
        // A station's correction of the name only; the birth date in the same record is not vouched for.
        let corrected = view(cards: [insurance], records: [
            try stored(visit("LK-1", details()), id: 1),
            try stored(registry("DC-1", .demographicCorrection, details(name: "Lê Thị Hòa")) {
                $0.correction = CorrectionDetails(correctedFields: ["fullName"], reason: "Theo giấy khai sinh")
            }, id: 2, sender: "01I29_lt_tyt"),
        ])
        let supplements = SupplementPlanner.supplements(for: corrected, generatedAt: "2025-10-05T01:00:00.000Z")
        XCTAssertEqual(supplements.map { "\($0.field.rawValue)=\($0.value)" }, ["fullName=Lê Thị Hòa"])
        XCTAssertEqual(supplements.first?.insuranceValue, "Lê Thị Hoa")
        XCTAssertEqual(supplements.first?.evidence.recordType, "demographicCorrection")
        // A correction of the birth date; insurance's year is less precise, so the day is news.
        let birthDate = view(cards: [insurance], records: [
            try stored(registry("DC-2", .demographicCorrection, details()) {
                $0.correction = CorrectionDetails(correctedFields: ["birthDate"], reason: "Theo giấy khai sinh")
            }, id: 1, sender: "01I29_lt_tyt"),
        ])
        XCTAssertEqual(plan(birthDate), ["birthDate=1985-03-12"])
        // The other way round (we know the year only, insurance the day) is no discrepancy.
        XCTAssertTrue(SupplementPlanner.agrees(.birthDate, ours: "1985", insurance: "1985-03-12"))
        XCTAssertFalse(SupplementPlanner.agrees(.birthDate, ours: "1986", insurance: "1985-03-12"))
    }

    func testDeathAndReissuedPersonalID() throws {
        let oldID = "001161000505", newID = "001161000555"
        let insurance = try card("Ngô Thị Em", "1961-05-05", personalId: oldID)
        let person = PersonDetails(fullName: "Ngô Thị Em", birthDate: "1961-05-05", sex: 2, personalId: newID, bhxhNumber: bhxh)
        let records = [
            try stored(registry("ID-1", .newPersonalIdIssued, person, at: "2025-10-01") {
                $0.newPersonalId = NewPersonalIDDetails(oldPersonalId: oldID, newPersonalId: newID, reason: .other, cancelledAt: "2025-10-01")
            }, id: 1, sender: "01I29_lt_tyt"),
            try stored(registry("DT-1", .death, person, at: "2025-11-20") { $0.death = DeathDetails(deathTime: "2025-11-20T04:30") },
                       id: 2, sender: "01I29_lt_tyt"),
        ]
        let supplements = SupplementPlanner.supplements(for: view(personalIDs: [(oldID, "2025-10-01"), (newID, nil)], cards: [insurance],
                                                                  records: records), generatedAt: "2025-11-21T01:00:00.000Z")
        XCTAssertEqual(supplements.map { "\($0.field.rawValue)=\($0.value)" }, ["personalId=\(newID)", "deathDate=2025-11-20T04:30"])
        XCTAssertEqual(supplements.first?.previousPersonalIds, [oldID])
        XCTAssertEqual(supplements.first?.insuranceValue, oldID)
        for supplement in supplements { XCTAssertEqual(supplement.validate().errors, [], "\(supplement.field)") }
    }

    func testACardLinkedToTwoPersonsIsLeftAlone() throws {
        let shared = try card("Lê Thị Hoa", "1985-03-12", persons: 2)
        XCTAssertEqual(plan(view(cards: [shared], records: [try stored(visit("LK-1", details()), id: 1)])), [])
    }

    func testWhichRecordsConcernInsurance() throws {
        XCTAssertTrue(OutboxKinds.concernsInsurance(visit("LK-1", details(personalId: nil))))
        XCTAssertTrue(OutboxKinds.concernsInsurance(registry("MV-1", .movedIn, details(personalId: nil, phone: nil)) {
            $0.move = MoveDetails(to: Address(provinceCode: "01"))
        }))
        XCTAssertFalse(OutboxKinds.concernsInsurance(visit("LK-1", details(personalId: nil, phone: nil))))
    }
}
