import XCTest
@testable import HealthModel

final class PartialDateTests: XCTestCase {
    func testISOParsing() {
        let cases: [(String, String?, PartialDate.Precision?)] = [
            ("1958", "1958", .year), ("1958-03", "1958-03", .month), ("1958-03-07", "1958-03-07", .day),
            ("1958-03-07T14:30", "1958-03-07T14:30", .minute), ("2024-02-29", "2024-02-29", .day),
            ("2023-02-29", nil, nil), ("1900-02-29", nil, nil), ("2000-02-29", "2000-02-29", .day),
            ("1958-13", nil, nil), ("1958-00", nil, nil), ("1958-03-00", nil, nil), ("1958-3-7", nil, nil),
            ("1958-03-07T24:00", nil, nil), ("1958-03-07T14:60", nil, nil), ("1958-03-07 14:30", nil, nil),
            ("58", nil, nil), ("", nil, nil), ("0000", nil, nil), ("1958-03-07T14:30:00", nil, nil),
        ]
        for (input, expected, precision) in cases {
            let date = try? PartialDate(iso: input)
            XCTAssertEqual(date?.isoString, expected, input)
            XCTAssertEqual(date?.precision, precision, input)
        }
    }

    func testXML130Parsing() {
        let cases: [(String, String?)] = [
            ("195803071430", "1958-03-07T14:30"), ("195803070000", "1958-03-07"), ("195800000000", "1958"),
            ("195803000000", "1958-03"), ("19580307", "1958-03-07"), ("19580000", "1958"),
            ("195800071430", nil),    // unknown month with a known day
            ("195803001430", nil),    // time without a day
            ("195802300000", nil), ("1958030714", nil), ("19580307143a", nil),
        ]
        for (input, expected) in cases { XCTAssertEqual((try? PartialDate(xml130: input))?.isoString, expected, input) }
        XCTAssertEqual((try? PartialDate(iso: "1958"))?.xml130String, "195800000000")
        XCTAssertEqual((try? PartialDate(iso: "1958-03-07T14:30"))?.xml130String, "195803071430")
        XCTAssertEqual((try? PartialDate(parsing: "19580307"))?.isoString, "1958-03-07")
        XCTAssertEqual((try? PartialDate(parsing: " 1958-03 "))?.isoString, "1958-03")
    }

    func testNeverInventsADay() throws {
        let yearOnly = try PartialDate(iso: "1958")
        XCTAssertNil(yearOnly.month)
        XCTAssertNil(yearOnly.day)
        XCTAssertEqual(try PartialDate(iso: "1958-03-07").truncated(to: .year), yearOnly)
        XCTAssertEqual(yearOnly.truncated(to: .day), yearOnly)
    }

    func testPrecisionAwareComparisons() throws {
        func d(_ s: String) throws -> PartialDate { try PartialDate(iso: s) }
        XCTAssertTrue(try d("1958").isCompatible(with: d("1958-03-07")))
        XCTAssertTrue(try d("1958-03-07T10:00").isCompatible(with: d("1958-03")))
        XCTAssertFalse(try d("1958-04").isCompatible(with: d("1958-03-07")))
        XCTAssertFalse(try d("1958").isDefinitelyBefore(d("1958-12-31")))
        XCTAssertTrue(try d("1958").isDefinitelyBefore(d("1959-01-01")))
        XCTAssertTrue(try d("2025-03-07T10:00").isDefinitelyBefore(d("2025-03-07T10:01")))
        XCTAssertFalse(try d("2025-03-07").isDefinitelyBefore(d("2025-03-07T10:01")))
        XCTAssertTrue(try d("1958") < d("1958-03"))
        XCTAssertEqual(try [d("2001"), d("1958-03-07"), d("1958")].sorted().map(\.isoString), ["1958", "1958-03-07", "2001"])
    }

    func testCodableRoundTrip() throws {
        for s in ["1958", "1958-03", "1958-03-07", "1958-03-07T14:30"] {
            let date = try PartialDate(iso: s)
            let data = try JSONEncoder().encode([date])
            XCTAssertEqual(String(decoding: data, as: UTF8.self), "[\"\(s)\"]")
            XCTAssertEqual(try JSONDecoder().decode([PartialDate].self, from: data), [date])
        }
        XCTAssertThrowsError(try JSONDecoder().decode([PartialDate].self, from: Data("[\"1958-02-30\"]".utf8)))
    }
}
