import Dispatch
import Synchronization

/// Runs async work from a thread that may block (a librdkafka thread inside a rebalance callback):
/// the callback must not return before the store has answered, and it is not on the cooperative pool.
public func waitOnThisThread<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
    let done = DispatchSemaphore(value: 0)
    let result = Mutex<Result<T, any Error>?>(nil)
    Task {
        let value: Result<T, any Error>
        do { value = .success(try await body()) } catch { value = .failure(error) }
        result.withLock { $0 = value }
        done.signal()
    }
    done.wait()
    return try result.withLock { $0! }.get()
}
