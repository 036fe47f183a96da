import XCTest
@testable import HealthModel

/// Untrusted input never crashes a parser: random strings mixing digits, letters, Vietnamese and other scripts.
final class ParserRobustnessTests: XCTestCase {
    func testRandomInputNeverCrashes() {
        let alphabet = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdvđĐăâêôơưễ€😀 \t\n.-_;:+T\u{0301}\u{0303}\u{FEFF}")
        var rng = SplitMix64(seed: 0x4853_534B)
        for _ in 0..<4000 {
            let length = Int(rng.next() % 20)
            let text = String((0..<length).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] })
            _ = try? PersonalID(parsing: text)
            _ = try? LegacyIDNumber(parsing: text)
            _ = try? InsuranceCardCode(parsing: text)
            _ = InsuranceCardCode.parseList(text)
            _ = try? FacilityCode(parsing: text)
            _ = try? InteropAccountName(parsing: text)
            _ = try? PhoneNumber(parsing: text)
            _ = try? ICD10Code(parsing: text)
            _ = try? ICD10CodeList(parsing: text)
            _ = try? ICD9CMProcedureCode(parsing: text)
            _ = try? TemporaryPersonCode(parsing: text)
            _ = try? PartialDate(parsing: text)
            _ = try? PartialDate(xml130: text)
            _ = try? EthnicityCode(parsing: text)
            _ = AdministrativeUnits.check(province: text, district: text, commune: text, validOn: nil)
            _ = VietnameseText.fold(text)
            _ = PersonName(fullName: text)
        }
    }

    func testMultiByteInputsAtLengthBoundaries() {
        XCTAssertThrowsError(try ICD10Code(parsing: "ĐĐ"))
        XCTAssertThrowsError(try ICD10Code(parsing: "€€"))
        XCTAssertThrowsError(try ICD9CMProcedureCode(parsing: "€"))
        XCTAssertThrowsError(try PersonalID(parsing: "ĐĐĐĐĐĐ"))
        XCTAssertThrowsError(try InsuranceCardCode(parsing: "ĐĐĐĐĐĐĐ0"))
    }
}

/// Small deterministic generator so the random test is reproducible.
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
