@testable import CitizenFeed
import Foundation
import HealthModel
import XCTest

/// The restricted-data filter on its own: codes, ARV medicines, HIV tests, free text, the policy file.
final class RestrictedDataFilterTests: XCTestCase {
    let filter = RestrictedDataFilter()

    func testRestrictedICD10CodesIncludingSubcodes() {
        for code in ["B20", "B20.1", "b24", "B23.8", "B22.7", "B21", "Z21", "R75", "O98.7", "Z20.6", "Z11.4", "Z71.7", "Z83.0", "B201"] {
            XCTAssertNotNil(filter.restrictedRule(icd10: code), code)
        }
        for code in ["B19", "B25.0", "Z20", "Z20.5", "R74.0", "J18.9", "O98.5", "A20", "Z22", "R76"] {
            XCTAssertNil(filter.restrictedRule(icd10: code), code)
        }
        XCTAssertEqual(filter.restrictedRule(icd10: "B20.1"), "icd10:B20")
        let legal = RestrictedDataFilter(policy: .legalMinimum)
        XCTAssertNotNil(legal.restrictedRule(icd10: "R75"))
        XCTAssertNil(legal.restrictedRule(icd10: "O98.7"), "HIV in pregnancy is a default addition, not the legal minimum")
    }

    func testARVMedicinesByATCIngredientAndRegimen() {
        let arv = [Medicine(code: "J05AR03", name: "Viên kết hợp"), Medicine(code: "j05af07", name: "Thuốc A"),
                   Medicine(name: "Tenofovir disoproxil fumarat 300 mg"), Medicine(name: "LAMIVUDIN 150mg"),
                   Medicine(name: "Dolutegravir"), Medicine(name: "TLD (TDF/3TC/DTG)"), Medicine(name: "Efavirenz 600"),
                   Medicine(name: "Viên kết hợp", dosage: "Uống ARV buổi tối"), Medicine(code: "J05AJ01", name: "Isentress")]
        for medicine in arv { XCTAssertNotNil(filter.restrictedRule(medicine), medicine.name) }
        let other = [Medicine(name: "Paracetamol 500mg"), Medicine(code: "N02BE01", name: "Panadol"), Medicine(name: "Amoxicilin 500 mg"),
                     Medicine(code: "J05AB01", name: "Aciclovir 400mg"), Medicine(name: "Oseltamivir 75mg")]
        for medicine in other { XCTAssertNil(filter.restrictedRule(medicine), medicine.name) }
        XCTAssertEqual(filter.restrictedRule(Medicine(code: "J05AR03", name: "x")), "atc:J05AR")
        XCTAssertEqual(filter.restrictedRule(Medicine(name: "Tenofovir")), "ingredient")
    }

    func testWordsMatchWholeOrWithDigitsShortTermsByPrefixLongOnes() {
        let matches = ["Xét nghiệm HIV-1", "anti-HIV", "HIV1/2 Ag/Ab", "Đếm tế bào CD4", "kháng retrovirus", "Chẩn đoán: B20.3",
                       "ma b24 cu", "Lamivudine", "điều trị PrEP"]
        for text in matches { XCTAssertNotNil(filter.mention(in: [text]), text) }
        let clean = ["Nổi hives sau ăn", "Đặng Văn Hiếu", "Vitamin B12", "Viêm phổi J18.9", "Khám sức khỏe định kỳ", "archive", "Z20.5 tiếp xúc viêm gan"]
        for text in clean { XCTAssertNil(filter.mention(in: [text]), text) }
    }

    func testVisitWithARestrictedMainDiagnosisIsDroppedWhole() {
        var report = RestrictedFilterReport()
        let visit = FeedFixtures.visit("LK-1", diagnoses: [Diagnosis(code: "B20.1", text: "Bệnh do HIV"), Diagnosis(code: "J18.9")])
        XCTAssertNil(filter.filter(visit, report: &report))
        XCTAssertEqual(report.items[.visit], 1)
        XCTAssertEqual(report.rules, ["icd10:B20": 1])
        let byText = FeedFixtures.visit("LK-2", diagnoses: [Diagnosis(code: "Z20.8", text: "Phơi nhiễm HIV")])
        XCTAssertNil(filter.filter(byText, report: &report), "a main diagnosis whose text names HIV drops the visit too")
    }

    func testATaintedVisitKeepsItsOtherItemsAndLosesItsFreeText() throws {
        var visit = FeedFixtures.visit("LK-1", diagnoses: [Diagnosis(code: "J18.9", text: "Viêm phổi"), Diagnosis(code: "Z21"),
                                                           Diagnosis(code: "I10", text: "Tăng huyết áp")])
        visit.reason = "Sốt, ho"
        visit.note = "ghi chú nội bộ"
        visit.medicines = [Medicine(name: "Paracetamol 500mg"), Medicine(name: "Tenofovir 300mg")]
        visit.labResults = [LabResult(name: "Glucose", value: "5.6"), LabResult(name: "HIV Ag/Ab", value: "Dương tính")]
        visit.procedures = [Procedure(code: "87.44", name: "Chụp X-quang ngực")]
        visit.treatmentSummary = TreatmentSummary(course: "Ổn định", advice: "Tái khám sau 2 tuần")
        var report = RestrictedFilterReport()
        let out = try XCTUnwrap(filter.filter(visit, report: &report))
        XCTAssertEqual(out.diagnoses, [Diagnosis(code: "J18.9", text: "Viêm phổi"), Diagnosis(code: "I10", text: "Tăng huyết áp")])
        XCTAssertEqual(out.medicines?.map(\.name), ["Paracetamol 500mg"])
        XCTAssertEqual(out.labResults?.map(\.name), ["Glucose"])
        XCTAssertEqual(out.procedures?.count, 1)
        XCTAssertNil(out.reason)
        XCTAssertNil(out.note)
        XCTAssertNil(out.treatmentSummary)
        XCTAssertEqual(report.items, [.diagnosis: 1, .medicine: 1, .labResult: 1, .text: 4])
        XCTAssertEqual(report.rules, ["icd10:Z21": 1, "ingredient": 1, "term": 1, "tainted": 4])
    }

    func testFreeTextNamingATermTaintsTheVisit() throws {
        var visit = FeedFixtures.visit("LK-1")
        visit.treatmentSummary = TreatmentSummary(course: "Tiếp tục phác đồ TDF/3TC/DTG", advice: "Tái khám")
        var report = RestrictedFilterReport()
        let out = try XCTUnwrap(filter.filter(visit, report: &report))
        XCTAssertNil(out.treatmentSummary)
        XCTAssertEqual(out.diagnoses, visit.diagnoses)
        XCTAssertEqual(report.items[.text], 3, "the mention, then the two free-text fields dropped")

        var clean = FeedFixtures.visit("LK-2")
        clean.reason = "Sốt cao"
        clean.treatmentSummary = TreatmentSummary(advice: "Uống nhiều nước")
        var none = RestrictedFilterReport()
        XCTAssertEqual(filter.filter(clean, report: &none), clean, "a visit without restricted data is unchanged")
        XCTAssertEqual(none.total, 0)
    }

    func testAPolicyFileAddsToTheLegalMinimumAndNeverRemovesFromIt() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hssk-policy-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("restricted.json")
        try Data(#"{"icd10": ["A15-A19", "f10.2"], "ingredients": ["Methadon"], "terms": []}"#.utf8).write(to: file)
        let policy = try RestrictedDataPolicy(contentsOf: file)
        XCTAssertEqual(policy.icd10, ["B20", "B21", "B22", "B23", "B24", "Z21", "R75", "A15", "A16", "A17", "A18", "A19", "F102"])
        XCTAssertEqual(policy.atc, RestrictedDataPolicy.legalMinimum.atc)
        XCTAssertEqual(policy.ingredients, ["methadon"])
        XCTAssertEqual(policy.terms, ["hiv", "aids", "arv"], "an empty list keeps the legal terms")
        let custom = RestrictedDataFilter(policy: policy)
        XCTAssertNotNil(custom.restrictedRule(icd10: "A16.2"))
        XCTAssertNotNil(custom.restrictedRule(Medicine(name: "Methadone 10mg/ml")))
        XCTAssertNil(custom.restrictedRule(icd10: "Z20.6"), "the file replaces the default additions")

        for bad in [#"{"icd10": ["B20-A24"]}"#, #"{"icd10": ["HIV"]}"#, "not json", #"{"atc": "J05"}"#] {
            try Data(bad.utf8).write(to: file)
            XCTAssertThrowsError(try RestrictedDataPolicy(contentsOf: file), bad)
        }
    }
}
