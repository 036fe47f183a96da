import CKafkaBaseline
import Foundation
import Kafka

/// `hssk bench kafka`: our Swift API against a minimal raw-C librdkafka loop, same cluster, same run.
public struct KafkaBench: Sendable {
    public var records = 500_000
    public var valueSize = 500
    public var brokers = 3
    /// At least this many partitions; more when the records would not fit the embedded cluster's
    /// per-partition log (it keeps about 5 MB per partition and drops older records).
    public var partitions = 6
    /// Each side runs this many times, alternating; the best run of each counts (least disturbed).
    public var rounds = 3

    public init() {}

    /// Results; JSON keys as `hssk bench --json` writes them.
    public struct Result: Codable, Sendable {
        public var records: Int
        public var valueBytes: Int
        public var rounds: Int
        public var producePerS: Double
        public var consumePerS: Double
        public var rawProducePerS: Double
        public var rawConsumePerS: Double
        /// Process CPU (user + system, every thread: application, librdkafka, the embedded brokers) per
        /// record, in µs, median of the rounds: what two shared cores cannot blur as they blur wall time.
        public var produceCPUMicros = 0.0
        public var rawProduceCPUMicros = 0.0
        public var consumeCPUMicros = 0.0
        public var rawConsumeCPUMicros = 0.0
        public var produceRatio: Double { rawProducePerS > 0 ? producePerS / rawProducePerS : 0 }
        public var consumeRatio: Double { rawConsumePerS > 0 ? consumePerS / rawConsumePerS : 0 }
        /// Raw C's CPU per record over the Swift API's (≥ 1: the API costs no more CPU than the C loop).
        public var produceCPURatio: Double { produceCPUMicros > 0 ? rawProduceCPUMicros / produceCPUMicros : 0 }
        public var consumeCPURatio: Double { consumeCPUMicros > 0 ? rawConsumeCPUMicros / consumeCPUMicros : 0 }

        enum CodingKeys: String, CodingKey {
            case records, rounds
            case valueBytes = "value_bytes"
            case producePerS = "produce_per_s", consumePerS = "consume_per_s"
            case rawProducePerS = "raw_produce_per_s", rawConsumePerS = "raw_consume_per_s"
            case produceRatio = "produce_ratio", consumeRatio = "consume_ratio"
            case produceCPUMicros = "produce_cpu_us_per_record", rawProduceCPUMicros = "raw_produce_cpu_us_per_record"
            case consumeCPUMicros = "consume_cpu_us_per_record", rawConsumeCPUMicros = "raw_consume_cpu_us_per_record"
            case produceCPURatio = "produce_cpu_ratio", consumeCPURatio = "consume_cpu_ratio"
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(records, forKey: .records)
            try container.encode(valueBytes, forKey: .valueBytes)
            try container.encode(rounds, forKey: .rounds)
            try container.encode(producePerS.rounded(), forKey: .producePerS)
            try container.encode(consumePerS.rounded(), forKey: .consumePerS)
            try container.encode(rawProducePerS.rounded(), forKey: .rawProducePerS)
            try container.encode(rawConsumePerS.rounded(), forKey: .rawConsumePerS)
            try container.encode((produceRatio * 1000).rounded() / 1000, forKey: .produceRatio)
            try container.encode((consumeRatio * 1000).rounded() / 1000, forKey: .consumeRatio)
            for (value, key) in [(produceCPUMicros, CodingKeys.produceCPUMicros), (rawProduceCPUMicros, .rawProduceCPUMicros),
                                 (consumeCPUMicros, .consumeCPUMicros), (rawConsumeCPUMicros, .rawConsumeCPUMicros)] {
                try container.encode((value * 100).rounded() / 100, forKey: key)
            }
            try container.encode((produceCPURatio * 1000).rounded() / 1000, forKey: .produceCPURatio)
            try container.encode((consumeCPURatio * 1000).rounded() / 1000, forKey: .consumeCPURatio)
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            records = try container.decode(Int.self, forKey: .records)
            valueBytes = try container.decode(Int.self, forKey: .valueBytes)
            rounds = try container.decode(Int.self, forKey: .rounds)
            producePerS = try container.decode(Double.self, forKey: .producePerS)
            consumePerS = try container.decode(Double.self, forKey: .consumePerS)
            rawProducePerS = try container.decode(Double.self, forKey: .rawProducePerS)
            rawConsumePerS = try container.decode(Double.self, forKey: .rawConsumePerS)
            produceCPUMicros = try container.decodeIfPresent(Double.self, forKey: .produceCPUMicros) ?? 0
            rawProduceCPUMicros = try container.decodeIfPresent(Double.self, forKey: .rawProduceCPUMicros) ?? 0
            consumeCPUMicros = try container.decodeIfPresent(Double.self, forKey: .consumeCPUMicros) ?? 0
            rawConsumeCPUMicros = try container.decodeIfPresent(Double.self, forKey: .rawConsumeCPUMicros) ?? 0
        }

        init(records: Int, valueBytes: Int, rounds: Int) {
            self.records = records
            self.valueBytes = valueBytes
            self.rounds = rounds
            producePerS = 0
            consumePerS = 0
            rawProducePerS = 0
            rawConsumePerS = 0
        }
    }

    /// Failures of the baseline loop (it reports librdkafka's code and a message).
    public struct BaselineError: Error, CustomStringConvertible {
        public var description: String
    }

    /// Runs the benchmark; `progress` gets one line per measured step.
    public func run(progress: @Sendable (String) -> Void = { _ in }) async throws -> Result {
        let cluster = try EmbeddedCluster(brokers: brokers)
        defer { cluster.shutdown() }
        let value = [UInt8](repeating: UInt8(ascii: "x"), count: valueSize)
        let header = KafkaHeader("ce_type", "vn.hssk.visit.v1")
        var result = Result(records: records, valueBytes: valueSize, rounds: rounds)
        var producerConfig = ProducerConfig(bootstrapServers: cluster.bootstrapServers)
        producerConfig.client.logLevel = 3

        // Per round; the result is each side's median: on two shared cores single rounds stray by 3–7×
        // (a raw consume of 1.6 M/s between two of 0.24 M/s), and the best of them would be that stray.
        var rawProduces: [Double] = [], swiftProduces: [Double] = [], swiftConsumes: [Double] = [], rawConsumes: [Double] = []
        // CPU per record of each side, same rounds: process CPU from just before the side starts to just
        // after it ends (client set-up and teardown included on both sides alike).
        var cpu: [String: [Double]] = [:]
        func perRecord(since start: Double) -> Double { (Self.processCPUSeconds() - start) * 1e6 / Double(max(records, 1)) }
        let fitting = max(partitions, (records * (valueSize + 64) + EmbeddedCluster.partitionLogBytes / 2) / (EmbeddedCluster.partitionLogBytes / 2))
        for round in 1...rounds {
            let swiftTopic = "bench.swift.\(round)", rawTopic = "bench.raw.\(round)"
            try cluster.createTopic(swiftTopic, partitions: fitting, replicationFactor: min(3, brokers))
            try cluster.createTopic(rawTopic, partitions: fitting, replicationFactor: min(3, brokers))

            let bootstrap = cluster.bootstrapServers, records = records, valueSize = valueSize
            let batch = (0..<records).map {
                ProducerRecord(topic: swiftTopic, key: Array("key-\($0 % 1000)".utf8), value: value, headers: [header])
            }
            // Alternate which side goes first, so that neither always meets a fresher cluster.
            for side in round % 2 == 1 ? ["raw", "swift"] : ["swift", "raw"] {
                let cpuStart = Self.processCPUSeconds()
                defer { cpu[side + " produce", default: []].append(perRecord(since: cpuStart)) }
                if side == "raw" {
                    let raw = try baseline(await onOwnThread { hssk_baseline_produce(bootstrap, rawTopic, Int64(records), Int32(valueSize)) })
                    rawProduces.append(raw)
                    progress(String(format: "round %d: raw C produce   %10.0f records/s", round, raw))
                } else {
                    let producer = try Producer(config: producerConfig)
                    let start = ContinuousClock.now
                    let delivered = try await producer.sendAll(batch)
                    let swiftProduce = Double(delivered.delivered) / seconds(ContinuousClock.now - start)
                    try await producer.close()
                    guard delivered.allDelivered else {
                        throw BaselineError(description: "\(delivered.failures.count) records were not delivered: \(delivered.failures.prefix(3))")
                    }
                    swiftProduces.append(swiftProduce)
                    progress(String(format: "round %d: Swift produce   %10.0f records/s", round, swiftProduce))
                }
            }

            for side in round % 2 == 1 ? ["raw", "swift"] : ["swift", "raw"] {
                let cpuStart = Self.processCPUSeconds()
                defer { cpu[side + " consume", default: []].append(perRecord(since: cpuStart)) }
                if side == "swift" {
                    let swiftConsume = try await consume(cluster, topic: swiftTopic, group: "bench-swift-\(round)")
                    swiftConsumes.append(swiftConsume)
                    progress(String(format: "round %d: Swift consume   %10.0f records/s", round, swiftConsume))
                } else {
                    let rawConsume = try baseline(await onOwnThread { hssk_baseline_consume(bootstrap, rawTopic, "bench-raw-\(round)", Int64(records)) })
                    rawConsumes.append(rawConsume)
                    progress(String(format: "round %d: raw C consume   %10.0f records/s", round, rawConsume))
                }
            }
        }
        result.producePerS = Self.median(swiftProduces)
        result.rawProducePerS = Self.median(rawProduces)
        result.consumePerS = Self.median(swiftConsumes)
        result.rawConsumePerS = Self.median(rawConsumes)
        result.produceCPUMicros = Self.median(cpu["swift produce"] ?? [])
        result.rawProduceCPUMicros = Self.median(cpu["raw produce"] ?? [])
        result.consumeCPUMicros = Self.median(cpu["swift consume"] ?? [])
        result.rawConsumeCPUMicros = Self.median(cpu["raw consume"] ?? [])
        return result
    }

    /// CPU time of this process so far (user + system, all threads), in seconds.
    static func processCPUSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }

    /// The middle value (the mean of the middle two for an even count); 0 for none.
    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return 0 }
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }

    private func consume(_ cluster: EmbeddedCluster, topic: String, group: String) async throws -> Double {
        var config = ConsumerConfig(bootstrapServers: cluster.bootstrapServers, groupID: group)
        config.client.logLevel = 3
        // The same prefetch bound as the C loop (1 GiB): the whole topic fits, so both measure consumption
        // rather than the refill of a full local queue.
        config.client.properties["queued.max.messages.kbytes"] = "1048576"
        let consumer = try Consumer(config: config)
        try await consumer.subscribe([topic])
        var count = 0
        var bytes = 0
        var start: ContinuousClock.Instant?
        let deadline = ContinuousClock.now + .seconds(120)
        while count < records, ContinuousClock.now < deadline {
            let batch = try await consumer.poll(maxRecords: 2_000, timeout: .milliseconds(100))
            if start == nil, !batch.isEmpty { start = ContinuousClock.now }
            count += batch.count
            for record in batch { bytes += record.valueCount }
        }
        let elapsed = start.map { ContinuousClock.now - $0 } ?? .zero
        try await consumer.close()
        guard count >= records else { throw BaselineError(description: "Swift consumer got \(count) of \(records) records (\(bytes) bytes)") }
        return Double(count) / seconds(elapsed)
    }

    private func baseline(_ outcome: hssk_baseline_result) throws -> Double {
        guard outcome.error == 0 else {
            let message = withUnsafeBytes(of: outcome.message) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            throw BaselineError(description: "raw librdkafka loop failed (\(outcome.error)): \(message)")
        }
        return Double(outcome.records) / outcome.seconds
    }

    /// Runs a blocking C loop on a thread of its own, off the cooperative pool.
    private func onOwnThread(_ body: @escaping @Sendable () -> hssk_baseline_result) async -> hssk_baseline_result {
        await withCheckedContinuation { continuation in
            Thread { continuation.resume(returning: body()) }.start()
        }
    }

    private func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}
