import XCTest
@testable import HealthModel

final class PersonalIDTests: XCTestCase {
    func testParsing() {
        let cases: [(input: String, expected: String?, line: UInt)] = [
            ("001058012345", "001058012345", #line),
            ("  001 058 012345 ", "001058012345", #line),       // typed with spaces
            ("079300000123", "079300000123", #line),            // 21st-c. female born 2000
            ("001058O12345", nil, #line),                       // letter O instead of zero
            ("01058012345", nil, #line),                        // leading zero lost by a spreadsheet
            ("0010580123456", nil, #line),
            ("", nil, #line),
            ("００１０５８０１２３４５", nil, #line),              // full-width digits
        ]
        for c in cases {
            let parsed = try? PersonalID(parsing: c.input)
            XCTAssertEqual(parsed?.value, c.expected, "input \(c.input)", line: c.line)
        }
    }

    func testErrorCodes() {
        XCTAssertThrowsError(try PersonalID(parsing: "12345")) { XCTAssertEqual(($0 as? FieldProblem)?.code, "personalId.length") }
        XCTAssertThrowsError(try PersonalID(parsing: "00105801234x")) { XCTAssertEqual(($0 as? FieldProblem)?.code, "personalId.notDigits") }
    }

    func testDerivedParts() throws {
        let id = try PersonalID(parsing: "001058012345")
        XCTAssertEqual(id.provinceCode, "001")
        XCTAssertEqual(id.provinceName, "Hà Nội")
        XCTAssertEqual(id.sex, .male)
        XCTAssertEqual(id.birthYear, 1958)
        let girl = try PersonalID(parsing: "022305000001")
        XCTAssertEqual(girl.sex, .female)
        XCTAssertEqual(girl.birthYear, 2005)
    }

    func testConsistency() throws {
        let cases: [(id: String, year: Int?, sex: Sex?, codes: [String], line: UInt)] = [
            ("001058012345", 1958, .male, [], #line),
            ("001058012345", nil, nil, [], #line),
            ("001258012345", 1958, .male, ["personalId.centuryDigitMismatch"], #line),
            ("001158012345", 1958, .male, ["personalId.sexDigitMismatch"], #line),
            ("001059012345", 1958, .male, ["personalId.birthYearMismatch"], #line),
            ("001200012345", 2000, .male, [], #line),           // born 2000 is 21st-c. digit 2/3
            ("001000012345", 2000, .male, ["personalId.centuryDigitMismatch"], #line),
            ("001300012345", 2000, .female, [], #line),
            ("001058012345", 1958, .undetermined, [], #line),
            ("099058012345", 1958, .male, ["personalId.unknownProvince"], #line),
        ]
        for c in cases {
            let problems = try PersonalID(parsing: c.id).consistencyProblems(birthYear: c.year, sex: c.sex)
            XCTAssertEqual(problems.map(\.code), c.codes, c.id, line: c.line)
        }
        let unknown = try PersonalID(parsing: "099058012345").consistencyProblems(birthYear: nil, sex: nil)
        XCTAssertEqual(unknown.first?.severity, .warning)
    }
}
