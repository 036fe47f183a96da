import RecordStore

/// Opens a store, runs `body` with it and closes it on every path (a service's store must be closed
/// cleanly after SIGTERM as after a failure).
func withStore<T>(_ location: String, keys: KeyRing, mustExist: Bool = false,
                  _ body: (any HealthRecordStore) async throws -> T) async throws -> T {
    let store = try await RecordStores.open(location, keys: keys, mustExist: mustExist)
    do {
        let result = try await body(store)
        await store.close()
        return result
    } catch {
        await store.close()
        throw error
    }
}
