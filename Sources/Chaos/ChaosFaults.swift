import CPostgres
import CSQLite
import Foundation
import Kafka
import RecordStore

/// The store failing while ingest works: SQLite held locked by another writer; PostgreSQL with the
/// store's write lock held, its connections cut, or (given a command) the server restarted.
struct StoreFaults: Sendable {
    let location: String
    /// Restarts the PostgreSQL server (e.g. `pg_ctl -D … -m fast restart`), when given.
    let restartCommand: String?

    /// The store's writers' lock on PostgreSQL (`PostgresConnection.beginWrite`'s advisory lock).
    static let postgresWriteLock = 4_853_384

    var isPostgres: Bool { RecordStores.isPostgres(location) }

    /// Blocks every writer for `duration`; returns what was done, for the run's log.
    func holdLocked(for duration: Duration) async throws -> String {
        let seconds = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        let location = location, isPostgres = isPostgres
        // The lock is held by a thread of its own: sleeping while holding it must not take a pool thread.
        try await onOwnThread {
            if isPostgres {
                let connection = try Self.postgres(location)
                defer { PQfinish(connection) }
                try Self.exec(connection, "SELECT pg_advisory_lock(\(Self.postgresWriteLock))")
                Thread.sleep(forTimeInterval: seconds)
                try Self.exec(connection, "SELECT pg_advisory_unlock(\(Self.postgresWriteLock))")
            } else {
                var db: OpaquePointer?
                guard sqlite3_open(location, &db) == SQLITE_OK, let db else { throw StoreError.backend("chaos: cannot open \(location)") }
                defer { sqlite3_close(db) }
                sqlite3_busy_timeout(db, 30_000)
                guard sqlite3_exec(db, "BEGIN EXCLUSIVE", nil, nil, nil) == SQLITE_OK else {
                    throw StoreError.busy("chaos: could not take the lock: \(String(cString: sqlite3_errmsg(db)))")
                }
                Thread.sleep(forTimeInterval: seconds)
                sqlite3_exec(db, "COMMIT", nil, nil, nil)
            }
        }
        return "store locked \(Int(seconds * 1000)) ms"
    }

    /// Cuts every other connection to the store's database (PostgreSQL).
    func cutConnections() throws -> String {
        let connection = try Self.postgres(location)
        defer { PQfinish(connection) }
        try Self.exec(connection, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")
        return "store connections cut"
    }

    /// Restarts the server with the given command (PostgreSQL), waiting for it.
    func restart() async throws -> String? {
        guard let restartCommand else { return nil }
        // posix_spawn + waitpid on a thread of its own: Foundation's Process lost the end of this
        // command (pg_ctl leaves a daemon behind) and the run waited for ever.
        let status: Int32 = try await onOwnThread {
            var pid: pid_t = 0
            let words: [String] = ["/bin/sh", "-c", restartCommand]
            let argv: [UnsafeMutablePointer<CChar>?] = words.map { strdup($0) } + [nil]
            defer { for arg in argv { free(arg) } }
            guard posix_spawn(&pid, "/bin/sh", nil, nil, argv, environ) == 0 else { throw StoreError.backend("chaos: cannot run the restart command") }
            var status: Int32 = 0
            while waitpid(pid, &status, 0) == -1 {
                guard errno == EINTR else { return 0 }  // reaped elsewhere: its status is unknown, the server is checked by use
            }
            return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        }
        guard status == 0 else { throw StoreError.backend("chaos: the store restart command exited \(status)") }
        return "store server restarted"
    }

    private static func postgres(_ url: String) throws -> OpaquePointer {
        guard let connection = PQconnectdb(url) else { throw StoreError.connectionLost("chaos: libpq out of memory") }
        guard PQstatus(connection) == CONNECTION_OK else {
            let message = String(cString: PQerrorMessage(connection))
            PQfinish(connection)
            throw StoreError.connectionLost("chaos: \(message)")
        }
        return connection
    }

    private static func exec(_ connection: OpaquePointer, _ sql: String) throws {
        let result = PQexec(connection, sql)
        defer { PQclear(result) }
        let status = PQresultStatus(result)
        guard status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK else {
            throw StoreError.backend("chaos: \(String(cString: PQerrorMessage(connection)))")
        }
    }
}

/// Kafka failing while ingest works (embedded cluster only): a broker down for a while, request errors.
///
/// The group coordinator is left alone: librdkafka 2.0.2's mock cluster aborts
/// (`rd_kafka_mock_cgrp_member_add: Assertion '!member->resp'`) when a member rejoins over a new
/// connection while its earlier JoinGroup is still pending there — which a coordinator going down or
/// answering group requests with errors brings about. So the groups' coordinator is pinned to broker 1,
/// only brokers 2 and 3 go down, and only fetch, produce, list-offsets and metadata requests fail.
struct ClusterFaults: Sendable {
    let cluster: EmbeddedCluster

    /// The broker that coordinates every group of the run.
    static let coordinator: Int32 = 1

    /// Pins the coordinator of `groups`.
    func pinCoordinator(of groups: [String]) throws {
        for group in groups { try cluster.setGroupCoordinator(group, broker: Self.coordinator) }
    }

    /// Takes one broker down for `duration`, then up again.
    func brokerDown(_ id: Int32, for duration: Duration) async throws -> String {
        try cluster.setBrokerDown(id)
        try await Task.sleep(for: duration)
        try cluster.setBrokerUp(id)
        return "broker \(id) down \(duration.components.seconds) s"
    }

    /// The next requests of a kind fail with retriable errors.
    func requestErrors<G: RandomNumberGenerator>(using random: inout G) -> String {
        let (api, codes): (KafkaAPI, [KafkaErrorCode]) = [
            (.fetch, [.notLeaderForPartition, .requestTimedOut]),
            (.produce, [.notEnoughReplicas, .requestTimedOut, .notLeaderForPartition]),
            (.listOffsets, [.leaderNotAvailable]),
            (.metadata, [.requestTimedOut]),
        ].randomElement(using: &random)!
        let count = Int.random(in: 2...8, using: &random)
        cluster.pushRequestErrors(api, (0..<count).map { _ in codes.randomElement(using: &random)! })
        return "\(count) \(api) errors"
    }
}

/// Runs blocking work on a thread of its own and returns its result to the awaiting task.
func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try body() }) }.start()
    }
}
