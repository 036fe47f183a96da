import Administration
import Foundation
import RecordStore

// hssk backup / restore / verify / keys: the health-record store's operations (DESIGN.md §7).

/// `--store`, shared by every command that opens the health-record store.
let storeOption = Option(name: "store", value: "PATH|URL", help: "SQLite file or postgres:// URL of the store.")
/// `--keys`, shared by every command that opens the health-record store.
let keysOption = Option(name: "keys", value: "FILE",
                        help: "Key file (JSON); else \(KeyRing.environmentVariable) (the JSON) or \(KeyRing.fileEnvironmentVariable).")

/// The value of a required option, or a usage error.
func required(_ arguments: ParsedArguments, _ name: String) throws -> String {
    guard let value = arguments.string(name), !value.isEmpty else { throw UsageError(description: "--\(name) is required") }
    return value
}

/// The store's key ring from `--keys`, `HSSK_KEYS` or `HSSK_KEYS_FILE`.
func keyRing(_ arguments: ParsedArguments) throws -> KeyRing {
    try KeyRing.load(path: arguments.string("keys"))
}

private func printReport(_ report: VerifyReport) {
    printLine("schema version: \(report.schemaVersion)")
    printLine("audit rows:     \(report.auditRows)")
    printLine("ciphertexts:    \(report.ciphertexts) (\(report.keyUsage.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ")))")
    if report.columnBound > 0 { printLine("column-bound:   \(report.columnBound) (format 1, not bound to their rows: see the problems)") }
    printLine("offsets:        \(report.offsets)")
    if report.ok {
        printLine("OK")
    } else {
        for problem in report.problems { printLine("PROBLEM: \(problem)") }
    }
}

let backupCommand = Command(
    name: "backup", summary: "Back up the store to another location (SQLite online backup / pg_dump).",
    usage: "backup --store PATH|URL --to DIR [--keys FILE]",
    details: "Writes DIR/hssk-<UTC time>.sqlite (or .sql), mode 0600, and prints its path. Ciphertexts are copied as they are: the backup holds no plaintext and needs the key file to be read.",
    options: [storeOption, Option(name: "to", value: "DIR", help: "Directory for the backup file (created if missing)."), keysOption],
    run: { arguments in
        let file = try await StoreAdministration.backup(store: try required(arguments, "store"), keys: try keyRing(arguments),
                                                        to: try required(arguments, "to"))
        printLine(file)
        return 0
    })

let restoreCommand = Command(
    name: "restore", summary: "Restore a backup into a store, then verify it.",
    usage: "restore --from FILE --store PATH|URL [--keys FILE] [--force]",
    details: "No service may be using the store. A PostgreSQL backup replaces hssk's tables in the target database; an existing SQLite file is replaced only with --force.",
    options: [Option(name: "from", value: "FILE", help: "Backup file written by 'hssk backup'."), storeOption, keysOption,
              Option(name: "force", value: nil, help: "Replace an existing SQLite store.")],
    run: { arguments in
        let report = try await StoreAdministration.restore(backup: try required(arguments, "from"), into: try required(arguments, "store"),
                                                           keys: try keyRing(arguments), force: arguments.flag("force"))
        printReport(report)
        return report.ok ? 0 : 1
    })

let verifyCommand = Command(
    name: "verify", summary: "Check a store: schema version, audit chain, every ciphertext, consumer offsets.",
    usage: "verify --store PATH|URL [--keys FILE] [--json]",
    options: [storeOption, keysOption, Option(name: "json", value: nil, help: "Print the report as JSON.")],
    run: { arguments in
        let report = try await StoreAdministration.verify(store: try required(arguments, "store"), keys: try keyRing(arguments))
        if arguments.flag("json") {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            printLine(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            printReport(report)
        }
        return report.ok ? 0 : 1
    })

let keysCommand = Command(
    name: "keys", summary: "Create key files and rotate the store's encryption key.",
    usage: "keys <generate|rotate> [options]",
    options: [],
    subcommands: [
        Command(
            name: "generate", summary: "Create a new key file (AES-256-GCM data key + HMAC blind-index key).",
            usage: "keys generate [--out FILE]",
            details: "Without --out the key JSON is printed (e.g. to store in a secret manager and pass as \(KeyRing.environmentVariable)). Keep keys out of the database, the repository and backups.",
            options: [Option(name: "out", value: "FILE", help: "Write the key file (mode 0600); never overwrites.")],
            run: { arguments in
                let json = try StoreAdministration.generateKeys(to: arguments.string("out"))
                if let out = arguments.string("out") {
                    printLine("key file written: \(out)")
                } else {
                    printLine(String(decoding: json, as: UTF8.self))
                }
                return 0
            }),
        Command(
            name: "rotate", summary: "Add a new active key to the key file and re-encrypt the store under it.",
            usage: "keys rotate --store PATH|URL --keys FILE [--resume] [--batch N]",
            details: "Re-encrypts in batches (one transaction each), so it can be interrupted and rerun with --resume. Old keys stay in the file: remove them once 'hssk verify' shows them unused. The blind-index key is not rotated.",
            options: [storeOption, Option(name: "keys", value: "FILE", help: "The key file to update (the file itself, not a symbolic link)."),
                      Option(name: "resume", value: nil, help: "Do not add a key; finish re-encrypting under the active one."),
                      Option(name: "batch", value: "N", help: "Rows per transaction.", defaultValue: "500")],
            run: { arguments in
                let report = try await StoreAdministration.rotate(
                    store: try required(arguments, "store"), keyFile: try required(arguments, "keys"), resume: arguments.flag("resume"),
                    batchSize: try arguments.int("batch", default: 500, in: 1...100_000)) { printError($0) }
                printLine("active key \(report.activeKeyID): \(report.reencrypted) of \(report.examined) ciphertexts re-encrypted")
                return 0
            }),
    ])
