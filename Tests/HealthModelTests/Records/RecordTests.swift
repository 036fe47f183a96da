import XCTest
@testable import HealthModel

final class RecordTests: XCTestCase {
    func testFixturesAreValid() {
        let all: [any HealthRecord] = [RecordFixtures.visit, RecordFixtures.dose, RecordFixtures.card, RecordFixtures.birth]
        for record in all {
            XCTAssertEqual(record.validate().errors, [], "\(type(of: record))")
        }
    }

    func testRoundTrips() throws {
        try roundTrip(RecordFixtures.visit)
        try roundTrip(RecordFixtures.dose)
        try roundTrip(RecordFixtures.card)
        try roundTrip(RecordFixtures.birth)
        var move = RegistryEvent(stationCode: "01I29", eventId: "EV-2", kind: .movedIn, occurredAt: "2025-09", person: RecordFixtures.patient)
        move.move = MoveDetails(to: Address(provinceCode: "01", communeCode: "00004"))
        try roundTrip(move)
    }

    private func roundTrip<R: HealthRecord>(_ record: R, line: UInt = #line) throws {
        let data = try RecordDecoder.encode(record)
        let json = String(decoding: data, as: UTF8.self)
        XCTAssertTrue(json.contains("\"schemaVersion\":1"), line: line)
        let decoded = RecordDecoder.decode(data, as: R.self)
        XCTAssertEqual(decoded.record, record, line: line)
        XCTAssertEqual(decoded.issues.errors, [], line: line)
        XCTAssertEqual(try RecordDecoder.encode(XCTUnwrap(decoded.record)), data, "canonical bytes are stable", line: line)
    }

    func testKeysAndSenderScope() {
        XCTAssertEqual(RecordFixtures.visit.kafkaKey, "01001:LK2024-000123")
        XCTAssertEqual(RecordFixtures.visit.senderScope, .facility("01001"))
        XCTAssertEqual(RecordFixtures.dose.kafkaKey, "01I29:TC-2025-000777")
        XCTAssertEqual(RecordFixtures.card.kafkaKey, "0123456789")
        XCTAssertEqual(RecordFixtures.card.senderScope, .socialSecurity)
        XCTAssertEqual(RecordFixtures.birth.kafkaKey, "01I29:EV-1")
        var lower = RecordFixtures.visit
        lower.facilityCode = "01i29"
        XCTAssertEqual(lower.kafkaKey, "01I29:LK2024-000123")
        XCTAssertEqual(SourceRecord.visit(lower).kind, .visit)
        XCTAssertEqual(RecordKind(ceType: "vn.hssk.visit.v1"), .visit)
        XCTAssertEqual(RecordKind.allCases.map(\.ceType).count, Set(RecordKind.allCases.map(\.ceType)).count)
    }

    /// Each mutation must produce exactly the listed codes among its issues (and be an error unless noted).
    func testVisitRules() {
        let cases: [(String, (inout VisitRecord) -> Void, String, Severity, UInt)] = [
            ("discharge before admission", { $0.dischargeTime = "2024-05-01T10:00" }, "dischargeTime.beforeAdmission", .error, #line),
            ("wrong century digit", { $0.patient.personalId = "001258012345" }, "personalId.centuryDigitMismatch", .error, #line),
            ("wrong sex digit", { $0.patient.sex = 2 }, "personalId.sexDigitMismatch", .error, #line),
            ("missing phone", { $0.patient.phone = nil }, "phone.missing", .warning, #line),
            ("landline", { $0.patient.phone = "02438693731" }, "phone.format", .warning, #line),
            ("card validity order", { $0.insuranceCards?[0].validTo = "2023-12-31" }, "insuranceCard.validityOrder", .error, #line),
            ("bad ICD", { $0.diagnoses[1].code = "X" }, "icd10.format", .error, #line),
            ("no diagnosis", { $0.diagnoses = [] }, "diagnoses.missing", .error, #line),
            ("13 secondary", { $0.diagnoses += Array(repeating: Diagnosis(code: "E11"), count: 12) }, "diagnoses.tooManySecondary", .error, #line),
            ("visit type", { $0.visitType = "17" }, "visitType.invalid", .error, #line),
            ("visit type unpadded", { $0.visitType = "3" }, "visitType.invalid", .error, #line),
            ("result", { $0.result = 8 }, "result.invalid", .error, #line),
            ("discharge type", { $0.dischargeType = 6 }, "dischargeType.invalid", .error, #line),
            ("GLN as MA_DKBD", { $0.insuranceCards?[0].registeredFacility = "8934567890123" }, "facilityCode.insuranceCodeRequired", .error, #line),
            ("unknown group", { $0.insuranceCards?[0].cardCode = "ZZ4010123456789" }, "insuranceCard.unknownGroup", .warning, #line),
            ("district after reform", { $0.admissionTime = "2025-08-01T08:00"; $0.inpatientAdmissionTime = nil; $0.dischargeTime = nil; $0.followUpDate = nil },
             "adminUnit.districtAfterReform", .warning, #line),
            ("birth after admission", { $0.patient.birthDate = "2030"; $0.patient.personalId = nil }, "birthDate.afterEvent", .error, #line),
            ("negative amount", { $0.billing?.amounts?["T_THUOC"] = -1 }, "value.outOfRange", .error, #line),
            ("follow-up before visit", { $0.followUpDate = "2024-05-03" }, "followUpDate.beforeVisit", .warning, #line),
            ("schema version", { $0.schemaVersion = 2 }, "schemaVersion.unsupported", .error, #line),
        ]
        for (name, mutate, code, severity, line) in cases {
            var v = RecordFixtures.visit
            mutate(&v)
            let issues = v.validate()
            let found = issues.filter { $0.code == code }
            XCTAssertFalse(found.isEmpty, "\(name): \(issues)", line: line)
            XCTAssertEqual(found.first?.severity, severity, name, line: line)
            XCTAssertFalse(found.first?.message.vi.isEmpty ?? true, line: line)
        }
    }

    func testAllProblemsAtOnce() {
        var v = RecordFixtures.visit
        v.facilityCode = "1001"
        v.patient.personalId = "001258012345"
        v.dischargeTime = "2024-05-01T10:00"
        v.diagnoses[1].code = "?"
        let issues = v.validate().errors
        XCTAssertEqual(Set(issues.map(\.path)), ["facilityCode", "patient.personalId", "dischargeTime", "diagnoses[1].code"])
    }

    func testYearOnlyBirthDateIsFine() {
        var v = RecordFixtures.visit
        v.patient.birthDate = "1958"
        XCTAssertEqual(v.validate().errors, [])
        v.patient.birthDate = "1958-00-00"
        XCTAssertEqual(v.validate().errors.map(\.code), ["date.invalid"])
    }

    func testOtherRecordRules() {
        var card = RecordFixtures.card
        card.cardCode = "GD4010123456780"
        card.benefitLevel = 3
        XCTAssertEqual(Set(card.validate().errors.map(\.code)), ["insuranceCard.bhxhMismatch", "insuranceCard.benefitLevelMismatch"])
        card = RecordFixtures.card
        card.cardCode = "0123456789"          // 10-digit form printed since 2021
        XCTAssertEqual(card.validate().errors, [])

        var dose = RecordFixtures.dose
        dose.administeredAt = "2024-12-01"
        dose.doseNumber = 0
        XCTAssertEqual(Set(dose.validate().errors.map(\.code)), ["birthDate.afterEvent", "doseNumber.invalid"])

        var birth = RecordFixtures.birth
        birth.birth?.mother.personalId = nil
        birth.death = DeathDetails(deathTime: "2025-08-03")
        XCTAssertEqual(Set(birth.validate().errors.map(\.code)), ["person.identifierMissing", "registry.unexpectedDetails"])

        var newID = RegistryEvent(stationCode: "01I29", eventId: "EV-3", kind: .newPersonalIdIssued, occurredAt: "2025-10-01",
                                  person: RecordFixtures.patient)
        newID.newPersonalId = NewPersonalIDDetails(oldPersonalId: "001058012345", newPersonalId: "001058012345", reason: .birthYearCorrection)
        XCTAssertEqual(newID.validate().errors.map(\.code), ["newPersonalId.sameAsOld"])
    }
}
