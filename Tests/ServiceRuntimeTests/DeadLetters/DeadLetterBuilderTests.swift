import Foundation
import HealthModel
import Kafka
import RecordStore
@testable import ServiceRuntime
import XCTest

/// Dead letters always fit their topic, and only what cannot travel unchanged is altered (in the open).
final class DeadLetterBuilderTests: XCTestCase {
    private let source = KafkaCoordinates(topic: "hssk.visits.v1", partition: 3, offset: 509)

    private func issue(_ text: String) -> ValidationIssue {
        ValidationIssue(path: "headers.ce_source", code: "sender.unknownAccount", severity: .error,
                        message: BilingualMessage(en: "No interop account named '\(text)' is registered.",
                                                  vi: "Tài khoản liên thông '\(text)' chưa được đăng ký."))
    }

    /// The finding of issue #16: a 500 KB junk `ce_source`, echoed twice into the detail, made a dead
    /// letter larger than the broker takes, and the partition retried it for ever.
    func testHugeJunkHeaderMakesALetterThatFits() {
        let junk = String(repeating: "x", count: 500 * 1024)
        let value = Array(String(repeating: "v", count: 400 * 1024).utf8)
        let headers = [KafkaHeader("ce_specversion", "1.0"), KafkaHeader("ce_source", junk), KafkaHeader("hssk-signature", String(repeating: "ab", count: 32))]
        let letter = DeadLetterBuilder.letter(topic: "hssk.visits.v1.dlq", source: source, key: Array("01001:LK-1".utf8), value: value,
                                              headers: headers, code: "sender.unknownAccount", issues: [issue(junk)])
        let weight = DeadLetterBuilder.weight(key: letter.key, value: letter.value, headers: letter.headers)
        XCTAssertLessThanOrEqual(weight, DeadLetterBuilder.maxLetterBytes)
        XCTAssertEqual(letter.value, value, "the value fits once the header is cut, so it travels unchanged")
        XCTAssertEqual(letter.headers.text("ce_specversion"), "1.0", "reasonable headers are unchanged")
        XCTAssertEqual(letter.headers.text("hssk-signature"), String(repeating: "ab", count: 32))
        let cut = try? XCTUnwrap(letter.headers.text("ce_source"))
        XCTAssertLessThanOrEqual(cut?.utf8.count ?? .max, DeadLetterBuilder.maxHeaderValueBytes)
        XCTAssertEqual(letter.headers.text(DeadLetterBuilder.headersAltered), #"[{"action":"escaped","bytes":"512000","header":"ce_source"}]"#)
        let detail = try? XCTUnwrap(letter.headers.text(DeadLetterHeaders.errorDetail))
        XCTAssertLessThan(detail?.utf8.count ?? .max, 4_096, "the echoed name is cut in the detail too")
        XCTAssertEqual(letter.headers.text(DeadLetterHeaders.sourceOffset), "509")
    }

    func testValueLeftOutWhenTheLetterWouldNotFit() {
        let value = [UInt8](repeating: 1, count: 950 * 1024)
        let letter = DeadLetterBuilder.letter(topic: "t.dlq", source: source, key: nil, value: value, headers: [], code: "json.tooLarge", issues: [])
        XCTAssertNil(letter.value)
        XCTAssertEqual(letter.headers.text(DeadLetterBuilder.valueOmitted), String(value.count))
    }

    func testNonPrintableHeadersAreEscapedAndNamed() {
        let headers = [KafkaHeader(key: "trace", value: [0, 1, 0xff, 0x41]), KafkaHeader(key: "bad\u{7}name", value: Array("ok".utf8)),
                       KafkaHeader("note", "Bệnh viện Bạch Mai")]
        let letter = DeadLetterBuilder.letter(topic: "t.dlq", source: source, key: nil, value: nil, headers: headers, code: "x", issues: [])
        XCTAssertEqual(letter.headers.text("trace"), #"\x00\x01\xffA"#)
        XCTAssertEqual(letter.headers.text(#"bad\x07name"#), "ok")
        XCTAssertEqual(letter.headers.text("note"), "Bệnh viện Bạch Mai", "Vietnamese text is printable: unchanged")
        let altered = letter.headers.text(DeadLetterBuilder.headersAltered) ?? ""
        XCTAssertTrue(altered.contains(#""header":"trace""#) && altered.contains(#""header":"bad\\x07name""#), altered)
    }

    func testDetailIsCappedAndSaysSo() {
        let issues = (0..<500).map { ValidationIssue(path: "visits[\($0)].code", code: "icd10.invalid", severity: .error,
                                                      message: BilingualMessage(en: String(repeating: "e", count: 2_000), vi: "v")) }
        let detail = DeadLetterBuilder.detail(issues)
        let decoded = try? JSONDecoder().decode([DeadLetterDetail].self, from: Data(detail.utf8))
        XCTAssertEqual(decoded?.count, DeadLetterBuilder.maxDetails + 1)
        XCTAssertEqual(decoded?.last?.code, "detail.truncated")
        XCTAssertEqual(decoded?.last?.message.en, "480 more findings are not listed.")
        XCTAssertLessThanOrEqual(decoded?.first?.message.en.count ?? .max, DeadLetterBuilder.maxDetailText)
    }

    func testTooManyHeadersAreDroppedAndCounted() {
        let headers = (0..<100).map { KafkaHeader("h\($0)", "v") }
        let letter = DeadLetterBuilder.letter(topic: "t.dlq", source: source, key: nil, value: nil, headers: headers, code: "x", issues: [])
        XCTAssertEqual(letter.headers.filter { $0.key.hasPrefix("h") && Int($0.key.dropFirst()) != nil }.count, DeadLetterBuilder.maxHeaders)
        XCTAssertEqual(letter.headers.text(DeadLetterBuilder.headersAltered), #"[{"action":"dropped","count":"36","header":"*"}]"#)
    }

    /// Half a million empty headers on one record: one summary entry, a letter of normal size.
    func testAHugeNumberOfHeadersStaysOneEntry() {
        let letter = DeadLetterBuilder.letter(topic: "t.dlq", source: source, key: nil, value: nil, headers: (0..<65).map { KafkaHeader("h\($0)", "") },
                                              headerCount: 500_000, code: "x", issues: [])
        XCTAssertEqual(letter.headers.text(DeadLetterBuilder.headersAltered), #"[{"action":"dropped","count":"499936","header":"*"}]"#)
        XCTAssertLessThan(DeadLetterBuilder.weight(key: letter.key, value: letter.value, headers: letter.headers), 8 * 1024)
    }

    func testMinimalFormKeepsOnlyTheErrorAndSource() {
        let letter = DeadLetterBuilder.letter(topic: "t.dlq", source: source, key: Array("k".utf8), value: Array("v".utf8),
                                              headers: [KafkaHeader("ce_id", "1")], code: "x", issues: [])
        let minimal = DeadLetterBuilder.minimal(letter)
        XCTAssertNil(minimal.value)
        XCTAssertNil(minimal.headers.text("ce_id"))
        XCTAssertEqual(minimal.headers.text(DeadLetterHeaders.sourceOffset), "509")
        XCTAssertEqual(minimal.headers.text(DeadLetterBuilder.valueOmitted), "1")
    }

    func testCodecRoundTripsEveryShape() {
        let letters = [
            ProducerRecord(topic: "a.dlq", key: nil, value: nil, headers: []),
            ProducerRecord(topic: "a.dlq", key: [], value: [0, 1, 2], headers: [KafkaHeader(key: "n", value: nil), KafkaHeader("x", "Đ")]),
        ]
        for letter in letters {
            let decoded = DeadLetterCodec.decode(DeadLetterCodec.encode(letter))
            XCTAssertEqual(decoded?.topic, letter.topic)
            XCTAssertEqual(decoded?.key, letter.key)
            XCTAssertEqual(decoded?.value, letter.value)
            XCTAssertEqual(decoded?.headers, letter.headers)
        }
        var damaged = DeadLetterCodec.encode(letters[1])
        damaged.removeLast()
        XCTAssertNil(DeadLetterCodec.decode(damaged), "a truncated letter is refused, not misread")
        XCTAssertNil(DeadLetterCodec.decode([9, 0]), "an unknown version is refused")
    }
}
