import Foundation

/// The production backend: PostgreSQL through libpq.
public final class PostgresStore: SQLStore, @unchecked Sendable {
    // @unchecked Sendable: adds only an immutable `String` to `SQLStore` (see there).
    /// The connection URL.
    public let url: String

    private init(url: String, thread: StoreThread, box: EngineBox) {
        self.url = url
        super.init(backendName: "postgres", thread: thread, box: box)
    }

    /// Connects to `url` (`postgres://…`) and migrates the schema if needed (an empty database is
    /// refused when `mustExist`); a writer waiting longer than `lockTimeout` for another gets `.busy`.
    public static func open(url: String, keys: KeyRing, lockTimeout: Duration = .seconds(15), mustExist: Bool = false) async throws -> PostgresStore {
        let ms = Int(lockTimeout.components.seconds * 1000 + lockTimeout.components.attoseconds / 1_000_000_000_000_000)
        let (thread, box) = try await start(name: "postgres", connect: { try PostgresConnection(url: url, lockTimeoutMs: ms) }, keys: keys, mustExist: mustExist)
        return PostgresStore(url: url, thread: thread, box: box)
    }

    /// A plain-SQL `pg_dump` (with DROP … IF EXISTS first, so it restores over an existing store).
    public override func backup(to directory: String) async throws -> String {
        try Self.prepareDirectory(directory)
        let destination = (directory as NSString).appendingPathComponent(Self.backupName("sql"))
        let url = self.url
        // pg_dump is a child process: waiting for it blocks, so it runs on the store thread too.
        return try await onThread { engine in
            try engine.audit(actor: "backup", action: "backup", subject: "store", detail: "to=\((destination as NSString).lastPathComponent)")
            try PostgresTools.run("pg_dump", ["--format=plain", "--clean", "--if-exists", "--no-owner", "--no-privileges",
                                              "--file", destination, "--dbname", url])
            _ = chmod(destination, 0o600)
            return destination
        }
    }
}

/// Runs PostgreSQL client programs (`pg_dump`, `psql`) found on PATH or under /usr/lib/postgresql.
enum PostgresTools {
    static func find(_ program: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        var candidates = path.split(separator: ":").map { "\($0)/\(program)" }
        if let versions = try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql") {
            candidates += versions.sorted(by: >).map { "/usr/lib/postgresql/\($0)/bin/\(program)" }
        }
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Runs a program to completion; a non-zero exit becomes `.backend` with its stderr.
    static func run(_ program: String, _ arguments: [String]) throws(StoreError) {
        guard let executable = find(program) else { throw StoreError.backend("\(program) not found (install postgresql-client)") }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        do { try process.run() } catch { throw StoreError.backend("cannot run \(program): \(error)") }
        let message = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw StoreError.backend("\(program) exited with \(process.terminationStatus): \(String(decoding: message, as: UTF8.self).prefix(2000))")
        }
    }

    /// Restores a plain-SQL dump into the database at `url` in one transaction.
    static func restore(backup: String, to url: String) throws(StoreError) {
        guard FileManager.default.fileExists(atPath: backup) else { throw StoreError.invalidRequest("no backup file '\(backup)'") }
        try run("psql", ["-X", "-q", "-v", "ON_ERROR_STOP=1", "--single-transaction", "--file", backup, "--dbname", url])
    }
}
