import Foundation
import HealthModel
import XCTest
@testable import Linkage

final class ComparatorTests: XCTestCase {
    func testJaroWinklerKnownValues() {
        XCTAssertEqual(StringSimilarity.jaroWinkler("martha", "marhta"), 0.961, accuracy: 0.001)
        XCTAssertEqual(StringSimilarity.jaroWinkler("dwayne", "duane"), 0.84, accuracy: 0.001)
        XCTAssertEqual(StringSimilarity.jaroWinkler("dixon", "dicksonx"), 0.813, accuracy: 0.001)
        XCTAssertEqual(StringSimilarity.jaroWinkler("nguyen", "nguyen"), 1)
        XCTAssertEqual(StringSimilarity.jaroWinkler("", "an"), 0)
        XCTAssertEqual(StringSimilarity.editDistance("kitten", "sitting"), 3)
        XCTAssertEqual(StringSimilarity.editDistance("abc", "abcdefgh", limit: 2), 3)
        XCTAssertEqual(StringSimilarity.editDistance("hci", "chi"), 1, "a swap of neighbours is one typo")
        XCTAssertEqual(StringSimilarity.editDistance("dta", "dat", limit: 1), 1)
        XCTAssertEqual(StringSimilarity.editDistance("abcd", "badc", limit: 1), 2)
    }

    func testNameLevelsFoldVietnameseAndSeeOrderVariants() {
        func profile(_ name: String) -> PersonProfile {
            PersonProfile(PersonDetails(fullName: name, birthDate: "1980-01-02", sex: 1))
        }
        let an = profile("Nguyễn Văn An")
        XCTAssertEqual(ComparisonVector(an, profile("NGUYEN VAN AN"))[.name], 4, "case and diacritics fold")
        XCTAssertEqual(ComparisonVector(an, profile("Nguyễn Văn An".decomposedStringWithCanonicalMapping))[.name], 4, "NFD folds")
        XCTAssertEqual(ComparisonVector(profile("Đặng Thị Hoa"), profile("Dang Thi Hoa"))[.name], 4, "đ folds to d")
        XCTAssertEqual(ComparisonVector(an, profile("Nguyễn Văn Ann"))[.name], 3, "a typo is close")
        XCTAssertEqual(ComparisonVector(an, profile("An Nguyễn Văn"))[.name], 3, "given name first")
        XCTAssertEqual(ComparisonVector(an, profile("Trần Thị Mai"))[.name], 1)
        XCTAssertEqual(ComparisonVector(an, profile("Nguyễn Hữu An"))[.name], 3, "another middle name is only close")
        XCTAssertEqual(ComparisonVector(an, profile("Nguyễn An"))[.name], 4, "a missing middle name is no evidence")
    }

    func testNewbornPlaceholderNamesAndPhoneAreTheMothers() {
        var details = PersonDetails(fullName: "Con bà Trần Thị Chi", birthDate: "2025-10-05", sex: 1, phone: "0912345678")
        details.address = Address(text: "Số 9 Kim Mã", communeCode: "00301")
        let placeholder = PersonProfile(details)
        XCTAssertFalse(placeholder.hasName)
        XCTAssertNil(placeholder.phone)
        XCTAssertEqual(placeholder.locality, "00301")
        XCTAssertFalse(PersonProfile(PersonDetails(fullName: "CON BA Tran Thi Chi", birthDate: "2025", sex: 2)).hasName)
        XCTAssertTrue(PersonProfile(PersonDetails(fullName: "Công Văn Bá", birthDate: "1990", sex: 1)).hasName)
        XCTAssertEqual(ComparisonVector(placeholder, PersonProfile(PersonDetails(fullName: "Trần Thị Chi", birthDate: "1995", sex: 2)))[.name], 0)
    }

    func testDateLevelsNeverInventADay() throws {
        func level(_ a: String, _ b: String) throws -> Int {
            ComparisonVector.dateLevel(try PartialDate(iso: a), try PartialDate(iso: b))
        }
        XCTAssertEqual(try level("1958-03-07", "1958-03-07"), 4)
        XCTAssertEqual(try level("1958-03-07", "1958-07-03"), 3, "day and month swapped")
        XCTAssertEqual(try level("1958", "1958-03-07"), 2, "year-only agrees on the year, no more")
        XCTAssertEqual(try level("1958-03-07", "1959-03-07"), 2, "one year off")
        XCTAssertEqual(try level("1958-03-07", "1972-11-20"), 1)
    }

    func testWeightsRewardAgreementAndPenaliseDisagreement() {
        let model = MatchModel.defaults
        for field in ComparedField.allCases {
            XCTAssertGreaterThan(model.weight(field, field.levels - 1), 0, "\(field) agreement")
            XCTAssertLessThan(model.weight(field, 1), 0, "\(field) disagreement")
            XCTAssertEqual(model.weight(field, 0), 0, "\(field) missing is no evidence")
        }
        // A very common exact name is weaker evidence than a rare one.
        let vector = ComparisonVector(PersonProfile(family: "nguyen", given: "an", birthDate: nil),
                                      PersonProfile(family: "nguyen", given: "an", birthDate: nil))
        XCTAssertLessThan(model.score(vector, nameFrequency: 0.05), model.score(vector, nameFrequency: 0.0001))
    }
}

final class LinkerScenarioTests: XCTestCase {
    private func details(_ name: String, _ birth: String, sex: Int = 1, phone: String? = nil, commune: String? = "00256") -> PersonProfile {
        var details = PersonDetails(fullName: name, birthDate: birth, sex: sex, phone: phone)
        details.address = Address(text: "Số 1 Phố Huế", provinceCode: "01", communeCode: commune)
        return PersonProfile(details)
    }

    func testSamePersonViaCCCDThenBHYTThenNameWithTypo() {
        var linker = IncrementalLinker()
        let first = linker.link(details("Nguyễn Văn An", "1958-03-07", phone: "0912345678"), identifiers: ["pid:001058012345", "bhxh:0123456789"])
        guard case let .new(person) = first.outcome else { return XCTFail("\(first)") }
        let byCard = linker.link(details("Nguyen Van An", "1958-03-07"), identifiers: ["bhxh:0123456789"])
        XCTAssertEqual(byCard.outcome, .link(person: person))
        XCTAssertEqual(byCard.rule, "identifier")
        let byName = linker.link(details("Nguyễn Văn Ann", "1958-03-07", phone: "0912345678"))
        XCTAssertEqual(byName.outcome, .link(person: person), "score \(byName.score ?? 0)")
        XCTAssertEqual(byName.rule, "probabilistic")
        XCTAssertGreaterThan(byName.evidence[.phone] ?? 0, 0, "the evidence names the fields that agreed")
    }

    func testSameCommonNameAndBirthYearStayApart() {
        var linker = IncrementalLinker()
        let a = linker.link(details("Nguyễn Văn Hùng", "1980-04-12", phone: "0912000001", commune: "00256"))
        let b = linker.link(details("Nguyễn Văn Hùng", "1980-09-30", phone: "0987000002", commune: "00301"))
        guard case .new = a.outcome else { return XCTFail("\(a)") }
        if case .link = b.outcome { XCTFail("two different people were merged: \(b)") }
    }

    func testDifferentPersonalIDsNeverLinkHoweverSimilar() {
        var linker = IncrementalLinker()
        _ = linker.link(details("Phạm Văn Nam", "1975-06-15", phone: "0912111222"), identifiers: ["pid:001075000001"])
        let other = linker.link(details("Phạm Văn Nam", "1975-06-15", phone: "0912111222"), identifiers: ["pid:001075000002"])
        if case .link = other.outcome { XCTFail("two different personal IDs were merged: \(other)") }
        let same = linker.link(details("Phạm Văn Nam", "1975-06-15", phone: "0912111222"))
        guard case .review = same.outcome else { return XCTFail("two equally strong candidates must go to review: \(same)") }
    }

    func testTwinsStayApart() {
        var linker = IncrementalLinker()
        _ = linker.link(details("Lê Minh Khang", "2020-05-01", phone: nil))
        let twin = linker.link(details("Lê Minh Khôi", "2020-05-01", phone: nil))
        if case .link = twin.outcome { XCTFail("twins were merged: \(twin)") }
    }

    /// Term frequencies: the commonest names weigh less than the average name, rare ones more, within bounds.
    func testNameFrequenciesWeighCommonNamesLess() {
        let table = NameFrequencies.vietnamese
        let common = table.adjustment(details("Nguyễn Văn Hùng", "1980"))
        let rare = table.adjustment(details("Lý Thị Khuê", "1980"))
        XCTAssertLessThan(common, -1)
        XCTAssertGreaterThan(rare, 1)
        XCTAssertLessThanOrEqual(rare, table.bounds.upperBound)
        let matcher = ProbabilisticMatcher()
        let score = { (name: String) in
            matcher.decide(self.details(name, "1980-03-07"), candidates: [(1, self.details(name, "1980-03-07"))]).score ?? 0
        }
        XCTAssertEqual(score("Lý Thị Khuê") - score("Nguyễn Văn Hùng"), rare - common, accuracy: 1e-9)
        let withoutTable = ProbabilisticMatcher(nameFrequencies: nil).decide(details("Nguyễn Văn Hùng", "1980-03-07"),
                                                                             candidates: [(1, details("Nguyễn Văn Hùng", "1980-03-07"))])
        XCTAssertEqual((withoutTable.score ?? 0) + common, score("Nguyễn Văn Hùng"), accuracy: 1e-9)
    }

    /// The household's phone and address agree for twins too: they must not outvote another given name.
    func testTwinsSharingPhoneAndAddressStayApart() {
        var linker = IncrementalLinker()
        _ = linker.link(details("Phạm Thị Hoa", "2019-02-14", sex: 2, phone: "0987654321"))
        let twin = linker.link(details("Phạm Thị Hồng", "2019-02-14", sex: 2, phone: "0987654321"))
        if case .link = twin.outcome { XCTFail("twins were merged: \(twin)") }
        _ = linker.link(details("Lê Minh Tuấn", "2021-06-01", phone: "0912000111"))
        let similar = linker.link(details("Lê Minh Tuyến", "2021-06-01", phone: "0912000111"))
        if case .link = similar.outcome { XCTFail("twins with similar given names were merged: \(similar)") }
        let again = linker.link(details("Phạm Thị Hoa", "2019-02-14", sex: 2, phone: "0987654321"))
        XCTAssertEqual(again.outcome, .link(person: 0), "the same girl again is linked")
    }

    func testCloseCallGoesToReviewNotLink() {
        var linker = IncrementalLinker()
        _ = linker.link(details("Trần Thị Mai", "1990-02-03", sex: 2))
        let partial = linker.link(details("Tran Thi Mai", "1990", sex: 2, commune: nil))
        switch partial.outcome {
        case .review: break
        case .new: break  // also safe: never a guessed merge
        case .link: XCTFail("a name and a birth year alone must not merge: \(partial)")
        }
    }
}

final class FEBRLEvaluationTests: XCTestCase {
    /// The FEBRL sets of Tests/Data/febrl (issue 6 target: F1 ≥ 0.95; no false links is the priority).
    func testFEBRLDeduplicationQuality() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Data/febrl")
        for file in ["dataset1.csv", "dataset2.csv", "dataset3.csv"] {
            let scores = try FEBRLDataSet.evaluate(root.appendingPathComponent(file))
            print("FEBRL \(file): precision \(scores.precision) recall \(scores.recall) f1 \(scores.f1) pairs \(scores.pairsCompared)")
            XCTAssertGreaterThanOrEqual(scores.precision, 0.999, file)
            XCTAssertGreaterThanOrEqual(scores.f1, 0.95, file)
        }
    }
}

