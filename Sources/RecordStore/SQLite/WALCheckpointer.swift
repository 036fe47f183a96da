import CSQLite
import Foundation
import Synchronization

/// Copies committed pages from the WAL back into the database file on a thread and connection of its
/// own, so that the store's writer never does it inside a commit.
///
/// SQLite's default checkpoints run in the committing connection once the WAL passes 1,000 pages. The
/// person index's blind indexes are random keys, so every batch dirties pages all over the file and
/// that copy, with its `fsync`, took a sixth of the store thread at a million records (`perf`, `hssk bench
/// load`) — on the one thread all applies wait for. Here the same PASSIVE checkpoint runs beside the
/// writer and never blocks it. As with SQLite's own checkpoints, the writer rewinds the WAL when it
/// starts a transaction after a checkpoint copied everything; a reader that keeps an old snapshot
/// open holds the rewind back in both cases. Durability is unchanged: a commit is in the WAL before it
/// returns either way.
final class WALCheckpointer: Sendable {
    private let control = Control()

    /// Starts checkpointing the database at `path` every `interval`; nil when it cannot be opened
    /// (the writer's own checkpoints then stay on: see `SQLiteStore.open`). Opens a connection: call
    /// from a thread that may block (the store's), not from the cooperative pool.
    init?(path: String, interval: Duration = .milliseconds(100)) {
        var opened: OpaquePointer?
        guard sqlite3_open_v2(path, &opened, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nil) == SQLITE_OK, let db = opened else {
            sqlite3_close_v2(opened)
            return nil
        }
        // Never waits: a checkpoint that finds another checkpointer busy tries again at the next tick.
        sqlite3_busy_timeout(db, 0)
        // A connection learns the file is in WAL mode when it first reads it; until then a checkpoint
        // does nothing (and says so with -1 frames).
        guard sqlite3_exec(db, "SELECT count(*) FROM sqlite_master", nil, nil, nil) == SQLITE_OK else {
            sqlite3_close_v2(db)
            return nil
        }
        let connection = Connection(db)
        let thread = Thread { [control] in
            defer {
                connection.close()
                control.finished.signal()
            }
            let pause = Double(interval.components.seconds) + Double(interval.components.attoseconds) / 1e18
            while !control.stopping.load(ordering: .relaxed) {
                connection.checkpoint()
                Thread.sleep(forTimeInterval: pause)
            }
        }
        thread.name = "hssk-sqlite-checkpoint"
        thread.start()
    }

    /// Stops the thread and waits until it has closed its connection (the last connection to close
    /// checkpoints whatever is left). Blocks for up to one checkpoint: call from a thread that may block.
    func stop() {
        guard !control.stopping.exchange(true, ordering: .relaxed) else { return }
        control.finished.wait()
    }

    /// Asks the thread to stop without waiting for it.
    func requestStop() { control.stopping.store(true, ordering: .relaxed) }

    /// What the caller and the thread share.
    private final class Control: Sendable {
        let stopping = Atomic<Bool>(false)
        let finished = DispatchSemaphore(value: 0)
    }

    /// The checkpointer's connection: used only by its thread after `init`.
    private final class Connection: @unchecked Sendable {
        // @unchecked Sendable: the handle is created before the thread starts and used only by it.
        let db: OpaquePointer

        init(_ db: OpaquePointer) { self.db = db }

        func checkpoint() {
            _ = sqlite3_wal_checkpoint_v2(db, nil, SQLITE_CHECKPOINT_PASSIVE, nil, nil)
        }

        func close() { sqlite3_close_v2(db) }
    }
}
