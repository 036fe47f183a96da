import Foundation
@testable import ServiceRuntime
import XCTest

/// `ServiceRunner`: a failing service ends the set, and nothing waits for a signal that never comes.
final class ServiceRunnerTests: XCTestCase {
    private struct Failing: Service {
        struct Failure: Error {}
        var name: String { "failing" }
        func run() async throws {
            try await Task.sleep(for: .milliseconds(50))
            throw Failure()
        }
    }

    private struct Idle: Service {
        var name: String { "idle" }
        func run() async throws {
            while true { try await Task.sleep(for: .seconds(1)) }
        }
    }

    func testAFailingServiceStopsTheOthersAndItsErrorComesBack() async throws {
        let started = ContinuousClock.now
        do {
            try await ServiceRunner.run([Idle(), Failing()])
            XCTFail("the failure should come back")
        } catch is Failing.Failure {
        }
        XCTAssertLessThan(ContinuousClock.now - started, .seconds(10), "returned without a signal")
    }

    func testUntilTerminatedReturnsTheBodysResult() async throws {
        let result = try await ServiceRunner.untilTerminated { 42 }
        XCTAssertEqual(result, 42)
        do {
            _ = try await ServiceRunner.untilTerminated { () async throws -> Int in throw Failing.Failure() }
            XCTFail("the failure should come back")
        } catch is Failing.Failure {
        }
    }
}
