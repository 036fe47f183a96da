import XCTest
@testable import HealthModel

final class RecordDecoderTests: XCTestCase {
    func testGarbageNeverCrashes() {
        let inputs: [String] = ["", "null", "[]", "42", "\"x\"", "{", "{\"schemaVersion\":", "\u{FEFF}{}", "{}",
                                String(repeating: "[", count: 10_000), "{\"schemaVersion\":1e999}"]
        for input in inputs {
            for kind in RecordKind.allCases {
                let result = RecordDecoder.decode(Data(input.utf8), kind: kind)
                XCTAssertNil(result.record, input)
                XCTAssertTrue(result.issues.hasErrors, input)
            }
        }
        XCTAssertTrue(RecordDecoder.decode(Data([0xFF, 0xFE, 0x00]), kind: .visit).issues.hasErrors)
        // Deep nesting inside an object: the member census gives up instead of recursing 100,000 levels.
        let deep = "{\"diagnoses\":" + String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000) + "}"
        XCTAssertNil(KeyCensus.keys(of: Data(deep.utf8)))
        // Numbers read alike as Double and as Decimal only: long, negative-zero or exponent forms go the general way.
        XCTAssertEqual(KeyCensus.keys(of: Data("{\"a\":123456789012.345,\"b\":-1.5,\"c\":0}".utf8)), ["a", "b", "c"])
        for number in ["1234567890123456", "0." + String(repeating: "0", count: 130), "1" + String(repeating: "0", count: 200), "-0", "-0.0", "1e2", "1.", "01x"] {
            XCTAssertNil(KeyCensus.keys(of: Data("{\"a\":\(number)}".utf8)), number)
        }
        XCTAssertTrue(RecordDecoder.decode(Data(deep.utf8), kind: .visit).issues.hasErrors)
    }

    /// The short path for canonical values gives exactly what the general path gives.
    func testCanonicalShortPathEqualsTheGeneralPath() throws {
        func check<R: HealthRecord>(_ record: R, short: Bool = true, file: StaticString = #filePath, line: UInt = #line) throws {
            let canonical = try RecordDecoder.encode(record)
            XCTAssertEqual(RecordDecoder.canonicalRecord(canonical, as: R.self) != nil, short, "short path", file: file, line: line)
            // Same content, other key order and spacing: the general path.
            let spaced = try JSONSerialization.data(withJSONObject: try JSONSerialization.jsonObject(with: canonical), options: [.prettyPrinted])
            XCTAssertNil(RecordDecoder.canonicalRecord(spaced, as: R.self), file: file, line: line)
            let fast = RecordDecoder.decode(canonical, as: R.self), general = RecordDecoder.decode(spaced, as: R.self)
            XCTAssertEqual(fast.record, general.record, file: file, line: line)
            XCTAssertEqual(fast.issues, general.issues, file: file, line: line)
            // Compact in another key order (a Java or .NET producer): the short path, with the same answer.
            let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: canonical) as? [String: Any])
            let members = try object.sorted { $0.key > $1.key }.map { key, value in
                "\"\(key)\":" + String(decoding: try JSONSerialization.data(withJSONObject: value, options: [.fragmentsAllowed, .withoutEscapingSlashes]), as: UTF8.self)
            }
            let reordered = "{" + members.joined(separator: ",") + "}"
            XCTAssertEqual(RecordDecoder.canonicalRecord(Data(reordered.utf8), as: R.self) != nil, short, "reordered", file: file, line: line)
            XCTAssertEqual(RecordDecoder.decode(Data(reordered.utf8), as: R.self).record, general.record, file: file, line: line)
            // An unknown member, a null, an exponent: the general path, which reports the first two.
            for (extra, code) in [("\"extra\":1", "json.unknownField"), ("\"note\":null", "json.null"), ("\"extra\":1e2", "json.unknownField"),
                                  ("\"extra\":0." + String(repeating: "0", count: 130), "json.malformed"), ("\"extra\":-0.0", "json.unknownField")] {
                let bytes = Data(("{" + extra + "," + String(decoding: canonical.dropFirst(), as: UTF8.self)).utf8)
                XCTAssertNil(RecordDecoder.canonicalRecord(bytes, as: R.self), extra, file: file, line: line)
                XCTAssertTrue(RecordDecoder.decode(bytes, as: R.self).issues.contains { $0.code == code }, extra, file: file, line: line)
            }
        }
        // Line breaks (kept in a treatment summary) are escapes: the general path.
        try check(RecordFixtures.visit, short: false)
        var plain = RecordFixtures.visit
        plain.treatmentSummary = nil
        try check(plain)
        try check(RecordFixtures.dose)
        try check(RecordFixtures.card)
        try check(RecordFixtures.birth)
        // Text that normalising would change never takes the short path.
        var visit = RecordFixtures.visit
        for name in ["Nguyễn Văn An".decomposedStringWithCanonicalMapping, " Nguyễn Văn An", "Nguyễn  Văn An", "Nguyễn Văn An ", "Nguyễn\u{00A0}Văn An",
                     "Nguyễn\tVăn An", "Nguyễn Văn \"An\""] {
            visit.patient.fullName = name
            let bytes = try RecordDecoder.encode(visit)
            XCTAssertNil(RecordDecoder.canonicalRecord(bytes, as: VisitRecord.self), name)
            XCTAssertEqual(RecordDecoder.decode(bytes, as: VisitRecord.self).record?.patient.fullName, VietnameseText.normalize(name), name)
        }
    }

    /// Stored originals decode to the record `decode` gives, whatever their spelling.
    func testDecodeAcceptedEqualsDecode() throws {
        var visit = RecordFixtures.visit
        visit.treatmentSummary = nil
        var samples: [(RecordKind, Data)] = [(.visit, try RecordDecoder.encode(RecordFixtures.visit)), (.visit, try RecordDecoder.encode(visit)),
                                            (.vaccination, try RecordDecoder.encode(RecordFixtures.dose)),
                                            (.insuranceCard, try RecordDecoder.encode(RecordFixtures.card)),
                                            (.registryEvent, try RecordDecoder.encode(RecordFixtures.birth))]
        // Plain text with an unknown field and a null (one JSON pass) and text normalising changes (the long way).
        var json = try jsonObject(visit)
        json["extra"] = "x"
        json["note"] = NSNull()
        samples.append((.visit, try JSONSerialization.data(withJSONObject: json)))
        visit.patient.fullName = " Nguyễn  Văn An".decomposedStringWithCanonicalMapping
        samples.append((.visit, try RecordDecoder.encode(visit)))
        for (index, (kind, data)) in samples.enumerated() {
            let expected = RecordDecoder.decode(data, kind: kind).record
            XCTAssertNotNil(expected, "sample \(index)")
            XCTAssertEqual(RecordDecoder.decodeAccepted(data, kind: kind), expected, "sample \(index)")
        }
        XCTAssertNil(RecordDecoder.decodeAccepted(Data("{".utf8), kind: .visit))
    }

    func testDecodingErrorsHavePaths() throws {
        var json = try jsonObject(RecordFixtures.visit)
        var patient = json["patient"] as? [String: Any] ?? [:]
        patient["sex"] = "nam"
        json["patient"] = patient
        let result = RecordDecoder.decode(try JSONSerialization.data(withJSONObject: json), as: VisitRecord.self)
        XCTAssertEqual(result.issues.map(\.path), ["patient.sex"])
        XCTAssertEqual(result.issues.map(\.code), ["json.typeMismatch"])

        var missing = try jsonObject(RecordFixtures.visit)
        var diagnoses = missing["diagnoses"] as? [[String: Any]] ?? []
        diagnoses[1].removeValue(forKey: "code")
        missing["diagnoses"] = diagnoses
        let r2 = RecordDecoder.decode(try JSONSerialization.data(withJSONObject: missing), as: VisitRecord.self)
        XCTAssertEqual(r2.issues.map(\.path), ["diagnoses[1].code"])
    }

    func testUnknownFieldsAndNulls() throws {
        var json = try jsonObject(RecordFixtures.visit)
        json["costTotal"] = 5
        json["note"] = NSNull()
        var patient = json["patient"] as? [String: Any] ?? [:]
        patient["nickname"] = "Tí"
        json["patient"] = patient
        let result = RecordDecoder.decode(try JSONSerialization.data(withJSONObject: json), as: VisitRecord.self)
        XCTAssertNotNil(result.record)
        XCTAssertEqual(Set(result.issues.errors.map { "\($0.path) \($0.code)" }),
                       ["costTotal json.unknownField", "note json.null", "patient.nickname json.unknownField"])
    }

    func testInputTextIsNormalized() throws {
        var json = try jsonObject(RecordFixtures.visit)
        var patient = json["patient"] as? [String: Any] ?? [:]
        patient["fullName"] = "  Nguye\u{0302}\u{0303}n   Văn An "
        json["patient"] = patient
        json["treatmentSummary"] = ["course": "Sốt  3 ngày.\n\n  Đỡ  "]
        let result = RecordDecoder.decode(try JSONSerialization.data(withJSONObject: json), as: VisitRecord.self)
        XCTAssertEqual(result.record?.patient.fullName, "Nguyễn Văn An")
        XCTAssertEqual(result.record?.patient.fullName.unicodeScalars.count, "Nguyễn Văn An".unicodeScalars.count)
        XCTAssertEqual(result.record?.treatmentSummary?.course, "Sốt 3 ngày.\nĐỡ")
        XCTAssertEqual(result.issues.errors, [])
    }

    /// NUL is valid JSON, but the store passes text to SQLite and libpq as C strings, which would cut
    /// it short there: a value with NUL anywhere (a value or a key, at any depth) is refused whole.
    func testNULAnywhereIsRefused() throws {
        var visit = try jsonObject(RecordFixtures.visit)
        var patient = try XCTUnwrap(visit["patient"] as? [String: Any])
        patient["fullName"] = "Nguyễn Văn An\u{0}"
        visit["patient"] = patient
        var dose = try jsonObject(RecordFixtures.dose)
        dose["vaccineCode"] = "BCG\u{0}x"
        var card = try jsonObject(RecordFixtures.card)
        card["extra\u{0}"] = "x"
        var birth = try jsonObject(RecordFixtures.birth)
        birth["stationCode"] = "\u{0}"
        let samples: [(RecordKind, [String: Any], String)] = [(.visit, visit, "patient.fullName"), (.vaccination, dose, "vaccineCode"),
                                                              (.insuranceCard, card, "extra\\u0000"), (.registryEvent, birth, "stationCode")]
        for (kind, object, path) in samples {
            let data = try JSONSerialization.data(withJSONObject: object)
            XCTAssertTrue(String(decoding: data, as: UTF8.self).contains("\\u0000"), "the JSON carries the escape")
            let result = RecordDecoder.decode(data, kind: kind)
            XCTAssertNil(result.record, "\(kind)")
            XCTAssertEqual(result.issues.errors.first?.code, "json.nulCharacter", "\(kind): \(result.issues)")
            XCTAssertEqual(result.issues.errors.first?.path, path, "\(kind)")
        }
    }

    private func jsonObject<R: HealthRecord>(_ record: R) throws -> [String: Any] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: RecordDecoder.encode(record)) as? [String: Any])
    }
}
