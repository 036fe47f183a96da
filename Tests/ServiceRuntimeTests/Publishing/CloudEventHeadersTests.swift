import Foundation
import HealthModel
import Kafka
@testable import ServiceRuntime
import XCTest

/// Every record hssk or a source writes carries the same CloudEvents headers, in the same order.
final class CloudEventHeadersTests: XCTestCase {
    func testHeadersInOrderWithExtensionsBeforeTheContentTypeAndTheSignatureLast() throws {
        let key = try SigningKey(bytes: Array(repeating: 3, count: 32))
        let value = Array(#"{"a":1}"#.utf8)
        let headers = CloudEventHeaders.make(id: "id-1", source: "01001_lt_bvbm", type: "vn.hssk.visit.v1", time: "2025-03-03T07:10:00.123Z",
                                             extensions: [KafkaHeader("hssk-feed-version", "7")], value: value, signedWith: key)
        XCTAssertEqual(headers.map(\.key), ["ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time", "hssk-feed-version", "content-type",
                                            "hssk-signature"])
        XCTAssertEqual(headers.text("ce_specversion"), "1.0")
        XCTAssertEqual(headers.text("content-type"), "application/json")
        XCTAssertEqual(headers.text("hssk-signature"), RecordSignature.sign(value: value, key: key))
        // A tombstone has no value: no content type and nothing to sign.
        let tombstone = CloudEventHeaders.make(id: "id-2", source: "s", type: "t", time: "x", value: nil, signedWith: key)
        XCTAssertEqual(tombstone.map(\.key), ["ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time"])
    }

    func testTimeIsUTCWithMillisecondsAndIDsAreFreshLowercaseUUIDs() {
        XCTAssertEqual(CloudEventHeaders.time(Date(timeIntervalSince1970: 1_741_000_000.125)), "2025-03-03T11:06:40.125Z")
        let id = CloudEventHeaders.newID()
        XCTAssertEqual(id.count, 36)
        XCTAssertEqual(id, id.lowercased())
        XCTAssertNotEqual(id, CloudEventHeaders.newID())
    }
}
