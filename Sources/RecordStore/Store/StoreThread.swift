import DedicatedThreads

/// The thread a store's blocking SQLite / libpq calls run on: one hop per operation (a whole batch),
/// never per row.
typealias StoreThread = DedicatedThread

extension DedicatedThread {
    /// A thread whose `run` throws `StoreError.closed` once stopped.
    convenience init(name: String) {
        self.init(name: name, closedError: StoreError.closed)
    }
}
