import Foundation

/// A strict parser for the small YAML subset the files in deploy/ are written in, so that tests can
/// check their structure without a YAML library (the package has no dependencies).
///
/// Supported: block mappings and block sequences indented with spaces, `- key: value` items, plain,
/// single- and double-quoted scalars, `|` literal blocks, `{}` and `[]` for empty collections, and
/// comments. Everything else — tabs, anchors and aliases, tags, flow collections with content, `>`
/// blocks, several documents, duplicate keys — is an error naming the file and line, so a file that
/// drifts outside the subset fails the test instead of being half understood.
enum YAMLValue: Equatable, CustomStringConvertible {
    case null
    case string(String)
    case sequence([YAMLValue])
    case mapping([(key: String, value: YAMLValue)])

    static func == (left: YAMLValue, right: YAMLValue) -> Bool {
        switch (left, right) {
        case (.null, .null): return true
        case let (.string(a), .string(b)): return a == b
        case let (.sequence(a), .sequence(b)): return a == b
        case let (.mapping(a), .mapping(b)): return a.map(\.key) == b.map(\.key) && a.map(\.value) == b.map(\.value)
        default: return false
        }
    }

    var description: String {
        switch self {
        case .null: return "null"
        case let .string(text): return text.debugDescription
        case let .sequence(items): return "[" + items.map(\.description).joined(separator: ", ") + "]"
        case let .mapping(pairs): return "{" + pairs.map { "\($0.key): \($0.value)" }.joined(separator: ", ") + "}"
        }
    }

    /// The value at `key` of a mapping; nil for a missing key or a value that is not a mapping.
    subscript(key: String) -> YAMLValue? {
        guard case let .mapping(pairs) = self else { return nil }
        return pairs.first { $0.key == key }?.value
    }

    /// Follows a path of mapping keys and sequence indexes (`"spec.template.spec.containers.0"`).
    func at(_ path: String) -> YAMLValue? {
        var current: YAMLValue? = self
        for part in path.split(separator: ".") {
            if let index = Int(part), case let .sequence(items)? = current {
                current = items.indices.contains(index) ? items[index] : nil
            } else {
                current = current?[String(part)]
            }
        }
        return current
    }

    var string: String? { if case let .string(text) = self { return text } else { return nil } }
    var items: [YAMLValue] { if case let .sequence(items) = self { return items } else { return [] } }
    var pairs: [(key: String, value: YAMLValue)] { if case let .mapping(pairs) = self { return pairs } else { return [] } }
    var strings: [String] { items.compactMap(\.string) }
}

struct YAMLError: Error, CustomStringConvertible {
    var file: String
    var line: Int
    var reason: String
    var description: String { "\(file):\(line): \(reason) (outside the YAML subset of deploy/, see YAMLSubset.swift)" }
}

struct YAMLSubsetParser {
    private struct Line {
        var number: Int
        var indent: Int
        var text: String   // without indentation and comment
        var raw: String    // as written, for literal blocks
    }

    private let file: String
    private let rawLines: [String]
    private var lines: [Line] = []
    private var position = 0

    static func parse(_ text: String, file: String) throws -> YAMLValue {
        var parser = YAMLSubsetParser(file: file, rawLines: text.components(separatedBy: "\n"))
        return try parser.document()
    }

    static func parse(contentsOf url: URL) throws -> YAMLValue {
        try parse(String(contentsOf: url, encoding: .utf8), file: url.lastPathComponent)
    }

    private init(file: String, rawLines: [String]) {
        self.file = file
        self.rawLines = rawLines
    }

    private mutating func document() throws -> YAMLValue {
        for (index, raw) in rawLines.enumerated() {
            let number = index + 1
            let indentation = raw.prefix { $0 == " " || $0 == "\t" }
            if indentation.contains("\t") { throw YAMLError(file: file, line: number, reason: "tab in indentation") }
            let body = try stripComment(String(raw.dropFirst(indentation.count)), line: number)
            lines.append(Line(number: number, indent: indentation.count, text: body.trimmingTrailingSpaces, raw: raw))
        }
        // Literal blocks keep blank and comment-like lines, so blank lines are skipped while parsing.
        skipBlank()
        guard position < lines.count else { return .null }
        if lines[position].text == "---" { throw error("document markers (---): one document per file") }
        let value = try block(indent: lines[position].indent)
        skipBlank()
        if position < lines.count { throw error("unexpected indentation") }
        return value
    }

    private mutating func skipBlank() {
        while position < lines.count && lines[position].text.isEmpty { position += 1 }
    }

    private func error(_ reason: String) -> YAMLError {
        YAMLError(file: file, line: position < lines.count ? lines[position].number : rawLines.count, reason: reason)
    }

    private mutating func block(indent: Int) throws -> YAMLValue {
        skipBlank()
        let line = lines[position]
        if line.indent != indent { throw error("expected indentation \(indent), found \(line.indent)") }
        return line.text == "-" || line.text.hasPrefix("- ") ? try sequence(indent: indent) : try mapping(indent: indent, firstKeyColumn: indent)
    }

    private mutating func sequence(indent: Int) throws -> YAMLValue {
        var items: [YAMLValue] = []
        while true {
            skipBlank()
            guard position < lines.count, lines[position].indent == indent,
                  lines[position].text == "-" || lines[position].text.hasPrefix("- ") else { break }
            let line = lines[position]
            let rest = String(line.text.dropFirst(1)).trimmingLeadingSpaces
            if rest.isEmpty {
                position += 1
                skipBlank()
                guard position < lines.count, lines[position].indent > indent else { items.append(.null); continue }
                items.append(try block(indent: lines[position].indent))
            } else if try splitKey(rest) != nil {
                // `- key: value`: a mapping whose keys line up with the first key.
                let column = indent + (line.text.count - rest.count)
                lines[position] = Line(number: line.number, indent: column, text: rest, raw: line.raw)
                items.append(try mapping(indent: column, firstKeyColumn: column))
            } else {
                position += 1
                items.append(try scalar(rest))
            }
        }
        if position < lines.count, lines[position].indent > indent, !lines[position].text.isEmpty {
            throw error("unexpected indentation inside a sequence")
        }
        return .sequence(items)
    }

    private mutating func mapping(indent: Int, firstKeyColumn: Int) throws -> YAMLValue {
        var pairs: [(key: String, value: YAMLValue)] = []
        while true {
            skipBlank()
            guard position < lines.count, lines[position].indent == indent else { break }
            let line = lines[position]
            if line.text == "-" || line.text.hasPrefix("- ") { throw error("a sequence item where a mapping key was expected") }
            guard let (key, rest) = try splitKey(line.text) else { throw error("expected 'key: value', found '\(line.text)'") }
            if pairs.contains(where: { $0.key == key }) { throw error("duplicate key '\(key)'") }
            position += 1
            let value: YAMLValue
            if rest == "|" || rest == "|-" {
                value = .string(literalBlock(parentIndent: indent, keepFinalNewline: rest == "|"))
            } else if rest.isEmpty {
                skipBlank()
                if position < lines.count, lines[position].indent > indent {
                    value = try block(indent: lines[position].indent)
                } else {
                    value = .null
                }
            } else {
                value = try scalar(rest)
            }
            pairs.append((key, value))
        }
        if position < lines.count, lines[position].indent > indent, !lines[position].text.isEmpty {
            throw error("unexpected indentation")
        }
        return .mapping(pairs)
    }

    /// The lines of a `|` block: indented deeper than its key, kept as written (comments included).
    private mutating func literalBlock(parentIndent: Int, keepFinalNewline: Bool) -> String {
        var collected: [String] = []
        var contentIndent: Int?
        while position < lines.count {
            let raw = lines[position].raw
            let indentation = raw.prefix { $0 == " " }.count
            let blank = raw.trimmingCharacters(in: .whitespaces).isEmpty
            if !blank && indentation <= parentIndent { break }
            if !blank && contentIndent == nil { contentIndent = indentation }
            collected.append(blank ? "" : String(raw.dropFirst(min(indentation, contentIndent ?? indentation))))
            position += 1
        }
        while collected.last == "" { collected.removeLast() }
        return collected.joined(separator: "\n") + (keepFinalNewline && !collected.isEmpty ? "\n" : "")
    }

    /// `key: rest` or `key:` → (key, rest); nil when the text is not a mapping entry.
    private func splitKey(_ text: String) throws -> (String, String)? {
        if let quote = text.first, quote == "\"" || quote == "'" {
            guard let end = text.dropFirst().firstIndex(of: quote) else { return nil }
            let after = text[text.index(after: end)...]
            guard after.hasPrefix(":") else { return nil }
            let rest = after.dropFirst()
            guard rest.isEmpty || rest.hasPrefix(" ") else { return nil }
            return (String(text[text.index(after: text.startIndex)..<end]), String(rest).trimmingLeadingSpaces)
        }
        var index = text.startIndex
        while index < text.endIndex {
            if text[index] == ":" {
                let next = text.index(after: index)
                if next == text.endIndex || text[next] == " " {
                    let key = String(text[..<index])
                    if key.isEmpty || key.contains(" #") { return nil }
                    if key.hasPrefix("?") { throw error("complex keys (?)") }
                    return (key, String(text[next...]).trimmingLeadingSpaces)
                }
            }
            index = text.index(after: index)
        }
        return nil
    }

    private func scalar(_ text: String) throws -> YAMLValue {
        if text == "{}" { return .mapping([]) }
        if text == "[]" { return .sequence([]) }
        if text == "~" || text == "null" { return .null }
        if text.hasPrefix("\"") {
            guard text.count >= 2, text.hasSuffix("\""), !text.hasSuffix("\\\"") || text.hasSuffix("\\\\\"") else {
                throw error("unterminated double-quoted scalar")
            }
            var result = ""
            var escaped = false
            for character in text.dropFirst().dropLast() {
                if escaped {
                    switch character {
                    case "n": result.append("\n")
                    case "t": result.append("\t")
                    case "\"", "\\", "/": result.append(character)
                    default: throw error("unsupported escape \\\(character)")
                    }
                    escaped = false
                } else if character == "\\" {
                    escaped = true
                } else if character == "\"" {
                    throw error("stray quote inside a double-quoted scalar")
                } else {
                    result.append(character)
                }
            }
            return .string(result)
        }
        if text.hasPrefix("'") {
            guard text.count >= 2, text.hasSuffix("'") else { throw error("unterminated single-quoted scalar") }
            return .string(String(text.dropFirst().dropLast()).replacingOccurrences(of: "''", with: "'"))
        }
        guard let first = text.first else { return .null }
        if "&*!|>{[%@`".contains(first) { throw error("'\(first)' (anchors, aliases, tags, folded blocks and flow collections are not in the subset)") }
        if text.hasPrefix("- ") { throw error("a sequence item where a scalar was expected") }
        return .string(text)
    }

    /// Removes a comment: `#` at the start or after a space, outside quotes.
    private func stripComment(_ text: String, line: Int) throws -> String {
        var quote: Character?
        var previous: Character = " "
        for (offset, character) in text.enumerated() {
            if let open = quote {
                if character == open { quote = nil }
            } else if character == "\"" || character == "'" {
                // A quote opens a quoted scalar only at the start of a value.
                if previous == " " || offset == 0 { quote = character }
            } else if character == "#" && previous == " " || character == "#" && offset == 0 {
                return String(text.prefix(offset))
            }
            previous = character
        }
        return text
    }
}

private extension String {
    var trimmingTrailingSpaces: String {
        var text = self
        while text.last == " " { text.removeLast() }
        return text
    }

    var trimmingLeadingSpaces: String { String(drop { $0 == " " }) }
}
