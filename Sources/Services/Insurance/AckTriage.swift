import Foundation
import HealthModel
import Kafka
import RecordStore

/// Authenticates and decodes BHXH's acknowledgements (DESIGN §5, §9): the same envelope, account,
/// signature and strict-decoding rules as ingest's, for `hssk.insurance.acks.v1`, where only a Vietnam
/// Social Security account (`bhxh_lt_…`) may answer.
struct AckTriage: Sendable {
    /// What to do with one message.
    enum Verdict: Sendable {
        case accepted(InsuranceAck)
        case rejected(Rejection)
    }

    func triage(_ message: ConsumerRecord, senders: [String: SenderDirectory.Sender?]) -> Verdict {
        for name in [EnvelopeHeaders.specVersion, EnvelopeHeaders.id, EnvelopeHeaders.source, EnvelopeHeaders.type, EnvelopeHeaders.contentType] {
            guard let value = message.headerText(name), !value.isEmpty else {
                return .rejected(Rejection(path: "headers.\(name)", code: "envelope.missingHeader", en: "Header \(name) is missing.",
                                           vi: "Thiếu header \(name)."))
            }
            let expected: String? = switch name {
            case EnvelopeHeaders.specVersion: EnvelopeHeaders.specVersionValue
            case EnvelopeHeaders.contentType: EnvelopeHeaders.contentTypeValue
            case EnvelopeHeaders.type: CloudEventTypes.insuranceAck
            default: nil
            }
            if let expected, value != expected {
                return .rejected(Rejection(path: "headers.\(name)", code: name == EnvelopeHeaders.type ? "envelope.typeMismatch" : "envelope.invalidHeader",
                                           en: "Header \(name) must be \(expected).", vi: "Header \(name) phải là \(expected)."))
            }
        }
        guard let value = message.value else {
            return .rejected(Rejection(path: "$", code: "value.missing", en: "The acknowledgement has no value.", vi: "Xác nhận không có dữ liệu."))
        }
        guard value.count <= 64 * 1024 else {
            return .rejected(Rejection(path: "$", code: "json.tooLarge", en: "An acknowledgement is at most 64 KiB.",
                                       vi: "Xác nhận không được lớn hơn 64 KiB."))
        }
        let source = message.headerText(EnvelopeHeaders.source) ?? ""
        guard let known = senders[source], let sender = known else {
            return .rejected(Rejection(path: "headers.ce_source", code: "sender.unknownAccount",
                                       en: "No interop account named '\(source)' is registered.",
                                       vi: "Tài khoản liên thông '\(source)' chưa được đăng ký."))
        }
        guard !sender.locked else {
            return .rejected(Rejection(path: "headers.ce_source", code: "sender.accountLocked",
                                       en: "Account \(source) is locked; ask the Department of Health to unlock it.",
                                       vi: "Tài khoản \(source) đã bị khóa; liên hệ Sở Y tế để mở khóa."))
        }
        if let problem = sender.name.problem(sending: .socialSecurity) {
            return .rejected(Rejection([ValidationIssue(path: "headers.ce_source", problem: problem)]))
        }
        guard let signature = message.headerText(EnvelopeHeaders.signature), !signature.isEmpty else {
            return .rejected(Rejection(path: "headers.\(EnvelopeHeaders.signature)", code: "signature.missing",
                                       en: "The acknowledgement is not signed (header \(EnvelopeHeaders.signature)).",
                                       vi: "Xác nhận chưa được ký (header \(EnvelopeHeaders.signature))."))
        }
        guard let key = sender.key, RecordSignature.verify(value: value, signature: signature, key: key) else {
            return .rejected(Rejection(path: "headers.\(EnvelopeHeaders.signature)", code: "signature.invalid",
                                       en: "The signature does not match the value and the key of account \(source).",
                                       vi: "Chữ ký không khớp với dữ liệu và khóa của tài khoản \(source)."))
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
