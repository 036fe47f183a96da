import Foundation
import HSSKTesting
import HealthModel
@testable import InsuranceSync
import Kafka
@testable import ServiceRuntime
import SyntheticPopulation
@testable import Tooling

/// A simulated Vietnam Social Security system on the embedded cluster: it reads hssk's supplements,
/// accepts or rejects each by its rules, answers on the acknowledgement topic and publishes its own
/// card changes — `holderCorrected` echoing what it accepted, `suspended` after a death — signed as
/// `bhxh_lt_hn`, exactly as the real one would reach ingest.
actor SimulatedBHXH {
    /// One supplement as read from the topic, with its Kafka key and headers checked.
    struct Received: Sendable {
        var supplement: InsuranceSupplement
        var key: String
        var ceID: String?
        var ceType: String?
        var issues: [ValidationIssue]
    }

    /// What one round did.
    struct Round: Sendable {
        var received: [Received] = []
        var accepted = 0
        var rejected = 0
        /// Everything it published (acknowledgements and card changes), to wait for.
        var published: [(ProducerRecord, String?)] = []
    }

    static let account = SyntheticAccounts.socialSecurity
    static let supplementsTopic = "hssk.insurance.supplements.v1"
    static let acksTopic = "hssk.insurance.acks.v1"

    private let sources: SyntheticSources
    private let consumer: Consumer
    /// BHXH's own database: the card as it last published it, by BHXH number.
    private(set) var cards: [String: InsuranceCardChange] = [:]
    private(set) var dead: Set<String> = []
    /// Cards whose phone BHXH refuses to change (the holder registered it in VssID).
    let phoneLocked: Set<String>
    private var positions: [Int32: Int64] = [:]
    private let partitions: Int32
    /// Every supplement ever read.
    private(set) var history: [Received] = []

    init(bootstrap: String, sources: SyntheticSources, partitions: Int32, phoneLocked: Set<String>) throws {
        var config = ConsumerConfig(bootstrapServers: bootstrap, groupID: "simulated-bhxh")
        config.client.logLevel = 3
        consumer = try Consumer(config: config)
        self.sources = sources
        self.partitions = partitions
        self.phoneLocked = phoneLocked
    }

    /// Remembers a card change BHXH published (the initial cards of a test).
    func know(_ change: InsuranceCardChange) {
        if let known = cards[change.bhxhNumber], let a = try? PartialDate(iso: known.effectiveAt), let b = try? PartialDate(iso: change.effectiveAt), b < a {
            return
        }
        cards[change.bhxhNumber] = change
    }

    /// The message BHXH sends for a card change.
    func message(_ change: InsuranceCardChange) throws -> ProducerRecord {
        sources.message(value: Array(try RecordDecoder.encode(change)), key: change.bhxhNumber, kind: .insuranceCard, sender: Self.account)
    }

    /// Reads every supplement published since the last round, answers each, and publishes the card
    /// changes that follow (effective `effectiveAt`).
    func round(effectiveAt: String) async throws -> Round {
        var round = Round()
        round.received = try await readNewSupplements()
        history += round.received
        var changed: [String] = []
        for received in round.received {
            let s = received.supplement
            guard var card = cards[s.bhxhNumber] else {
                round.published.append((ack(s, .rejected, code: "051", reason: "Mã thẻ không đúng"), nil))
                round.rejected += 1
                continue
            }
            if s.field == .phone && phoneLocked.contains(s.bhxhNumber) {
                round.published.append((ack(s, .rejected, code: "DT01", reason: "Số điện thoại do người tham gia tự đăng ký trên VssID"), nil))
                round.rejected += 1
                continue
            }
            switch s.field {
            case .personalId: card.holder.personalId = s.value
            case .phone: card.holder.phone = s.value
            case .fullName: card.holder.fullName = s.value
            case .birthDate: card.holder.birthDate = s.value
            case .deathDate: dead.insert(s.bhxhNumber)
            }
            cards[s.bhxhNumber] = card
            if !changed.contains(s.bhxhNumber) { changed.append(s.bhxhNumber) }
            round.published.append((ack(s, .accepted), nil))
            round.accepted += 1
        }
        for bhxh in changed {
            guard let card = cards[bhxh] else { continue }
            var echo = InsuranceCardChange(kind: dead.contains(bhxh) ? .suspended : .holderCorrected, cardCode: card.cardCode,
                                           bhxhNumber: bhxh, holder: card.holder, effectiveAt: effectiveAt)
            echo.reason = dead.contains(bhxh) ? "Người tham gia đã chết" : "Cập nhật theo dữ liệu hồ sơ sức khỏe"
            cards[bhxh] = echo.kind == .suspended ? card : echo
            round.published.append((try message(echo), nil))
        }
        return round
    }

    /// BHXH's own changes: every living holder's card renewed (effective `effectiveAt`), carrying what
    /// BHXH holds now.
    func renewAll(effectiveAt: String, validTo: String) throws -> [(ProducerRecord, String?)] {
        try cards.keys.sorted().filter { !dead.contains($0) }.compactMap { bhxh in
            guard let card = cards[bhxh] else { return nil }
            var renewed = InsuranceCardChange(kind: .renewed, cardCode: card.cardCode, bhxhNumber: bhxh, holder: card.holder, effectiveAt: effectiveAt)
            renewed.validFrom = effectiveAt
            renewed.validTo = validTo
            cards[bhxh] = renewed
            return (try message(renewed), nil)
        }
    }

    /// An acknowledgement as BHXH signs it.
    func ack(_ supplement: InsuranceSupplement, _ status: InsuranceAck.Status, code: String? = nil, reason: String? = nil) -> ProducerRecord {
        let ack = InsuranceAck(supplementId: supplement.supplementId, bhxhNumber: supplement.bhxhNumber, status: status, reasonCode: code,
                               reason: reason, receivedAt: "2026-10-01T08:00:00+07:00")
        return signedAck(ack)
    }

    /// Any acknowledgement value, sent as `account` and signed with its key (or a forger's when `forged`).
    func signedAck(_ ack: InsuranceAck, as account: String = SimulatedBHXH.account, forged: Bool = false) -> ProducerRecord {
        let value = (try? RecordDecoder.encode(ack)).map(Array.init) ?? []
        let key = forged ? (try? SigningKey(bytes: Array(repeating: 0x5a, count: 32))) : sources.keys[account]
        var headers = [KafkaHeader(EnvelopeHeaders.specVersion, EnvelopeHeaders.specVersionValue),
                       KafkaHeader(EnvelopeHeaders.id, UUID().uuidString.lowercased()),
                       KafkaHeader(EnvelopeHeaders.source, account),
                       KafkaHeader(EnvelopeHeaders.type, CloudEventTypes.insuranceAck),
                       KafkaHeader(EnvelopeHeaders.time, "2026-10-01T08:00:00+07:00"),
                       KafkaHeader(EnvelopeHeaders.contentType, EnvelopeHeaders.contentTypeValue)]
        if let key { headers.append(KafkaHeader(EnvelopeHeaders.signature, RecordSignature.sign(value: value, key: key))) }
        return ProducerRecord(topic: Self.acksTopic, key: Array(ack.bhxhNumber.utf8), value: value, headers: headers)
    }

    /// Reads the supplements topic from where the last round stopped up to its current end.
    private func readNewSupplements() async throws -> [Received] {
        var ends: [Int32: Int64] = [:]
        for p in 0..<partitions {
            let (low, high) = try await consumer.watermarks(TopicPartition(Self.supplementsTopic, p))
            positions[p] = max(positions[p] ?? low, low)
            ends[p] = high
        }
        let wanted = ends.filter { $0.value > (positions[$0.key] ?? 0) }
        guard !wanted.isEmpty else { return [] }
        try await consumer.assign(Dictionary(uniqueKeysWithValues: wanted.keys.map { (TopicPartition(Self.supplementsTopic, $0), positions[$0] ?? 0) }))
        var out: [Received] = []
        let deadline = ContinuousClock.now + .seconds(60)
        while wanted.contains(where: { (positions[$0.key] ?? 0) < $0.value }), ContinuousClock.now < deadline {
            for record in try await consumer.poll(maxRecords: 1_000, timeout: .milliseconds(200)) {
                guard let end = wanted[record.partition], record.offset >= (positions[record.partition] ?? 0), record.offset < end else { continue }
                positions[record.partition] = record.offset + 1
                let decoded = RecordDecoder.decode(Data(record.value ?? []), as: InsuranceSupplement.self)
                guard let supplement = decoded.record else { continue }
                out.append(Received(supplement: supplement, key: record.key.map { String(decoding: $0, as: UTF8.self) } ?? "",
                                    ceID: record.headerText(EnvelopeHeaders.id), ceType: record.headerText(EnvelopeHeaders.type),
                                    issues: decoded.issues))
            }
        }
        try await consumer.assign([:])
        return out
    }

    /// Stops reading.
    func close() async throws { try await consumer.close() }
}
