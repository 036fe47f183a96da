import Foundation
import ServiceRuntime

// hssk config check / show: the settings file and what a command would run with (docs/configuration.md).

let configCommand = Command(
    name: "config", summary: "Check a settings file, or show the settings a command would run with and where each comes from.",
    usage: "config <check|show> [options]", options: [],
    subcommands: [
        Command(
            name: "check", summary: "Validate a settings file offline: shape, sections, option names, value types and ranges, referenced files.",
            usage: "config check FILE",
            details: "Prints 'ok', or each problem on its own line (file: section, key: why). Exit 0 when ok, 1 otherwise.",
            options: [],
            run: { arguments in
                guard arguments.positional.count == 1, let path = arguments.positional.first else {
                    throw UsageError(description: "give exactly one FILE")
                }
                let problems = ConfigCheck.problems(path, root: root)
                guard !problems.isEmpty else {
                    printLine("ok")
                    return 0
                }
                for problem in problems { printLine(problem.description) }
                return 1
            }),
        Command(
            name: "show", summary: "Print the effective settings of a command with their source (default, file, env, cli); secrets masked.",
            usage: "config show [--config FILE] <command words> [options of that command]",
            details: "For example: hssk config show --config /etc/hssk/hssk.json feed publish. Options after the command words count as its command line.",
            options: [], rawArguments: true,
            run: { arguments in
                for line in try ConfigShow.lines(arguments.positional) { printLine(line) }
                return 0
            }),
    ])

/// `hssk config show` reads the target command's own options, so it is dispatched here rather than
/// through `ParsedArguments` (which would refuse them as unknown).
enum ConfigShow {
    /// The lines of the effective settings of the command named at the start of `arguments`.
    static func lines(_ arguments: [String], environment: [String: String] = ProcessInfo.processInfo.environment) throws -> [String] {
        var words: [String] = []
        var command = root
        var rest: [String] = []
        var index = 0
        // `--config FILE` may come before the command words; the first other word ends them.
        while index < arguments.count {
            let argument = arguments[index]
            if argument == "--\(configOption.name)", index + 1 < arguments.count {
                rest += [argument, arguments[index + 1]]
                index += 2
            } else if argument.hasPrefix("--\(configOption.name)=") {
                rest.append(argument)
                index += 1
            } else if !argument.hasPrefix("--"), let sub = command.subcommands.first(where: { $0.name == argument }) {
                words.append(argument)
                command = sub
                index += 1
            } else {
                rest += arguments[index...]
                break
            }
        }
        guard !words.isEmpty, command.subcommands.isEmpty else {
            throw UsageError(description: "name a command, e.g. 'ingest' or 'feed publish'")
        }
        let path = words.joined(separator: " ")
        let (parsed, sources) = try Settings.resolve(rest, command: command, path: path, root: root, environment: environment)
        var lines = ["# hssk \(path): effective settings (command line > environment > config file > default)"]
        let options = command.effectiveOptions.filter { $0.name != configOption.name }
        let width = (options.map(\.name.count).max() ?? 0) + 2
        for option in options {
            let name = option.name.padding(toLength: width, withPad: " ", startingAt: 0)
            let variable = Settings.environmentName(option).map { " \($0)" } ?? ""
            switch sources[option.name] {
            case .some(let source):
                let shown = option.value == nil ? (parsed.flag(option.name) ? "true" : "false")
                    : parsed.strings(option.name).map { mask($0, option: option.name) }.joined(separator: ", ")
                lines.append("\(name)\(shown)  (\(source.rawValue)\(source == .env ? variable : ""))")
            case .none:
                lines.append("\(name)\(option.defaultValue ?? (option.value == nil ? "false" : "(unset)"))  (default)")
            }
        }
        return lines
    }

    /// A value with any secret in it replaced by `****`: passwords in URLs, and librdkafka
    /// properties whose name says they are secret.
    static func mask(_ value: String, option: String) -> String {
        if option == "kafka", let equals = value.firstIndex(of: "=") {
            let key = value[..<equals].lowercased()
            if ["password", "secret", "jaas", "token", "key.pem", "certificate.pem"].contains(where: key.contains) {
                return "\(value[..<equals])=****"
            }
        }
        // scheme://user:password@host → scheme://user:****@host
        if let scheme = value.range(of: "://"), let at = value[scheme.upperBound...].firstIndex(of: "@"),
           let colon = value[scheme.upperBound..<at].firstIndex(of: ":") {
            return String(value[..<value.index(after: colon)]) + "****" + String(value[at...])
        }
        return value
    }
}

/// The offline checks of `hssk config check`: what loading checks, plus values that can be judged
/// without a cluster or a store.
enum ConfigCheck {
    /// Every problem of the file at `path`.
    static func problems(_ path: String, root: Command) -> [ConfigProblem] {
        let (file, problems) = ConfigFile.load(path, root: root)
        var found = problems
        let leaves = Dictionary(root.leaves.map { ($0.path, $0.command) }, uniquingKeysWith: { a, _ in a })
        for (section, values) in file.sections.sorted(by: { $0.key < $1.key }) {
            let options = section == "common" ? leaves.values.flatMap(\.effectiveOptions) : leaves[section]?.effectiveOptions ?? []
            for (key, value) in values.sorted(by: { $0.key < $1.key }) {
                // In "common" a value must suit every command that takes it (batch ranges differ).
                let candidates = options.filter { $0.name == key }
                let texts: [String]
                switch value {
                case .one(let text): texts = [text]
                case .many(let many): texts = many
                case .flag: texts = []
                }
                for text in texts {
                    if let message = candidates.lazy.compactMap({ problem(text, option: $0) }).first {
                        found.append(ConfigProblem(file: path, section: section, key: key, message: message))
                    }
                }
            }
        }
        // One order for both kinds of problem: by section, then key (file-level ones first).
        return found.enumerated().sorted { a, b in
            let left = (a.element.section ?? "", a.element.key ?? ""), right = (b.element.section ?? "", b.element.key ?? "")
            return left == right ? a.offset < b.offset : left < right
        }.map(\.element)
    }

    /// Why `text` is not a valid value of `option`, or nil.
    static func problem(_ text: String, option: Option) -> String? {
        if let range = option.range {
            guard let number = Int(text), range.contains(number) else {
                return "must be a whole number from \(range.lowerBound) to \(range.upperBound), not '\(text)'"
            }
        }
        switch option.value {
        case "KEY=FILE":
            guard let (key, path) = try? KafkaSecret.split(text) else { return "must be KEY=FILE, not '\(text)'" }
            return readable(path).map { "\(key): \($0)" }
        case "KEY=VALUE":
            guard let equals = text.firstIndex(of: "="), equals != text.startIndex else { return "must be KEY=VALUE" }
            return nil
        case let placeholder? where placeholder.hasSuffix("FILE"):
            return readable(text)
        default:
            break
        }
        if option.name == adminOption.name {
            do { _ = try AdminEndpoint.address(text) } catch { return error.description }
        }
        if option.value == "URL" {
            guard let url = URL(string: text), ["http", "https"].contains(url.scheme ?? ""), url.host != nil else { return "must be an http(s) URL" }
        }
        return nil
    }

    private static func readable(_ path: String) -> String? {
        FileManager.default.isReadableFile(atPath: path) ? nil : "file \(path) does not exist or is not readable"
    }
}
