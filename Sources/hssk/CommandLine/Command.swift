import Foundation

/// One option of a subcommand: `--name VALUE` (or a flag without a value).
struct Option: Sendable {
    var name: String
    var value: String?   // placeholder shown in help; nil for a flag
    var help: String
    var defaultValue: String? = nil
    var repeatable = false
    /// The whole numbers it accepts, checked by `ParsedArguments.int(_:default:)` and `hssk config check`.
    var range: ClosedRange<Int>? = nil
}

/// A subcommand of `hssk`: its help text, options and what it runs.
struct Command: Sendable {
    var name: String
    var summary: String
    var usage: String
    var details: String = ""
    var options: [Option]
    var subcommands: [Command] = []
    /// Exit status of a usage mistake: 64 (EX_USAGE) by default; `publish` uses 2 as its issue asks.
    var usageExitCode: Int32 = 64
    /// When true, `run` gets every argument as positional, unparsed (`config show` parses them as its target command's).
    var rawArguments = false
    var run: @Sendable (ParsedArguments) async throws -> Int32 = { _ in 0 }

    var help: String {
        var text = "\(summary)\n\nUsage: hssk \(usage)\n"
        if !details.isEmpty { text += "\n\(details)\n" }
        if !subcommands.isEmpty {
            text += "\nSubcommands:\n"
            for command in subcommands { text += "  \(command.name.padding(toLength: 14, withPad: " ", startingAt: 0))\(command.summary)\n" }
        }
        let all = (subcommands.isEmpty ? effectiveOptions : options) + [Option(name: "help", value: nil, help: "Show this help.")]
        text += "\nOptions:\n"
        for option in all {
            let left = "--\(option.name)" + (option.value.map { " \($0)" } ?? "")
            // Two spaces at least: a long placeholder must not run into its help.
            var line = "  \(left.count < 23 ? left.padding(toLength: 24, withPad: " ", startingAt: 0) : left + "  ")\(option.help)"
            if let defaultValue = option.defaultValue { line += " (default: \(defaultValue))" }
            text += line + "\n"
        }
        return text
    }
}

/// A command-line mistake; printed with the command's usage, exit status 64 (EX_USAGE).
struct UsageError: Error, CustomStringConvertible {
    var description: String
}

/// Options and positional arguments after parsing.
struct ParsedArguments {
    var values: [String: [String]] = [:]
    var flags: Set<String> = []
    var positional: [String] = []
    /// The options it was parsed against.
    var options: [Option] = []

    func string(_ name: String) -> String? { values[name]?.last }
    func strings(_ name: String) -> [String] { values[name] ?? [] }
    func flag(_ name: String) -> Bool { flags.contains(name) }

    /// An integer option within the range its `Option` declares, or `fallback`.
    func int(_ name: String, default fallback: Int) throws -> Int {
        guard let range = options.first(where: { $0.name == name })?.range else {
            throw UsageError(description: "--\(name) has no declared range")   // a programming slip, reported rather than trapped
        }
        return try int(name, default: fallback, in: range)
    }

    /// An integer option within `range`, or its default.
    func int(_ name: String, default fallback: Int, in range: ClosedRange<Int>) throws -> Int {
        guard let text = string(name) else { return fallback }
        guard let value = Int(text), range.contains(value) else {
            throw UsageError(description: "--\(name) must be a whole number from \(range.lowerBound) to \(range.upperBound), not '\(text)'")
        }
        return value
    }

    /// Parses `arguments` against `options`: `--name value`, `--name=value`, flags; anything unknown is an error.
    /// Arguments left unparsed, all positional.
    init(positional: [String]) {
        self.positional = positional
    }

    init(_ arguments: [String], options: [Option]) throws {
        self.options = options
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            index += 1
            guard argument.hasPrefix("--") else {
                positional.append(argument)
                continue
            }
            var name = String(argument.dropFirst(2))
            var inline: String?
            if let equals = name.firstIndex(of: "=") {
                inline = String(name[name.index(after: equals)...])
                name = String(name[..<equals])
            }
            guard let option = options.first(where: { $0.name == name }) else {
                throw UsageError(description: "unknown option --\(name)")
            }
            if option.value == nil {
                guard inline == nil else { throw UsageError(description: "--\(name) takes no value") }
                flags.insert(name)
                continue
            }
            let value: String
            if let inline {
                value = inline
            } else {
                guard index < arguments.count, !arguments[index].hasPrefix("--") else {
                    throw UsageError(description: "--\(name) needs a value (\(option.value ?? "VALUE"))")
                }
                value = arguments[index]
                index += 1
            }
            if values[name] != nil && !option.repeatable {
                throw UsageError(description: "--\(name) given twice")
            }
            values[name, default: []].append(value)
        }
    }
}

/// Writes a line to standard output at once (unbuffered), for lines that scripts wait for.
func printLine(_ text: String) {
    FileHandle.standardOutput.write(Data((text + "\n").utf8))
}

/// Writes a line to standard error.
func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}
