@testable import CitizenFeed
import Foundation
import HealthModel
@testable import RecordStore
import XCTest

/// The document builder on in-memory person files: restricted data, the allowlist, keys, family.
final class CitizenDocumentBuilderTests: XCTestCase {
    let builder = CitizenDocumentBuilder()

    // MARK: - Restricted data never appears (property test)

    /// Restricted items the generator plants; each carries a unique SENTINEL so any leak is found by
    /// its marker, independently of the filter's own rules.
    private struct Planted {
        var sentinels: [String] = []
        var kept: [String] = []
        var next = 0
        mutating func sentinel() -> String { next += 1; let s = "SENTINEL\(next)Q"; sentinels.append(s); return s }
        mutating func keep() -> String { next += 1; let s = "KEEP\(next)Q"; kept.append(s); return s }
    }

    private func randomVisit(_ index: Int, _ random: inout TestRandom, _ planted: inout Planted) -> (VisitRecord, restricted: Bool) {
        let restrictedCodes = ["B20", "B20.1", "B21.3", "B22.7", "B23.8", "B24", "Z21", "R75", "O98.7", "Z20.6", "Z11.4", "Z71.7", "Z83.0"]
        let innocentCodes = ["J18.9", "I10", "E11.9", "K29.7", "B19", "B25.0", "R74.0", "Z20.5", "O98.5", "M54.5"]
        let arvNames = ["Tenofovir disoproxil fumarat 300mg", "LAMIVUDIN 150 mg", "TLD", "Efavirenz 600mg", "Zidovudine", "Dolutegravir 50mg"]
        let arvCodes = ["J05AF07", "J05AR27", "J05AG03", "J05AE03", "J05AJ03"]
        let hivLabs = ["HIV Ag/Ab", "Đếm tế bào CD4", "Tải lượng HIV", "Test nhanh HIV"]
        let hivTexts = ["Bệnh nhân nhiễm HIV", "Điều trị ARV phác đồ TDF/3TC/DTG", "Khám tại phòng khám OPC", "Chẩn đoán B20", "dùng PrEP"]
        var restricted = false
        let keptBefore = planted.kept.count
        var diagnoses: [Diagnosis] = []
        defer {
            // A visit whose main diagnosis is restricted is dropped whole, innocent items included.
            if restricted, diagnoses.first.map({ filterRule($0) }) ?? false { planted.kept.removeSubrange(keptBefore...) }
        }
        let mainRestricted = random.chance(0.15)
        for position in 0..<Int.random(in: 1...4, using: &random) {
            if (position == 0 && mainRestricted) || (position > 0 && random.chance(0.25)) {
                restricted = true
                if random.chance(0.7) {
                    diagnoses.append(Diagnosis(code: random.pick(restrictedCodes), text: random.chance(0.5) ? "\(planted.sentinel()) bệnh" : nil))
                } else {
                    // An innocent code whose text names HIV.
                    diagnoses.append(Diagnosis(code: "Z20.8", text: "\(planted.sentinel()) \(random.pick(hivTexts))"))
                }
            } else {
                diagnoses.append(Diagnosis(code: random.pick(innocentCodes), text: "\(planted.keep()) chẩn đoán"))
            }
        }
        var visit = FeedFixtures.visit("LK-\(index)", time: "2025-0\(Int.random(in: 1...9, using: &random))-1\(Int.random(in: 0...9, using: &random))T08:00",
                                       diagnoses: diagnoses)
        visit.medicines = (0..<Int.random(in: 0...3, using: &random)).map { _ in
            guard random.chance(0.3) else { return Medicine(name: "\(planted.keep()) Paracetamol 500mg") }
            restricted = true
            switch Int.random(in: 0...2, using: &random) {
            case 0: return Medicine(code: random.pick(arvCodes), name: "\(planted.sentinel()) viên nén")
            case 1: return Medicine(name: "\(planted.sentinel()) \(random.pick(arvNames))")
            default: return Medicine(name: "\(planted.sentinel()) viên", dosage: "uống ARV buổi tối")
            }
        }
        visit.labResults = (0..<Int.random(in: 0...3, using: &random)).map { _ in
            guard random.chance(0.3) else { return LabResult(name: "\(planted.keep()) Glucose", value: "5.6") }
            restricted = true
            return random.chance(0.5) ? LabResult(name: "\(planted.sentinel()) \(random.pick(hivLabs))", value: "Âm tính")
                : LabResult(name: "\(planted.sentinel()) Test nhanh", value: "HIV dương tính")
        }
        if random.chance(0.5) {
            let mentions = random.chance(0.3)
            restricted = restricted || mentions
            visit.treatmentSummary = TreatmentSummary(course: mentions ? "\(planted.sentinel()) \(random.pick(hivTexts))" : "Ổn định",
                                                      advice: "Tái khám")
        }
        if random.chance(0.3) {
            let mentions = random.chance(0.3)
            restricted = restricted || mentions
            visit.reason = mentions ? "\(planted.sentinel()) \(random.pick(hivTexts))" : "Sốt"
        }
        return (visit, restricted)
    }

    private func filterRule(_ diagnosis: Diagnosis) -> Bool { builder.filter.restrictedRule(diagnosis) != nil }

    func testRestrictedDataNeverAppearsInGeneratedDocuments() throws {
        let leakPattern = try NSRegularExpression(pattern: #"\b(b2[0-4]|z21|r75|hiv|aids|arv|cd4|tenofovir|lamivudin|efavirenz|zidovudin|dolutegravir|tld|tdf|opc|prep)\b"#)
        var totalRemoved = 0
        for seed in 1...300 as ClosedRange<UInt64> {
            var random = TestRandom(state: seed)
            var planted = Planted()
            var records: [SourceRecord] = []
            var cleanVisits: [VisitRecord] = []
            for index in 0..<Int.random(in: 1...6, using: &random) {
                let (visit, restricted) = randomVisit(index, &random, &planted)
                records.append(.visit(visit))
                if !restricted { cleanVisits.append(visit) }
            }
            records.append(.vaccination(FeedFixtures.dose("D-\(seed)")))
            let publication = builder.build(FeedFixtures.file(FeedFixtures.person(1), records: records), version: Int64(seed),
                                            generatedAt: FeedFixtures.generatedAt)
            let document = try XCTUnwrap(publication.document, "seed \(seed)")
            let json = String(decoding: document.encoded(), as: UTF8.self)
            for sentinel in planted.sentinels {
                XCTAssertFalse(json.contains(sentinel), "seed \(seed): restricted item \(sentinel) leaked")
            }
            // The independent check agrees: it never had to drop a visit, and the pusher would post the document.
            XCTAssertEqual(publication.filtered.rules.keys.filter { $0.hasPrefix("guard:") }, [], "seed \(seed)")
            XCTAssertNil(RestrictedDataGuard().violation(inDocument: try FeedFixtures.json(document)), "seed \(seed)")
            let folded = VietnameseText.fold(json)
            let leak = leakPattern.firstMatch(in: folded, range: NSRange(folded.startIndex..., in: folded))
            XCTAssertNil(leak, "seed \(seed): \(leak.map { (folded as NSString).substring(with: $0.range) } ?? "")")
            // The filter is not simply emptying documents: visits without restricted data arrive whole.
            for visit in cleanVisits {
                let expected = visit.diagnoses.map { CitizenDocument.VisitDiagnosis(code: $0.code, text: $0.text) }
                XCTAssertTrue(document.visits?.contains { $0.diagnoses == expected } ?? false, "seed \(seed): a clean visit is missing")
            }
            for marker in planted.kept where !json.contains(marker) {
                // Only the free text of a tainted visit may lose an innocent marker; items never do.
                XCTFail("seed \(seed): innocent item \(marker) was removed")
            }
            totalRemoved += publication.filtered.total
        }
        XCTAssertGreaterThan(totalRemoved, 300, "the generator planted restricted data")
    }

    // MARK: - Allowlist

    func testOnlySchemaFieldsAppearAndAFieldAddedToTheStoreDoesNot() throws {
        var visit = FeedFixtures.visit("LK-1")
        visit.note = "NOTE-SENTINEL"
        visit.billing = Billing(settledAt: "2025-05-09", amounts: ["T_TONGCHI": 9_876_543])
        visit.medicalRecordNumber = "HSBA-SENTINEL"
        visit.departmentCode = "K01"
        visit.medicines = [Medicine(code: "DRUGCODE-SENTINEL", name: "Paracetamol 500mg")]
        visit.labResults = [LabResult(code: "LABCODE-SENTINEL", name: "Glucose", value: "5.6", unit: "mmol/L")]
        visit.treatmentSummary = TreatmentSummary(course: "Ổn định", advice: "Tái khám sau 2 tuần")
        visit.followUpDate = "2025-05-23"
        // The stored bytes carry fields a newer sender (or schema) added: they must not pass through.
        var object = try XCTUnwrap(try JSONSerialization.jsonObject(with: try RecordDecoder.encode(visit)) as? [String: Any])
        object["hivStatus"] = "FUTURE-SENTINEL"
        var patient = try XCTUnwrap(object["patient"] as? [String: Any])
        patient["religion"] = "FUTURE-SENTINEL"
        object["patient"] = patient
        let original = try JSONSerialization.data(withJSONObject: object)
        var file = FeedFixtures.file(FeedFixtures.person(1), records: [.vaccination(FeedFixtures.dose("D-1"))])
        file.records.append(PersonRecord(id: 9, kind: .visit, original: Array(original),
                                         coordinates: KafkaCoordinates(topic: "t", partition: 0, offset: 9), sender: "s", version: 1))
        let document = try XCTUnwrap(builder.build(file, version: 7, generatedAt: FeedFixtures.generatedAt).document)
        let json = String(decoding: document.encoded(), as: UTF8.self)
        for sentinel in ["SENTINEL", "9876543", "K01", "T_TONGCHI", "BN-LK-1", "0123456789", "hivStatus", "religion"] {
            XCTAssertFalse(json.contains(sentinel), "\(sentinel) must not appear")
        }
        XCTAssertEqual(try SchemaAllowlist().unknownKeys(in: try FeedFixtures.json(document)), [])
        XCTAssertEqual(document.visits?.first?.medicines?.first?.name, "Paracetamol 500mg", "allowlisted fields do appear")
        XCTAssertEqual(document.treatmentSummaries?.first?.followUpDate, "2025-05-23")
        XCTAssertEqual(document.administrative.phone, "0912345678")
        XCTAssertEqual(document.administrative.ethnicity, "01", "ethnicity is written with two digits")
        XCTAssertEqual(document.history?.vaccinations?.first?.place, "01I29")
    }

    // MARK: - Keys

    func testTheActivePersonalIDIsTheKeyAndOtherPersonalIDsAreRetired() {
        let reissued = FeedFixtures.person(1, personalIDs: [(FeedFixtures.oldPersonalID, false), (FeedFixtures.personalID, true)])
        let publication = builder.build(FeedFixtures.file(reissued), version: 3, generatedAt: FeedFixtures.generatedAt)
        XCTAssertEqual(publication.key, FeedFixtures.personalID)
        XCTAssertEqual(publication.retiredKeys, [FeedFixtures.oldPersonalID])
        XCTAssertEqual(publication.document?.personalId, FeedFixtures.personalID)
        XCTAssertEqual(publication.document?.version, 3)

        // After merging two identified persons both numbers are active: the newer one is the key.
        let merged = FeedFixtures.person(1, personalIDs: [(FeedFixtures.personalID, true), ("001058077777", true)])
        let both = builder.build(FeedFixtures.file(merged), version: 4, generatedAt: FeedFixtures.generatedAt)
        XCTAssertEqual(both.key, "001058077777")
        XCTAssertEqual(both.retiredKeys, [FeedFixtures.personalID])

        let none = builder.build(FeedFixtures.file(FeedFixtures.person(2, personalIDs: [])), version: 5, generatedAt: FeedFixtures.generatedAt)
        XCTAssertEqual(none.skipped, .noPersonalID)
        XCTAssertNil(none.document)
        let absorbed = builder.build(FeedFixtures.file(FeedFixtures.person(3, mergedInto: PersonID(1))), version: 6, generatedAt: FeedFixtures.generatedAt)
        XCTAssertEqual(absorbed.skipped, .merged)
        XCTAssertEqual(absorbed.retiredKeys, [], "the survivor, who now holds the numbers, retires them")
    }

    // MARK: - Guardians and dependants

    func testChildrenUnder14AppearWithTheirGuardians() throws {
        let mother = FeedFixtures.person(1, name: "Trần Thị Hoa", birthDate: "1990-02-03", sex: 2, personalIDs: [("001190000001", true)])
        let child = FeedFixtures.person(2, name: "Nguyễn Minh Khôi", birthDate: "2019-06-01", personalIDs: [("001219000002", true)])
        let adult = FeedFixtures.person(3, name: "Nguyễn Văn Cả", birthDate: "2008", personalIDs: [("001208000003", true)])
        let ward = FeedFixtures.person(4, name: "Lê Văn Dũng", birthDate: "1950", personalIDs: [])
        let relations = [PersonRelation(person: child.id, kind: .mother, other: mother.id),
                         PersonRelation(person: mother.id, kind: .child, other: adult.id),
                         PersonRelation(person: ward.id, kind: .guardian, other: mother.id)]
        let motherDoc = try XCTUnwrap(builder.build(FeedFixtures.file(mother, relations: relations, related: [child, adult, ward]),
                                                    version: 1, generatedAt: FeedFixtures.generatedAt).document)
        XCTAssertEqual(motherDoc.administrative.dependants, [
            CitizenDocument.Dependant(fullName: "Nguyễn Minh Khôi", personalId: "001219000002", relation: "child", birthDate: "2019-06-01"),
            CitizenDocument.Dependant(fullName: "Lê Văn Dũng", personalId: nil, relation: "ward", birthDate: "1950"),
        ], "a child of 17 manages their own book")
        XCTAssertNil(motherDoc.administrative.guardians)

        let childDoc = try XCTUnwrap(builder.build(FeedFixtures.file(child, relations: [relations[0]], related: [mother]),
                                                   version: 2, generatedAt: FeedFixtures.generatedAt).document)
        XCTAssertEqual(childDoc.administrative.guardians, [
            CitizenDocument.Guardian(fullName: "Trần Thị Hoa", personalId: "001190000001", relation: "mother", phone: "0912345678"),
        ])
        let adultDoc = try XCTUnwrap(builder.build(FeedFixtures.file(adult, relations: [relations[1]], related: [mother]),
                                                   version: 3, generatedAt: FeedFixtures.generatedAt).document)
        XCTAssertNil(adultDoc.administrative.guardians, "parents are not the guardians of an adult")
        XCTAssertTrue(CitizenDocumentBuilder.isUnder(14, birthDate: "2012", asOf: try PartialDate(iso: "2026-01-01")),
                      "a year-only birth date counts the latest birthday it allows")
        XCTAssertFalse(CitizenDocumentBuilder.isUnder(14, birthDate: "2011-12-31", asOf: try PartialDate(iso: "2026-01-01")))
    }

    // MARK: - The catalogue's example is what the builder writes

    func testTheCatalogueExampleIsABuiltDocument() throws {
        var visit = FeedFixtures.visit("LK-1", diagnoses: [Diagnosis(code: "J18.9", text: "Viêm phổi"), Diagnosis(code: "I10", text: "Tăng huyết áp")])
        visit.reason = "Sốt cao, ho"
        visit.dischargeTime = "2025-05-09T10:30"
        visit.result = 1
        visit.dischargeType = 1
        visit.weightKg = 58.5
        visit.bloodGroup = "O+"
        visit.insuranceCards = [InsuranceCoverage(cardCode: "HT3010123456789", validFrom: "2025-01-01", validTo: "2025-12-31", registeredFacility: "01001")]
        visit.medicines = [Medicine(code: "N02BE01", name: "Paracetamol", strength: "500 mg", route: "uống", dosage: "1 viên khi sốt", quantity: 10, unit: "viên")]
        visit.labResults = [LabResult(name: "Bạch cầu", value: "12.5", unit: "G/L", referenceRange: "4–10", resultTime: "2025-05-02T09:00")]
        visit.procedures = [Procedure(code: "87.44", name: "Chụp X-quang ngực thẳng")]
        visit.treatmentSummary = TreatmentSummary(course: "Hết sốt sau 3 ngày", treatment: "Kháng sinh", advice: "Tái khám sau 2 tuần.",
                                                  treatingDoctor: "BS. Phạm Thị Lan")
        visit.followUpDate = "2025-05-23"
        var supplement = RegistryEvent(stationCode: "01I29", eventId: "SUP-1", kind: .citizenSupplement, occurredAt: "2024-11-02",
                                       person: FeedFixtures.patient())
        supplement.supplement = CitizenSupplement(personalIdIssueDate: "2021-04-20", personalIdIssuePlace: "Cục Cảnh sát QLHC về TTXH")
        let mother = FeedFixtures.person(2, name: "Lê Thị Mai", birthDate: "1985-09-09", sex: 2, personalIDs: [("001185000001", true)])
        let child = FeedFixtures.person(3, name: "Nguyễn Minh Khôi", birthDate: "2019-06-01", personalIDs: [("001219000002", true)])
        let file = FeedFixtures.file(FeedFixtures.person(1), records: [.registryEvent(supplement), .vaccination(FeedFixtures.dose("D-1")), .visit(visit)],
                                     relations: [PersonRelation(person: child.id, kind: .father, other: PersonID(1))], related: [mother, child])
        let document = try XCTUnwrap(builder.build(file, version: 42, generatedAt: FeedFixtures.generatedAt).document)
        let example = SchemaAllowlist.schemasURL.deletingLastPathComponent()
            .appendingPathComponent("examples/hssk.citizen-feed.v1/valid/built-by-publisher.json")
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        let pretty = String(decoding: try encoder.encode(document), as: UTF8.self) + "\n"
        if ProcessInfo.processInfo.environment["HSSK_WRITE_EXAMPLES"] == "1" { try Data(pretty.utf8).write(to: example) }
        let expected = try String(contentsOf: example, encoding: .utf8)
        XCTAssertEqual(pretty, expected, "the example is what the builder writes (HSSK_WRITE_EXAMPLES=1 rewrites it)")
        XCTAssertEqual(try SchemaAllowlist().unknownKeys(in: try FeedFixtures.json(document)), [])
    }
}
