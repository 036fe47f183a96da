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
