import Foundation

/// Kafka header names of the CloudEvents binary binding used on every hssk topic (DESIGN §5).
public enum EnvelopeHeaders {
    /// CloudEvents spec version; always `specVersionValue`.
    public static let specVersion = "ce_specversion"
    /// Unique event id chosen by the sender.
    public static let id = "ce_id"
    /// The sender account name, e.g. `01032_lt_bnv`.
    public static let source = "ce_source"
    /// Event type, e.g. `vn.hssk.visit.v1` (see `CloudEventTypes`).
    public static let type = "ce_type"
    /// Event time, RFC 3339.
    public static let time = "ce_time"
    /// Content type of the value; always `contentTypeValue`.
    public static let contentType = "content-type"
    /// HMAC-SHA256 of the value bytes with the sender account's key (hex).
    public static let signature = "hssk-signature"

    /// The only `ce_specversion` accepted.
    public static let specVersionValue = "1.0"
    /// The only `content-type` accepted.
    public static let contentTypeValue = "application/json"
    /// Headers a source record must carry.
    public static let required: [String] = [specVersion, id, source, type, time, contentType, signature]
}

/// Headers a dead-letter record carries on top of the original key, value and headers (DESIGN §5).
public enum DeadLetterHeaders {
    /// Main error code, e.g. `personalId.centuryDigitMismatch` or `signature.invalid`.
    public static let errorCode = "hssk-error-code"
    /// JSON list of `{field, code, message}` (see `DeadLetterDetail`).
    public static let errorDetail = "hssk-error-detail"
    /// Topic the record was read from.
    public static let sourceTopic = "hssk-source-topic"
    /// Partition it was read from (decimal).
    public static let sourcePartition = "hssk-source-partition"
    /// Offset it was read from (decimal).
    public static let sourceOffset = "hssk-source-offset"
    /// When it was dead-lettered, RFC 3339.
    public static let failedAt = "hssk-failed-at"
    /// The store's id of the letter (decimal), added by the dead-letter relay: after a position was
    /// moved back, two letters may name the same source offset.
    public static let letterID = "hssk-dead-letter-id"
    /// All of them.
    public static let all: [String] = [errorCode, errorDetail, sourceTopic, sourcePartition, sourceOffset, failedAt, letterID]
}

/// One entry of the `hssk-error-detail` header.
public struct DeadLetterDetail: Codable, Sendable, Hashable {
    /// JSON field path.
    public var field: String
    /// Stable code.
    public var code: String
    /// Message in English and Vietnamese.
    public var message: BilingualMessage

    /// The `hssk-error-detail` header value for a record's issues (errors first, then warnings).
    public static func headerValue(for issues: [ValidationIssue]) -> String {
        let ordered = issues.errors + issues.warnings
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(ordered.map(DeadLetterDetail.init)) else { return "[]" }
        return String(decoding: data, as: UTF8.self)
    }

    /// Builds the entry of an issue.
    public init(_ issue: ValidationIssue) {
        field = issue.path
        code = issue.code
        message = issue.message
    }
}
