/// A problem with one value, independent of where the value sits in a record.
///
/// Identifier parsers throw it; validators attach a JSON path to make a `ValidationIssue`.
public struct FieldProblem: Error, Sendable, Hashable, CustomStringConvertible {
    /// Stable code, e.g. `personalId.length`.
    public var code: String
    /// Whether a record carrying this value is rejected.
    public var severity: Severity
    /// Explanation in English and Vietnamese.
    public var message: BilingualMessage

    /// Creates a problem; errors by default.
    public init(_ code: String, severity: Severity = .error, en: String, vi: String) {
        self.code = code
        self.severity = severity
        self.message = BilingualMessage(en: en, vi: vi)
    }

    /// `code: English message`.
    public var description: String { "\(code): \(message.en)" }
}
