/// Accumulates the issues of one record so validation can report everything at once.
public struct IssueCollector: Sendable {
    /// Issues found so far, in the order found.
    public private(set) var issues: [ValidationIssue] = []

    /// Creates an empty collector.
    public init() {}

    /// Records an issue.
    public mutating func add(_ issue: ValidationIssue) { issues.append(issue) }

    /// Records a problem at `path`.
    public mutating func add(_ path: String, _ problem: FieldProblem) {
        issues.append(ValidationIssue(path: path, problem: problem))
    }

    /// Records a problem built in place.
    public mutating func add(
        _ path: String, _ code: String, _ severity: Severity = .error, en: String, vi: String
    ) {
        add(path, FieldProblem(code, severity: severity, en: en, vi: vi))
    }

    /// Records several issues.
    public mutating func add(contentsOf other: [ValidationIssue]) { issues.append(contentsOf: other) }

    /// Runs a parser; on failure records its problem at `path` and returns nil.
    @discardableResult
    public mutating func parse<T>(_ path: String, _ body: () throws(FieldProblem) -> T) -> T? {
        do {
            return try body()
        } catch {
            add(path, error)
            return nil
        }
    }
}

/// Joins JSON path segments: `join("patient", "phone")` is `patient.phone`.
func joinPath(_ base: String, _ key: String) -> String {
    base.isEmpty || base == "$" ? key : "\(base).\(key)"
}

/// Appends an array index to a JSON path: `index("diagnoses", 1)` is `diagnoses[1]`.
func indexPath(_ base: String, _ index: Int) -> String { "\(base)[\(index)]" }
