import Foundation
import ServiceRuntime
import HealthModel

/// Turns the FILEHOSO tables of one HOSO into a visit, or into the list of reasons it is rejected.
///
/// All or nothing: any error in any table (undecodable base64, wrong LOAIHOSO, malformed inner XML,
/// an invalid field) rejects the whole episode.
struct XML130EpisodeBuilder {
    let file: String
    let index: Int
    /// MACSKCB of the envelope (the sending facility).
    let senderFacility: String?

    /// `base64` is nil when the FILEHOSO had no NOIDUNGFILE element.
    func build(tables raw: [(type: String?, rawType: String, base64: String?, tooLarge: Bool)]) -> XML130Episode {
        var issues: [ValidationIssue] = []
        var decoded: [String: XML130Table] = [:]
        for (position, table) in raw.enumerated() {
            let where_ = "FILEHOSO[\(position + 1)]"
            guard let type = table.type else {
                issues.append(.xml130("\(where_).LOAIHOSO", "xml130.unknownTableType",
                    en: "LOAIHOSO '\(table.rawType)' is not a table type of QĐ 130 (XML1 … XML15).",
                    vi: "LOAIHOSO '\(table.rawType)' không phải loại bảng của QĐ 130 (XML1 … XML15)."))
                continue
            }
            // Restricted (HIV) table: neither decoded nor checked, so nothing of it can reach the record.
            if type == XML130TableType.restricted { continue }
            if table.tooLarge {
                issues.append(.xml130("\(type).NOIDUNGFILE", "xml130.tableTooLarge",
                    en: "Table \(type) is larger than \(XML130Reader.maxTableBase64Characters) base64 characters.",
                    vi: "Bảng \(type) lớn hơn \(XML130Reader.maxTableBase64Characters) ký tự base64."))
                continue
            }
            guard let base64 = table.base64 else {
                issues.append(.xml130("\(type).NOIDUNGFILE", "xml130.contentMissing",
                    en: "FILEHOSO \(type) has no NOIDUNGFILE.", vi: "FILEHOSO \(type) thiếu NOIDUNGFILE."))
                continue
            }
            guard let bytes = Self.decodeBase64(base64) else {
                issues.append(.xml130("\(type).NOIDUNGFILE", "xml130.base64",
                    en: "NOIDUNGFILE of \(type) is not valid base64.", vi: "NOIDUNGFILE của \(type) không phải base64 hợp lệ."))
                continue
            }
            guard [XML130TableType.summary, XML130TableType.medicines, XML130TableType.labs, XML130TableType.treatmentSummary].contains(type)
            else { continue }
            if decoded[type] != nil {
                issues.append(.xml130(type, "xml130.duplicateTable",
                    en: "The episode has table \(type) twice.", vi: "Hồ sơ có hai bảng \(type)."))
                continue
            }
            switch XML130Table.parse(bytes) {
            case .success(let parsed):
                decoded[type] = parsed
                for field in parsed.overlongFields {
                    issues.append(.xml130("\(type).\(field)", "xml130.fieldTooLong",
                        en: "Field \(field) of \(type) is longer than \(XML130Table.maxFieldCharacters) characters.",
                        vi: "Trường \(field) của \(type) dài quá \(XML130Table.maxFieldCharacters) ký tự."))
                }
            case .failure(let error):
                issues.append(.xml130(type, "xml130.tableMalformed",
                    en: "Table \(type) is not well-formed XML (line \(error.line)): \(error.detail).",
                    vi: "Bảng \(type) không phải XML hợp lệ (dòng \(error.line)): \(error.detail)."))
            }
        }
        guard let summaryTable = decoded[XML130TableType.summary], let summary = summaryTable.rows.first else {
            if !raw.contains(where: { $0.type == XML130TableType.summary }) {
                issues.append(.xml130("XML1", "xml130.summaryMissing",
                    en: "The episode has no table XML1 (TONG_HOP).", vi: "Hồ sơ thiếu bảng XML1 (TONG_HOP)."))
            } else if issues.isEmpty {
                issues.append(.xml130("XML1", "xml130.summaryEmpty",
                    en: "Table XML1 has no fields.", vi: "Bảng XML1 không có trường nào."))
            }
            return XML130Episode(file: file, index: index, episodeKey: nil, canonical: nil, issues: issues)
        }
        if summaryTable.rows.count > 1 {
            issues.append(.xml130("XML1", "xml130.summaryRows",
                en: "Table XML1 must have exactly one TONG_HOP.", vi: "Bảng XML1 chỉ được có một TONG_HOP."))
        }
        var mapping = XML130VisitMapping(summary: summary)
        mapping.medicines(decoded[XML130TableType.medicines])
        mapping.labResults(decoded[XML130TableType.labs])
        mapping.treatmentSummary(decoded[XML130TableType.treatmentSummary])
        issues += mapping.issues
        if let senderFacility, !senderFacility.isEmpty, let facility = mapping.facilityCode, facility != senderFacility {
            issues.append(.xml130("XML1.MA_CSKCB", "xml130.facilityDiffersFromEnvelope", .warning,
                en: "MA_CSKCB \(facility) differs from the envelope's MACSKCB \(senderFacility).",
                vi: "MA_CSKCB \(facility) khác MACSKCB của tệp (\(senderFacility))."))
        }
        let key = mapping.episodeKey
        // Validate exactly as ingest will: canonical JSON through RecordDecoder (NFC, allowlist, rules).
        // The bytes it gives are the ones published: the visit is encoded once on its way to Kafka.
        guard let visit = mapping.visit else {
            return XML130Episode(file: file, index: index, episodeKey: key, canonical: nil, issues: issues)
        }
        let result = RecordDecoder.canonical(.visit(visit))
        let reported = issues
        for issue in result.issues {
            var translated = issue
            translated.path = XML130VisitMapping.xmlPath(for: issue.path)
            // A field the mapping already reported (e.g. an unreadable date) is not reported twice; an
            // error is kept where the mapping only warned, so that a rejected episode always says why.
            let known = reported.contains { $0.path == translated.path && ($0.severity == .error || translated.severity != .error) }
            if !known { issues.append(translated) }
        }
        return XML130Episode(file: file, index: index, episodeKey: key, canonical: issues.hasErrors ? nil : result.canonical, issues: issues)
    }

    /// Strict base64 with line breaks and spaces allowed (exporters wrap long lines).
    static func decodeBase64(_ text: String) -> Data? {
        var compact = String.UnicodeScalarView()
        for scalar in text.unicodeScalars where !scalar.properties.isWhitespace { compact.append(scalar) }
        guard !compact.isEmpty else { return nil }
        return Data(base64Encoded: String(compact))
    }
}
