@testable import Tooling
import XCTest

final class KafkaBenchTests: XCTestCase {
    /// A stray round (here 1.6 M/s among 0.24 M/s) does not become the result.
    func testTheMedianOfRoundsIgnoresAStray() {
        XCTAssertEqual(KafkaBench.median([1_624_732, 235_797, 237_096]), 237_096)
        XCTAssertEqual(KafkaBench.median([4, 1, 3, 2]), 2.5)
        XCTAssertEqual(KafkaBench.median([7]), 7)
        XCTAssertEqual(KafkaBench.median([]), 0)
    }
}
