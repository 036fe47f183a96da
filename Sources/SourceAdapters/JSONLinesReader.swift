import Foundation

/// Reads a JSON Lines file in batches of lines without loading the whole file.
public final class JSONLinesReader {
    /// One non-blank line and its 1-based line number.
    public struct Line: Sendable {
        /// Line number in the file, from 1.
        public var number: Int
        /// The line's bytes without the line break.
        public var data: Data
    }

    /// The file cannot be read, or a line is absurdly long.
    public struct ReadError: Error, Sendable, CustomStringConvertible {
        /// What went wrong.
        public var description: String
    }

    /// Longest line accepted (a record is at most `RecordDecoder.maxValueBytes`); longer lines are an error.
    public static let maxLineBytes = 4 * 1024 * 1024 + 1024

    private let handle: FileHandle
    private var buffer = Data()
    private var lineNumber = 0
    private var atEnd = false

    /// Opens `file`.
    public init(file: URL) throws {
        do { handle = try FileHandle(forReadingFrom: file) } catch {
            throw ReadError(description: "cannot open \(file.path)")
        }
    }

    deinit { try? handle.close() }

    /// Up to `maxLines` non-blank lines; nil at the end of the file.
    public func nextBatch(maxLines: Int) throws -> [Line]? {
        var lines: [Line] = []
        while lines.count < maxLines {
            if let newline = buffer.firstIndex(of: 0x0A) {
                var line = buffer[buffer.startIndex..<newline]
                buffer = Data(buffer[(newline + 1)...])
                lineNumber += 1
                if line.last == 0x0D { line = line.dropLast() }
                if !line.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { lines.append(Line(number: lineNumber, data: Data(line))) }
                continue
            }
            if atEnd {
                if !buffer.isEmpty {
                    lineNumber += 1
                    if !buffer.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { lines.append(Line(number: lineNumber, data: buffer)) }
                    buffer = Data()
                }
                break
            }
            guard buffer.count <= Self.maxLineBytes else {
                throw ReadError(description: "line \(lineNumber + 1) is longer than \(Self.maxLineBytes) bytes")
            }
            let chunk: Data
            do { chunk = try handle.read(upToCount: 256 * 1024) ?? Data() } catch {
                throw ReadError(description: "read failed after line \(lineNumber)")
            }
            if chunk.isEmpty { atEnd = true } else { buffer.append(chunk) }
        }
        return lines.isEmpty && atEnd && buffer.isEmpty ? nil : lines
    }
}
