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
