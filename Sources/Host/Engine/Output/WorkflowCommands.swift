/// Interprets GitHub workflow commands in a step's stdout, line by line.
///
/// - `::add-mask::VALUE` registers VALUE with the redactor; the line itself is never shown.
/// - `::error|warning|notice [file=F,line=L,title=T]::MESSAGE` becomes an annotation (and a line).
/// - `::group::NAME` / `::endgroup::` fold output in the human format (shown as a header line).
/// - `::debug::MESSAGE` is shown only when debugging is on.
/// - `::stop-commands::TOKEN` turns command processing off until a line `::TOKEN::`.
/// Not thread-safe: one per step (lines arrive in order).
final class WorkflowCommandProcessor: Sendable {
    enum Action: Equatable {
        /// Show this line (maybe rewritten).
        case show(String)
        /// Show nothing.
        case hide
        case annotation(Annotation.Kind, message: String, file: String?, line: Int?, title: String?)
        /// Show nothing of the line; warn with this text instead.
        case warn(String)
    }

    /// Names of short values already warned about (one warning per step is enough).
    private let warnedShort = Mutex<Bool>(false)

    private let stopToken = Mutex<String?>(nil)
    let redactor: Redactor
    let debug: Bool

    init(redactor: Redactor, debug: Bool = false) {
        self.redactor = redactor
        self.debug = debug
    }

    func process(_ line: String) -> Action {
        let trimmed = line.drop { $0 == " " || $0 == "\t" }
        guard trimmed.hasPrefix("::") else { return .show(line) }
        let body = trimmed.dropFirst(2)
        if let token = stopToken.withLock({ $0 }) {
            if body == token + "::" {
                stopToken.withLock { $0 = nil }
                return .hide
            }
            return .show(line)
        }
        guard let end = body.range(of: "::") else { return .show(line) }
        let head = body[..<end.lowerBound]
        let value = String(body[end.upperBound...])
        let (command, properties) = Self.split(head)
        switch command {
        case "add-mask":
            // The actions toolkit escapes the value (%25 %0D %0A), as GitHub's runner expects.
            let secret = Self.unescapeData(value)
            // (A printable ASCII character other than space settles it without Foundation.)
            if !secret.utf8.contains(where: { $0 > 0x20 && $0 < 0x7F }) && secret.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
                return .warn("::add-mask:: with an empty value was ignored")
            }
            if !redactor.add(secret) {
                guard !warnedShort.withLock({ warned in defer { warned = true }; return warned }) else { return .hide }
                return .warn("a value given to ::add-mask:: is shorter than \(Redactor.minimumLength) bytes and is not masked")
            }
            return .hide
        case "stop-commands":
            if !value.isEmpty { stopToken.withLock { $0 = value } }
            return .hide
        case "group": return .show("▸ " + value)
        case "endgroup": return .hide
        case "debug": return debug ? .show("debug: " + value) : .hide
        case "error", "warning", "notice":
            let kind = Annotation.Kind(rawValue: String(command)) ?? .notice
            return .annotation(
                kind, message: Self.unescape(value), file: properties["file"], line: properties["line"].flatMap { Int($0) },
                title: properties["title"])
        default:
            return .show(line)
        }
    }

    /// `error file=a.txt,line=3` → ("error", ["file": "a.txt", "line": "3"]).
    static func split(_ head: Substring) -> (Substring, [String: String]) {
        guard let space = head.firstIndex(of: " ") else { return (head, [:]) }
        var properties: [String: String] = [:]
        for pair in head[head.index(after: space)...].split(separator: ",") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            if parts.count == 2 {
                properties[parts[0].trimmingCharacters(in: .whitespaces)] = unescape(String(parts[1]))
            }
        }
        return (head[..<space], properties)
    }

    /// GitHub's escapes for a command's data (after the second `::`): %25 %0D %0A.
    static func unescapeData(_ text: String) -> String {
        guard text.contains("%") else { return text }
        return text.replacingOccurrences(of: "%0D", with: "\r").replacingOccurrences(of: "%0A", with: "\n")
            .replacingOccurrences(of: "%25", with: "%")
    }

    /// GitHub's escapes for command values: %25 %0D %0A %3A %2C.
    static func unescape(_ text: String) -> String {
        guard text.contains("%") else { return text }
        return text.replacingOccurrences(of: "%0D", with: "\r").replacingOccurrences(of: "%0A", with: "\n")
            .replacingOccurrences(of: "%3A", with: ":").replacingOccurrences(of: "%2C", with: ",")
            .replacingOccurrences(of: "%25", with: "%")
    }
}

import Foundation
import Synchronization
