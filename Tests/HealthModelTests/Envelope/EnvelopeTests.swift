import XCTest
@testable import HealthModel

final class EnvelopeTests: XCTestCase {
    func testHeaderNamesMatchDesign() {
        XCTAssertEqual(EnvelopeHeaders.required,
                       ["ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time", "content-type", "hssk-signature"])
        XCTAssertEqual(DeadLetterHeaders.all, ["hssk-error-code", "hssk-error-detail", "hssk-source-topic",
                                               "hssk-source-partition", "hssk-source-offset", "hssk-failed-at", "hssk-dead-letter-id"])
        XCTAssertEqual(RecordKind.visit.ceType, "vn.hssk.visit.v1")
    }

    func testErrorDetailHeader() throws {
        var visit = RecordFixtures.visit
        visit.patient.phone = nil
        visit.dischargeTime = "2024-05-01T10:00"
        let value = DeadLetterDetail.headerValue(for: visit.validate())
        let decoded = try JSONDecoder().decode([DeadLetterDetail].self, from: Data(value.utf8))
        XCTAssertEqual(decoded.map(\.code), ["dischargeTime.beforeAdmission", "dischargeTime.beforeInpatientAdmission", "phone.missing"])
        XCTAssertEqual(decoded.first?.field, "dischargeTime")
        XCTAssertTrue(value.contains("Thời gian ra viện"), "Vietnamese is kept unescaped")
    }
}
