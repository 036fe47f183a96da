import Foundation

/// Vietnamese text handling: NFC normalisation for storage and folding for matching (TCVN 6909:2001).
public enum VietnameseText {
    /// NFC, trimmed, every run of whitespace (including line breaks) collapsed to one space.
    ///
    /// Senders mix NFC and NFD (macOS, some HIS exports): "Nguyễn" must be one string whatever the source.
    public static func normalize(_ text: String) -> String {
        isPlain(text) ? text : normalizeScalars(text)
    }

    /// The general path of `normalize`, for any text.
    static func normalizeScalars(_ text: String) -> String {
        // ASCII is NFC already; Foundation's normalisation costs microseconds.
        let nfc = text.utf8.allSatisfy { $0 < 0x80 } ? text : text.precomposedStringWithCanonicalMapping
        var out = ""
        out.reserveCapacity(nfc.utf8.count)
        var pendingSpace = false
        for scalar in nfc.unicodeScalars {
            if scalar.properties.isWhitespace {
                pendingSpace = !out.isEmpty
            } else {
                if pendingSpace { out.unicodeScalars.append(" ") }
                pendingSpace = false
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// Like `normalize` but keeps line breaks (one per line, blank lines collapsed) for long clinical text.
    public static func normalizeMultiline(_ text: String) -> String {
        let nfc = text.precomposedStringWithCanonicalMapping
        let lines = nfc.split(omittingEmptySubsequences: true) { $0 == "\n" || $0 == "\r\n" || $0 == "\r" }
        return lines.map { normalize(String($0)) }.filter { !$0.isEmpty }.joined(separator: "\n")
    }

    /// Matching key: normalised, lower-cased, diacritics removed and `đ/Đ` folded to `d`.
    ///
    /// `đ` is a letter of its own, not `d` plus a combining mark, so Unicode decomposition leaves it:
    /// it is folded explicitly or "Đặng" would never match "Dang".
    public static func fold(_ text: String) -> String {
        // The person index folds every candidate's name and address: Foundation's normalisation
        // costs microseconds per call, so Latin text (all of Vietnamese) is folded scalar by scalar
        // through a table of what `foldedSlowly` makes of each letter; anything else takes the slow path.
        var out = String.UnicodeScalarView()
        // Spacing follows `normalize`: a combining mark counts as text there (and is dropped only after).
        var pendingSpace = false
        var started = false
        for scalar in text.unicodeScalars {
            let value = scalar.value
            if value < 0x80, scalar.properties.isWhitespace {
                pendingSpace = started
                continue
            }
            if pendingSpace { out.append(" ") }
            pendingSpace = false
            started = true
            if value < 0x80 {
                out.append((0x41...0x5A).contains(value) ? Unicode.Scalar(value + 0x20) ?? scalar : scalar)
            } else if (0x300..<0x370).contains(value) {
                continue  // a combining diacritic (NFD input) folds away
            } else if let folded = FoldTable.folded(value) {
                out.append(contentsOf: folded.unicodeScalars)
            } else {
                return foldedSlowly(text)
            }
        }
        return String(out)
    }

    /// The reference folding (Foundation's NFC, lower case, NFD, marks dropped, `đ` → `d`).
    static func foldedSlowly(_ text: String) -> String {
        let decomposed = normalize(text).lowercased().decomposedStringWithCanonicalMapping
        var out = ""
        out.reserveCapacity(decomposed.utf8.count)
        for scalar in decomposed.unicodeScalars {
            switch scalar.properties.generalCategory {
            case .nonspacingMark, .spacingMark, .enclosingMark:
                continue
            default:
                if scalar == "đ" || scalar == "Đ" {
                    out.unicodeScalars.append("d")
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out
    }

    /// True when `normalize` would return the text unchanged, decided by one scan of its UTF-8: only
    /// scalars NFC leaves alone (below U+0300, or precomposed Vietnamese letters U+1E00–U+1EFF) and
    /// no whitespace but single inner spaces. Most text (codes, NFC names) takes this path.
    static func isPlain(_ text: String) -> Bool {
        // Native strings are contiguous; anything else takes the general path.
        text.utf8.withContiguousStorageIfAvailable { bytes -> Bool in
            guard let first = bytes.first, let last = bytes.last, first != 0x20, last != 0x20 else { return bytes.isEmpty }
            var previous: UInt8 = 0
            var index = 0
            while index < bytes.count {
                let byte = bytes[index]
                switch byte {
                case 0x20 where previous == 0x20: return false
                case 0x00..<0x20: return false
                case 0xC2 where index + 1 < bytes.count && (bytes[index + 1] == 0x85 || bytes[index + 1] == 0xA0): return false
                case 0xE1 where index + 1 < bytes.count && (0xB8...0xBB).contains(bytes[index + 1]): break
                case 0xCC...0xFF: return false
                default: break
                }
                previous = byte
                index += 1
            }
            return true
        } ?? false
    }

    /// True when the text is already in the stored (normalised NFC) form.
    public static func isNormalized(_ text: String) -> Bool {
        // String's == is canonical equivalence (NFD == NFC), so compare the scalars themselves.
        normalize(text).unicodeScalars.elementsEqual(text.unicodeScalars)
    }
}

/// What `VietnameseText.foldedSlowly` makes of each Latin letter outside ASCII (Latin-1 Supplement,
/// Latin Extended-A and -B, Latin Extended Additional: every Vietnamese letter), built once.
private enum FoldTable {
    static let ranges: [Range<UInt32>] = [0x80..<0x250, 0x1E00..<0x1F00]
    static let table: [UInt32: String] = {
        var table: [UInt32: String] = [:]
        for range in ranges {
            for value in range {
                guard let scalar = Unicode.Scalar(value), !scalar.properties.isWhitespace,
                      scalar.properties.generalCategory != .control else { continue }
                table[value] = VietnameseText.foldedSlowly(String(Character(scalar)))
            }
        }
        return table
    }()

    /// The folded form of a letter, or nil when the table does not cover it.
    static func folded(_ value: UInt32) -> String? { table[value] }
}
