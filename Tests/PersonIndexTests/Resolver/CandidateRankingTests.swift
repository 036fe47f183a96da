import HealthModel
@testable import PersonIndex
import RecordStore
import XCTest

/// Which stored persons the resolver scores for a record: most shared blocking keys first, then the
/// smallest shared block; far behind the best and beyond two single-key namesakes is left out.
final class CandidateRankingTests: XCTestCase {
    func testRankingKeepsTheBestPlacedAndBoundsTheRest() {
        let p = (1...9).map { PersonID(Int64($0)) }
        let blocks: [String: [PersonID]] = [
            "fgy": [p[0], p[1], p[2], p[3], p[4], p[5]],  // a common name and year: many namesakes
            "gd": [p[0]], "fd": [p[0], p[6]], "ld": [p[0], p[7]], "lfg": [p[0], p[1]], "ph": [p[8]],
        ]
        let keys = ["fgy", "gd", "fd", "ld", "lfg", "ph"]
        XCTAssertEqual(BatchState.ranked(keys, in: blocks, limit: 5), [p[0]], "five shared keys leave two-key and one-key persons far behind")
        // Without the record's own person: two-key p1 first, then single-key persons, smallest block first, two at most.
        let others = blocks.mapValues { $0.filter { $0 != p[0] } }
        XCTAssertEqual(BatchState.ranked(keys, in: others, limit: 5), [p[1], p[6], p[7]])
        XCTAssertEqual(BatchState.ranked(keys, in: others, limit: 1), [p[1]])
        XCTAssertEqual(BatchState.ranked(["fgy"], in: others, limit: 5), [p[1], p[2]], "at most two single-key namesakes, lowest ids on a tie")
        XCTAssertEqual(BatchState.ranked(keys, in: [:], limit: 5), [])
    }
}
