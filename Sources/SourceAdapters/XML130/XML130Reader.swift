import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import HealthModel

/// Reads XML 130 files (`GIAMDINHHS` envelope) episode by episode with a SAX parser.
///
/// Memory stays bounded by one HOSO: its base64 tables are buffered until `</HOSO>`, turned into a
/// visit (or a rejection) and dropped before the next HOSO starts. XML6 (HIV) content is never
/// buffered, decoded or read.
public enum XML130Reader {
    /// Largest base64 content of one table (NOIDUNGFILE); a larger table rejects its episode.
    public static let maxTableBase64Characters = 32 * 1024 * 1024
    /// Largest text of a small envelope field (LOAIHOSO, MACSKCB, …).
    static let maxEnvelopeFieldCharacters = 1024

    /// Reads `file`, calling `onEpisode` for every HOSO in order; `onEpisode` returns false to stop.
    ///
    /// Throws when the envelope itself is unusable; episodes completed before that point were already
    /// delivered, and an episode cut off by the problem is delivered as rejected first.
    public static func read(file: URL, label: String? = nil, onEpisode: (XML130Episode) -> Bool) throws(XML130Error) {
        let name = label ?? file.lastPathComponent
        let unreadable = XML130Error(code: .unreadable, file: name, line: 0, message: BilingualMessage(
            en: "Cannot open the file.", vi: "Không mở được tệp."))
        guard FileManager.default.isReadableFile(atPath: file.path), let stream = InputStream(url: file) else { throw unreadable }
        // A first streaming pass checks the encoding (see UTF8Check); reading twice costs far less than parsing.
        let invalid: (line: Int, offset: Int)?
        do { invalid = try UTF8Check.firstInvalid(in: file) } catch { throw unreadable }
        if let invalid { throw encodingError(name, line: invalid.line, offset: invalid.offset) }
        try read(parser: XMLParser(stream: stream), file: name, onEpisode: onEpisode)
    }

    /// Reads an XML 130 document held in memory (tests, small uploads).
    public static func read(data: Data, label: String, onEpisode: (XML130Episode) -> Bool) throws(XML130Error) {
        var check = UTF8Check()
        if !check.feed(data) || !check.isComplete { throw encodingError(label, line: check.line, offset: check.offset) }
        try read(parser: XMLParser(data: data), file: label, onEpisode: onEpisode)
    }

    private static func read(parser: XMLParser, file: String, onEpisode: (XML130Episode) -> Bool) throws(XML130Error) {
        // The parser calls back synchronously on this thread, so the non-escaping closure can be used
        // for the duration of parse() only.
        try withoutActuallyEscaping(onEpisode) { callback throws(XML130Error) in
            let delegate = EnvelopeDelegate(file: file, onEpisode: callback)
            parser.delegate = delegate
            parser.shouldResolveExternalEntities = false
            let ok = parser.parse()
            if let error = delegate.failure { throw error }
            if delegate.stopped { return }
            if !ok || delegate.sawError || !delegate.rootClosed {
                let line = parser.lineNumber
                let detail = describe(parser.parserError)
                delegate.rejectOpenEpisode(because: "the file is malformed or truncated before </HOSO>",
                                           vi: "tệp bị lỗi hoặc bị cắt cụt trước thẻ </HOSO>")
                let truncated = delegate.depth > 0 && isPrematureEnd(parser.parserError)
                throw XML130Error(code: truncated ? .truncated : .malformedEnvelope, file: file, line: line, message: truncated
                    ? BilingualMessage(en: "The file ends before the envelope is closed (truncated upload?).",
                                       vi: "Tệp kết thúc khi chưa đóng thẻ GIAMDINHHS (tệp bị cắt cụt?).")
                    : BilingualMessage(en: "The envelope is not well-formed XML: \(detail).",
                                       vi: "Tệp không phải XML hợp lệ: \(detail)."))
            }
        }
    }

    private static func encodingError(_ file: String, line: Int, offset: Int) -> XML130Error {
        XML130Error(code: .malformedEnvelope, file: file, line: line, message: BilingualMessage(
            en: "The file is not valid UTF-8 (byte \(offset)).", vi: "Tệp không phải UTF-8 hợp lệ (byte \(offset))."))
    }

    /// Foundation on Linux has no text for XMLParser errors: name the common ones.
    static func describe(_ error: (any Error)?) -> String {
        guard let error else { return "unexpected end of the document" }
        let code = (error as NSError).code
        let known: [Int: String] = [
            4: "the document is empty or does not start with XML", 5: "premature end of the document",
            9: "invalid character", 38: "malformed attribute", 41: "unescaped '<' in an attribute",
            64: "malformed XML declaration", 68: "'&' not followed by an entity name", 73: "a tag is not closed",
            76: "an end tag does not match its start tag", 77: "a tag is not closed at the end of the document",
            111: "entity loop or too many entity expansions",
        ]
        return known[code].map { "\($0) (XMLParser error \(code))" } ?? "XMLParser error \(code)"
    }

    /// libxml2 reports a cut-off document as "premature end" or as an unclosed tag at end of input.
    private static func isPrematureEnd(_ error: (any Error)?) -> Bool {
        guard let error else { return true }
        let ns = error as NSError
        // XMLParser.ErrorCode: 5 prematureDocumentEnd, 73 ltSlashRequired, 76 tagNameMismatch, 77 ("Extra content"/EOF).
        return [5, 73, 77].contains(ns.code) || ns.localizedDescription.localizedCaseInsensitiveContains("premature")
    }
}

/// SAX state for the envelope. Lives on the parsing thread only.
private final class EnvelopeDelegate: NSObject, XMLParserDelegate {
    struct Table {
        var type: String?
        var rawType = ""
        var base64 = ""
        var tooLarge = false
        var hasContent = false
    }

    let file: String
    let onEpisode: (XML130Episode) -> Bool
    var failure: XML130Error?
    var stopped = false
    var rootClosed = false
    /// Some XMLParser builds report an error to the delegate yet return true from parse().
    var sawError = false
    var depth = 0

    private var path: [String] = []
    private var text = ""
    private var senderFacility: String?
    private var hosoIndex = 0
    private var inHoso = false
    private var tables: [Table] = []
    private var current: Table?

    init(file: String, onEpisode: @escaping (XML130Episode) -> Bool) {
        self.file = file
        self.onEpisode = onEpisode
    }

    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                attributes: [String: String] = [:]) {
        guard !sawError, failure == nil else { return }
        depth += 1
        if path.isEmpty, name != "GIAMDINHHS" {
            fail(parser, XML130Error(code: .notEnvelope, file: file, line: parser.lineNumber, message: BilingualMessage(
                en: "The root element is <\(name.prefix(64))>, not <GIAMDINHHS>: this is not an XML 130 file.",
                vi: "Thẻ gốc là <\(name.prefix(64))>, không phải <GIAMDINHHS>: đây không phải tệp XML 130.")))
            return
        }
        path.append(name)
        text = ""
        switch name {
        case "HOSO":
            hosoIndex += 1
            inHoso = true
            tables = []
        case "FILEHOSO" where inHoso:
            current = Table()
        default:
            break
        }
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) {
        append(string)
    }

    func parser(_ parser: XMLParser, foundCDATA block: Data) {
        append(String(decoding: block, as: UTF8.self))
    }

    private func append(_ string: String) {
        guard let name = path.last else { return }
        if name == "NOIDUNGFILE", current != nil {
            // Restricted table: its content is dropped as it streams by, never kept.
            if current?.type == XML130TableType.restricted || current?.tooLarge == true { return }
            if (current?.base64.utf8.count ?? 0) + string.utf8.count > XML130Reader.maxTableBase64Characters {
                current?.tooLarge = true
                current?.base64 = ""
                return
            }
            current?.base64 += string
        } else if ["LOAIHOSO", "MACSKCB", "SOLUONGHOSO", "NGAYLAP"].contains(name) {
            if text.utf8.count < XML130Reader.maxEnvelopeFieldCharacters { text += string }
        }
    }

    func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
        // After an error libxml2 may still report (recovered) end tags: nothing more is trusted.
        guard !sawError, failure == nil else { return }
        // Cheap guard; libxml2 usually reports a mismatched end tag as the open element's, and may
        // report the error itself only later, so the episode builder also rejects incomplete FILEHOSOs.
        guard path.last == name else {
            sawError = true
            parser.abortParsing()
            return
        }
        depth -= 1
        defer {
            if !path.isEmpty { path.removeLast() }
            text = ""
        }
        switch name {
        case "MACSKCB" where path.dropLast().last == "THONGTINDONVI":
            senderFacility = VietnameseText.normalize(text)
        case "LOAIHOSO" where current != nil:
            current?.rawType = String(text.prefix(32))
            current?.type = XML130TableType.parse(text)
            if current?.type == XML130TableType.restricted { current?.base64 = "" }
        case "NOIDUNGFILE" where current != nil:
            current?.hasContent = true
        case "FILEHOSO":
            if let table = current { tables.append(table) }
            current = nil
        case "HOSO":
            inHoso = false
            let episode = XML130EpisodeBuilder(file: file, index: hosoIndex, senderFacility: senderFacility).build(tables: tables.map { ($0.type, $0.rawType, $0.hasContent ? $0.base64 : nil, $0.tooLarge) })
            tables = []
            if !onEpisode(episode) {
                stopped = true
                parser.abortParsing()
            }
        case "GIAMDINHHS":
            rootClosed = true
        default:
            break
        }
    }

    /// Reports the HOSO being read when the file broke off as rejected: nothing of it is published.
    func rejectOpenEpisode(because en: String, vi: String) {
        guard inHoso else { return }
        inHoso = false
        tables = []
        _ = onEpisode(XML130Episode(file: file, index: hosoIndex, episodeKey: nil, canonical: nil, issues: [
            .xml130("HOSO", "xml130.episodeIncomplete", en: "The episode is incomplete: \(en).", vi: "Hồ sơ không đầy đủ: \(vi)."),
        ]))
    }

    func parser(_ parser: XMLParser, parseErrorOccurred parseError: any Error) {
        sawError = true
        parser.abortParsing()
    }

    private func fail(_ parser: XMLParser, _ error: XML130Error) {
        if failure == nil { failure = error }
        parser.abortParsing()
    }
}
