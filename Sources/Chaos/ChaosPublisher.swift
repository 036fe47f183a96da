import Foundation
import HealthModel
import Kafka
import SyntheticPopulation
import Tooling

/// What a chaos run publishes: a synthetic population as its sources send it (signed, and unsigned,
/// forged or invalid where the ground truth says so) with hostile records mixed in — oversized junk
/// headers, random bytes, forged signatures, replays and corrections back to earlier content (A, B,
/// A) — each carrying the outcome it must have (`expectHeader`) and the run's id (`runHeader`).
struct ChaosPublisher: Sendable {
    /// `stored`, or the dead-letter code the record must get.
    static let expectHeader = "hssk-chaos-expect"
    /// The run the record belongs to (a cluster may hold earlier runs' records).
    static let runHeader = "hssk-chaos-run"

    /// Every message, in publishing order.
    let messages: [ProducerRecord]
    /// How many of them are hostile additions to the population.
    let hostile: Int

    init(population: Population, sources: SyntheticSources, count: Int, run: String, seed: UInt64) throws {
        var random = SeededGenerator(seed: seed)
        var out: [ProducerRecord] = []
        var valid: [(ProducerRecord, SyntheticRecord)] = []
        var later: [Int: [ProducerRecord]] = [:]
        var hostile = 0
        func tagged(_ record: ProducerRecord, _ expected: String) -> ProducerRecord {
            var record = record
            record.headers.append(KafkaHeader(Self.expectHeader, expected))
            record.headers.append(KafkaHeader(Self.runHeader, run))
            return record
        }
        for (index, synthetic) in population.records.prefix(count).enumerated() {
            let message = tagged(try sources.producerRecord(synthetic), SyntheticSources.expectedCode(synthetic) ?? "stored")
            out.append(message)
            if synthetic.truth.isAcceptable { valid.append((message, synthetic)) }
            out += later.removeValue(forKey: index) ?? []
            guard index % 40 == 39, let (base, baseSynthetic) = valid.randomElement(using: &random) else { continue }
            hostile += 1
            switch (index / 40) % 5 {
            case 0:
                // A 100 KB junk ce_source: no account has that name; its dead letter must still fit.
                var record = base
                record.headers.removeAll { $0.key == EnvelopeHeaders.source || $0.key == Self.expectHeader || $0.key == Self.runHeader }
                record.headers.append(KafkaHeader(EnvelopeHeaders.source, String((0..<100 * 1024).map { _ in "xyz0_-".randomElement(using: &random)! })))
                out.append(tagged(record, "sender.unknownAccount"))
            case 1:
                // Random bytes, properly signed by their sender.
                var bytes = (0..<Int.random(in: 20...400, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
                bytes[0] = 0x01
                let key = String(decoding: base.key ?? [], as: UTF8.self)
                let decoded = RecordDecoder.decode(Data(bytes), kind: baseSynthetic.record.kind)
                out.append(tagged(sources.message(value: bytes, key: key, kind: baseSynthetic.record.kind, sender: baseSynthetic.sender),
                                  decoded.issues.errors.first?.code ?? "json.malformed"))
            case 2:
                // The same content, signed by someone without the account's key.
                let key = String(decoding: base.key ?? [], as: UTF8.self)
                out.append(tagged(sources.message(value: base.value ?? [], key: key, kind: baseSynthetic.record.kind, sender: baseSynthetic.sender,
                                                  signing: .forged), "signature.invalid"))
            case 3:
                // A replay: the very same message again (same ce_id, bytes and expectation).
                out.append(base)
            default:
                // A correction and a correction back: B now, A again (new ce_id) a little later.
                guard case .visit(var visit) = baseSynthetic.record else {
                    out.append(base)
                    continue
                }
                visit.dischargeDiagnosis = (visit.dischargeDiagnosis ?? "") + " (đã sửa)"
                let corrected = try sources.producerRecord(SyntheticRecord(record: .visit(visit), truth: baseSynthetic.truth, sender: baseSynthetic.sender))
                out.append(tagged(corrected, "stored"))
                let key = String(decoding: base.key ?? [], as: UTF8.self)
                let back = sources.message(value: base.value ?? [], key: key, kind: .visit, sender: baseSynthetic.sender)
                later[index + 20, default: []].append(tagged(back, "stored"))
                hostile += 1
            }
        }
        out += later.sorted { $0.key < $1.key }.flatMap(\.value)
        messages = out
        self.hostile = hostile
    }

    /// Bytes per topic (values, keys, headers and framing): what the embedded cluster must keep.
    var bytesPerTopic: [String: Int] {
        var bytes: [String: Int] = [:]
        for message in messages {
            bytes[message.topic, default: 0] += (message.value?.count ?? 0) + (message.key?.count ?? 0) + 120
                + message.headers.reduce(0) { $0 + $1.key.utf8.count + ($1.value?.count ?? 0) + 8 }
        }
        return bytes
    }

    /// Publishes everything with an idempotent producer, spread evenly over `duration`; returns how
    /// many records the cluster acknowledged and how many it did not.
    func publish(bootstrap: String, properties: [String: String], over duration: Duration,
                 progress: @escaping @Sendable (Int) -> Void) async throws -> (acknowledged: Int, failed: Int) {
        var config = ProducerConfig(bootstrapServers: bootstrap)
        config.client.properties = properties
        config.client.clientID = "hssk-chaos-sources"
        config.client.logLevel = 3
        // Ride out broker faults instead of reporting records failed: the run checks what Kafka holds.
        config.messageTimeoutMs = 300_000
        let producer = try Producer(config: config)
        let chunk = 50
        let chunks = max(1, (messages.count + chunk - 1) / chunk)
        let pause = duration / chunks
        var acknowledged = 0, failed = 0
        for start in stride(from: 0, to: messages.count, by: chunk) {
            let began = ContinuousClock.now
            let result = try await producer.sendAll(Array(messages[start..<min(start + chunk, messages.count)]))
            acknowledged += result.delivered
            failed += result.failures.count
            progress(acknowledged)
            let spent = ContinuousClock.now - began
            if spent < pause { try await Task.sleep(for: pause - spent) }
        }
        try await producer.close()
        return (acknowledged, failed)
    }
}
