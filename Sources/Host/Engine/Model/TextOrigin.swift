/// A workflow file's bytes and where each of its lines starts, shared by the positions of the
/// scalars read from it (never copied per scalar).
public final class SourceText: Sendable {
    public let bytes: [UInt8]
    /// The byte offset where each line starts.
    public let lineStarts: [Int]

    public init(bytes: [UInt8], lineStarts: [Int]) {
        self.bytes = bytes
        self.lineStarts = lineStarts
    }

    /// The byte offset of 1-based `line` and `column` (columns count Unicode scalars); nil past
    /// the end.
    func offset(line: Int, column: Int) -> Int? {
        guard line >= 1, line <= lineStarts.count else { return nil }
        var offset = lineStarts[line - 1]
        var scalars = 1
        while scalars < column, offset < bytes.count, bytes[offset] != 0x0A {
            offset += 1
            while offset < bytes.count, bytes[offset] & 0xC0 == 0x80 { offset += 1 }
            scalars += 1
        }
        return offset
    }

    /// Where a scalar that starts at byte `begin` (1-based `line` and `column`) ends in the file: a
    /// quoted one at its closing quote, a folded block before its first line indented less than
    /// it, a plain one before the first line not indented more than the line it starts on.
    func end(from begin: Int, layout: TextOrigin.Layout, line: Int, column: Int) -> Int {
        var index = begin
        switch layout {
        case .doubleQuoted:
            while index < bytes.count {
                if bytes[index] == 0x5C { index += 2; continue }  // an escape: the next byte is not the end
                if bytes[index] == 0x22 { return index }
                index += 1
            }
            return bytes.count
        case .singleQuoted:
            while index < bytes.count {
                if bytes[index] == 0x27 {
                    if index + 1 < bytes.count, bytes[index + 1] == 0x27 { index += 2; continue }
                    return index
                }
                index += 1
            }
            return bytes.count
        case .folded, .plain:
            let least = layout == .folded ? column - 1 : indent(ofLine: line) + 1
            for next in line..<lineStarts.count {  // `next` is 0-based: the line after `line`
                let start = lineStarts[next]
                var spaces = 0
                while start + spaces < bytes.count, bytes[start + spaces] == 0x20 { spaces += 1 }
                let rest = start + spaces
                if rest >= bytes.count || bytes[rest] == 0x0A || bytes[rest] == 0x0D { continue }  // blank
                if spaces < least { return start }
            }
            return bytes.count
        }
    }

    /// The spaces that begin 1-based `line`.
    func indent(ofLine line: Int) -> Int {
        guard line >= 1, line <= lineStarts.count else { return 0 }
        var index = lineStarts[line - 1]
        while index < bytes.count, bytes[index] == 0x20 { index += 1 }
        return index - lineStarts[line - 1]
    }

    /// The 1-based line and column of byte `offset`.
    func position(of offset: Int) -> (line: Int, column: Int) {
        var low = 0, high = lineStarts.count - 1
        while low < high {
            let middle = (low + high + 1) / 2
            if lineStarts[middle] <= offset { low = middle } else { high = middle - 1 }
        }
        let column = String(decoding: bytes[lineStarts[low]..<offset], as: UTF8.self).unicodeScalars.count + 1
        return (low + 1, column)
    }
}

/// Where a scalar's text starts in the file and how it is laid out, to map offsets to positions.
public struct TextOrigin: Sendable, Hashable {
    public var file: String
    /// Line and column of the first character of the text.
    public var line: Int
    public var column: Int
    /// A block scalar (`|`, `>`): every text line sits at `column` on its own file line.
    public var block: Bool
    /// The file's text, when the scalar's value is not its source as written (a folded block, a
    /// flow scalar over several lines, escapes in quotes): a position is then found by its text.
    public var source: SourceText?
    /// How the scalar is written, which tells where it ends (`source`'s search stays inside it).
    public var layout: Layout = .plain

    public enum Layout: Sendable, Hashable {
        case folded, doubleQuoted, singleQuoted, plain
    }

    public init(file: String, line: Int, column: Int, block: Bool, source: SourceText? = nil, layout: Layout = .plain) {
        self.file = file
        self.line = line
        self.column = column
        self.block = block
        self.source = source
        self.layout = layout
    }

    public static func == (lhs: TextOrigin, rhs: TextOrigin) -> Bool {
        lhs.file == rhs.file && lhs.line == rhs.line && lhs.column == rhs.column && lhs.block == rhs.block && lhs.layout == rhs.layout
            && lhs.source === rhs.source
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(file)
        hasher.combine(line)
        hasher.combine(column)
        hasher.combine(block)
    }

    /// The file position of the UTF-8 `offset` within `text`: exact for single-line scalars and
    /// literal blocks; for a value that is not its source as written, where the word at `offset`
    /// is written (its occurrence of the same rank after the scalar's start); else the scalar's
    /// start (audit 64 cli M1: a folded `if: >-` placed its error past the end of its first line).
    public func location(ofOffset offset: Int, in text: String) -> SourceLocation {
        let utf8 = Array(text.utf8)
        let clamped = max(0, min(offset, utf8.count))
        if let source, let found = Self.search(utf8, at: clamped, in: source, from: (line, column), layout: layout) {
            return SourceLocation(file: file, line: found.line, column: found.column)
        }
        let before = utf8[..<clamped]
        let newlines = before.filter { $0 == 0x0A }.count
        let lineStart = before.lastIndex(of: 0x0A).map { $0 + 1 } ?? 0
        let columns = String(decoding: utf8[lineStart..<clamped], as: UTF8.self).unicodeScalars.count
        if newlines == 0 && source == nil { return SourceLocation(file: file, line: line, column: column + columns) }
        if block { return SourceLocation(file: file, line: line + newlines, column: column + columns) }
        return SourceLocation(file: file, line: line, column: column)
    }

    /// Where the word of `value` at `offset` (up to a space or line break, at most 40 bytes) is
    /// written in `source` after `start`, counting the occurrences before it in the value.
    static func search(_ value: [UInt8], at offset: Int, in source: SourceText, from start: (line: Int, column: Int), layout: Layout) -> (line: Int, column: Int)? {
        var end = offset
        while end < value.count, end - offset < 40, value[end] != 0x20, value[end] != 0x0A, value[end] != 0x09 { end += 1 }
        let needle = Array(value[offset..<end])
        guard !needle.isEmpty, let begin = source.offset(line: start.line, column: start.column) else { return nil }
        var rank = 0
        var index = 0
        while index + needle.count <= offset {
            if value[index..<index + needle.count].elementsEqual(needle) { rank += 1 }
            index += 1
        }
        // Inside the scalar only (review 64 M4: a word written with an escape was found in the
        // next step).
        let limit = source.end(from: begin, layout: layout, line: start.line, column: start.column)
        var at = begin
        var seen = 0
        while at + needle.count <= limit {
            if source.bytes[at] == needle[0], source.bytes[at..<at + needle.count].elementsEqual(needle) {
                if seen == rank { return source.position(of: at) }
                seen += 1
            }
            at += 1
        }
        return nil
    }
}

/// Parses durations like `90s`, `10m`, `1h30m`, `500ms`, `1.5h`.
public enum DurationParser {
    public static func parse(_ text: String) -> Duration? {
        if case .duration(let value) = read(text) { return value }
        return nil
    }

    /// The longest duration there is: 1e9 seconds (about 31 years).
    public static let maximumSeconds = 1e9

    /// What a text is as a duration.
    public enum Reading: Equatable {
        case duration(Duration)
        /// Well formed, but `maximumSeconds` or more.
        case tooLong
        case malformed
    }

    public static func read(_ text: String) -> Reading {
        // On bytes: this runs for every timeout of a workflow, and Character properties are
        // Unicode table lookups. Spaces and tabs around it are ignored.
        var bytes = Array(text.utf8)[...]
        while let first = bytes.first, first == 0x20 || first == 0x09 { bytes.removeFirst() }
        while let last = bytes.last, last == 0x20 || last == 0x09 { bytes.removeLast() }
        guard !bytes.isEmpty else { return .malformed }
        return readTrimmed(bytes)
    }

    private static func readTrimmed(_ bytes: ArraySlice<UInt8>) -> Reading {
        var total = 0.0
        var index = bytes.startIndex
        var seen: UInt8 = 0  // the units read: each once, `1h1h` is a slip, not 2h (audit 55 L4)
        while index < bytes.endIndex {
            let numberStart = index
            while index < bytes.endIndex, (bytes[index] >= 0x30 && bytes[index] <= 0x39) || bytes[index] == 0x2E { index += 1 }
            let unitStart = index
            while index < bytes.endIndex, (bytes[index] | 0x20) >= 0x61 && (bytes[index] | 0x20) <= 0x7A { index += 1 }
            guard unitStart > numberStart, index > unitStart,
                  let value = Double(String(decoding: bytes[numberStart..<unitStart], as: UTF8.self)),
                  let unit = units[String(decoding: bytes[unitStart..<index], as: UTF8.self)], seen & unit.bit == 0 else { return .malformed }
            seen |= unit.bit
            total += value * unit.seconds
        }
        guard seen != 0, !total.isNaN, total >= 0 else { return .malformed }
        guard total < maximumSeconds else { return .tooLong }
        return .duration(.milliseconds(Int64((total * 1000).rounded())))
    }

    static let units: [String: (seconds: Double, bit: UInt8)] = ["ms": (0.001, 1), "s": (1, 2), "m": (60, 4), "h": (3600, 8), "d": (86400, 16)]

    /// `1h30m`, `90s`, `500ms`.
    public static func format(_ duration: Duration) -> String {
        var ms = duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
        if ms == 0 { return "0s" }
        var text = ""
        for (unit, size) in [("d", Int64(86_400_000)), ("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1)] where ms >= size {
            text += "\(ms / size)\(unit)"
            ms %= size
        }
        return text
    }
}

import Foundation
