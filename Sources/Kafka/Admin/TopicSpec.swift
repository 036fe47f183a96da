/// The settings a topic must have.
public struct TopicSpec: Sendable, Hashable {
    public var name: String
    public var partitions: Int
    public var replicationFactor: Int
    /// Topic-level configs (`cleanup.policy`, `retention.ms`, `min.insync.replicas`, ...).
    public var configs: [String: String]

    public init(name: String, partitions: Int, replicationFactor: Int, configs: [String: String] = [:]) {
        self.name = name
        self.partitions = partitions
        self.replicationFactor = replicationFactor
        self.configs = configs
    }

    /// How `actual` differs from this spec; configs the broker could not report are not drift.
    public func drift(from actual: TopicDescription) -> [TopicDrift] {
        var drift: [TopicDrift] = []
        if actual.partitions != partitions {
            drift.append(TopicDrift(topic: name, setting: "partitions", expected: String(partitions), actual: String(actual.partitions)))
        }
        if actual.replicationFactor != replicationFactor {
            drift.append(TopicDrift(topic: name, setting: "replication.factor", expected: String(replicationFactor),
                                    actual: String(actual.replicationFactor)))
        }
        if let actualConfigs = actual.configs {
            for (key, expected) in configs.sorted(by: { $0.key < $1.key }) where actualConfigs[key] != expected {
                drift.append(TopicDrift(topic: name, setting: key, expected: expected, actual: actualConfigs[key] ?? "(unset)"))
            }
        }
        return drift
    }
}

/// A topic as the cluster reports it. `configs == nil` means the broker cannot report configs.
public struct TopicDescription: Sendable, Hashable {
    public var name: String
    public var partitions: Int
    /// The smallest replica count over the topic's partitions.
    public var replicationFactor: Int
    public var configs: [String: String]?

    public init(name: String, partitions: Int, replicationFactor: Int, configs: [String: String]?) {
        self.name = name
        self.partitions = partitions
        self.replicationFactor = replicationFactor
        self.configs = configs
    }
}

/// One setting of one topic that differs from its spec.
public struct TopicDrift: Sendable, Hashable, CustomStringConvertible {
    public var topic: String
    public var setting: String
    public var expected: String
    public var actual: String
    public var description: String { "\(topic): \(setting) is \(actual), expected \(expected)" }
}

/// What `ensureTopics` / `checkTopics` found and did.
public struct TopicEnsureReport: Sendable, Hashable {
    /// Topics that did not exist and were created (by `ensureTopics`).
    public var created: [String] = []
    /// Topics that exist with the expected settings.
    public var upToDate: [String] = []
    /// Topics missing when checking without creating.
    public var missing: [String] = []
    /// Settings that differ; hssk never changes an existing topic by itself.
    public var drift: [TopicDrift] = []
    /// Topics whose configs the broker could not report (the embedded cluster keeps none).
    public var configsUnverified: [String] = []

    /// True when every topic exists with the expected settings.
    public var isClean: Bool { drift.isEmpty && missing.isEmpty }
}

/// Something that can describe and create topics: a real cluster's Admin API or the embedded cluster.
public protocol TopicAdministrator: Sendable {
    /// Describes the named topics that exist; absent names do not exist.
    func describeTopics(_ names: [String]) async throws -> [String: TopicDescription]
    /// Creates topics; an already existing topic is not an error.
    func createTopics(_ specs: [TopicSpec]) async throws
}

extension TopicAdministrator {
    /// Creates missing topics and reports drift of existing ones; running it twice changes nothing.
    public func ensureTopics(_ specs: [TopicSpec]) async throws -> TopicEnsureReport {
        try await reconcile(specs, create: true)
    }

    /// Reports missing topics and drift without changing anything.
    public func checkTopics(_ specs: [TopicSpec]) async throws -> TopicEnsureReport {
        try await reconcile(specs, create: false)
    }

    private func reconcile(_ specs: [TopicSpec], create: Bool) async throws -> TopicEnsureReport {
        let existing = try await describeTopics(specs.map(\.name))
        var report = TopicEnsureReport()
        let absent = specs.filter { existing[$0.name] == nil }
        if create {
            try await createTopics(absent)
            report.created = absent.map(\.name)
        } else {
            report.missing = absent.map(\.name)
        }
        for spec in specs {
            guard let actual = existing[spec.name] else { continue }
            let drift = spec.drift(from: actual)
            if drift.isEmpty { report.upToDate.append(spec.name) }
            report.drift += drift
            if actual.configs == nil && !spec.configs.isEmpty { report.configsUnverified.append(spec.name) }
        }
        return report
    }
}
