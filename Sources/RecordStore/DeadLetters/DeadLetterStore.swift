import Foundation

/// What the dead-letter relay needs of the store: the dead letters batches wrote (`StoreBatch.deadLetters`)
/// and a lease, so that one relay at a time produces them, each exactly once.
///
/// A relay marks the letters it is about to produce as `sending`, with where their topics ended
/// before (`DeadLetterMark`), then marks them delivered. A relay that takes the lease over from one
/// that stopped in between reads the topics from those marks to learn which of them arrived.
public protocol DeadLetterStore: AnyObject, Sendable {
    /// Takes or renews the relay lease `name` for `holder` until `ttl` from now by the database's
    /// clock; nil while another holder's lease runs.
    func acquireRelayLease(_ name: String, holder: String, ttl: Duration) async throws -> RelayLease?
    /// Gives the lease up (it expires now) when `holder` holds it.
    func releaseRelayLease(_ name: String, holder: String) async throws
    /// Dead letters not delivered yet (pending, or left `sending` by a relay that stopped), oldest first.
    func undeliveredDeadLetters(limit: Int) async throws -> [StoredDeadLetter]
    /// Marks dead letters `sending` under the lease, with the marks a successor would scan from;
    /// `StoreError.invalidRequest` when `holder` no longer holds the lease (nothing is changed).
    func markDeadLettersSending(_ ids: [Int64], marks: [DeadLetterMark], lease name: String, holder: String) async throws
    /// Records deliveries; the store's copy of each letter is dropped (the topic holds it now).
    func markDeadLettersDelivered(_ deliveries: [DeadLetterDelivery]) async throws
    /// Puts dead letters back to pending (the send failed, or a successor did not find them on the topic).
    func markDeadLettersPending(_ ids: [Int64]) async throws
    /// Sets aside a dead letter that cannot be produced (kept with the reason for an operator).
    func markDeadLetterFailed(_ id: Int64, reason: String) async throws
    /// Counts for health and metrics.
    func deadLetterBacklog() async throws -> DeadLetterBacklog
}

/// A relay lease granted to its holder.
public struct RelayLease: Sendable, Hashable {
    /// True when the lease was taken from a holder that stopped holding it (expired or released):
    /// its `sending` letters may or may not have reached their topics.
    public var takeover: Bool
    /// Where the dead-letter topics ended before the previous holder's last sending round.
    public var marks: [DeadLetterMark]
}

/// The end offset of a dead-letter topic partition before a sending round.
public struct DeadLetterMark: Sendable, Hashable, Codable {
    /// Dead-letter topic.
    public var topic: String
    /// Partition.
    public var partition: Int32
    /// Its high watermark before the round.
    public var offset: Int64
    /// Creates a mark.
    public init(topic: String, partition: Int32, offset: Int64) {
        self.topic = topic
        self.partition = partition
        self.offset = offset
    }
}

/// A dead letter as stored, not delivered yet.
public struct StoredDeadLetter: Sendable, Hashable {
    /// Row id (the order letters were decided in).
    public var id: Int64
    /// Consumer group that rejected the record.
    public var group: String
    /// The record it is about.
    public var source: KafkaCoordinates
    /// The dead-letter topic.
    public var topic: String
    /// The error code.
    public var code: String
    /// The encoded letter, decrypted.
    public var letter: [UInt8]
    /// True when a relay marked it `sending` and did not finish.
    public var sending: Bool
}

/// Where a dead letter landed.
public struct DeadLetterDelivery: Sendable, Hashable {
    /// Row id.
    public var id: Int64
    /// Partition of the dead-letter topic.
    public var partition: Int32
    /// Offset there.
    public var offset: Int64
    /// Creates a delivery.
    public init(id: Int64, partition: Int32, offset: Int64) {
        self.id = id
        self.partition = partition
        self.offset = offset
    }
}

/// Dead letters waiting or set aside.
public struct DeadLetterBacklog: Sendable, Hashable {
    /// Decided and not delivered yet.
    public var undelivered: Int
    /// When the oldest undelivered one was decided.
    public var oldest: Date?
    /// Set aside as not producible.
    public var failed: Int
}
