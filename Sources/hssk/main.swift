import Foundation

// The hssk command-line tool: parses arguments and calls Services; nothing more lives here.

func dispatch(_ arguments: [String], in command: Command, path: [String] = []) async -> Int32 {
    if let name = arguments.first, !name.hasPrefix("--") {
        if let sub = command.subcommands.first(where: { $0.name == name }) {
            return await dispatch(Array(arguments.dropFirst()), in: sub, path: path + [name])
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
    // The whole command path: `hssk feed publish`, not `hssk publish` (which is another command).
    let label = (["hssk"] + path).joined(separator: " ")
    do {
        if command.rawArguments { return try await command.run(ParsedArguments(positional: arguments)) }
        var (parsed, _) = try Settings.resolve(arguments, command: command, path: path.joined(separator: " "), root: root)
        try parsed.readKafkaSecrets()
        return try await command.run(parsed)
    } catch let error as UsageError {
        printError("\(label): \(error)\nUsage: hssk \(command.usage)   (see --help)")
        return command.usageExitCode
    } catch {
        printError("\(label): \(error)")
        return 1
    }
}

exit(await dispatch(Array(CommandLine.arguments.dropFirst()), in: root))
