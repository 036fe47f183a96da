import Foundation
import HealthModel
@testable import SourceAdapters
import XCTest

/// The episode builder validates the mapped visit as ingest will; a rejected episode always says why.
final class XML130EpisodeBuilderTests: XCTestCase {
    /// Table XML1 of the valid sample file, with `edit` applied to its XML text.
    private func summaryTable(_ edit: (String) -> String) throws -> String {
        let file = try String(contentsOf: XML130ReaderTests.fixtures.appendingPathComponent("valid-4750.xml"), encoding: .utf8)
        let start = try XCTUnwrap(file.range(of: "<LOAIHOSO>XML1</LOAIHOSO>"))
        let open = try XCTUnwrap(file.range(of: "<NOIDUNGFILE>", range: start.upperBound..<file.endIndex))
        let close = try XCTUnwrap(file.range(of: "</NOIDUNGFILE>", range: open.upperBound..<file.endIndex))
        let xml = String(decoding: try XCTUnwrap(Data(base64Encoded: String(file[open.upperBound..<close.lowerBound]),
                                                      options: .ignoreUnknownCharacters)), as: UTF8.self)
        return Data(edit(xml).utf8).base64EncodedString()
    }

    private func build(_ edit: @escaping (String) -> String) throws -> XML130Episode {
        XML130EpisodeBuilder(file: "test.xml", index: 1, senderFacility: nil)
            .build(tables: [(type: "XML1", rawType: "XML1", base64: try summaryTable(edit), tooLarge: false)])
    }

    func testTheSampleSummaryAloneIsAcceptedWithItsCanonicalBytes() throws {
        let episode = try build { $0 }
        let canonical = try XCTUnwrap(episode.canonical, "\(episode.issues)")
        XCTAssertEqual(canonical.value, Array(try RecordDecoder.encode(canonical.record)))
    }

    /// The mapping warns that only the first of several follow-up dates is kept; that first date is a
    /// month only, which the visit's rules refuse at the same field: the error must not be lost behind the warning.
    func testAnErrorAtAFieldTheMappingOnlyWarnedAboutIsReported() throws {
        let episode = try build { xml in
            xml.replacingOccurrences(of: "<NGAY_TAI_KHAM>[^<]*</NGAY_TAI_KHAM>", with: "<NGAY_TAI_KHAM>20240600;20240620</NGAY_TAI_KHAM>",
                                     options: .regularExpression)
        }
        XCTAssertNil(episode.canonical)
        XCTAssertTrue(episode.issues.contains { $0.path == "XML1.NGAY_TAI_KHAM" && $0.code == "xml130.severalFollowUps" }, "\(episode.issues)")
        XCTAssertTrue(episode.issues.contains { $0.path == "XML1.NGAY_TAI_KHAM" && $0.code == "date.tooImprecise" && $0.severity == .error },
                      "\(episode.issues)")
        XCTAssertTrue(episode.issues.hasErrors, "\(episode.issues)")
    }
}
