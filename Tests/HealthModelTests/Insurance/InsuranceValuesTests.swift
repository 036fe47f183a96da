import Foundation
@testable import HealthModel
import XCTest

/// The insurance values: card state folding (effective order, not arrival order), and the supplement
/// and acknowledgement examples of the topic catalogue through the Swift decoder.
final class InsuranceValuesTests: XCTestCase {
    private func holder(_ name: String = "Phạm Văn Đức", phone: String? = "0987654321", personalId: String? = "031085004321") -> PersonDetails {
        PersonDetails(fullName: name, birthDate: "1985-06-15", sex: 1, personalId: personalId, phone: phone)
    }

    private func change(_ kind: InsuranceCardChange.ChangeKind, _ effective: String, code: String = "DN4310123456789",
                        holder: PersonDetails? = nil, validTo: String? = nil, reason: String? = nil) -> InsuranceCardChange {
        var c = InsuranceCardChange(kind: kind, cardCode: code, bhxhNumber: "0123456789", holder: holder ?? self.holder(), effectiveAt: effective)
        if let validTo {
            c.validFrom = effective
            c.validTo = validTo
        }
        c.reason = reason
        return c
    }

    /// Every arrival order of the same changes.
    private func permutations<T>(_ items: [T]) -> [[T]] {
        guard items.count > 1 else { return [items] }
        return items.indices.flatMap { i -> [[T]] in
            var rest = items
            let head = rest.remove(at: i)
            return permutations(rest).map { [head] + $0 }
        }
    }

    func testFoldIsTheSameInEveryArrivalOrder() throws {
        let changes = [
            change(.issued, "2025-01-01", validTo: "2025-12-31"),
            change(.suspended, "2025-07-01", reason: "Doanh nghiệp ngừng đóng BHYT"),
            change(.holderCorrected, "2025-09-10", code: "0123456789", holder: holder("Phạm Văn Đức Anh", phone: "0912000111")),
            change(.renewed, "2026-01-01", code: "HT3310123456789", holder: holder("Phạm Văn Đức Anh", phone: nil), validTo: "2026-12-31"),
        ]
        let states = permutations(changes).map { InsuranceCardState.fold($0) }
        let expected = try XCTUnwrap(InsuranceCardState.fold(changes))
        for state in states { XCTAssertEqual(state, expected) }
        XCTAssertEqual(expected.status, .active, "the renewal (2026) comes after the suspension (2025-07)")
        XCTAssertEqual(expected.validFrom, "2026-01-01")
        XCTAssertEqual(expected.validTo, "2026-12-31")
        XCTAssertEqual(expected.cardCode, "HT3310123456789")
        XCTAssertEqual(expected.group, "HT")
        XCTAssertEqual(expected.benefitLevel, 3)
        XCTAssertEqual(expected.holder.fullName, "Phạm Văn Đức Anh")
        XCTAssertEqual(expected.holder.phone, "0912000111", "a holder field BHXH omits keeps its last known value")
        XCTAssertEqual(expected.holder.personalId, "031085004321")
        XCTAssertEqual(expected.lastChange, .renewed)
        XCTAssertEqual(expected.changes, 4)
        XCTAssertTrue(expected.isValid(on: "2026-06-01"))
        XCTAssertFalse(expected.isValid(on: "2025-08-01"), "validity is the renewed card's")
        XCTAssertFalse(expected.isValid(on: "2027-01-01"))
    }

    func testLateSuspensionWinsAndArrivalOrderBreaksTies() throws {
        let issued = change(.issued, "2025-01-01", validTo: "2025-12-31")
        let suspended = change(.suspended, "2025-03-01", reason: "Người tham gia đã chết")
        // Arrives first, takes effect last.
        let state = try XCTUnwrap(InsuranceCardState.fold([suspended, issued]))
        XCTAssertEqual(state.status, .suspended)
        XCTAssertEqual(state.suspensionReason, "Người tham gia đã chết")
        XCTAssertFalse(state.isValid(on: "2025-06-01"))
        // Same effective day: the later arrival is applied last.
        let reinstated = change(.changed, "2025-03-01", validTo: "2025-12-31")
        XCTAssertEqual(InsuranceCardState.fold([issued, suspended, reinstated])?.status, .active)
        XCTAssertEqual(InsuranceCardState.fold([issued, reinstated, suspended])?.status, .suspended)
        XCTAssertNil(InsuranceCardState.fold([]))
    }

    func testPersonalIDCardFormIsInsurancesPersonalID() throws {
        let state = try XCTUnwrap(InsuranceCardState.fold([change(.issued, "2025-01-01", code: "031085004321", holder: holder(personalId: nil),
                                                                  validTo: "2025-12-31")]))
        XCTAssertEqual(state.holder.personalId, "031085004321")
        XCTAssertNil(state.group)
    }

    // MARK: - Examples

    private func examples(_ topic: String) throws -> [(name: String, folder: String, data: Data, errors: [String])] {
        let dir = TopicExamplesTests.topicsURL.appendingPathComponent("examples").appendingPathComponent(topic)
        struct Manifest: Decodable {
            struct Entry: Decodable { var errors: [String]? }
            var examples: [String: Entry]
        }
        let manifest = try JSONDecoder().decode(Manifest.self, from: Data(contentsOf: dir.appendingPathComponent("expected.json")))
        var out: [(String, String, Data, [String])] = []
        for folder in ["valid", "invalid"] {
            let files = try FileManager.default.contentsOfDirectory(at: dir.appendingPathComponent(folder), includingPropertiesForKeys: nil)
                .filter { $0.pathExtension == "json" }.sorted { $0.lastPathComponent < $1.lastPathComponent }
            XCTAssertGreaterThanOrEqual(files.count, 3, "\(topic)/\(folder) needs several examples")
            for file in files {
                out.append(("\(topic)/\(folder)/\(file.lastPathComponent)", folder, try Data(contentsOf: file),
                            manifest.examples["\(folder)/\(file.lastPathComponent)"]?.errors ?? []))
            }
        }
        return out
    }

    private func check<Value: ValidatedValue>(_ topic: String, as type: Value.Type) throws {
        for example in try examples(topic) {
            let result = RecordDecoder.decode(example.data, as: type)
            if example.folder == "valid" {
                XCTAssertNotNil(result.record, example.name)
                XCTAssertEqual(result.issues.errors, [], example.name)
            } else {
                XCTAssertTrue(result.issues.hasErrors, "\(example.name) should be rejected")
            }
            for code in example.errors {
                XCTAssertTrue(result.issues.errors.contains { $0.code == code }, "\(example.name): expected \(code), got \(result.issues)")
            }
        }
    }

    func testSupplementExamplesGetTheVerdictOfTheirFolder() throws {
        try check("hssk.insurance.supplements.v1", as: InsuranceSupplement.self)
    }

    func testAckExamplesGetTheVerdictOfTheirFolder() throws {
        try check("hssk.insurance.acks.v1", as: InsuranceAck.self)
    }

    func testEncodedSupplementDecodesToItself() throws {
        let supplement = InsuranceSupplement(
            supplementId: "SUP-1", bhxhNumber: "0123456789", generatedAt: "2025-10-01T01:00:00.000Z", field: .fullName, value: "Đỗ Văn Đạt",
            insuranceValue: "Đỗ Văn Dat", evidence: .init(topic: "hssk.registry.v1", sender: "01I29_lt_anv", recordKey: "01I29:EV-5",
                                                          recordType: "demographicCorrection", time: "2025-10-02"))
        let decoded = RecordDecoder.decode(Data(supplement.encoded()), as: InsuranceSupplement.self)
        XCTAssertEqual(decoded.record, supplement)
        XCTAssertEqual(decoded.issues, [])
    }
}
