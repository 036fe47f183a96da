import Foundation

/// A long-running part of hssk (broker, ingest, feed publisher, ...). Cancellation means shutdown:
/// finish the current unit of work, release resources, return.
public protocol Service: Sendable {
    /// A short name for logs.
    var name: String { get }
    /// Runs until cancelled or failed.
    func run() async throws
}

/// Runs services together until SIGINT/SIGTERM, then cancels them and waits for each to finish.
public enum ServiceRunner {
    /// Runs `services`; returns normally after SIGINT/SIGTERM, rethrows the first failure.
    public static func run(_ services: [any Service]) async throws {
        TerminationSignal.install()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for service in services { group.addTask { try await service.run() } }
            group.addTask {
                await TerminationSignal.wait()
                throw CancellationError()
            }
            do {
                // Services run until cancelled; the first one to return or throw ends the whole set.
                try await group.next()
                group.cancelAll()
            } catch is CancellationError {
                group.cancelAll()
            } catch {
                group.cancelAll()
                throw error
            }
        }
    }
}

/// SIGINT/SIGTERM through the self-pipe pattern: the handler only writes one byte (async-signal-safe),
/// whichever thread the kernel picks; a waiting thread reads it.
private enum TerminationSignal {
    /// Read end and write end; created before any handler can run.
    static let pipeEnds: [Int32] = {
        var ends: [Int32] = [-1, -1]
        _ = pipe(&ends)
        return ends
    }()

    static func install() {
        _ = pipeEnds
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { _ in
            var byte: UInt8 = 1
            _ = write(TerminationSignal.pipeEnds[1], &byte, 1)
        }
        sigemptyset(&action.sa_mask)
        sigaction(SIGINT, &action, nil)
        sigaction(SIGTERM, &action, nil)
    }

    /// Returns once a signal arrived; the blocking read happens on a thread of its own.
    static func wait() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let thread = Thread {
                var byte: UInt8 = 0
                while read(pipeEnds[0], &byte, 1) < 0 && errno == EINTR {}
                continuation.resume()
            }
            thread.name = "hssk-signals"
            thread.start()
        }
    }
}
