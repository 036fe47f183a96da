/// Where the consumer reads a partition: the next offset it will hand out (nil until the first record
/// when it was positioned at a logical offset such as the beginning) and the epoch of that position.
///
/// Every repositioning — assignment, revocation, seek — gives the partition a new epoch, so records
/// and ranges read under an older epoch can be recognised and never applied against the new position.
struct PartitionPosition: Sendable, Hashable {
    var next: Int64?
    var epoch: UInt64
}

/// The offsets one batch covers on one partition: from the consumer's position before the batch up to
/// and including its last record. Offsets in between without a record (compacted away, transaction
/// markers) belong to the range too, so consecutive batches of a partition meet exactly.
public struct OffsetRange: Sendable, Hashable, CustomStringConvertible {
    /// The first offset covered: where the consumer stood when the batch began.
    public let from: Int64
    /// The offset after the batch's last record: where the next batch begins.
    public let next: Int64
    /// The position's epoch when the batch was read (see `Consumer.stalePartitions`).
    let epoch: UInt64

    init(from: Int64, next: Int64, epoch: UInt64) {
        self.from = from
        self.next = next
        self.epoch = epoch
    }

    /// The part `from..<next` of this range (clamped to it), read under the same position: for a
    /// service that applies a batch's records in smaller units.
    public func slice(_ from: Int64, _ next: Int64) -> OffsetRange {
        let start = min(max(from, self.from), self.next)
        return OffsetRange(from: start, next: min(max(next, start), self.next), epoch: epoch)
    }

    /// `from..<next`.
    public var description: String { "\(from)..<\(next)" }
}

/// Decides, record by record while a poll collects them, which records belong to the batch and which
/// offsets it covers; pure bookkeeping, no librdkafka.
///
/// A partition's records are counted from its position; when the partition is repositioned during
/// the poll (a rebalance served inside it, revoking and maybe re-assigning it), the records collected
/// before are dropped and counting restarts from the new position. Records collected after the
/// re-assignment are kept: dropping them would let the consumer's position run past records that
/// nobody processed.
struct BatchAssembly {
    struct Slot {
        let partition: TopicPartition
        let epoch: UInt64
        /// The position when the slot opened.
        let start: Int64?
        var from: Int64?
        var next: Int64?
        var live = true
    }

    private(set) var slots: [Slot] = []

    /// Opens a slot for `partition` at `position`; nil when the partition is not assigned (its records are dropped).
    mutating func open(_ partition: TopicPartition, at position: PartitionPosition?) -> Int? {
        guard let position else { return nil }
        slots.append(Slot(partition: partition, epoch: position.epoch, start: position.next))
        return slots.count - 1
    }

    /// Takes a record at `offset` into `slot`; false when it must be dropped (its slot was closed, or
    /// it lies before the position: left over from before a seek).
    mutating func take(_ offset: Int64, slot index: Int) -> Bool {
        var slot = slots[index]
        guard slot.live else { return false }
        if let expected = slot.next ?? slot.start, offset < expected { return false }
        if slot.from == nil { slot.from = slot.start ?? offset }
        slot.next = offset + 1
        slots[index] = slot
        return true
    }

    /// Closes every live slot whose partition was repositioned or taken away; returns the closed slots.
    mutating func reconcile(with positions: [TopicPartition: PartitionPosition]) -> [Int] {
        var closed: [Int] = []
        for index in slots.indices where slots[index].live && positions[slots[index].partition]?.epoch != slots[index].epoch {
            slots[index].live = false
            closed.append(index)
        }
        return closed
    }

    /// The offsets each live slot covers (a partition has at most one live slot).
    var ranges: [TopicPartition: OffsetRange] {
        var ranges: [TopicPartition: OffsetRange] = [:]
        for slot in slots where slot.live {
            guard let from = slot.from, let next = slot.next else { continue }
            ranges[slot.partition] = OffsetRange(from: from, next: next, epoch: slot.epoch)
        }
        return ranges
    }
}
