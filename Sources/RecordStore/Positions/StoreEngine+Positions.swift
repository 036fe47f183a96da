import Foundation

extension StoreEngine {
    /// Moves consumer positions, each only from exactly where the stored position is (see
    /// `ConsumerOffset`), and extends the group's consumed ranges; call inside a write transaction.
    /// `absorbed` counts, per partition, records applied without a row of their own.
    func storeOffsets(_ offsets: [ConsumerOffset], absorbed: [TopicPartition: Int] = [:], at now: String) throws {
        for offset in offsets {
            guard offset.from >= 0, offset.nextOffset > offset.from, offset.records >= 0 else {
                throw StoreError.invalidRequest("offsets \(offset.from)..<\(offset.nextOffset) for \(offset.partition) are not a range")
            }
            let key: [SQLValue] = [.text(offset.group), .text(offset.partition.topic), .int(Int64(offset.partition.partition))]
            // The condition is evaluated against the committed row, also when a concurrent batch
            // inserted it first (PostgreSQL waits for it): two writers can never both move on.
            let changed = try db.execute("""
                INSERT INTO consumer_offset (group_id, topic, kafka_partition, next_offset, updated_at) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (group_id, topic, kafka_partition) DO UPDATE SET next_offset = excluded.next_offset, updated_at = excluded.updated_at
                WHERE consumer_offset.next_offset = ?
                """, key + [.int(offset.nextOffset), .text(now), .int(offset.from)])
            guard changed == 1 else {
                let stored = try db.queryOne("SELECT next_offset FROM consumer_offset WHERE group_id = ? AND topic = ? AND kafka_partition = ?", key)
                throw StoreError.offsetMoved("\(offset.group) \(offset.partition): the stored position is \(stored.map { String(describing: $0[0].int ?? -1) } ?? "none"), the batch starts at \(offset.from)")
            }
            let counts: [SQLValue] = [.int(offset.nextOffset), .int(Int64(offset.records)), .int(Int64(absorbed[offset.partition] ?? 0)), .text(now)]
            // Only the partition's last run grows: after a reset an earlier log's run may end here too.
            let extended = try db.execute("""
                UPDATE consumer_range SET next_offset = ?, records = records + ?, absorbed = absorbed + ?, updated_at = ?
                WHERE id = (SELECT MAX(id) FROM consumer_range WHERE group_id = ? AND topic = ? AND kafka_partition = ?)
                AND next_offset = ? AND kind = 'batch'
                """, counts + key + [.int(offset.from)])
            if extended == 0 {
                try db.execute("""
                    INSERT INTO consumer_range (group_id, topic, kafka_partition, from_offset, next_offset, kind, records, absorbed, created_at, updated_at)
                    VALUES (?, ?, ?, ?, ?, 'batch', ?, ?, ?, ?)
                    """, key + [.int(offset.from), .int(offset.nextOffset), .int(Int64(offset.records)), .int(Int64(absorbed[offset.partition] ?? 0)),
                                .text(now), .text(now)])
            }
        }
    }

    /// Next offsets of `group` on `partitions`.
    func offsets(group: String, partitions: [TopicPartition]) throws -> [TopicPartition: Int64] {
        var result: [TopicPartition: Int64] = [:]
        for tp in partitions {
            if let row = try db.queryOne("SELECT next_offset FROM consumer_offset WHERE group_id = ? AND topic = ? AND kafka_partition = ?",
                                         [.text(group), .text(tp.topic), .int(Int64(tp.partition))]) {
                result[tp] = try row.int(0)
            }
        }
        return result
    }

    /// The consumed ranges of `group` (all groups when nil), per partition in offset order.
    func consumerRanges(group: String?) throws -> [ConsumerRange] {
        let filter = group == nil ? "" : " WHERE group_id = ?"
        return try db.query("""
            SELECT group_id, topic, kafka_partition, from_offset, next_offset, kind, records, absorbed, detail FROM consumer_range\(filter)
            ORDER BY group_id, topic, kafka_partition, id
            """, group.map { [.text($0)] } ?? []).map { row in
            guard let kind = ConsumerRange.Kind(rawValue: try row.text(5)) else { throw StoreError.schemaInvalid("consumer_range.kind \(try row.text(5))") }
            return ConsumerRange(group: try row.text(0), partition: TopicPartition(try row.text(1), Int32(try row.int(2))), from: try row.int(3),
                                 next: try row.int(4), kind: kind, records: Int(try row.int(6)), absorbed: Int(try row.int(7)), detail: row[8].text)
        }
    }

    /// See `ConsumerPositions.acceptGap`.
    func acceptGap(group: String, partition: TopicPartition, from: Int64, to: Int64, actor: String, reason: String) throws {
        guard to != from, from >= 0, to >= 0 else { throw StoreError.invalidRequest("the position \(from) does not move: nothing to accept") }
        let text = reason.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !text.isEmpty else { throw StoreError.invalidRequest("say why the gap is accepted (--reason)") }
        try db.transaction {
            let now = Self.timestamp()
            let key: [SQLValue] = [.text(group), .text(partition.topic), .int(Int64(partition.partition))]
            let stored = try db.queryOne("SELECT next_offset FROM consumer_offset WHERE group_id = ? AND topic = ? AND kafka_partition = ?", key)?.int(0)
            guard let stored, stored == from else {
                throw StoreError.offsetMoved("\(group) \(partition): the stored position is \(stored.map(String.init) ?? "none"), not \(from)")
            }
            // Conditional like a batch's move (a batch committing since the read above wins).
            let moved = try db.execute("""
                UPDATE consumer_offset SET next_offset = ?, updated_at = ? WHERE group_id = ? AND topic = ? AND kafka_partition = ? AND next_offset = ?
                """, [.int(to), .text(now)] + key + [.int(from)])
            guard moved == 1 else { throw StoreError.offsetMoved("\(group) \(partition): the stored position moved from \(from) while the gap was accepted") }
            let detail = "accepted by \(actor): \(text)"
            // Forward: records that expired before they were read. Backward: the log now ends before the
            // position (the topic was recreated or truncated), and reading resumes at `to`.
            let kind = to > from ? "gap" : "reset"
            // A reset keeps where the old log's source records end, and names the old log's dead letters.
            let bound: SQLValue = to > from ? .null : .int(try db.queryOne("SELECT MAX(id) FROM source_record", [])?[0].int ?? 0)
            try db.execute("""
                INSERT INTO consumer_range (group_id, topic, kafka_partition, from_offset, next_offset, kind, records, absorbed, detail,
                  source_record_bound, created_at, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, 0, 0, ?, ?, ?, ?)
                """, key + [.int(from), .int(to), .text(kind), .text(detail), bound, .text(now), .text(now)])
            if to < from {
                let reset = try db.queryOne("SELECT MAX(id) FROM consumer_range WHERE group_id = ? AND topic = ? AND kafka_partition = ?", key)?.int(0) ?? 0
                try db.execute("""
                    UPDATE dead_letter SET reset_range_id = ?
                    WHERE group_id = ? AND source_topic = ? AND source_partition = ? AND reset_range_id IS NULL
                    """, [.int(reset)] + key)
            }
            try appendAudit(actor: actor, action: "acceptGap", subject: "\(group) \(partition)",
                            detail: to > from ? "offsets \(from)..<\(to) expired before they were read; reason: \(text)"
                                : "position moved back from \(from) to \(to): the log ends before it; reason: \(text)", at: now)
        }
    }

    /// Counts one more processing attempt per partition starting at the given offset (reset when the
    /// offset differs from the last attempt's) and returns the counts; committed on its own.
    func recordAttempts(group: String, starts: [TopicPartition: Int64]) throws -> [TopicPartition: Int] {
        try db.transaction {
            let now = Self.timestamp()
            var counts: [TopicPartition: Int] = [:]
            for (partition, offset) in starts.sorted(by: { ($0.key.topic, $0.key.partition) < ($1.key.topic, $1.key.partition) }) {
                let row = try db.queryOne("SELECT first_offset, attempts FROM processing_attempt WHERE group_id = ? AND topic = ? AND kafka_partition = ?",
                                          [.text(group), .text(partition.topic), .int(Int64(partition.partition))])
                let attempts = row.map { (try? $0.int(0)) == offset ? ((try? $0.int(1)) ?? 0) + 1 : 1 } ?? 1
                try db.execute("""
                    INSERT INTO processing_attempt (group_id, topic, kafka_partition, first_offset, attempts, updated_at) VALUES (?, ?, ?, ?, ?, ?)
                    ON CONFLICT (group_id, topic, kafka_partition) DO UPDATE SET first_offset = excluded.first_offset,
                      attempts = excluded.attempts, updated_at = excluded.updated_at
                    """, [.text(group), .text(partition.topic), .int(Int64(partition.partition)), .int(offset), .int(Int64(attempts)), .text(now)])
                counts[partition] = Int(attempts)
            }
            return counts
        }
    }

    /// Checks that the stored positions cover exactly what was stored: each partition's runs meet
    /// and end at its stored position, every stored or dead-lettered record lies inside a run, and in
    /// every batch run the records the consumer delivered equal the rows stored or dead-lettered plus
    /// those absorbed (duplicates), with no offset left without a record.
    func verifyPositions() throws -> (offsets: Int, problems: [String]) {
        var problems: [String] = []
        struct Key: Hashable { var group: String; var partition: TopicPartition }
        var stored: [Key: Int64] = [:]
        for row in try db.query("SELECT group_id, topic, kafka_partition, next_offset FROM consumer_offset", []) {
            stored[Key(group: try row.text(0), partition: TopicPartition(try row.text(1), Int32(try row.int(2))))] = try row.int(3)
        }
        let ranges = Dictionary(grouping: try consumerRanges(group: nil)) { Key(group: $0.group, partition: $0.partition) }
        for (key, next) in stored.sorted(by: { ($0.key.group, $0.key.partition.topic, $0.key.partition.partition) < ($1.key.group, $1.key.partition.topic, $1.key.partition.partition) }) {
            let runs = ranges[key] ?? []
            let name = "\(key.group) \(key.partition)"
            if next < 0 { problems.append("\(name): negative stored position \(next)") }
            guard let last = runs.last else {
                problems.append("\(name): stored position \(next) but no consumed range was recorded")
                continue
            }
            for (earlier, later) in zip(runs, runs.dropFirst()) where earlier.next != later.from {
                problems.append("\(name): consumed ranges \(earlier.from)..<\(earlier.next) and \(later.from)..<\(later.next) do not meet (offsets skipped or applied twice)")
            }
            if last.next != next { problems.append("\(name): the consumed ranges end at \(last.next) but the stored position is \(next)") }
        }
        for key in ranges.keys where stored[key] == nil {
            problems.append("\(key.group) \(key.partition): consumed ranges are recorded but no position is stored")
        }

        // Rows per run: one pass over each table, paged by id, bucketed in memory (runs are few). A
        // reset run starts a new log on its partition: a source record belongs to the log its id falls
        // in (after the reset's bound), a dead letter to the log its reset names (none: the last).
        struct RunID: Hashable { var key: Key; var index: Int }
        var resets: [Key: [(id: Int64, bound: Int64)]] = [:]
        for row in try db.query("SELECT id, group_id, topic, kafka_partition, source_record_bound FROM consumer_range WHERE kind = 'reset' ORDER BY id", []) {
            let key = Key(group: try row.text(1), partition: TopicPartition(try row.text(2), Int32(try row.int(3))))
            resets[key, default: []].append((try row.int(0), row[4].int ?? 0))
        }
        let logs = ranges.mapValues { runs in
            var resetsSoFar = 0
            return runs.map { run in
                if run.kind == .reset { resetsSoFar += 1 }
                return resetsSoFar
            }
        }
        let keysByPartition = Dictionary(grouping: ranges.keys, by: \.partition)
        var rows: [RunID: Int] = [:]
        var outside = 0
        func count(_ partition: TopicPartition, _ offset: Int64, id: Int64, letter: (group: String, reset: Int64?)?) {
            // Records on a partition no consumer group read were applied directly (tools, imports).
            guard let keys = keysByPartition[partition] else { return }
            for key in keys where letter == nil || key.group == letter?.group {
                let keyResets = resets[key] ?? []
                let log: Int?
                if let letter {
                    log = letter.reset.map { reset in keyResets.firstIndex { $0.id == reset } } ?? keyResets.count
                } else {
                    // Bounds grow with the resets (each is the largest id at its time).
                    log = keyResets.firstIndex { $0.bound >= id } ?? keyResets.count
                }
                let runs = ranges[key] ?? []
                if let log, let index = runs.indices.first(where: { logs[key]?[$0] == log && runs[$0].from <= offset && offset < runs[$0].next }) {
                    rows[RunID(key: key, index: index), default: 0] += 1
                    return
                }
            }
            outside += 1
            if outside <= 20 { problems.append("a record at \(partition) offset \(offset) was stored or dead-lettered outside every consumed range") }
        }
        for (table, columns, isLetter) in [("source_record", "topic, kafka_partition, kafka_offset", false),
                                           ("dead_letter", "source_topic, source_partition, source_offset, group_id, reset_range_id", true)] {
            var last: Int64 = 0
            while true {
                let page = try db.query("SELECT id, \(columns) FROM \(table) WHERE id > ? ORDER BY id LIMIT 5000", [.int(last)])
                if page.isEmpty { break }
                for row in page {
                    last = try row.int(0)
                    count(TopicPartition(try row.text(1), Int32(try row.int(2))), try row.int(3), id: last,
                          letter: isLetter ? (try row.text(4), row[5].int) : nil)
                }
            }
        }
        if outside > 20 { problems.append("… \(outside - 20) more records outside every consumed range") }
        for (key, runs) in ranges {
            for (index, run) in runs.enumerated() where run.kind == .batch {
                let name = "\(run.group) \(run.partition) offsets \(run.from)..<\(run.next)"
                let held = (rows[RunID(key: key, index: index)] ?? 0) + run.absorbed
                if held != run.records {
                    problems.append("\(name): the consumer delivered \(run.records) records, the store accounts for \(held) (stored or dead-lettered \(held - run.absorbed), duplicates \(run.absorbed))")
                }
                let holes = run.next - run.from - Int64(run.records)
                if holes > 0 {
                    problems.append("\(name): \(holes) offsets hold no delivered record (records skipped by the consumer, or markers of a transactional producer)")
                }
            }
        }
        return (stored.count, problems)
    }
}
