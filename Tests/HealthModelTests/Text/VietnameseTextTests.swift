import XCTest
@testable import HealthModel

final class VietnameseTextTests: XCTestCase {
    // "Nguyễn" written with combining marks, as macOS and some HIS exports send it.
    let nfdNguyen = "Nguye\u{0302}\u{0303}n"

    func testNormalize() {
        let cases: [(String, String)] = [
            ("  Nguyễn   Văn\tAn \n", "Nguyễn Văn An"),
            (nfdNguyen + " Thị Bình", "Nguyễn Thị Bình"),
            ("Đặng\u{00A0}Thu  Hà", "Đặng Thu Hà"),
            ("", ""), ("   ", ""),
        ]
        for (input, expected) in cases {
            let out = VietnameseText.normalize(input)
            XCTAssertEqual(out, expected)
            XCTAssertEqual(Array(out.unicodeScalars), Array(expected.precomposedStringWithCanonicalMapping.unicodeScalars))
        }
        XCTAssertEqual(VietnameseText.normalize(nfdNguyen).unicodeScalars.count, 6)
        XCTAssertFalse(VietnameseText.isNormalized(nfdNguyen), "NFD is not the stored form even though == says equal")
    }

    /// The one-scan shortcut never accepts text the general path would change.
    func testPlainShortcutAgreesWithTheGeneralPath() {
        let alphabet: [String] = ["a", "Z", "0", " ", "\t", "\n", "\u{00A0}", "\u{0085}", "\u{2003}", "\u{3000}", "ễ", "ư", "Đ", "\u{0301}",
                                  "\u{0323}", "e\u{0302}", "\u{1EA0}", "\u{212B}", "Å", "\u{0001}", "é", "ơ", "\u{FEFF}", "中"]
        var generator = SystemRandomNumberGenerator()
        var plain = 0
        for _ in 0..<20_000 {
            let text = (0..<Int.random(in: 0...6, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! }.joined()
            if VietnameseText.isPlain(text) {
                plain += 1
                XCTAssertEqual(Array(VietnameseText.normalizeScalars(text).unicodeScalars), Array(text.unicodeScalars), text.debugDescription)
            }
            XCTAssertEqual(Array(VietnameseText.normalize(text).unicodeScalars), Array(VietnameseText.normalizeScalars(text).unicodeScalars))
        }
        XCTAssertGreaterThan(plain, 100, "the shortcut must be taken for plain text")
    }

    func testNormalizeIsIdempotent() {
        let samples = ["  Nguyễn   Văn\tAn \n", nfdNguyen, "Đặng Thu Hà", "Hoàng\r\nHuỳnh", "a\u{0301}\u{0323}", ""]
        for s in samples {
            let once = VietnameseText.normalize(s)
            XCTAssertEqual(VietnameseText.normalize(once), once)
            XCTAssertTrue(VietnameseText.isNormalized(once))
            let multi = VietnameseText.normalizeMultiline(s)
            XCTAssertEqual(VietnameseText.normalizeMultiline(multi), multi)
            XCTAssertEqual(VietnameseText.fold(VietnameseText.fold(s)), VietnameseText.fold(s))
        }
    }

    func testMultilineKeepsLineBreaks() {
        XCTAssertEqual(VietnameseText.normalizeMultiline("  Sốt 3 ngày \r\n\r\n  ho  khan\n"), "Sốt 3 ngày\nho khan")
    }

    func testFold() {
        let cases: [(String, String)] = [
            ("Nguyễn Văn An", "nguyen van an"), ("ĐẶNG THỊ ĐÀO", "dang thi dao"), ("đỗ", "do"),
            (nfdNguyen, "nguyen"), ("Huỳnh Ngọc Ánh", "huynh ngoc anh"), ("Lê Thị Ơn Ưng", "le thi on ung"),
        ]
        for (input, expected) in cases { XCTAssertEqual(VietnameseText.fold(input), expected, input) }
        XCTAssertEqual(VietnameseText.fold("Đặng"), VietnameseText.fold("Dang"))
    }

    func testNameSplitting() {
        let name = PersonName(fullName: "  Nguyễn  Thị Minh  Khai ")
        XCTAssertEqual(name.fullName, "Nguyễn Thị Minh Khai")
        XCTAssertEqual(name.family, "Nguyễn")
        XCTAssertEqual(name.middle, ["Thị", "Minh"])
        XCTAssertEqual(name.given, "Khai")
        XCTAssertEqual(name.foldedTokens, ["nguyen", "thi", "minh", "khai"])
        let two = PersonName(fullName: "Lê Lợi")
        XCTAssertEqual(two.family, "Lê"); XCTAssertEqual(two.middle, []); XCTAssertEqual(two.given, "Lợi")
        let one = PersonName(fullName: "Bình")
        XCTAssertNil(one.family); XCTAssertEqual(one.given, "Bình")
        XCTAssertTrue(PersonName(fullName: " ").isEmpty)
        XCTAssertEqual(PersonName(fullName: nfdNguyen + " An").family, "Nguyễn")
    }
}

/// The table-driven fold is the Foundation fold, on Vietnamese text in every form senders use.
final class FoldEquivalenceTests: XCTestCase {
    func testFastFoldEqualsTheReferenceFold() {
        var random = SystemRandomNumberGenerator()
        let pieces = ["Nguyễn", "Đặng", "THỊ", "Hương", "ắ", "Ỷ", "ư", "ơ", "Ð", "ß", "ÿ", "Ǆ", "ǅ", "İ", " ", "  ", "\t", "\n", "x", "A", "9",
                      "\u{0301}", "\u{0323}", "\u{0309}", "e\u{0302}\u{0301}", "Phố Huế", "Số 12", "ﬁ", "Ω", "Ж", "中", "😀"]
        for _ in 0..<5_000 {
            var text = (0..<Int.random(in: 0...8, using: &random)).map { _ in pieces.randomElement(using: &random) ?? "" }.joined()
            if Bool.random(using: &random) { text = text.decomposedStringWithCanonicalMapping }
            XCTAssertEqual(VietnameseText.fold(text), VietnameseText.foldedSlowly(text), text.unicodeScalars.map { String($0.value, radix: 16) }.joined(separator: " "))
        }
        for value in UInt32(0x80)..<0x250 {
            guard let scalar = Unicode.Scalar(value) else { continue }
            XCTAssertEqual(VietnameseText.fold("a" + String(scalar) + "b"), VietnameseText.foldedSlowly("a" + String(scalar) + "b"), String(value, radix: 16))
        }
    }
}
