import Foundation
import HealthModel

/// One episode (HOSO) of an XML 130 file: the visit when every table was valid, else what was wrong.
public struct XML130Episode: Sendable, Hashable {
    /// The file it came from, as named by the caller.
    public var file: String
    /// Position of the HOSO in the file, from 1.
    public var index: Int
    /// MA_LK, when table 1 could be read.
    public var episodeKey: String?
    /// The visit with the bytes to publish, validated as ingest will; nil when the episode is rejected
    /// (all or nothing: then nothing of it is published).
    public var canonical: CanonicalRecord?
    /// Problems found; any error rejects the episode. Paths name XML 130 fields, e.g. `XML1.NGAY_SINH`.
    public var issues: [ValidationIssue]

    /// The visit, nil when the episode is rejected.
    public var visit: VisitRecord? {
        if case .visit(let visit)? = canonical?.record { return visit }
        return nil
    }

    /// True when the episode is rejected.
    public var isRejected: Bool { canonical == nil }
}

/// An XML 130 file that cannot be read past some point: what, where, and why.
public struct XML130Error: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong, stable for callers to switch on.
    public enum Code: String, Sendable, Hashable {
        /// The file cannot be opened or read.
        case unreadable = "xml130.unreadable"
        /// The envelope is not well-formed XML.
        case malformedEnvelope = "xml130.malformedEnvelope"
        /// The root element is not `GIAMDINHHS`.
        case notEnvelope = "xml130.notEnvelope"
        /// The file ends in the middle of the envelope.
        case truncated = "xml130.truncated"
    }

    /// The code.
    public var code: Code
    /// The file.
    public var file: String
    /// Line of the envelope where the problem was found (0 when unknown).
    public var line: Int
    /// Explanation in English and Vietnamese.
    public var message: BilingualMessage

    /// `file:line: code: message`.
    public var description: String { "\(file):\(line): \(code.rawValue): \(message.en)" }
}

/// Table types (LOAIHOSO) of QĐ 130: XML1 … XML15.
enum XML130TableType {
    /// XML6 (HIV care) is restricted data: its content is never buffered, decoded or read.
    static let restricted = "XML6"
    /// Tables read into the visit.
    static let summary = "XML1", medicines = "XML2", labs = "XML4", treatmentSummary = "XML8"

    /// The normalised type name, or nil when it is not XML1…XML15.
    static func parse(_ text: String) -> String? {
        let t = text.trimmingCharacters(in: .whitespacesAndNewlines).uppercased()
        guard t.hasPrefix("XML"), let n = Int(t.dropFirst(3)), (1...15).contains(n), t.count <= 5 else { return nil }
        return "XML\(n)"
    }
}

extension ValidationIssue {
    /// An error in an XML 130 file.
    static func xml130(_ path: String, _ code: String, _ severity: Severity = .error, en: String, vi: String) -> ValidationIssue {
        ValidationIssue(path: path, code: code, severity: severity, message: BilingualMessage(en: en, vi: vi))
    }
}
