import Administration
import Foundation
import RecordStore
import ServiceRuntime

// hssk accounts: the interop accounts senders sign with (DESIGN.md §9, docs/operations/accounts.md).

private let keyOutOption = Option(name: "key-out", value: "FILE",
                                  help: "Write the key to FILE (mode 0600, never overwritten) instead of printing it.")
private let commonOptions = [storeOption, keysOption, actorOption]

private let exitDetails = "Exit status: 0 done, 1 refused (e.g. the account exists or is unknown) or store error, 64 usage."

/// The one account name of a subcommand.
private func accountName(_ arguments: ParsedArguments) throws -> String {
    guard arguments.positional.count == 1, let name = arguments.positional.first else {
        throw UsageError(description: "give exactly one account name")
    }
    return name
}

/// Opens the store, runs `body` with the operator's administration, closes the store.
private func administer(_ arguments: ParsedArguments, mustExist: Bool = true,
                        _ body: (AccountAdministration) async throws -> Int32) async throws -> Int32 {
    let actor = try operatorName(arguments)
    do {
        return try await withStore(arguments, mustExist: mustExist) { try await body(AccountAdministration(store: $0, actor: actor)) }
    } catch let error as AccountAdministrationError where error.isUsageError {
        throw UsageError(description: error.description)
    }
}

/// Hands a new key to the operator: written to `--key-out` already, or printed alone on stdout (so
/// `> file` captures exactly the key) with the explanation on stderr.
private func handOver(_ key: SigningKey, account: String, keyFile: String?) {
    if let keyFile {
        printError("account \(account): key written to \(keyFile) (mode 0600); hand it to the sender's operator over a secure channel")
    } else {
        printError("account \(account): its signing key (hex) follows on stdout; it is shown only this once — hand it over securely")
        printLine(key.keyFileText)
    }
}

/// `2025-05-10T08:15:00Z`, or `-`.
private func timeText(_ date: Date?) -> String {
    date.map { $0.formatted(Date.ISO8601FormatStyle()) } ?? "-"
}

let accountsCommand = Command(
    name: "accounts", summary: "Interop accounts: add, list, lock, unlock, rotate-key, lock-inactive.",
    usage: "accounts <add|list|lock|unlock|rotate-key|lock-inactive> --store PATH|URL [options]",
    details: "Account names follow the Hà Nội regulation, art. 7: <facility>_lt_<initials> (interop), <facility>_<initials> (data entry), bhxh_lt_<initials> (Vietnam Social Security). Every change is audited with --actor. See docs/operations/accounts.md.",
    options: [],
    subcommands: [
        Command(
            name: "add", summary: "Create an account with a new random 32-byte signing key, shown once.",
            usage: "accounts add NAME [--facility F] --store PATH|URL [--keys FILE] [--key-out FILE] [--actor NAME] [--new-store]",
            details: "The facility is the name's first part (BHXH for bhxh_lt_…); --facility, when given, must match it. An existing account is never overwritten.\n\(exitDetails)",
            options: commonOptions + [Option(name: "facility", value: "F", help: "Facility code; must match the name."), keyOutOption,
                                      Option(name: "new-store", value: nil, help: "Create the store if it does not exist yet (first account of a deployment).")],
            run: { arguments in
                let name = try accountName(arguments)
                let keyFile = arguments.string("key-out")
                return try await administer(arguments, mustExist: !arguments.flag("new-store")) { admin in
                    let (account, key) = try await admin.add(name, facility: arguments.string("facility"), keyFile: keyFile)
                    printError("account \(account.name) created (facility \(account.facility))")
                    handOver(key, account: account.name, keyFile: keyFile)
                    return 0
                }
            }),
        Command(
            name: "list", summary: "List accounts: name, facility, locked, last seen, created (never keys).",
            usage: "accounts list --store PATH|URL [--keys FILE]",
            options: [storeOption, keysOption],
            run: { arguments in
                guard arguments.positional.isEmpty else { throw UsageError(description: "list takes no arguments") }
                return try await administer(arguments) { admin in
                    let accounts = try await admin.list()
                    func row(_ cells: [String]) -> String {
                        zip(cells, [24, 10, 8, 22]).map { $0.padding(toLength: max($1, $0.count + 1), withPad: " ", startingAt: 0) }.joined()
                            + cells[4]
                    }
                    printLine(row(["NAME", "FACILITY", "LOCKED", "LAST SEEN", "CREATED"]))
                    for account in accounts {
                        printLine(row([account.name, account.facility, account.locked ? "yes" : "no", timeText(account.lastSeen), timeText(account.createdAt)]))
                    }
                    printError("\(accounts.count) account(s)")
                    return 0
                }
            }),
        Command(
            name: "lock", summary: "Lock an account: ingest rejects its records from then on.",
            usage: "accounts lock NAME --store PATH|URL [--keys FILE] [--actor NAME]",
            details: exitDetails, options: commonOptions,
            run: { arguments in
                let name = try accountName(arguments)
                return try await administer(arguments) { admin in
                    printLine(try await admin.lock(name) ? "account \(name) locked" : "account \(name) was already locked")
                    return 0
                }
            }),
        Command(
            name: "unlock", summary: "Unlock an account; its 90-day inactivity period starts again.",
            usage: "accounts unlock NAME --store PATH|URL [--keys FILE] [--actor NAME]",
            details: exitDetails, options: commonOptions,
            run: { arguments in
                let name = try accountName(arguments)
                return try await administer(arguments) { admin in
                    printLine(try await admin.unlock(name) ? "account \(name) unlocked" : "account \(name) was not locked")
                    return 0
                }
            }),
        Command(
            name: "rotate-key", summary: "Give an account a new random signing key, shown once; the old key stops verifying at once.",
            usage: "accounts rotate-key NAME --store PATH|URL [--keys FILE] [--key-out FILE] [--actor NAME]",
            details: "Records signed with the old key that ingest has not read yet are dead-lettered (signature.invalid); replaying them cannot help, the sender must send them again signed with the new key: agree the switch-over time with the sender.\n\(exitDetails)",
            options: commonOptions + [keyOutOption],
            run: { arguments in
                let name = try accountName(arguments)
                let keyFile = arguments.string("key-out")
                return try await administer(arguments) { admin in
                    let key = try await admin.rotateKey(name, keyFile: keyFile)
                    printError("account \(name): new key stored")
                    handOver(key, account: name, keyFile: keyFile)
                    return 0
                }
            }),
        Command(
            name: "lock-inactive", summary: "Lock every account unused for N days (regulation: 3 months).",
            usage: "accounts lock-inactive --store PATH|URL [--days N] [--keys FILE] [--actor NAME]",
            details: "An account is unused since it last sent an accepted record, or since it was created if it never did (tài khoản không sử dụng 3 tháng liên tục sẽ bị khóa). Run it daily.\n\(exitDetails)",
            options: commonOptions + [Option(name: "days", value: "N", help: "Days without use.", defaultValue: String(AccountAdministration.defaultInactiveDays))],
            run: { arguments in
                guard arguments.positional.isEmpty else { throw UsageError(description: "lock-inactive takes no account name") }
                let days = try arguments.int("days", default: AccountAdministration.defaultInactiveDays, in: 1...3_650)
                return try await administer(arguments) { admin in
                    let locked = try await admin.lockInactive(days: days)
                    for name in locked { printLine("locked \(name)") }
                    printError("\(locked.count) account(s) locked (unused for \(days) days)")
                    return 0
                }
            }),
    ])
