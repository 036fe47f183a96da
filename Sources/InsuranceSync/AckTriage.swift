import Foundation
import HealthModel
import Kafka
import RecordStore
import ServiceRuntime

/// Authenticates and decodes BHXH's acknowledgements (DESIGN §5, §9) with ingest's envelope, account
/// and signature checks (`RecordTriage`) and its strict decoder; on `hssk.insurance.acks.v1` only a
/// Vietnam Social Security account (`bhxh_lt_…`) may answer.
struct AckTriage: Sendable {
    /// What to do with one message.
    enum Verdict: Sendable {
        case accepted(InsuranceAck)
        case rejected(Rejection)
    }

    func triage(_ message: ConsumerRecord, senders: [String: SenderDirectory.Sender?]) -> Verdict {
        if let problem = RecordTriage.envelopeProblem(message, ceType: CloudEventTypes.insuranceAck) { return .rejected(problem) }
        guard let value = message.value else {
            return .rejected(Rejection(path: "$", code: "value.missing", en: "The acknowledgement has no value.", vi: "Xác nhận không có dữ liệu."))
        }
        // Checked before the HMAC: a huge value must not cost a full hash to reject.
        guard value.count <= 64 * 1024 else {
            return .rejected(Rejection(path: "$", code: "json.tooLarge", en: "An acknowledgement is at most 64 KiB.",
                                       vi: "Xác nhận không được lớn hơn 64 KiB."))
        }
        let sender: SenderDirectory.Sender
        switch RecordTriage.authenticate(message, value: value, senders: senders) {
        case .success(let known): sender = known
        case .failure(let rejection): return .rejected(rejection)
        }
        if let problem = sender.name.problem(sending: .socialSecurity) {
            return .rejected(Rejection([ValidationIssue(path: "headers.ce_source", problem: problem)]))
        }
        let decoded = RecordDecoder.decode(Data(value), as: InsuranceAck.self)
        guard let ack = decoded.record, !decoded.issues.hasErrors else { return .rejected(Rejection(decoded.issues)) }
        guard let key = message.key, key.elementsEqual(ack.kafkaKey.utf8) else {
            return .rejected(Rejection(path: "key", code: "envelope.keyMismatch", en: "The Kafka key must be the BHXH number '\(ack.kafkaKey)'.",
                                       vi: "Khóa Kafka phải là mã số BHXH '\(ack.kafkaKey)'."))
        }
        return .accepted(ack)
    }

    /// Why an authentic acknowledgement cannot be recorded against the ledger, if it cannot.
    func ledgerProblem(_ ack: InsuranceAck, _ entry: SupplementLedgerEntry?) -> Rejection? {
        guard let entry else {
            return Rejection(path: "supplementId", code: "ack.unknownSupplement", en: "hssk never sent a supplement with this id.",
                             vi: "hssk chưa từng gửi bổ sung có mã này.")
        }
        guard entry.bhxhNumber == ack.kafkaKey else {
            return Rejection(path: "bhxhNumber", code: "ack.bhxhMismatch", en: "The supplement was sent for another BHXH number.",
                             vi: "Bổ sung này được gửi cho mã số BHXH khác.")
        }
        return nil
    }
}
