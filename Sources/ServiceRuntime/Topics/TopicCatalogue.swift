import Foundation
import Kafka

/// The topic catalogue (`topics/*.json`), loaded at run time: the one description of hssk's topics.
public struct TopicCatalogue: Sendable {
    /// One topic file.
    public struct Entry: Codable, Sendable, Hashable {
        public struct Key: Codable, Sendable, Hashable {
            public var format: String
            public var description: String
        }
        public var name: String
        public var purpose: String
        public var producers: [String]
        public var consumers: [String]
        public var key: Key
        public var partitions: Int
        public var replicationFactor: Int
        public var configs: [String: String]
        /// Path of the value's JSON Schema, relative to the catalogue folder; nil for dead-letter topics.
        public var valueSchema: String?
        public var ceType: String?
        public var deadLetterTopic: String?

        /// What the cluster must have for this topic.
        public var spec: TopicSpec {
            TopicSpec(name: name, partitions: partitions, replicationFactor: replicationFactor, configs: configs)
        }
    }

    /// A catalogue file that cannot be used, and why.
    public struct LoadError: Error, CustomStringConvertible {
        public var file: String
        public var reason: String
        public var description: String { "topic catalogue \(file): \(reason)" }
    }

    public let directory: URL
    public let entries: [Entry]

    /// The specs of all topics, in name order.
    public var specs: [TopicSpec] { entries.map(\.spec) }

    /// The entry of `name`, if the catalogue has it.
    public func entry(_ name: String) -> Entry? { entries.first { $0.name == name } }

    /// Loads every `*.json` file of `directory` and checks what a cluster would reject.
    public static func load(from directory: URL) throws -> TopicCatalogue {
        let files: [URL]
        do {
            files = try FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: nil)
                .filter { $0.pathExtension == "json" }
                .sorted { $0.lastPathComponent < $1.lastPathComponent }
        } catch {
            throw LoadError(file: directory.path, reason: "cannot list the folder (\(error.localizedDescription))")
        }
        guard !files.isEmpty else { throw LoadError(file: directory.path, reason: "no topic files (*.json) found") }
        var entries: [Entry] = []
        for file in files {
            let entry: Entry
            do {
                entry = try JSONDecoder().decode(Entry.self, from: Data(contentsOf: file))
            } catch let error as DecodingError {
                throw LoadError(file: file.lastPathComponent, reason: describe(error))
            } catch {
                throw LoadError(file: file.lastPathComponent, reason: error.localizedDescription)
            }
            try check(entry, file: file, directory: directory)
            entries.append(entry)
        }
        let names = Set(entries.map(\.name))
        for entry in entries {
            if let dlq = entry.deadLetterTopic, !names.contains(dlq) {
                throw LoadError(file: "\(entry.name).json", reason: "dead-letter topic \(dlq) has no catalogue file")
            }
        }
        return TopicCatalogue(directory: directory, entries: entries)
    }

    /// The catalogue folder: `$HSSK_TOPICS_DIR`, else `topics/` in the working directory, else the
    /// `topics/` folder of the source tree the executable was built in.
    public static func defaultDirectory() -> URL {
        if let configured = ProcessInfo.processInfo.environment["HSSK_TOPICS_DIR"], !configured.isEmpty {
            return URL(fileURLWithPath: configured)
        }
        let local = URL(fileURLWithPath: "topics")
        if FileManager.default.fileExists(atPath: local.appendingPathComponent("hssk.visits.v1.json").path) { return local }
        var folder = URL(fileURLWithPath: CommandLine.arguments.first ?? ".").resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<5 {
            let candidate = folder.appendingPathComponent("topics")
            if FileManager.default.fileExists(atPath: candidate.appendingPathComponent("hssk.visits.v1.json").path) { return candidate }
            folder.deleteLastPathComponent()
        }
        return local
    }

    private static func check(_ entry: Entry, file: URL, directory: URL) throws {
        let name = file.lastPathComponent
        guard name == "\(entry.name).json" else { throw LoadError(file: name, reason: "file name must be \(entry.name).json") }
        guard entry.name.range(of: #"^[a-zA-Z0-9._-]{1,249}$"#, options: .regularExpression) != nil else {
            throw LoadError(file: name, reason: "'\(entry.name)' is not a legal Kafka topic name")
        }
        guard entry.partitions >= 1 else { throw LoadError(file: name, reason: "partitions must be at least 1") }
        guard entry.replicationFactor >= 1 else { throw LoadError(file: name, reason: "replicationFactor must be at least 1") }
        if let minISR = entry.configs["min.insync.replicas"], let value = Int(minISR), value > entry.replicationFactor {
            throw LoadError(file: name, reason: "min.insync.replicas \(value) exceeds replicationFactor \(entry.replicationFactor)")
        }
        if let schema = entry.valueSchema, !FileManager.default.fileExists(atPath: directory.appendingPathComponent(schema).path) {
            throw LoadError(file: name, reason: "value schema \(schema) does not exist")
        }
    }

    private static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            context.codingPath.map(\.stringValue).joined(separator: ".")
        }
        switch error {
        case let .keyNotFound(key, context): return "missing field \((context.codingPath + [key]).map(\.stringValue).joined(separator: "."))"
        case let .typeMismatch(_, context), let .valueNotFound(_, context): return "field \(path(context)): \(context.debugDescription)"
        case let .dataCorrupted(context): return "not valid JSON: \(context.debugDescription)"
        @unknown default: return String(describing: error)
        }
    }
}
