import XCTest
@testable import HealthModel

final class IdentifierTests: XCTestCase {
    func testLegacyID() {
        let cases: [(String, String?)] = [
            ("012345678", "012345678"), ("012345678901", "012345678901"), ("12345678", nil),
            ("0123456789", nil), ("01234567a", nil), (" 012 345 678 ", "012345678"),
        ]
        for (input, expected) in cases { XCTAssertEqual((try? LegacyIDNumber(parsing: input))?.value, expected, input) }
    }

    func testInsuranceCardForms() throws {
        let full = try InsuranceCardCode(parsing: "gd4010123456789")
        XCTAssertEqual(full.value, "GD4010123456789")
        XCTAssertEqual(full.socialInsuranceNumber?.value, "0123456789")
        XCTAssertEqual(full.benefitLevel, 4)
        XCTAssertEqual(full.groupWarnings, [])

        let ten = try InsuranceCardCode(parsing: "0123456789")      // cards since 2021: 10 digits only
        XCTAssertEqual(ten.socialInsuranceNumber?.value, "0123456789")
        XCTAssertNil(ten.benefitLevel)

        let twelve = try InsuranceCardCode(parsing: "001058012345")  // personal ID since 2025
        XCTAssertNil(twelve.socialInsuranceNumber)
        XCTAssertEqual(twelve.personalID?.value, "001058012345")

        let invalid = ["GD6010123456789", "G14010123456789", "GD401012345678", "123456789", "GDX010123456789",
                       "GD40A0123456789", "", "ĐD4010123456789"]
        for input in invalid {
            XCTAssertThrowsError(try InsuranceCardCode(parsing: input), input) {
                XCTAssertEqual(($0 as? FieldProblem)?.code, "insuranceCard.format")
            }
        }
    }

    func testInsuranceGroupWarnings() throws {
        XCTAssertEqual(try InsuranceCardCode(parsing: "ZZ4010123456789").groupWarnings.map(\.code), ["insuranceCard.unknownGroup"])
        XCTAssertEqual(try InsuranceCardCode(parsing: "TE4010123456789").groupWarnings.map(\.code), ["insuranceCard.groupBenefitMismatch"])
        XCTAssertEqual(try InsuranceCardCode(parsing: "TV3010123456789").groupWarnings, [])
        XCTAssertTrue(try InsuranceCardCode(parsing: "ZZ4010123456789").groupWarnings.allSatisfy { $0.severity == .warning })
    }

    func testInsuranceCardList() {
        let list = InsuranceCardCode.parseList("GD4010123456789; 0123456789;;bad")
        XCTAssertEqual(list.count, 3)
        XCTAssertEqual(list.compactMap { try? $0.get().value }, ["GD4010123456789", "0123456789"])
    }

    func testFacilityCode() {
        let cases: [(String, String?, FacilityCode.Kind?)] = [
            ("01001", "01001", .insurance), ("01i29", "01I29", .insurance), ("8934567890123", "8934567890123", .gln),
            ("1001", nil, nil), ("A1001", nil, nil), ("01001893456789", nil, nil), ("01-01", nil, nil),
            ("893456789012X", nil, nil), ("01Đ29", nil, nil),
        ]
        for (input, value, kind) in cases {
            let code = try? FacilityCode(parsing: input)
            XCTAssertEqual(code?.value, value, input)
            XCTAssertEqual(code?.kind, kind, input)
        }
        XCTAssertThrowsError(try FacilityCode(parsingInsuranceCode: "8934567890123"))
    }

    func testInteropAccountName() throws {
        let interop = try InteropAccountName(parsing: "01032_lt_bnv")
        XCTAssertEqual(interop.kind, .interop)
        XCTAssertEqual(interop.facility?.value, "01032")
        XCTAssertEqual(interop.initials, "bnv")
        let entry = try InteropAccountName(parsing: "01i29_ANV")
        XCTAssertEqual(entry.kind, .dataEntry)
        XCTAssertEqual(entry.value, "01I29_anv")
        let bhxh = try InteropAccountName(parsing: "BHXH_LT_HN")
        XCTAssertEqual(bhxh.kind, .socialSecurity)
        XCTAssertNil(bhxh.facility)
        XCTAssertEqual(bhxh.value, "bhxh_lt_hn")
        XCTAssertNil(bhxh.problem(sending: .socialSecurity))
        XCTAssertEqual(bhxh.problem(sending: .facility("01032"))?.code, "sender.facilityMismatch")
        XCTAssertNil(interop.problem(sending: .facility("01032")))
        XCTAssertEqual(interop.problem(sending: .facility("01001"))?.code, "sender.facilityMismatch")
        XCTAssertEqual(interop.problem(sending: .socialSecurity)?.code, "sender.notSocialSecurity")
        for bad in ["01032", "01032_", "01032_lt_", "0103_lt_bnv", "01032_xx_bnv", "01032_lt_b n", "01032_ánv", "_lt_bnv", "bhxh_hn", "bhxh_lt_"] {
            XCTAssertThrowsError(try InteropAccountName(parsing: bad), bad)
        }
    }

    func testPhoneNumber() {
        let cases: [(String, String?)] = [
            ("0912345678", "0912345678"), ("+84912345678", "0912345678"), ("84912345678", "0912345678"),
            ("+84 912 345 678", "0912345678"), ("091.234.5678", "0912345678"), ("0312345678", "0312345678"),
            ("0212345678", nil),          // landline-style prefix
            ("912345678", nil),           // leading zero lost
            ("09123456789", nil), ("+840912345678", nil), ("0912a45678", nil), ("", nil),
        ]
        for (input, expected) in cases { XCTAssertEqual((try? PhoneNumber(parsing: input))?.value, expected, input) }
        XCTAssertEqual((try? PhoneNumber(parsing: "0912345678"))?.international, "+84912345678")
    }

    func testICD10() {
        let cases: [(String, String?)] = [
            ("J18.9", "J18.9"), ("j189", "J18.9"), ("I10", "I10"), ("S72.00", "S72.00"), ("U07.1", "U07.1"),
            ("J18.", nil), ("18.9", nil), ("JJ8.9", nil), ("J18.999", nil), ("", nil), ("Đ18.9", nil),
        ]
        for (input, expected) in cases { XCTAssertEqual((try? ICD10Code(parsing: input))?.value, expected, input) }
        XCTAssertTrue(try ICD10Code(parsing: "B20.1").isRestricted)
        XCTAssertTrue(try ICD10Code(parsing: "B24").isRestricted)
        XCTAssertTrue(try ICD10Code(parsing: "Z21").isRestricted)
        XCTAssertTrue(try ICD10Code(parsing: "R75").isRestricted)
        XCTAssertFalse(try ICD10Code(parsing: "B25.0").isRestricted)
    }

    func testICD10List() throws {
        let list = try ICD10CodeList(parsing: "J18.9; I10;;E11")
        XCTAssertEqual(list.main.value, "J18.9")
        XCTAssertEqual(list.secondary.map(\.value), ["I10", "E11"])
        XCTAssertEqual(list.xml130String, "J18.9;I10;E11")
        let thirteen = (["J18.9"] + Array(repeating: "I10", count: 12)).joined(separator: ";")
        XCTAssertNoThrow(try ICD10CodeList(parsing: thirteen))
        XCTAssertThrowsError(try ICD10CodeList(parsing: thirteen + ";E11")) {
            XCTAssertEqual(($0 as? FieldProblem)?.code, "icd10.tooManySecondary")
        }
        XCTAssertThrowsError(try ICD10CodeList(parsing: " ; "))
        XCTAssertThrowsError(try ICD10CodeList(parsing: "J18.9;XX"))
    }

    func testICD9CM() {
        let cases: [(String, String?)] = [("47.01", "47.01"), ("4701", "47.01"), ("99.2", "99.2"), ("47", "47"),
                                          ("4", nil), ("47.011", nil), ("A7.01", nil)]
        for (input, expected) in cases { XCTAssertEqual((try? ICD9CMProcedureCode(parsing: input))?.value, expected, input) }
        XCTAssertEqual(ICD9CMProcedureCode.parseList("47.01;99.2").count, 2)
    }

    func testTemporaryPersonCode() throws {
        let code = try TemporaryPersonCode(parsing: "vd-01i29-20250314-7")
        XCTAssertEqual(code.value, "VD-01I29-20250314-7")
        XCTAssertEqual(code.facility.value, "01I29")
        XCTAssertEqual(code.issuedOn.isoString, "2025-03-14")
        XCTAssertEqual(code.sequence, 7)
        for bad in ["001058012345", "VD-01001-20250230-1", "VD-01001-2025031-1", "VD-01001-20250314", "VD-01001-20250314-x",
                    "XX-01001-20250314-1", "VD-01001-20250000-1"] {
            XCTAssertThrowsError(try TemporaryPersonCode(parsing: bad), bad)
        }
    }

    func testAdministrativeUnits() throws {
        let before = try PartialDate(iso: "2024-05-01")
        let after = try PartialDate(iso: "2025-08-01")
        let straddling = try PartialDate(iso: "2025")
        XCTAssertEqual(AdministrativeUnits.System.inForce(on: before), .before2025Reform)
        XCTAssertEqual(AdministrativeUnits.System.inForce(on: after), .after2025Reform)
        XCTAssertNil(AdministrativeUnits.System.inForce(on: straddling))
        XCTAssertEqual(AdministrativeUnits.System.inForce(on: try PartialDate(iso: "2025-07")), .after2025Reform)

        let old = AdministrativeUnits.check(province: "01", district: "001", commune: "00001", validOn: before)
        XCTAssertEqual(old.units?.district, "001")
        XCTAssertTrue(old.problems.isEmpty)
        let noDistrict = AdministrativeUnits.check(province: "01", district: nil, commune: "00001", validOn: before)
        XCTAssertTrue(noDistrict.problems.isEmpty)  // a district is never required
        let stale = AdministrativeUnits.check(province: "01", district: "001", commune: "00001", validOn: after)
        XCTAssertEqual(stale.problems.map(\.problem.code), ["adminUnit.districtAfterReform"])
        XCTAssertEqual(stale.problems.first?.problem.severity, .warning)
        let bad = AdministrativeUnits.check(province: "1", district: "01", commune: "0001", validOn: nil)
        XCTAssertEqual(bad.problems.map(\.field), ["province", "district", "commune"])
        XCTAssertNil(bad.units)
    }

    func testPopulationCodes() throws {
        XCTAssertEqual(try EthnicityCode(parsing: "1").value, "01")
        XCTAssertEqual(try EthnicityCode(parsing: "54").rangeWarnings, [])
        XCTAssertEqual(try EthnicityCode(parsing: "55").rangeWarnings.map(\.code), ["ethnicity.unknown"])
        XCTAssertEqual(try EthnicityCode(parsing: "00").rangeWarnings.map(\.code), ["ethnicity.unknown"])
        XCTAssertThrowsError(try EthnicityCode(parsing: "123"))
        XCTAssertEqual(try NationalityCode(parsing: "000").value, "000")
        XCTAssertThrowsError(try NationalityCode(parsing: "84"))
        XCTAssertThrowsError(try NationalityCode(parsing: "VNM"))
        XCTAssertEqual(try OccupationCode(parsing: "00001").value, "00001")
        XCTAssertThrowsError(try OccupationCode(parsing: "123456"))
    }
}
