@testable import CitizenFeed
import Foundation
import HealthModel
import XCTest

/// The guard on its own: `ICD10Code.isRestricted` and the legal ARV rule on visits and on documents as
/// the pusher reads them.
final class RestrictedDataGuardTests: XCTestCase {
    let check = RestrictedDataGuard()

    func testDiagnosisCodesAreCheckedWithTheHealthModelsRule() {
        for code in ["B20", "B20.1", "b24", "B22.7", "Z21", "R75", "B 20.1"] {
            XCTAssertEqual(check.rule(diagnosisCode: code), "guard:icd10", code)
            if let parsed = try? ICD10Code(parsing: code) { XCTAssertTrue(parsed.isRestricted, code) }
        }
        for code in ["J18.9", "B25.0", "B19", "Z20.5", "R74.0", "O98.7"] {
            XCTAssertNil(check.rule(diagnosisCode: code), code)
        }
    }

    func testAVisitStillCarryingRestrictedDataBreaksARule() {
        XCTAssertNil(check.violation(in: FeedFixtures.visit("LK-1")))
        XCTAssertEqual(check.violation(in: FeedFixtures.visit("LK-2", diagnoses: [Diagnosis(code: "J18.9"), Diagnosis(code: "Z21")])), "guard:icd10")
        XCTAssertEqual(check.violation(in: FeedFixtures.visit("LK-3", diagnoses: [Diagnosis(code: "J18.9", text: "Nhiễm HIV")])), "guard:diagnosis")
        var arv = FeedFixtures.visit("LK-4")
        arv.medicines = [Medicine(name: "Paracetamol 500mg"), Medicine(code: "J05AF07", name: "Thuốc A")]
        XCTAssertEqual(check.violation(in: arv), "guard:arv")
        var lab = FeedFixtures.visit("LK-5")
        lab.labResults = [LabResult(name: "Xét nghiệm HIV Ag/Ab", value: "Âm tính")]
        XCTAssertEqual(check.violation(in: lab), "guard:hivTest")
        // Only the legal minimum: what an operator's narrowed policy lets pass is never refused here.
        var regimen = FeedFixtures.visit("LK-6")
        regimen.medicines = [Medicine(name: "Tenofovir 300mg")]
        XCTAssertNil(check.violation(in: regimen))
    }

    func testADocumentIsCheckedWhereverItCarriesDiagnosesMedicinesAndTests() throws {
        func document(_ json: String) throws -> [String: Any] {
            try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(#"{"personalId":"001058012345","version":1,\#(json)}"#.utf8)) as? [String: Any])
        }
        let visit = #""facilityCode":"01001","arrivalTime":"2025-05-02""#
        XCTAssertNil(check.violation(inDocument: try document(#""schemaVersion":1"#)))
        XCTAssertNil(check.violation(inDocument: try document(#""visits":[{\#(visit),"diagnoses":[{"code":"J18.9","text":"Viêm phổi"}]}]"#)))
        XCTAssertEqual(check.violation(inDocument: try document(#""visits":[{\#(visit),"diagnoses":[{"code":"J18.9"},{"code":"B24"}]}]"#)),
                       "guard:icd10")
        XCTAssertEqual(check.violation(inDocument: try document(#""history":{"diseases":[{"code":"R75","name":"x"}]}"#)), "guard:icd10")
        XCTAssertEqual(check.violation(inDocument: try document(#""history":{"diseases":[{"code":"A15","name":"Lao, nhiễm HIV"}]}"#)),
                       "guard:diagnosis")
        XCTAssertEqual(check.violation(inDocument: try document(#""visits":[{\#(visit),"medicines":[{"name":"Viên A","dosage":"Uống ARV"}]}]"#)),
                       "guard:arv")
        XCTAssertEqual(check.violation(inDocument: try document(#""visits":[{\#(visit),"labResults":[{"name":"HIV-1","value":"âm tính"}]}]"#)),
                       "guard:hivTest")
        // A document whose parts have another shape cannot be shown clean.
        XCTAssertEqual(check.violation(inDocument: try document(#""visits":"B20""#)), "guard:unreadable")
        XCTAssertEqual(check.violation(inDocument: try document(#""visits":[{"diagnoses":[{"code":20}]}]"#)), "guard:unreadable")
        XCTAssertEqual(check.violation(inDocument: try document(#""history":[]"#)), "guard:unreadable")
    }
}
