import Foundation

/// What the dead-letter relay needs of the store: the dead letters batches wrote (`StoreBatch.deadLetters`)
/// and a lease per consumer group, so that one relay at a time produces a group's letters, each
/// exactly once.
///
/// A relay marks the letters it is about to produce as `sending`, each with where its topic ended
/// before (`DeadLetterMark`), then marks them delivered. A letter found `sending` later — its relay
/// died, or its send timed out — is looked for on its topic from its marks before it is sent again.
/// Every state change happens only under the lease (`StoreError.invalidRequest` once it is lost), so a
/// relay that lost its lease cannot undo its successor's work.
public protocol DeadLetterStore: AnyObject, Sendable {
    /// Takes or renews the relay lease `name` for `holder` until `ttl` from now by the database's
    /// clock; nil while another holder's lease runs.
    func acquireRelayLease(_ name: String, holder: String, ttl: Duration) async throws -> RelayLease?
    /// Gives the lease up (it expires now) when `holder` holds it.
    func releaseRelayLease(_ name: String, holder: String) async throws
    /// `group`'s dead letters not delivered yet (pending, or left `sending`), oldest first, at most
    /// `limit` of them and about `maxBytes` of letters (at least one); `missingKey` when one was sealed
    /// under a key the key file lacks (the relay waits for the key rather than set letters aside).
    func undeliveredDeadLetters(group: String, limit: Int, maxBytes: Int) async throws -> [StoredDeadLetter]
    /// Renews the lease for `ttl` and marks dead letters `sending` with the marks a successor would
    /// look from; `StoreError.invalidRequest` when `holder` no longer holds the lease (nothing changed).
    func markDeadLettersSending(_ ids: [Int64], marks: [DeadLetterMark], lease name: String, holder: String, ttl: Duration) async throws
    /// Records deliveries under the lease; the store's copy of each letter is dropped.
    func markDeadLettersDelivered(_ deliveries: [DeadLetterDelivery], lease name: String, holder: String) async throws
    /// Puts dead letters back to pending under the lease (a successor did not find them on the topic).
    func markDeadLettersPending(_ ids: [Int64], lease name: String, holder: String) async throws
    /// Sets aside under the lease a dead letter that cannot be produced (kept with the reason).
    func markDeadLetterFailed(_ id: Int64, reason: String, lease name: String, holder: String) async throws
    /// Counts for health and metrics (every group when nil).
    func deadLetterBacklog(group: String?) async throws -> DeadLetterBacklog
}

/// A relay lease granted to its holder.
public struct RelayLease: Sendable, Hashable {
    /// True when the lease was taken from a holder that stopped holding it (expired or released).
    public var takeover: Bool
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
    /// The encoded letter, decrypted; nil when its ciphertext is damaged (fails authentication): such a
    /// letter is set aside, never blocks the others. (One under a missing key fails the whole read.)
    public var letter: [UInt8]?
    /// Set when a relay marked it `sending` and did not finish: where its topic ended before, and how
    /// long ago that was (by the database's clock).
    public var sending: Sending?

    /// A round that left the letter `sending`.
    public struct Sending: Sendable, Hashable {
        /// Where its topics ended before it was sent.
        public var marks: [DeadLetterMark]
        /// How long ago it was marked.
        public var age: Duration
    }
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
    /// How long the oldest undelivered one has waited, by the database's clock.
    public var oldestAge: Duration?
    /// Set aside as not producible.
    public var failed: Int
    /// Creates a backlog.
    public init(undelivered: Int, oldestAge: Duration?, failed: Int) {
        self.undelivered = undelivered
        self.oldestAge = oldestAge
        self.failed = failed
    }
}

/// A dead letter decided in a consumer batch: written encrypted in the batch's transaction (so the
/// offsets never move past a record whose dead letter could be lost) and produced to its topic by
/// the dead-letter relay once the batch has committed, exactly once.
public struct DeadLetterDraft: Sendable, Hashable {
    /// The record it is about.
    public var source: KafkaCoordinates
    /// The dead-letter topic.
    public var topic: String
    /// The error code (`hssk-error-code`).
    public var code: String
    /// The dead letter as the relay will produce it, encoded by the caller (opaque to the store).
    public var letter: [UInt8]
    /// Creates a draft.
    public init(source: KafkaCoordinates, topic: String, code: String, letter: [UInt8]) {
        self.source = source
        self.topic = topic
        self.code = code
        self.letter = letter
    }
}
