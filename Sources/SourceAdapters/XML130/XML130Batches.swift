import Foundation
import Synchronization

extension XML130Reader {
    /// The episodes of `file` in batches, parsed on a dedicated thread (parsing blocks; it must not
    /// occupy the cooperative pool). At most two batches wait unread, so a 200 MB file is never held
    /// in memory: the parser pauses until the consumer catches up. File-level problems end the
    /// sequence with an `XML130Error`.
    public static func batches(file: URL, label: String? = nil, batchSize: Int = 500) -> XML130BatchSequence {
        let (stream, continuation) = AsyncThrowingStream<[XML130Episode], any Error>.makeStream()
        let gate = BatchGate(credits: 2)
        continuation.onTermination = { _ in gate.cancel() }
        let thread = Thread {
            var batch: [XML130Episode] = []
            func flush() -> Bool {
                guard !batch.isEmpty else { return true }
                guard gate.acquire() else { return false }
                continuation.yield(batch)
                batch = []
                return true
            }
            do throws(XML130Error) {
                try read(file: file, label: label) { episode in
                    batch.append(episode)
                    return batch.count < batchSize || flush()
                }
                _ = flush()
                continuation.finish()
            } catch {
                _ = flush()
                continuation.finish(throwing: error)
            }
        }
        thread.name = "hssk-xml130-reader"
        thread.start()
        return XML130BatchSequence(base: stream, gate: gate)
    }
}

/// Batches of episodes of one file; taking a batch lets the parser read on.
public struct XML130BatchSequence: AsyncSequence, Sendable {
    public typealias Element = [XML130Episode]
    fileprivate let base: AsyncThrowingStream<[XML130Episode], any Error>
    fileprivate let gate: BatchGate

    /// Iterates the batches.
    public struct AsyncIterator: AsyncIteratorProtocol {
        fileprivate var base: AsyncThrowingStream<[XML130Episode], any Error>.AsyncIterator
        fileprivate let gate: BatchGate

        /// The next batch; nil at the end; throws `XML130Error` for a file-level problem.
        public mutating func next() async throws -> [XML130Episode]? {
            let batch = try await base.next()
            gate.release()
            return batch
        }
    }

    /// Starts iterating (once per sequence).
    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(base: base.makeAsyncIterator(), gate: gate) }
}

/// Back-pressure between the parsing thread and the consumer: a batch needs a credit; the consumer
/// returns one per batch it takes.
private final class BatchGate: Sendable {
    private let credits: DispatchSemaphore
    private let cancelled = Atomic<Bool>(false)

    init(credits: Int) {
        self.credits = DispatchSemaphore(value: credits)
    }

    /// Waits for a credit; false once the consumer went away.
    func acquire() -> Bool {
        credits.wait()
        return !cancelled.load(ordering: .acquiring)
    }

    func release() { credits.signal() }

    func cancel() {
        cancelled.store(true, ordering: .releasing)
        credits.signal()
    }
}
