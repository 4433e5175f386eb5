import Foundation
import NixActionsPluginMessages

/// Durations in backend options (`max-age: 7d`), as a person writes them.
public enum CacheDurations {
    /// "7d", "12h", "30m", "3600s", "2w", "3600" (seconds), "1.5h"; case-insensitive. Nil when
    /// the text is not a duration or is negative.
    public static func parse(_ text: String) -> Int? {
        var body = text.trimmingCharacters(in: .whitespaces).lowercased()
        var unit = 1.0
        if let last = body.last, let seconds = ["s": 1.0, "m": 60, "h": 3600, "d": 86400, "w": 604800][String(last)] {
            unit = seconds
            body.removeLast()
        }
        guard let number = Double(body), number >= 0, number.isFinite else { return nil }
        let seconds = number * unit
        return seconds < Double(Int.max) ? Int(seconds.rounded()) : nil
    }
}

extension CacheOptions {
    /// A duration in seconds (`CacheDurations.parse`), or nil when the option is absent.
    public func duration(_ name: String) throws -> Int? {
        guard let text = string(name) else { return nil }
        guard let seconds = CacheDurations.parse(text) else {
            throw OperationFailure(message: "option '\(name)': '\(text)' is not a duration", hint: "e.g. 7d, 12h, 30m, 3600s")
        }
        return seconds
    }

    /// A whole number within `range`, or nil when the option is absent.
    public func integer(_ name: String, in range: ClosedRange<Int>) throws -> Int? {
        guard let text = string(name) else { return nil }
        guard let value = Int(text.trimmingCharacters(in: .whitespaces)), range.contains(value) else {
            throw OperationFailure(message: "option '\(name)': '\(text)' is not a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return value
    }
}
