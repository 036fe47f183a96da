import Foundation
import RecordStore

/// Fresh store locations for tests: a SQLite file in a new temporary directory, or a new database on
/// the PostgreSQL server of `HSSK_TEST_POSTGRES_URL` (started by scripts/with-postgres).
public enum TestStores {
    /// The backends every store-touching test runs against.
    public enum Backend: String, Sendable, CaseIterable {
        case sqlite, postgres
    }

    /// Why a location could not be made.
    public struct Unavailable: Error, CustomStringConvertible {
        public var description: String
    }

    /// A new, empty location for `backend`.
    public static func freshLocation(_ backend: Backend) throws -> String {
        switch backend {
        case .sqlite:
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("hssk-test-\(UUID().uuidString.prefix(8))")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            return directory.appendingPathComponent("hssk.sqlite").path
        case .postgres:
            guard let base = ProcessInfo.processInfo.environment["HSSK_TEST_POSTGRES_URL"], !base.isEmpty,
                  var components = URLComponents(string: base) else {
                throw Unavailable(description: "HSSK_TEST_POSTGRES_URL is not set: run via scripts/with-postgres or make test")
            }
            let name = "hssk_t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(16)
            try run("psql", ["--quiet", "--no-psqlrc", "--dbname", base, "--command", "CREATE DATABASE \(name)"])
            components.path = "/" + name
            guard let url = components.string else { throw Unavailable(description: "bad HSSK_TEST_POSTGRES_URL") }
            return url
        }
    }

    /// A key ring written to a fresh file (for child processes) and loaded.
    public static func keyFile() throws -> (path: String, keys: KeyRing) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("hssk-keys-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent("keys.json").path
        let keys = try KeyRing.generate()
        try keys.write(to: path)
        return (path, keys)
    }

    /// Another process holding a SQLite store's write lock; `released()` waits for it to let go.
    public struct HeldLock: Sendable {
        let ended: Task<Int32, Never>

        /// Waits until the holder has committed and exited; fails if it did not exit cleanly.
        public func released() async throws {
            let status = await ended.value
            guard status == 0 else { throw Unavailable(description: "the lock holder exited \(status)") }
        }
    }

    /// Starts another process that takes `location`'s write lock (BEGIN EXCLUSIVE) for `seconds` and
    /// returns only once the lock is held, so what follows is sure to meet it.
    public static func holdSQLiteWriteLock(_ location: String, seconds: Double) async throws -> HeldLock {
        let marker = location + ".locked-\(UUID().uuidString.prefix(8))"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", """
            import sqlite3, sys, time
            c = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=60)
            c.execute('BEGIN EXCLUSIVE')
            open(sys.argv[2], 'w').close()
            time.sleep(float(sys.argv[3]))
            c.execute('COMMIT')
            """, location, marker, String(seconds)]
        let (statuses, continuation) = AsyncStream.makeStream(of: Int32.self)
        process.terminationHandler = { continuation.yield($0.terminationStatus); continuation.finish() }
        try process.run()
        let ended = Task { for await status in statuses { return status }; return -1 }
        let deadline = ContinuousClock.now + .seconds(60)
        while !FileManager.default.fileExists(atPath: marker) {
            guard ContinuousClock.now < deadline else {
                process.terminate()
                throw Unavailable(description: "the lock holder never took the lock")
            }
            if process.isRunning == false { throw Unavailable(description: "the lock holder exited \(await ended.value) before taking the lock") }
            try await Task.sleep(for: .milliseconds(20))
        }
        try? FileManager.default.removeItem(atPath: marker)
        return HeldLock(ended: ended)
    }

    /// Runs a tool from PATH and fails on a non-zero exit.
    public static func run(_ tool: String, _ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [tool] + arguments
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            throw Unavailable(description: "\(tool) failed: \(message)")
        }
    }
}
