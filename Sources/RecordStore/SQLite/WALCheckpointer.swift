import CSQLite
import Foundation
import Synchronization

/// Copies committed pages from the WAL back into the database file on a thread and connection of its
/// own, so that the store's writer never does it inside a commit.
///
/// SQLite's default checkpoints run in the committing connection once the WAL passes 1,000 pages. The
/// person index's blind indexes are random keys, so every batch dirties pages all over the file and
/// that copy, with its `fsync`, took a sixth of the store thread at a million records (`perf`, `hssk bench
/// load`) — on the one thread all applies wait for. Here it runs beside the writer: PASSIVE checkpoints
/// never block it. Should the WAL still pass `maxWALFrames` (a reader holding an old snapshot, a
/// checkpointer that cannot keep up), a RESTART checkpoint waits for the writer and rewinds the WAL,
/// which bounds its size. Durability is unchanged: a commit is in the WAL before it returns either way.
final class WALCheckpointer: Sendable {
    /// A WAL this long (frames of one page) is rewound even if the writer must wait: ~1 GB at 4 KiB pages.
    static let maxWALFrames: Int32 = 262_144
    private let control = Control()

    /// Starts checkpointing the database at `path` every `interval`; nil when it cannot be opened
    /// (the writer's own checkpoints then stay on: see `SQLiteConnection`).
    init?(path: String, interval: Duration = .milliseconds(100)) {
        var opened: OpaquePointer?
        guard sqlite3_open_v2(path, &opened, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nil) == SQLITE_OK, let db = opened else {
            sqlite3_close_v2(opened)
            return nil
        }
        // A checkpoint that finds the writer busy tries again at the next tick; RESTART waits up to 10 s.
        sqlite3_busy_timeout(db, 10_000)
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

    /// Stops the thread and closes its connection (the last connection to close checkpoints whatever
    /// is left).
    func stop() {
        guard !control.stopping.exchange(true, ordering: .relaxed) else { return }
        control.finished.wait()
    }

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
            var frames: Int32 = 0, copied: Int32 = 0
            let rc = sqlite3_wal_checkpoint_v2(db, nil, SQLITE_CHECKPOINT_PASSIVE, &frames, &copied)
            if rc == SQLITE_OK, frames > WALCheckpointer.maxWALFrames {
                _ = sqlite3_wal_checkpoint_v2(db, nil, SQLITE_CHECKPOINT_RESTART, nil, nil)
            }
        }

        func close() { sqlite3_close_v2(db) }
    }
}
