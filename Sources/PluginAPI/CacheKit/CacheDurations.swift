import Foundation
import NixActionsPluginMessages

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
