import Foundation
import HealthModel
import ServiceRuntime

/// How `hssk ingest` runs: where it reads, how much per batch, how it retries.
public struct IngestConfiguration: Sendable {
    /// Kafka bootstrap servers.
    public var bootstrapServers: String
    /// Consumer group; the store keeps its offsets under this name.
    public var group = "hssk-ingest"
    /// Source topic of each record kind.
    public var topics: [RecordKind: String] = SourceTopics.defaults
    /// Records per batch at most (one store transaction each).
    public var maxBatchRecords = 2_000
    /// How long a poll waits for the first record.
    public var pollTimeout: Duration = .milliseconds(200)
    /// Back-off for transient failures (store or broker unavailable).
    public var retry = RetryPolicy()
    /// A partition that starts processing at the same offset more often than this without moving
    /// on is processed one record at a time; a record that fails that many times alone is a poison pill.
    public var maxAttempts = 3
    /// A batch whose processing (not its waits for an unavailable store) takes longer than this
    /// ends the process, so that a hung record is counted as an attempt by the restart.
    public var processingTimeout: Duration = .seconds(120)
    /// Accounts silent for this long are locked by the daily sweep (Hà Nội regulation: 3 months).
    public var accountInactivityLimit: Duration = .seconds(90 * 86_400)
    /// How long a looked-up account (lock state, key) is trusted before it is read again.
    public var accountCacheTTL: Duration = .seconds(10)
    /// A store stage taking longer than this makes the consumer poll with its partitions paused
    /// meanwhile, so that the group keeps it (a store outage longer than `max.poll.interval.ms`
    /// would otherwise make it leave with a batch in hand).
    public var keepAliveAfter: Duration = .seconds(5)
    /// How long a revocation waits for the revoked partitions' batch in the store stage before it
    /// lets them go (the store's fence keeps the batch from applying twice either way).
    public var revokeWait: Duration = .seconds(20)
    /// Records waiting behind a partition whose stored position has not moved this long make
    /// `/healthz` not ready (`partition.stalled`).
    public var stallLimit: Duration = .seconds(60)
    /// How often stalls, retention gaps and operator decisions on them are checked.
    public var watchInterval: Duration = .seconds(5)
    /// Extra librdkafka properties (e.g. security settings for production).
    public var kafkaProperties: [String: String] = [:]

    /// Creates a configuration with defaults.
    public init(bootstrapServers: String) {
        self.bootstrapServers = bootstrapServers
    }
}
