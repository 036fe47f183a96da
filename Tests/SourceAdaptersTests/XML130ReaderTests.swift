import Foundation
import HealthModel
@testable import SourceAdapters
import XCTest

/// Reads the sample XML 130 files of Fixtures/xml130 (written by make_fixtures.py from the field table).
final class XML130ReaderTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/xml130")

    /// Every episode of a fixture, and the file-level error if any.
    func read(_ name: String) -> (episodes: [XML130Episode], error: XML130Error?) {
        var episodes: [XML130Episode] = []
        do {
            try XML130Reader.read(file: Self.fixtures.appendingPathComponent(name)) { episodes.append($0); return true }
            return (episodes, nil)
        } catch {
            return (episodes, error)
        }
    }

    func testValid4750FileMapsEveryTableAndNeverReadsXML6() throws {
        let (episodes, error) = read("valid-4750.xml")
        XCTAssertNil(error)
        XCTAssertEqual(episodes.count, 1)
        let episode = try XCTUnwrap(episodes.first)
        XCTAssertEqual(episode.issues.errors, [])
        let visit = try XCTUnwrap(episode.visit, "\(episode.issues)")
        XCTAssertEqual(visit.facilityCode, "01001")
        XCTAssertEqual(visit.episodeKey, "LK2024-000123")
        XCTAssertEqual(visit.kafkaKey, "01001:LK2024-000123")
        XCTAssertEqual(visit.patient.fullName, "Nguyễn Văn An")
        XCTAssertEqual(visit.patient.birthDate, "1958-03-07")
        XCTAssertEqual(visit.patient.personalId, "001058012345")
        XCTAssertEqual(visit.patient.address?.communeCode, "00256")
        XCTAssertEqual(visit.insuranceCards, [InsuranceCoverage(cardCode: "HT3010123456789", validFrom: "2024-01-01",
                                                                validTo: "2024-12-31", registeredFacility: "01001")])
        XCTAssertEqual(visit.visitType, "03")
        XCTAssertEqual(visit.admissionTime, "2024-05-02T08:15")
        XCTAssertEqual(visit.inpatientAdmissionTime, "2024-05-02T09:00")
        XCTAssertEqual(visit.dischargeTime, "2024-05-09T10:30")
        XCTAssertEqual(visit.diagnoses.map(\.code), ["J18.9", "I10"])
        XCTAssertEqual(visit.procedures?.map(\.code), ["87.44"])
        XCTAssertEqual(visit.weightKg, 58.5)
        XCTAssertEqual(visit.followUpDate, "2024-05-23")
        XCTAssertEqual(visit.billing?.amounts?["T_TONGCHI_BV"], Decimal(string: "2450000.50"))
        XCTAssertEqual(visit.billing?.settlementMonth, 5)
        XCTAssertEqual(visit.medicines, [Medicine(code: "40.17", name: "Amoxicillin", strength: "500 mg", route: "uống",
                                                  dosage: "1 viên x 3 lần/ngày", quantity: 21, unit: "viên")])
        XCTAssertEqual(visit.labResults?.first?.value, "48")
        XCTAssertEqual(visit.labResults?.first?.resultTime, "2024-05-02T10:00")
        XCTAssertEqual(visit.treatmentSummary?.course, "Sốt, ho 3 ngày trước vào viện.\nĐáp ứng tốt với kháng sinh.")
        XCTAssertNil(visit.bloodGroup)
        XCTAssertFalse(episode.issues.contains { $0.code == "xml130.unknownField" }, "\(episode.issues)")

        // XML6 (HIV) is in the file but nothing of it is in the record.
        let json = String(decoding: try RecordDecoder.encode(visit), as: UTF8.self)
        for secret in ["XETNGHIEM_HIV", "TENOFOVIR", "B20", "TDF+3TC"] { XCTAssertFalse(json.contains(secret), secret) }
    }

    func testNFDTextSeveralCardsAndUnknownDateParts() throws {
        let episode = try XCTUnwrap(read("nfd-cards-partial-dates.xml").episodes.first)
        let visit = try XCTUnwrap(episode.visit, "\(episode.issues)")
        XCTAssertEqual(visit.patient.fullName, "Đặng Thị Hồng Nhung")
        XCTAssertTrue(VietnameseText.isNormalized(visit.patient.fullName), "stored NFC, spaces collapsed")
        XCTAssertTrue(VietnameseText.isNormalized(visit.reason ?? ""))
        XCTAssertEqual(visit.patient.birthDate, "1958", "19580000 is a year-only birth date, never a day invented")
        XCTAssertEqual(visit.admissionTime, "2024-05-03", "0000 is an unknown time")
        XCTAssertTrue(episode.issues.contains { $0.code == "admissionTime.noTime" && $0.path == "XML1.NGAY_VAO" }, "\(episode.issues)")
        XCTAssertEqual(visit.insuranceCards?.map(\.cardCode), ["HT3010123456789", "CK2010111111111"])
        XCTAssertEqual(visit.insuranceCards?.map(\.validTo), ["2024-12-31", "2025-02-28"])
        XCTAssertEqual(visit.diagnoses.map(\.code), ["J18.9", "I10", "E11.9"])
        XCTAssertNil(visit.procedures)
    }

    func testVariant3176WithBloodGroupAndAnUnknownFieldWarning() throws {
        let episode = try XCTUnwrap(read("variant-3176.xml").episodes.first)
        let visit = try XCTUnwrap(episode.visit, "\(episode.issues)")
        XCTAssertEqual(visit.bloodGroup, "O+")
        let unknown = episode.issues.filter { $0.code == "xml130.unknownField" }
        XCTAssertEqual(unknown.map(\.path), ["XML1.TRUONG_MOI_CHUA_BIET"])
        XCTAssertEqual(unknown.first?.severity, .warning)
    }

    func testEachDefectRejectsOnlyItsEpisode() throws {
        let (episodes, error) = read("defects.xml")
        XCTAssertNil(error)
        let byKey = Dictionary(episodes.map { ($0.index, $0) }, uniquingKeysWith: { a, _ in a })
        XCTAssertEqual(episodes.count, 12)
        func rejected(_ index: Int, _ code: String, at path: String, file: StaticString = #filePath, line: UInt = #line) {
            guard let episode = byKey[index] else { return XCTFail("no HOSO #\(index)", file: file, line: line) }
            XCTAssertNil(episode.visit, "HOSO #\(index) must publish nothing", file: file, line: line)
            XCTAssertTrue(episode.issues.errors.contains { $0.code == code && $0.path == path },
                          "HOSO #\(index): want \(path) \(code), got \(episode.issues.errors)", file: file, line: line)
        }
        XCTAssertNotNil(byKey[1]?.visit)
        rejected(2, "xml130.base64", at: "XML1.NOIDUNGFILE")
        rejected(3, "xml130.unknownTableType", at: "FILEHOSO[2].LOAIHOSO")
        XCTAssertEqual(byKey[3]?.episodeKey, "LK-BAD-TYPE")
        rejected(4, "personalId.centuryDigitMismatch", at: "XML1.SO_CCCD")
        rejected(5, "dischargeTime.beforeAdmission", at: "XML1.NGAY_RA")
        rejected(6, "diagnoses.missing", at: "XML1.MA_BENH_CHINH")
        rejected(7, "xml130.tableMalformed", at: "XML1")
        rejected(8, "date.xml130Format", at: "XML1.NGAY_VAO")
        rejected(9, "xml130.notANumber", at: "XML1.CAN_NANG")
        rejected(10, "xml130.summaryMissing", at: "XML1")
        rejected(11, "xml130.episodeKeyMismatch", at: "XML2[0].MA_LK")
        XCTAssertNotNil(byKey[12]?.visit, "episodes after the defects go on")
    }

    func testMalformedTruncatedAndForeignFilesAreClearErrors() throws {
        let malformed = read("malformed-envelope.xml")
        XCTAssertEqual(malformed.error?.code, .malformedEnvelope)
        XCTAssertEqual(malformed.episodes.first?.visit?.episodeKey, "LK-BEFORE-BREAK", "complete episodes before the break are kept")
        XCTAssertEqual(malformed.episodes.count, 2)
        XCTAssertNil(malformed.episodes.last?.visit)
        XCTAssertEqual(malformed.episodes.last?.issues.first?.code, "xml130.contentMissing", "\(malformed.episodes.map(\.issues))")

        let truncated = read("truncated.xml")
        XCTAssertEqual(truncated.error?.code, .truncated, "\(String(describing: truncated.error))")
        XCTAssertEqual(truncated.episodes.count, 2)
        XCTAssertNotNil(truncated.episodes.first?.visit)
        XCTAssertNil(truncated.episodes.last?.visit, "the cut-off episode publishes nothing")

        let foreign = read("not-envelope.xml")
        XCTAssertEqual(foreign.error?.code, .notEnvelope)
        XCTAssertTrue(foreign.episodes.isEmpty)
        XCTAssertEqual(read("does-not-exist.xml").error?.code, .unreadable)
    }

    func testGarbageNeverCrashes() throws {
        var generator = SystemRandomNumberGenerator()
        let valid = try Data(contentsOf: Self.fixtures.appendingPathComponent("defects.xml"))
        for round in 0..<200 {
            var bytes = Array(valid)
            for _ in 0..<20 { bytes[Int.random(in: 0..<bytes.count, using: &generator)] = UInt8.random(in: round % 2 == 0 ? 0...127 : 0...255, using: &generator) }
            if round % 3 == 0 { bytes = Array(bytes.prefix(Int.random(in: 0..<bytes.count, using: &generator))) }
            _ = try? XML130Reader.read(data: Data(bytes), label: "garbage") { _ in true }
        }
        let huge = "<GIAMDINHHS><HOSO><FILEHOSO><LOAIHOSO>" + String(repeating: "X", count: 200_000) + "</LOAIHOSO></FILEHOSO></HOSO></GIAMDINHHS>"
        var episodes: [XML130Episode] = []
        XCTAssertNoThrow(try XML130Reader.read(data: Data(huge.utf8), label: "huge") { episodes.append($0); return true })
        XCTAssertEqual(episodes.first?.issues.first?.code, "xml130.unknownTableType")
    }

    func testBatchesStreamTheFileWithBackPressure() async throws {
        var seen: [Int] = []
        for try await batch in XML130Reader.batches(file: Self.fixtures.appendingPathComponent("defects.xml"), batchSize: 5) {
            XCTAssertLessThanOrEqual(batch.count, 5)
            seen += batch.map(\.index)
        }
        XCTAssertEqual(seen, Array(1...12))
        do {
            for try await _ in XML130Reader.batches(file: Self.fixtures.appendingPathComponent("truncated.xml")) {}
            XCTFail("a truncated file must end the sequence with an error")
        } catch let error as XML130Error {
            XCTAssertEqual(error.code, .truncated)
        }
    }
}
