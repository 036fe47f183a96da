import Foundation
@testable import RecordStore
import XCTest

/// The ciphertext format, context binding, blind indexes and key files.
final class CryptoTests: XCTestCase {
    let cipher = FieldCipher(keys: Fixtures.keys)

    func testRoundTripAndFormat() throws {
        let plaintext = Array("Nguyễn Văn An".utf8)
        let sealed = try cipher.seal(plaintext, context: "person.demographics_enc")
        XCTAssertEqual(sealed[0], 1)
        XCTAssertEqual(try FieldCipher.keyID(of: sealed), "k1")
        XCTAssertEqual(sealed.count, 2 + 2 + 12 + plaintext.count + 16)
        XCTAssertEqual(try cipher.open(sealed, context: "person.demographics_enc"), plaintext)
        XCTAssertNotEqual(try cipher.seal(plaintext, context: "x"), try cipher.seal(plaintext, context: "x"), "fresh nonce every time")
        XCTAssertEqual(try cipher.open(try cipher.seal([], context: "x"), context: "x"), [])
    }

    func testTamperingAndMovingFail() throws {
        let sealed = try cipher.seal(Array("001058012345".utf8), context: "identifier.value_enc")
        XCTAssertThrowsError(try cipher.open(sealed, context: "visit.details_enc")) { error in
            guard case StoreError.integrity = error else { return XCTFail("\(error)") }
        }
        for index in [0, 3, 10, sealed.count - 1] {
            var altered = sealed
            altered[index] ^= 0x40
            XCTAssertThrowsError(try cipher.open(altered, context: "identifier.value_enc"))
        }
        XCTAssertThrowsError(try cipher.open(Array(sealed.prefix(20)), context: "identifier.value_enc"))
        // The reused decryption context still works after failures.
        XCTAssertEqual(try cipher.open(sealed, context: "identifier.value_enc"), Array("001058012345".utf8))
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
