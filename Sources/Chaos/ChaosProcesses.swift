import Foundation
import Synchronization

/// An `hssk` service run as a child process, as production runs it: its own store connection and
/// Kafka clients, its logs in a file, killed or stopped from outside.
final class ChaosProcess: Sendable {
    /// How a process ended.
    enum Ending: Sendable, Hashable, CustomStringConvertible {
        /// Exited with this status.
        case exited(Int32)
        /// Ended by this signal.
        case signalled(Int32)

        var description: String {
            switch self {
            case .exited(let status): return "exit \(status)"
            case .signalled(let signal): return "signal \(signal)"
            }
        }
    }

    /// What the run did to it, to tell an expected ending from a crash.
    enum Fate: Sendable {
        case running, killed, terminated
    }

    let name: String
    let logPath: String
    private let process: Process
    private let state = Shared<(fate: Fate, ending: Ending?)>((.running, nil))
    private let ended = DispatchSemaphore(value: 0)

    /// Starts `executable arguments`, appending stdout and stderr to `logPath`.
    init(name: String, executable: String, arguments: [String], logPath: String) throws {
        self.name = name
        self.logPath = logPath
        if !FileManager.default.fileExists(atPath: logPath) { _ = FileManager.default.createFile(atPath: logPath, contents: nil) }
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        log.seekToEndOfFile()
        process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        let state = state, ended = ended
        process.terminationHandler = { process in
            let ending: Ending = process.terminationReason == .uncaughtSignal ? .signalled(process.terminationStatus) : .exited(process.terminationStatus)
            state.update { $0.ending = ending }
            try? log.close()
            ended.signal()
        }
        try process.run()
    }

    var isRunning: Bool { state.value.ending == nil }

    /// SIGKILL: the way a machine or container dies.
    func kill9() {
        var running = false
        state.update { state in
            if state.ending == nil { state.fate = .killed }
            running = state.ending == nil
        }
        if running { kill(process.processIdentifier, SIGKILL) }
    }

    /// SIGTERM: a graceful stop (systemd, Kubernetes).
    func terminate() {
        var running = false
        state.update { state in
            if state.ending == nil { state.fate = .terminated }
            running = state.ending == nil
        }
        if running { kill(process.processIdentifier, SIGTERM) }
    }

    /// Waits (off the cooperative pool) up to `timeout` for the process to end; its ending, nil if it did not.
    func waitForEnd(timeout: Duration) async -> Ending? {
        let ended = ended
        let seconds = Double(timeout.components.seconds) + Double(timeout.components.attoseconds) / 1e18
        let done = await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            DispatchQueue.global().async { continuation.resume(returning: ended.wait(timeout: .now() + seconds) == .success) }
        }
        if done { ended.signal() }  // keep it signalled for later waiters
        return state.value.ending
    }

    /// What the run did to it and how it ended.
    var outcome: (fate: Fate, ending: Ending?) { state.value }

    /// The last `count` bytes of its log.
    func logTail(_ count: Int = 2_000) -> String {
        guard let data = FileManager.default.contents(atPath: logPath) else { return "" }
        return String(decoding: data.suffix(count), as: UTF8.self)
    }
}
