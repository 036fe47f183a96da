import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

/// One decoded inner table (the XML inside a NOIDUNGFILE): its rows, each a flat list of fields.
///
/// A row is any element whose children include leaf elements: `<TONG_HOP>` in XML1,
/// `<CHI_TIET_THUOC>` in XML2, and so on, whatever wrapper elements the variant uses.
struct XML130Table {
    /// A row: field name → text, in order of appearance; a repeated field keeps its first value.
    struct Row {
        var fields: [(name: String, value: String)] = []
        var duplicates: [String] = []

        func value(_ name: String) -> String? { fields.first { $0.name == name }?.value }
    }

    /// Largest text of one field; longer text is cut and reported.
    static let maxFieldCharacters = 64 * 1024

    var rows: [Row] = []
    /// Fields whose text was longer than `maxFieldCharacters`.
    var overlongFields: [String] = []

    /// Parses an inner table; returns a message when it is not well-formed XML.
    static func parse(_ data: Data) -> Result<XML130Table, TableError> {
        guard UTF8Check.isValid(data) else { return .failure(TableError(line: 0, detail: "not valid UTF-8")) }
        let parser = XMLParser(data: data)
        let delegate = TableDelegate()
        parser.delegate = delegate
        parser.shouldResolveExternalEntities = false
        guard parser.parse(), !delegate.sawError else {
            let detail = XML130Reader.describe(parser.parserError ?? delegate.error)
            return .failure(TableError(line: parser.lineNumber, detail: detail))
        }
        return .success(delegate.table)
    }

    /// Why an inner table could not be read.
    struct TableError: Error {
        var line: Int
        var detail: String
    }
}

/// SAX state for one inner table.
private final class TableDelegate: NSObject, XMLParserDelegate {
    private struct Frame {
        var name: String
        var text = ""
        var hasChildren = false
        var row = XML130Table.Row()
    }

    var table = XML130Table()
    var sawError = false
    var error: (any Error)?
    private var stack: [Frame] = []

    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                attributes: [String: String] = [:]) {
        if !stack.isEmpty { stack[stack.count - 1].hasChildren = true }
        stack.append(Frame(name: name))
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) {
        guard !stack.isEmpty else { return }
        if stack[stack.count - 1].text.utf8.count <= XML130Table.maxFieldCharacters * 4 {
            stack[stack.count - 1].text += string
        }
    }

    func parser(_ parser: XMLParser, parseErrorOccurred parseError: any Error) {
        sawError = true
        if error == nil { error = parseError }
    }

    func parser(_ parser: XMLParser, foundCDATA block: Data) {
        self.parser(parser, foundCharacters: String(decoding: block, as: UTF8.self))
    }

    func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
        guard let frame = stack.popLast() else { return }
        if frame.hasChildren {
            if !frame.row.fields.isEmpty { table.rows.append(frame.row) }
            return
        }
        guard !stack.isEmpty else { return }
        var value = frame.text
        if value.count > XML130Table.maxFieldCharacters {
            table.overlongFields.append(name)
            value = String(value.prefix(XML130Table.maxFieldCharacters))
        }
        if stack[stack.count - 1].row.fields.contains(where: { $0.name == name }) {
            stack[stack.count - 1].row.duplicates.append(name)
        } else {
            stack[stack.count - 1].row.fields.append((name, value))
        }
    }
}
