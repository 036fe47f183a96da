import Foundation
import CRdKafka

/// Settings every hssk Kafka client shares, plus a pass-through for any other librdkafka key.
public struct KafkaClientConfig: Sendable {
    /// `host:port,...` of one or more brokers.
    public var bootstrapServers: String
    /// `client.id`, visible in broker logs and quotas.
    public var clientID: String = "hssk"
    /// `security.protocol`: plaintext on loopback, `sasl_ssl` in production.
    public var securityProtocol: SecurityProtocol = .plaintext
    /// SASL credentials for production (SCRAM over TLS); never logged.
    public var sasl: SASLCredentials?
    /// librdkafka's `log_level` (syslog levels; 6 = info, 3 = errors only).
    public var logLevel: Int = 6
    /// Any other librdkafka key (`ssl.ca.location`, `socket.timeout.ms`, ...); see librdkafka's CONFIGURATION.md.
    public var properties: [String: String] = [:]

    public init(bootstrapServers: String) {
        self.bootstrapServers = bootstrapServers
    }

    /// `security.protocol` values.
    public enum SecurityProtocol: String, Sendable {
        case plaintext, ssl
        case saslPlaintext = "sasl_plaintext"
        case saslSSL = "sasl_ssl"
    }

    /// SASL/SCRAM credentials of an interop account.
    public struct SASLCredentials: Sendable {
        public var mechanism: String
        public var username: String
        public var password: String
        public init(mechanism: String = "SCRAM-SHA-512", username: String, password: String) {
            self.mechanism = mechanism
            self.username = username
            self.password = password
        }
    }

    /// Key/value pairs of these common settings, in the order they are applied.
    func entries() throws -> [(String, String)] {
        guard !bootstrapServers.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw KafkaError.invalidConfiguration(key: "bootstrap.servers", value: bootstrapServers,
                                                  reason: "no broker address given (expected host:port[,host:port...])")
        }
        var list: [(String, String)] = [
            ("bootstrap.servers", bootstrapServers),
            ("client.id", clientID),
            ("security.protocol", securityProtocol.rawValue),
            ("log_level", String(logLevel)),
        ]
        if let sasl {
            list += [("sasl.mechanisms", sasl.mechanism), ("sasl.username", sasl.username), ("sasl.password", sasl.password)]
        }
        return list
    }
}

/// Producer settings. Idempotence and `acks=all` are fixed: hssk never trades durability for speed.
public struct ProducerConfig: Sendable {
    public var client: KafkaClientConfig
    /// `linger.ms`: how long to wait to fill a batch.
    public var lingerMs: Int = 5
    /// `message.timeout.ms`: how long librdkafka retries a record before reporting it failed.
    public var messageTimeoutMs: Int = 120_000
    /// `queue.buffering.max.messages`: local queue bound; a full queue makes senders wait (back-pressure).
    public var maxQueuedMessages: Int = 100_000
    /// `compression.type`.
    public var compression: String = "none"

    public init(bootstrapServers: String) {
        client = KafkaClientConfig(bootstrapServers: bootstrapServers)
    }

    /// Settings hssk fixes; a pass-through property that contradicts one is a configuration error.
    static let fixed: [(String, String)] = [("enable.idempotence", "true"), ("acks", "all")]

    func entries() throws -> [(String, String)] {
        try client.entries() + [
            ("linger.ms", String(lingerMs)),
            ("message.timeout.ms", String(messageTimeoutMs)),
            ("queue.buffering.max.messages", String(maxQueuedMessages)),
            ("compression.type", compression),
        ]
    }
}

/// Consumer-group settings. Auto commit and auto offset store are fixed off: the service decides what is done.
public struct ConsumerConfig: Sendable {
    public var client: KafkaClientConfig
    /// `group.id`.
    public var groupID: String
    /// Where to start when neither the caller's hook nor the group has an offset.
    public var autoOffsetReset: OffsetReset = .earliest
    /// `session.timeout.ms`.
    public var sessionTimeoutMs: Int = 10_000
    /// `heartbeat.interval.ms`.
    public var heartbeatIntervalMs: Int = 1_000
    /// `max.poll.interval.ms`: a batch taking longer than this is considered a stuck consumer.
    public var maxPollIntervalMs: Int = 300_000

    public init(bootstrapServers: String, groupID: String) {
        client = KafkaClientConfig(bootstrapServers: bootstrapServers)
        self.groupID = groupID
    }

    /// `auto.offset.reset` values.
    public enum OffsetReset: String, Sendable { case earliest, latest, error }

    static let fixed: [(String, String)] = [
        ("enable.auto.commit", "false"),
        ("enable.auto.offset.store", "false"),
        ("partition.assignment.strategy", "cooperative-sticky"),
    ]

    func entries() throws -> [(String, String)] {
        guard !groupID.isEmpty else {
            throw KafkaError.invalidConfiguration(key: "group.id", value: groupID, reason: "a consumer group id is required")
        }
        return try client.entries() + [
            ("group.id", groupID),
            ("auto.offset.reset", autoOffsetReset.rawValue),
            ("session.timeout.ms", String(sessionTimeoutMs)),
            ("heartbeat.interval.ms", String(heartbeatIntervalMs)),
            ("max.poll.interval.ms", String(maxPollIntervalMs)),
        ]
    }
}

/// Builds a librdkafka configuration object: typed entries, then pass-through properties, then the
/// fixed settings (a pass-through value contradicting a fixed one is rejected, not silently overridden).
func makeNativeConfig(_ entries: [(String, String)], properties: [String: String], fixed: [(String, String)]) throws -> OpaquePointer {
    guard let conf = rd_kafka_conf_new() else { throw KafkaError.clientCreation(reason: "rd_kafka_conf_new returned NULL") }
    do {
        for (key, value) in fixed {
            if let given = properties[key], given.lowercased() != value {
                throw KafkaError.invalidConfiguration(key: key, value: given, reason: "hssk requires \(key)=\(value)")
            }
        }
        let passThrough = properties.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        for (key, value) in entries + passThrough + fixed {
            try setConfigValue(conf, key, value)
        }
        return conf
    } catch {
        rd_kafka_conf_destroy(conf)
        throw error
    }
}

private func setConfigValue(_ conf: OpaquePointer, _ key: String, _ value: String) throws {
    var errbuf = [CChar](repeating: 0, count: 512)
    let result = rd_kafka_conf_set(conf, key, value, &errbuf, errbuf.count)
    guard result == RD_KAFKA_CONF_OK else {
        let reason = cString(errbuf)
        // Never echo secrets back in an error message.
        let shown = key.contains("password") || key.contains("secret") ? "***" : value
        throw KafkaError.invalidConfiguration(key: key, value: shown, reason: reason)
    }
}

/// Reads a NUL-terminated C error buffer.
func cString(_ buffer: [CChar]) -> String {
    String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
