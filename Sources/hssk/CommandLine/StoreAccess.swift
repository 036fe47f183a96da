import Administration
import RecordStore

/// Opens the store a service works on (waiting out a locked, restarting or full database), runs
/// `body` with it and closes it on every path (a service's store must be closed cleanly after SIGTERM
/// as after a failure). SIGTERM/SIGINT while the store is still being waited for: `body` never runs.
func withServiceStore(_ location: String, keys: KeyRing, mustExist: Bool = false,
               _ body: (any HealthRecordStore) async throws -> Void) async throws {
    guard let store = try await StoreAdministration.openForService(location, keys: keys, mustExist: mustExist) else { return }
    do {
        try await body(store)
        await store.close()
    } catch {
        await store.close()
        throw error
    }
}
