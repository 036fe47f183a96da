/// The records of one poll, with the offsets they cover per partition and what the cluster reported.
///
/// A batch is a collection of its records, so code that only wants the records reads it as an array.
public struct ConsumerBatch: Sendable, RandomAccessCollection {
    /// The records, in the order the consumer received them (offset order within a partition).
    public let records: [ConsumerRecord]
    /// Per partition read, the offsets the batch covers (`OffsetRange`): a service that keeps its own
    /// positions applies a batch only where its stored position equals `from`.
    public let ranges: [TopicPartition: OffsetRange]
    /// Partitions the consumer could not read because its position is outside the offsets the cluster
    /// still keeps (with `auto.offset.reset=error`: records expired before they were read), with that
    /// position. Such a partition stays stopped until it is sought to a valid offset.
    public let outOfRange: [TopicPartition: Int64]
    /// Client-side errors reported during the poll, e.g. `_ALL_BROKERS_DOWN` or `_TRANSPORT`
    /// (informational: librdkafka reconnects by itself), each once.
    public let clusterErrors: [KafkaErrorCode]

    init(records: [ConsumerRecord], ranges: [TopicPartition: OffsetRange], outOfRange: [TopicPartition: Int64] = [:],
         clusterErrors: [KafkaErrorCode] = []) {
        self.records = records
        self.ranges = ranges
        self.outOfRange = outOfRange
        self.clusterErrors = clusterErrors
    }

    /// An empty batch.
    public static let empty = ConsumerBatch(records: [], ranges: [:])

    public var startIndex: Int { records.startIndex }
    public var endIndex: Int { records.endIndex }
    public subscript(position: Int) -> ConsumerRecord { records[position] }
}
