import Linkage
import XCTest

/// The guards around EM's m/u: what makes a model unsound, and the bounds put on an estimate.
final class MatchModelChecksTests: XCTestCase {
    func testDefaultsAreSound() {
        XCTAssertEqual(MatchModel.defaults.degeneracies(), [])
        XCTAssertEqual(MatchModel.defaults.bounded(by: .defaults), .defaults, "the defaults are within their own bounds")
    }

    func testUnsoundModels() {
        var nan = MatchModel.defaults
        nan.u[ComparedField.birthDate.rawValue][2] = .nan
        XCTAssertTrue(nan.degeneracies().contains { $0.hasPrefix("birthDate: u holds nan") }, "\(nan.degeneracies())")
        var unnormalised = MatchModel.defaults
        unnormalised.m[ComparedField.locality.rawValue] = [0, 0.5, 0.9]
        XCTAssertTrue(unnormalised.degeneracies().contains { $0.hasPrefix("locality: m sums to") })
        var namesCountFor = MatchModel.defaults
        namesCountFor.m[ComparedField.name.rawValue] = [0, 0.96, 0.01, 0.01, 0.02]
        XCTAssertTrue(namesCountFor.degeneracies().contains { $0.hasPrefix("name: disagreement") }, "\(namesCountFor.degeneracies())")
        var addressNoEvidence = MatchModel.defaults
        addressNoEvidence.m[ComparedField.address.rawValue] = [0, 0.11, 0.89]
        addressNoEvidence.u[ComparedField.address.rawValue] = [0, 0.1, 0.9]
        XCTAssertEqual(addressNoEvidence.degeneracies(), [], "agreement on a weak field may be no evidence")
    }

    func testBoundsOnAnEstimate() {
        var estimate = MatchModel.defaults
        let name = ComparedField.name.rawValue, address = ComparedField.address.rawValue
        // EM saw no similar name among matches, and no address disagreement while strangers rarely disagree.
        estimate.m[name] = [0, 0.01, 0, 0.04, 0.95]
        estimate.m[address] = [0, 0, 1]
        estimate.u[address] = [0, 0.012, 0.988]
        // Random pairs say strangers almost never share a birth date: +17 bits, enough for twins to outvote their names.
        let birth = ComparedField.birthDate.rawValue
        estimate.u[birth] = [0, 0.99, 0.00995, 0.00004, 0.00001]
        XCTAssertGreaterThan(estimate.weight(.birthDate, 4), 16)
        let bounded = estimate.bounded(by: .defaults)
        XCTAssertEqual(bounded.weight(.birthDate, 4), MatchModel.defaults.weight(.birthDate, 4) + 1, accuracy: 1e-9, "at most one bit above the default")
        XCTAssertLessThan(bounded.weight(.birthDate, 1), -4, "disagreement keeps its weight")
        XCTAssertLessThan(estimate.weight(.name, 2), -10)
        XCTAssertGreaterThan(bounded.weight(.name, 2), -3.5, "an unseen level keeps a tenth of its default m (log2(0.005 / 0.04) = -3)")
        XCTAssertLessThanOrEqual(bounded.weight(.address, 1), 1e-9, "disagreement never counts for a match")
        for field in ComparedField.allCases {
            XCTAssertEqual(bounded.m[field.rawValue].dropFirst().reduce(0, +), 1, accuracy: 1e-9)
            XCTAssertEqual(bounded.u[field.rawValue].dropFirst().reduce(0, +), 1, accuracy: 1e-6)
        }
        XCTAssertEqual(bounded.degeneracies(), [])
    }
}
