import Foundation

/// What a consumer group keeps in the store: its positions, the ranges of offsets it consumed,
/// attempt counts (poison pills) and the gaps an operator accepted.
public protocol ConsumerPositions: AnyObject, Sendable {
    /// Next offsets stored for `group` on the given partitions (absent when never stored).
    func offsets(group: String, partitions: [TopicPartition]) async throws -> [TopicPartition: Int64]
    /// Counts one more processing attempt of each partition from the given offset, committed at once
    /// (a crash leaves it counted), and returns the counts: equal offsets add up, a new offset restarts at 1.
    func recordAttempts(group: String, starts: [TopicPartition: Int64]) async throws -> [TopicPartition: Int]
    /// The consumed ranges of `group` (every group when nil), per partition in offset order.
    func consumerRanges(group: String?) async throws -> [ConsumerRange]
    /// Moves `group`'s position on `partition` from `from` to `to` without reading the records in
    /// between (they expired from Kafka before they were read), or back to `to` when the log now ends
    /// before `from` (recreated or truncated), as `actor` decided for `reason`; refused unless the
    /// stored position is exactly `from`. Recorded as a gap (or reset) range and audited.
    func acceptGap(group: String, partition: TopicPartition, from: Int64, to: Int64, actor: String, reason: String) async throws
}

/// A run of offsets a consumer group moved its position over, contiguous with the runs beside it.
public struct ConsumerRange: Sendable, Hashable, Codable {
    /// What moved the position over these offsets.
    public enum Kind: String, Sendable, Codable {
        /// Batches the group consumed and applied.
        case batch
        /// Offsets an operator accepted as lost (`acceptGap`): expired before they were read.
        case gap
        /// The position moved back by an operator (`acceptGap`): the log ended before it (the topic was
        /// recreated or truncated); `next` is below `from`.
        case reset
        /// Everything before schema 5, when ranges were not recorded (unchecked).
        case beforeRanges = "before-schema-5"
    }
    /// Consumer group.
    public var group: String
    /// Topic partition.
    public var partition: TopicPartition
    /// First offset of the run.
    public var from: Int64
    /// Offset after the run.
    public var next: Int64
    /// What the run is.
    public var kind: Kind
    /// Records delivered in the run (batches).
    public var records: Int
    /// Of those, records applied without a row of their own (duplicates of a stored version, insurance answers).
    public var absorbed: Int
    /// For a gap: who accepted it and why.
    public var detail: String?
}

/// The consumer position a batch moves: the offsets it covers on one partition.
///
/// `apply` refuses the whole batch (`StoreError.offsetMoved`) unless the stored position equals
/// `from`: a batch that starts after the stored offset would skip records, one that starts before
/// it would apply records another consumer already applied. A partition with no stored position
/// yet accepts any start (its first batch). Offsets never skip; the caller seeks back on refusal.
public struct ConsumerOffset: Sendable, Hashable, Codable {
    /// Consumer group.
    public var group: String
    /// Topic partition.
    public var partition: TopicPartition
    /// Where the batch starts: the consumer's position when it read the batch.
    public var from: Int64
    /// Next offset to consume: after the batch's last record.
    public var nextOffset: Int64
    /// Records the consumer delivered in `from..<nextOffset` (offsets without a record — compacted
    /// away, transaction markers — are the difference); `hssk verify` accounts for each.
    public var records: Int
    /// Creates an offset.
    public init(group: String, partition: TopicPartition, from: Int64, nextOffset: Int64, records: Int) {
        self.group = group
        self.partition = partition
        self.from = from
        self.nextOffset = nextOffset
        self.records = records
    }
}
