import Foundation

// The hssk command-line tool: parses arguments and calls Services; nothing more lives here.
let commands: [Command] = [brokerCommand, topicsCommand, publishCommand, ingestCommand, linkageEvalCommand, backupCommand, restoreCommand,
                           verifyCommand, keysCommand, accountsCommand, dlqCommand, feedCommand, insuranceCommand, reviewCommand, personsCommand, dedupCommand,
                           benchCommand, demoCommand]

let root = Command(
    name: "hssk", summary: "hssk: the Kafka integration broker of the electronic health record (Hồ sơ sức khỏe điện tử).",
    usage: "<command> [options]", details: "Run 'hssk <command> --help' for a command's options.",
    options: [], subcommands: commands)

func dispatch(_ arguments: [String], in command: Command) async -> Int32 {
    if let name = arguments.first, !name.hasPrefix("--") {
        if let sub = command.subcommands.first(where: { $0.name == name }) {
            return await dispatch(Array(arguments.dropFirst()), in: sub)
        }
        if !command.subcommands.isEmpty {
            printError("hssk: unknown command '\(name)'\n\n\(command.help)")
            return command.usageExitCode
        }
    }
    if arguments.contains("--help") || arguments.contains("-h") {
        print(command.help, terminator: "")
        return 0
    }
    if !command.subcommands.isEmpty && arguments.isEmpty {
        printError(command.help)
        return command.usageExitCode
    }
    do {
        return try await command.run(try ParsedArguments(arguments, options: command.options))
    } catch let error as UsageError {
        printError("hssk \(command.name): \(error)\nUsage: hssk \(command.usage)   (see --help)")
        return command.usageExitCode
    } catch {
        printError("hssk \(command.name): \(error)")
        return 1
    }
}

exit(await dispatch(Array(CommandLine.arguments.dropFirst()), in: root))
