import Foundation
import RecordStore
import ServiceRuntime

/// Operations behind `hssk backup`, `restore`, `verify` and `keys`: open the store, do one job, close.
public enum StoreAdministration {
    /// Opens the store a long-running service works on, waiting out what is transient — a database
    /// locked by another writer, a server restarting, a full disk — with back-off, logged as
    /// `store.unavailable`: a service that exits instead becomes a restart storm under systemd or
    /// Kubernetes. Nil when SIGTERM/SIGINT arrives while it waits (the service then exits 0).
    public static func openForService(_ location: String, keys: KeyRing, mustExist: Bool = false,
                                      log: EventLog = .standardError) async throws -> (any HealthRecordStore)? {
        try await ServiceRunner.untilTerminated {
            var attempt = 0
            while true {
                do {
                    return try await RecordStores.open(location, keys: keys, mustExist: mustExist)
                } catch let error as StoreError where error.isTransient {
                    log.event(.warning, "store.unavailable", ["during": "open", "error": .text(error.description), "attempt": .int(Int64(attempt))])
                    try await Task.sleep(for: RetryPolicy().delay(attempt: attempt))
                    attempt += 1
                }
            }
        }
    }

    /// Writes a backup of the store at `location` into `directory`; returns the file written.
    public static func backup(store location: String, keys: KeyRing, to directory: String) async throws -> String {
        let store = try await RecordStores.open(location, keys: keys, mustExist: true)
        do {
            let file = try await store.backup(to: directory)
            await store.close()
            return file
        } catch {
            await store.close()
            throw error
        }
    }

    /// Restores `backup` into `location`, then verifies the result with `keys`.
    ///
    /// A SQLite target that already holds data is replaced only with `force` (a restore is destructive).
    public static func restore(backup: String, into location: String, keys: KeyRing, force: Bool) async throws -> VerifyReport {
        if !RecordStores.isPostgres(location), !force,
           let size = (try? FileManager.default.attributesOfItem(atPath: location))?[.size] as? Int, size > 0 {
            throw StoreError.invalidRequest("'\(location)' already exists: pass --force to replace it with the backup")
        }
        try await RecordStores.restore(backup: backup, into: location)
        return try await verify(store: location, keys: keys)
    }

    /// Runs every check of `HealthRecordStore.verify`.
    public static func verify(store location: String, keys: KeyRing) async throws -> VerifyReport {
        let store = try await RecordStores.open(location, keys: keys, mustExist: true)
        do {
            let report = try await store.verify()
            await store.close()
            return report
        } catch {
            await store.close()
            throw error
        }
    }

    /// Writes a new key file (refusing to overwrite one) or returns its JSON when `path` is nil.
    public static func generateKeys(to path: String?) throws -> Data {
        let keys = try KeyRing.generate()
        // The write itself refuses an existing name (a check before it could race with another writer).
        if let path { try keys.write(to: path) }
        return try keys.json()
    }

    /// Key rotation: adds a new active key to the key file (unless `resume`), then re-encrypts every
    /// ciphertext under it in batches. Old keys stay in the file; remove them once `verify` shows
    /// they are no longer used.
    public static func rotate(store location: String, keyFile: String, resume: Bool, batchSize: Int,
                              progress: @Sendable (String) -> Void) async throws -> RotationReport {
        var keys = try KeyRing(contentsOf: keyFile)
        if !resume {
            let id = try keys.addActiveKey()
            try keys.write(to: keyFile, replacing: true)
            progress("new active key '\(id)' written to \(keyFile)")
        }
        let store = try await RecordStores.open(location, keys: keys, mustExist: true)
        do {
            let report = try await store.reencrypt(batchSize: batchSize)
            await store.close()
            return report
        } catch {
            await store.close()
            throw error
        }
    }
}
