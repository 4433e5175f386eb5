/// Where a scalar's text starts in the file and how it is laid out, to map offsets to positions.
public struct TextOrigin: Sendable, Hashable {
    public var file: String
    /// Line and column of the first character of the text.
    public var line: Int
    public var column: Int
    /// A block scalar (`|`, `>`): every text line sits at `column` on its own file line.
    public var block: Bool

    /// The file position of the UTF-8 `offset` within `text` (exact for single-line scalars and
    /// literal blocks; the scalar's start for multi-line flow scalars).
    public func location(ofOffset offset: Int, in text: String) -> SourceLocation {
        let utf8 = Array(text.utf8)
        let clamped = max(0, min(offset, utf8.count))
        let before = utf8[..<clamped]
        let newlines = before.filter { $0 == 0x0A }.count
        let lineStart = before.lastIndex(of: 0x0A).map { $0 + 1 } ?? 0
        let columns = String(decoding: utf8[lineStart..<clamped], as: UTF8.self).unicodeScalars.count
        if newlines == 0 { return SourceLocation(file: file, line: line, column: column + columns) }
        if block { return SourceLocation(file: file, line: line + newlines, column: column + columns) }
        return SourceLocation(file: file, line: line, column: column)
    }
}

/// Parses durations like `90s`, `10m`, `1h30m`, `500ms`, `1.5h`.
public enum DurationParser {
    public static func parse(_ text: String) -> Duration? {
        // Spaces and tabs around it (without Foundation's bridged trimming: this runs for every timeout).
        let trimmed = text.drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed()
        let trimmedText = String(trimmed)
        guard !trimmedText.isEmpty else { return nil }
        return parseTrimmed(trimmedText)
    }

    static func parseTrimmed(_ trimmed: String) -> Duration? {
        var total = 0.0
        var number = ""
        var index = trimmed.startIndex
        var sawUnit = false
        while index < trimmed.endIndex {
            let character = trimmed[index]
            if character.isNumber || character == "." {
                number.append(character)
                index = trimmed.index(after: index)
                continue
            }
            var unit = ""
            while index < trimmed.endIndex, trimmed[index].isLetter {
                unit.append(trimmed[index])
                index = trimmed.index(after: index)
            }
            guard let value = Double(number), let scale = units[unit] else { return nil }
            total += value * scale
            number = ""
            sawUnit = true
        }
        guard number.isEmpty, sawUnit, total.isFinite, total >= 0, total < 1e9 else { return nil }
        return .milliseconds(Int64((total * 1000).rounded()))
    }

    static let units: [String: Double] = ["ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400]

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
