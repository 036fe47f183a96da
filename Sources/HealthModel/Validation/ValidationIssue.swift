/// How serious a validation finding is: errors reject the record, warnings travel with it.
public enum Severity: String, Codable, Sendable, Hashable, CaseIterable {
    /// The record is rejected (dead-lettered) because of this finding.
    case error
    /// The record is accepted; the finding is reported back to the sender.
    case warning
}

/// A human message in English and Vietnamese: the Vietnamese text reaches clinic IT staff.
public struct BilingualMessage: Codable, Sendable, Hashable {
    /// English text, for logs and developers.
    public var en: String
    /// Vietnamese text, for the sender's IT staff.
    public var vi: String

    /// Creates a message from its two languages.
    public init(en: String, vi: String) {
        self.en = en
        self.vi = vi
    }
}

/// One problem found in a record: where (JSON path), what (stable code), how bad, and why in two languages.
public struct ValidationIssue: Codable, Sendable, Hashable, CustomStringConvertible {
    /// JSON field path in the canonical form, e.g. `patient.personalId` or `diagnoses[1].code`; `$` is the whole value.
    public var path: String
    /// Stable machine code callers may switch on, e.g. `personalId.centuryDigitMismatch`.
    public var code: String
    /// Whether the record is rejected.
    public var severity: Severity
    /// Explanation in English and Vietnamese.
    public var message: BilingualMessage

    /// Creates an issue.
    public init(path: String, code: String, severity: Severity, message: BilingualMessage) {
        self.path = path
        self.code = code
        self.severity = severity
        self.message = message
    }

    /// Creates an issue from an identifier or format problem found at `path`.
    public init(path: String, problem: FieldProblem) {
        self.init(path: path, code: problem.code, severity: problem.severity, message: problem.message)
    }

    /// `severity path code: message` in English, for logs.
    public var description: String { "\(severity.rawValue) \(path) \(code): \(message.en)" }
}

extension Array where Element == ValidationIssue {
    /// True when at least one issue rejects the record.
    public var hasErrors: Bool { contains { $0.severity == .error } }
    /// Only the rejecting issues.
    public var errors: [ValidationIssue] { filter { $0.severity == .error } }
    /// Only the non-rejecting issues.
    public var warnings: [ValidationIssue] { filter { $0.severity == .warning } }
}
