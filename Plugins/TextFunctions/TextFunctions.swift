import CNixActionsPlugin
import Foundation
import NixActionsPluginKit

@_cdecl("nixactions_plugin_entry")
public func nixactionsPluginEntry(
    _ host: UnsafePointer<nxa_host_info>?,
    _ out: UnsafeMutablePointer<UnsafePointer<nxa_plugin>?>?,
    _ error: UnsafeMutablePointer<nxa_error>?
) -> nxa_status {
    PluginExport.entry(
        PluginDeclaration(
            id: "text", name: "Text functions", version: "0.1.0",
            description: "String and version functions for workflow expressions: ${{ text.upper('x') }}",
            functions: TextFunctions.declarations),
        host: host, out: out, error: error)
}

/// Functions for `${{ text.NAME(…) }}`, called by the host through libffi.
enum TextFunctions {
    /// The host refuses expression results over 5 MiB; this plugin keeps its own to 1 MiB, refused
    /// here before they are built (a single `repeat` could otherwise allocate gigabytes).
    static let maxResultBytes = 1 << 20
    static func text(_ pointer: UnsafePointer<CChar>?) -> String { pointer.map { String(cString: $0) } ?? "" }

    static let upper: @convention(c) (UnsafePointer<CChar>?) -> UnsafePointer<CChar>? = { value in
        FunctionResult.string(TextFunctions.text(value).uppercased())
    }
    static let lower: @convention(c) (UnsafePointer<CChar>?) -> UnsafePointer<CChar>? = { value in
        FunctionResult.string(TextFunctions.text(value).lowercased())
    }
    static let replace: @convention(c) (UnsafePointer<CChar>?, UnsafePointer<CChar>?, UnsafePointer<CChar>?) -> UnsafePointer<CChar>? = {
        value, target, replacement in
        let search = TextFunctions.text(target)
        guard !search.isEmpty else { return FunctionResult.failure }
        let text = TextFunctions.text(value), with = TextFunctions.text(replacement)
        // Refuse before building a result larger than the host would accept.
        let occurrences = text.components(separatedBy: search).count - 1
        let size = text.utf8.count + occurrences * (with.utf8.count - search.utf8.count)
        guard size <= TextFunctions.maxResultBytes else { return FunctionResult.failure }
        return FunctionResult.string(text.replacingOccurrences(of: search, with: with))
    }
    static let repeatText: @convention(c) (UnsafePointer<CChar>?, Int64) -> UnsafePointer<CChar>? = { value, count in
        guard (0...10_000).contains(count) else { return FunctionResult.failure }
        let text = TextFunctions.text(value)
        // Refuse before building a result larger than the host would accept.
        guard text.utf8.count.multipliedReportingOverflow(by: Int(count)).partialValue <= TextFunctions.maxResultBytes,
              !text.utf8.count.multipliedReportingOverflow(by: Int(count)).overflow
        else { return FunctionResult.failure }
        return FunctionResult.string(String(repeating: text, count: Int(count)))
    }
    static let isSemver: @convention(c) (UnsafePointer<CChar>?) -> Bool = { value in
        Semver(TextFunctions.text(value)) != nil
    }
    /// -1, 0 or 1; a value that is not a version sorts before every version.
    static let semverCompare: @convention(c) (UnsafePointer<CChar>?, UnsafePointer<CChar>?) -> Int64 = { lhs, rhs in
        let a = Semver(TextFunctions.text(lhs)), b = Semver(TextFunctions.text(rhs))
        switch (a, b) {
        case let (a?, b?): return a < b ? -1 : (b < a ? 1 : 0)
        case (nil, nil): return 0
        case (nil, _): return -1
        case (_, nil): return 1
        }
    }
    static let round: @convention(c) (Double, Int64) -> Double = { value, digits in
        let scale = pow(10.0, Double(max(0, min(15, digits))))
        return (value * scale).rounded() / scale
    }

    static let declarations: [FunctionDeclaration] = [
        FunctionDeclaration(name: "upper", signature: "s(s)", description: "the text in upper case", function: upper),
        FunctionDeclaration(name: "lower", signature: "s(s)", description: "the text in lower case", function: lower),
        FunctionDeclaration(name: "replace", signature: "s(sss)", description: "replace every occurrence (text, search, replacement; search not empty, the result at most 1 MiB)", function: replace),
        FunctionDeclaration(name: "repeat", signature: "s(sl)", description: "the text repeated N times (N from 0 to 10000, the result at most 1 MiB)", function: repeatText),
        FunctionDeclaration(name: "is_semver", signature: "b(s)", description: "whether the text is a semantic version (1.2.3, v1.2.3-rc.1)", function: isSemver),
        FunctionDeclaration(name: "semver_compare", signature: "l(ss)", description: "-1, 0 or 1 comparing two semantic versions", function: semverCompare),
        FunctionDeclaration(name: "round", signature: "d(dl)", description: "a number rounded to N decimals", function: round),
    ]
}

/// A semantic version: MAJOR.MINOR.PATCH with an optional pre-release (build metadata ignored).
struct Semver: Comparable {
    let core: [Int]
    let prerelease: [String]

    init?(_ text: String) {
        var text = Substring(text.trimmingCharacters(in: .whitespaces))
        if text.hasPrefix("v") { text = text.dropFirst() }
        let withoutBuild = text.split(separator: "+", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        let parts = withoutBuild.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
        let numbers = parts[0].split(separator: ".", omittingEmptySubsequences: false).map { Int($0) }
        guard numbers.count == 3, numbers.allSatisfy({ $0 != nil && $0! >= 0 }) else { return nil }
        core = numbers.map { $0! }
        prerelease = parts.count > 1 ? parts[1].split(separator: ".").map(String.init) : []
        if parts.count > 1 && prerelease.isEmpty { return nil }
    }

    static func < (a: Semver, b: Semver) -> Bool {
        if a.core != b.core { return a.core.lexicographicallyPrecedes(b.core) }
        // A pre-release sorts before its release; identifiers compare numerically when both are numbers.
        if a.prerelease.isEmpty || b.prerelease.isEmpty { return !a.prerelease.isEmpty && b.prerelease.isEmpty }
        for (x, y) in zip(a.prerelease, b.prerelease) where x != y {
            switch (Int(x), Int(y)) {
            case let (m?, n?): return m < n
            case (.some, nil): return true
            case (nil, .some): return false
            default: return x < y
            }
        }
        return a.prerelease.count < b.prerelease.count
    }
}
