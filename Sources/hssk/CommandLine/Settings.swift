import Foundation
import HealthModel

// Settings for every command from four places, the first that has a value winning: the command line,
// the environment (HSSK_<OPTION>), the config file (the command's section, then "common"), the
// built-in default. docs/configuration.md is the operator's description.

/// Where a setting's value came from.
enum SettingSource: String, Sendable {
    case cli, env, file, `default`
}

/// `--config`, accepted by every command.
let configOption = Option(name: "config", value: "FILE", help: "Settings file (JSON, docs/configuration.md); else $\(Settings.configVariable).")

/// `--kafka-secret`, accepted by every command that has `--kafka`.
let kafkaSecretOption = Option(name: "kafka-secret", value: "KEY=FILE",
                               help: "A librdkafka property whose value is read from FILE, e.g. sasl.password=/run/secrets/kafka-password (repeatable).",
                               repeatable: true)

extension Command {
    /// The options the parser accepts: the command's own, `--kafka-secret` beside `--kafka`, `--config`.
    var effectiveOptions: [Option] {
        var all = options
        if all.contains(where: { $0.name == "kafka" }) && !all.contains(where: { $0.name == kafkaSecretOption.name }) {
            all.append(kafkaSecretOption)
        }
        all.append(configOption)
        return all
    }

    /// Every runnable command below this one, keyed by its words joined by a space ("feed publish").
    var leaves: [(path: String, command: Command)] {
        func walk(_ command: Command, _ prefix: [String]) -> [(path: String, command: Command)] {
            guard !command.subcommands.isEmpty else { return [(prefix.joined(separator: " "), command)] }
            return command.subcommands.flatMap { walk($0, prefix + [$0.name]) }
        }
        return subcommands.flatMap { walk($0, [$0.name]) }
    }
}

/// A value from the environment or a config file, before it joins the parsed arguments.
enum SettingValue: Sendable, Hashable {
    case one(String)
    case many([String])
    case flag(Bool)
}

/// One problem in a config file, named by file, section and key.
struct ConfigProblem: Sendable, Hashable, CustomStringConvertible {
    var file: String
    var section: String?
    var key: String?
    var message: String

    var description: String {
        var where_ = file
        if let section { where_ += ": section \"\(section)\"" }
        if let key { where_ += ", key \"\(key)\"" }
        return "\(where_): \(message)"
    }
}

/// A config file: `{"common": {...}, "<command words>": {...}}`, its values checked against the
/// options of the commands they name.
struct ConfigFile: Sendable {
    let path: String
    /// Section → option name → value.
    var sections: [String: [String: SettingValue]] = [:]

    /// Reads and checks `path` against `root`'s commands; every problem is returned, not only the first.
    static func load(_ path: String, root: Command) -> (file: ConfigFile, problems: [ConfigProblem]) {
        var file = ConfigFile(path: path)
        func problem(_ section: String?, _ key: String?, _ message: String) -> ConfigProblem {
            ConfigProblem(file: path, section: section, key: key, message: message)
        }
        guard let data = FileManager.default.contents(atPath: path) else { return (file, [problem(nil, nil, "cannot read the file")]) }
        guard data.count <= 1 << 20 else { return (file, [problem(nil, nil, "larger than 1 MiB")]) }
        let object: JSONValue
        do { object = try JSONDecoder().decode(JSONValue.self, from: data) } catch {
            return (file, [problem(nil, nil, "not valid JSON")])
        }
        guard case .object(let top) = object else { return (file, [problem(nil, nil, "must be a JSON object of sections")]) }
        let leaves = Dictionary(root.leaves.map { ($0.path, $0.command) }, uniquingKeysWith: { a, _ in a })
        var problems: [ConfigProblem] = []
        for (section, body) in top.sorted(by: { $0.key < $1.key }) {
            let options: [Option]
            if section == "common" {
                // Common keys must be options of some command; each command takes those it has.
                var seen: [String: Option] = [:]
                for leaf in leaves.values { for option in leaf.effectiveOptions where seen[option.name] == nil { seen[option.name] = option } }
                options = Array(seen.values)
            } else if let command = leaves[section] {
                options = command.effectiveOptions
            } else {
                problems.append(problem(section, nil, "not a command (sections are \"common\" or command words such as \"ingest\", \"feed publish\")"))
                continue
            }
            guard case .object(let entries) = body else {
                problems.append(problem(section, nil, "must be a JSON object of option names"))
                continue
            }
            var values: [String: SettingValue] = [:]
            for (key, raw) in entries.sorted(by: { $0.key < $1.key }) {
                guard key != configOption.name else {
                    problems.append(problem(section, key, "a config file cannot name another config file"))
                    continue
                }
                guard let option = options.first(where: { $0.name == key }) else {
                    problems.append(problem(section, key, section == "common" ? "not an option of any command"
                                                                             : "not an option of hssk \(section)"))
                    continue
                }
                switch Self.value(raw, for: option) {
                case .success(let value): values[key] = value
                case .failure(let message): problems.append(problem(section, key, message.description))
                }
            }
            file.sections[section] = values
        }
        return (file, problems)
    }

    /// The JSON value as a setting of `option`: a flag takes true/false, a repeatable option an array
    /// of strings, any other a string or a number.
    private static func value(_ raw: JSONValue, for option: Option) -> Result<SettingValue, UsageError> {
        if option.value == nil {
            guard case .bool(let on) = raw else { return .failure(UsageError(description: "must be true or false (a flag)")) }
            return .success(.flag(on))
        }
        if option.repeatable {
            guard case .array(let items) = raw else { return .failure(UsageError(description: "must be an array of strings (a repeatable option)")) }
            var strings: [String] = []
            for item in items {
                guard case .string(let text) = item else { return .failure(UsageError(description: "must be an array of strings (a repeatable option)")) }
                strings.append(text)
            }
            return .success(.many(strings))
        }
        switch raw {
        case .string(let text): return .success(.one(text))
        case .number(let number): return .success(.one("\(number)"))
        default: return .failure(UsageError(description: "must be a string or a number"))
        }
    }
}

/// Resolves a command's arguments from the command line, the environment and the config file.
enum Settings {
    /// The environment variable naming the config file.
    static let configVariable = "HSSK_CONFIG"

    /// `HSSK_<OPTION>` with the name upper-cased and `-` as `_`; none for `--keys` and `--config`,
    /// whose variables (HSSK_KEYS: the key ring itself; HSSK_CONFIG) have their own meaning.
    static func environmentName(_ option: Option) -> String? {
        guard option.name != "keys", option.name != configOption.name else { return nil }
        return "HSSK_" + option.name.uppercased().replacingOccurrences(of: "-", with: "_")
    }

    /// The arguments of `command` (at `path`) with each option's source; a bad config file or
    /// environment value is a usage error naming where it came from.
    static func resolve(_ commandLine: [String], command: Command, path: String, root: Command,
                        environment: [String: String] = ProcessInfo.processInfo.environment) throws -> (arguments: ParsedArguments, sources: [String: SettingSource]) {
        let options = command.effectiveOptions
        var arguments = try ParsedArguments(commandLine, options: options)
        var sources: [String: SettingSource] = [:]
        for name in arguments.values.keys { sources[name] = .cli }
        for name in arguments.flags { sources[name] = .cli }
        var file: ConfigFile?
        if let path = arguments.string(configOption.name) ?? environment[configVariable].flatMap({ $0.isEmpty ? nil : $0 }) {
            let (loaded, problems) = ConfigFile.load(path, root: root)
            guard problems.isEmpty else { throw UsageError(description: problems.map(\.description).joined(separator: "\n")) }
            file = loaded
        }
        for option in options where option.name != configOption.name && sources[option.name] == nil {
            if let variable = environmentName(option), let text = environment[variable] {
                try arguments.set(option, try environmentValue(text, option: option, variable: variable))
                sources[option.name] = .env
            } else if let value = file?.sections[path]?[option.name] ?? file?.sections["common"]?[option.name] {
                try arguments.set(option, value)
                sources[option.name] = .file
            }
        }
        return (arguments, sources)
    }

    /// An environment variable as a setting: flags take true/false/1/0, repeatable options one value per line.
    private static func environmentValue(_ text: String, option: Option, variable: String) throws -> SettingValue {
        if option.value == nil {
            switch text.lowercased() {
            case "1", "true", "yes": return .flag(true)
            case "0", "false", "no", "": return .flag(false)
            default: throw UsageError(description: "\(variable) must be true or false, not '\(text)'")
            }
        }
        if option.repeatable { return .many(text.split(whereSeparator: \.isNewline).map(String.init).filter { !$0.isEmpty }) }
        return .one(text)
    }
}

extension ParsedArguments {
    /// Sets an option from the environment or a config file.
    mutating func set(_ option: Option, _ value: SettingValue) throws {
        switch value {
        case .flag(let on):
            if on { flags.insert(option.name) } else { flags.remove(option.name) }
        case .one(let text):
            values[option.name] = [text]
        case .many(let texts):
            values[option.name] = texts.isEmpty ? nil : texts
        }
    }

    /// Moves each `--kafka-secret KEY=FILE` into the `--kafka` properties, the value read from FILE
    /// (trailing line break removed). The value never appears in an error.
    mutating func readKafkaSecrets() throws {
        let secrets = strings(kafkaSecretOption.name)
        guard !secrets.isEmpty else { return }
        let plain = Set(strings("kafka").compactMap { $0.split(separator: "=", maxSplits: 1).first.map(String.init) })
        for pair in secrets {
            let (key, path) = try KafkaSecret.split(pair)
            guard !plain.contains(key) else { throw UsageError(description: "--kafka-secret \(key): also given with --kafka; give it once") }
            values["kafka", default: []].append("\(key)=\(try KafkaSecret.read(path, key: key))")
        }
        values[kafkaSecretOption.name] = nil
    }
}

/// A librdkafka property whose value lives in a file (a mounted secret).
enum KafkaSecret {
    /// `KEY=FILE` split; an error without a key or a file.
    static func split(_ pair: String) throws -> (key: String, path: String) {
        guard let equals = pair.firstIndex(of: "="), equals != pair.startIndex, pair.index(after: equals) != pair.endIndex else {
            throw UsageError(description: "--kafka-secret takes KEY=FILE, not '\(pair)'")
        }
        return (String(pair[..<equals]), String(pair[pair.index(after: equals)...]))
    }

    /// The file's content without its trailing line break; refused when unreadable, empty or over 64 KiB.
    static func read(_ path: String, key: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path), data.count <= 64 * 1024 else {
            throw UsageError(description: "--kafka-secret \(key): cannot read \(path) (or it is larger than 64 KiB)")
        }
        var text = String(decoding: data, as: UTF8.self)
        while let last = text.last, last.isNewline { text.removeLast() }
        guard !text.isEmpty else { throw UsageError(description: "--kafka-secret \(key): \(path) is empty") }
        return text
    }
}
