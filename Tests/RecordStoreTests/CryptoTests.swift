import Foundation
@testable import RecordStore
import XCTest

/// The ciphertext format, column and row binding, blind indexes and key files.
final class CryptoTests: XCTestCase {
    let cipher = FieldCipher(keys: Fixtures.keys)

    private func assertIntegrity(_ body: @autoclosure () throws -> some Any, _ message: String = "", line: UInt = #line,
                                 _ check: (String) -> Bool = { _ in true }) {
        XCTAssertThrowsError(try body(), message, line: line) { error in
            guard case StoreError.integrity(let text) = error else { return XCTFail("\(error)", line: line) }
            XCTAssertTrue(check(text), text, line: line)
        }
    }

    func testRoundTripAndFormat() throws {
        let plaintext = Array("Nguyễn Văn An".utf8)
        let sealed = try cipher.seal(plaintext, column: "person.demographics_enc", row: .id(5))
        XCTAssertEqual(sealed[0], 2, "format 2: row-bound")
        XCTAssertEqual(FieldCipher.format(of: sealed), 2)
        XCTAssertEqual(try FieldCipher.keyID(of: sealed), "k1")
        XCTAssertEqual(sealed.count, 2 + 2 + 12 + plaintext.count + 16)
        XCTAssertEqual(try cipher.open(sealed, column: "person.demographics_enc", row: .id(5)), plaintext)
        XCTAssertNotEqual(try cipher.seal(plaintext, column: "x.y", row: .id(1)), try cipher.seal(plaintext, column: "x.y", row: .id(1)),
                          "fresh nonce every time")
        XCTAssertEqual(try cipher.open(try cipher.seal([], column: "x.y", row: .name("a")), column: "x.y", row: .name("a")), [])
        XCTAssertEqual(try cipher.openText(try cipher.seal("Bình", column: "account.signing_key_enc", row: .name("01001_lt_bnv")),
                                           column: "account.signing_key_enc", row: .name("01001_lt_bnv")), "Bình")
    }

    /// The associated data is the header and "table.column#row", read here independently of FieldCipher.
    func testAssociatedDataIsColumnAndRow() throws {
        let sealed = try cipher.seal(Array("001058012345".utf8), column: "identifier.value_enc", row: .id(42))
        XCTAssertEqual(try ColumnBoundCiphertexts.open(sealed, column: "identifier.value_enc", row: "42", keys: Fixtures.keys),
                       Array("001058012345".utf8))
        XCTAssertNil(try ColumnBoundCiphertexts.open(sealed, column: "identifier.value_enc", row: "43", keys: Fixtures.keys))
        let card = try cipher.seal([1, 2], column: "insurance_card_state.state_enc", row: .name(hex([0xab, 0x01])))
        XCTAssertEqual(try ColumnBoundCiphertexts.open(card, column: "insurance_card_state.state_enc", row: "ab01", keys: Fixtures.keys), [1, 2])
    }

    func testTamperingAndMovingFail() throws {
        let sealed = try cipher.seal(Array("001058012345".utf8), column: "identifier.value_enc", row: .id(7))
        assertIntegrity(try cipher.open(sealed, column: "visit.details_enc", row: .id(7)), "another column")
        assertIntegrity(try cipher.open(sealed, column: "identifier.value_enc", row: .id(8)), "another row") { $0.contains("row 8") }
        assertIntegrity(try cipher.open(sealed, column: "identifier.value_enc", row: .id(70)), "another row with the same prefix")
        let account = try cipher.seal(Array("key".utf8), column: "account.signing_key_enc", row: .name("01001_lt_bnv"))
        assertIntegrity(try cipher.open(account, column: "account.signing_key_enc", row: .name("01002_lt_xp")), "another account")
        for index in [0, 3, 10, sealed.count - 1] {
            var altered = sealed
            altered[index] ^= 0x40
            XCTAssertThrowsError(try cipher.open(altered, column: "identifier.value_enc", row: .id(7)))
        }
        // Relabelled as format 1 (column-bound), the same bytes are refused too.
        var relabelled = sealed
        relabelled[0] = 1
        assertIntegrity(try cipher.open(relabelled, column: "identifier.value_enc", row: .id(7)))
        assertIntegrity(try cipher.openColumnBound(relabelled, column: "identifier.value_enc"))
        XCTAssertThrowsError(try cipher.open(Array(sealed.prefix(20)), column: "identifier.value_enc", row: .id(7)))
        // The reused decryption context still works after failures.
        XCTAssertEqual(try cipher.open(sealed, column: "identifier.value_enc", row: .id(7)), Array("001058012345".utf8))
    }

    /// A ciphertext written before schema 9 (format 1, bound to its column only): reads refuse it,
    /// only the migration opens it; its key id is still readable (verify, rotation).
    func testColumnBoundFormatIsRefusedByReads() throws {
        let old = try ColumnBoundCiphertexts.seal(Array("Nguyễn Văn An".utf8), column: "person.demographics_enc", keys: Fixtures.keys)
        XCTAssertEqual(FieldCipher.format(of: old), 1)
        XCTAssertEqual(try FieldCipher.keyID(of: old), "k1")
        assertIntegrity(try cipher.open(old, column: "person.demographics_enc", row: .id(1))) { $0.contains("column-bound") }
        XCTAssertEqual(try cipher.openColumnBound(old, column: "person.demographics_enc"), Array("Nguyễn Văn An".utf8))
        assertIntegrity(try cipher.openColumnBound(old, column: "identifier.value_enc"), "format 1 is still bound to its column")
        let new = try cipher.seal(Array("x".utf8), column: "person.demographics_enc", row: .id(1))
        assertIntegrity(try cipher.openColumnBound(new, column: "person.demographics_enc"), "the migration reads format 1 only")
        XCTAssertNil(FieldCipher.format(of: [3, 2, 0x6b, 0x31]))
        assertIntegrity(try FieldCipher.keyID(of: [3, 2, 0x6b, 0x31] + Array(repeating: 0, count: 28)))
    }

    func testHMACMatchesRFC4231() {
        // RFC 4231 test case 2, twice (the second run reuses the keyed context).
        let expected = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        for _ in 0..<2 {
            XCTAssertEqual(hex(cipher.hmac(key: Array("Jefe".utf8), Array("what do ya want for nothing?".utf8))), expected)
        }
    }

    func testBlindIndexesAreKeyedAndDomainSeparated() throws {
        let a = cipher.blindIndex("id:personalId", "001058012345")
        XCTAssertEqual(a.count, 16)
        XCTAssertEqual(a, cipher.blindIndex("id:personalId", "001058012345"))
        XCTAssertNotEqual(a, cipher.blindIndex("id:bhxhNumber", "001058012345"))
        let other = FieldCipher(keys: KeyRing(activeKeyID: "k1", encryptionKeys: ["k1": Array(repeating: 7, count: 32)],
                                              blindIndexKey: Array(repeating: 1, count: 32)))
        XCTAssertNotEqual(a, other.blindIndex("id:personalId", "001058012345"))
    }

    func testKeyFileRoundTripAndErrors() throws {
        var keys = try KeyRing.generate()
        _ = try keys.addActiveKey()
        XCTAssertEqual(keys.activeKeyID, "k2")
        XCTAssertEqual(try KeyRing(json: try keys.json()), keys)
        let path = (try Fixtures.temporaryDirectory() as NSString).appendingPathComponent("keys.json")
        try keys.write(to: path)
        let mode = (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int) ?? 0
        XCTAssertEqual(mode & 0o777, 0o600)
        XCTAssertEqual(try KeyRing.load(path: nil, environment: [KeyRing.environmentVariable: String(decoding: try keys.json(), as: UTF8.self)]), keys)
        XCTAssertEqual(try KeyRing.load(path: nil, environment: [KeyRing.fileEnvironmentVariable: path]), keys)
        XCTAssertThrowsError(try KeyRing.load(path: nil, environment: [:])) { error in
            guard case StoreError.missingKey = error else { return XCTFail("\(error)") }
        }
        XCTAssertThrowsError(try KeyRing(json: Data(#"{"format":1,"active":"k1","encryption":{"k1":"c2hvcnQ="},"blindIndex":"c2hvcnQ="}"#.utf8))) { error in
            guard case StoreError.invalidKeyFile = error else { return XCTFail("\(error)") }
        }
    }
}
