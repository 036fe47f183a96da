import Foundation
import RecordStore

/// `--actor`, shared by every command that changes the store on an operator's behalf.
let actorOption = Option(name: "actor", value: "NAME", help: "Who is acting, for the audit log.", defaultValue: "$USER, else admin")

/// The operator named by `--actor`, else `$USER`, else `admin`; refused when empty or with control characters.
func operatorName(_ arguments: ParsedArguments) throws -> String {
    let actor = arguments.string("actor") ?? ProcessInfo.processInfo.environment["USER"].flatMap { $0.isEmpty ? nil : $0 } ?? "admin"
    guard !actor.trimmingCharacters(in: .whitespaces).isEmpty, !actor.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
        throw UsageError(description: "--actor must be a non-empty name")
    }
    return actor
}

/// Opens the store of `--store` with the keys of `--keys` (by default it must exist), runs `body`, and
/// closes the store whatever happens: every operator command's way to the store.
func withStore<T>(_ arguments: ParsedArguments, mustExist: Bool = true, _ body: (any HealthRecordStore) async throws -> T) async throws -> T {
    let store = try await RecordStores.open(try required(arguments, "store"), keys: try keyRing(arguments), mustExist: mustExist)
    do {
        let result = try await body(store)
        await store.close()
        return result
    } catch {
        await store.close()
        throw error
    }
}
