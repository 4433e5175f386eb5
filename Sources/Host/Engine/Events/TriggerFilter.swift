import Foundation
import NixActionsPluginMessages

/// GitHub's filter patterns (docs "Filter pattern cheat sheet"): `*` matches any characters but
/// `/`, `**` any characters, `?` and `+` make the character before them optional or repeated,
/// `[...]` is a class; a pattern starting with `!` excludes what the patterns before it matched.
public struct FilterPattern: Sendable {
    public let source: String
    public let negated: Bool
    let regex: NSRegularExpression?

    public init(_ source: String) {
        self.source = source
        negated = source.hasPrefix("!")
        regex = try? NSRegularExpression(pattern: Self.regex(for: negated ? String(source.dropFirst()) : source))
    }

    public func matches(_ text: String) -> Bool {
        guard let regex else { return false }
        return regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil
    }

    /// The anchored regular expression for a glob.
    static func regex(for glob: String) -> String {
        var output = "^"
        let characters = Array(glob)
        var index = 0
        while index < characters.count {
            let character = characters[index]
            switch character {
            case "*":
                if index + 1 < characters.count, characters[index + 1] == "*" {
                    output += ".*"
                    index += 1
                } else {
                    output += "[^/]*"
                }
            case "?", "+": output.append(character)
            case "[":
                if let close = characters[(index + 1)...].firstIndex(of: "]") {
                    output += String(characters[index...close])
                    index = close
                } else {
                    output += "\\["
                }
            case "\\":
                if index + 1 < characters.count {
                    output += NSRegularExpression.escapedPattern(for: String(characters[index + 1]))
                    index += 1
                }
            default: output += NSRegularExpression.escapedPattern(for: String(character))
            }
            index += 1
        }
        return output + "$"
    }

    /// Whether `text` is selected by `patterns` read in order: a pattern includes what it matches, a
    /// `!pattern` excludes it again.
    public static func selects(_ patterns: [String], _ text: String) -> Bool {
        var selected = false
        for pattern in patterns.map(FilterPattern.init) where pattern.matches(text) { selected = !pattern.negated }
        return selected
    }
}

/// Whether an event, as this run describes it, would trigger the workflow on GitHub.
public enum TriggerCheck {
    /// What the run knows about its event.
    public struct Event: Sendable {
        public var name: String
        /// `refs/heads/…` or `refs/tags/…` (for pull requests, the base branch's ref).
        public var ref: String
        /// `pull_request`'s `action` (e.g. `opened`).
        public var action: String?
        /// Files changed by the push or the pull request (nil when unknown: paths are not checked).
        public var changedFiles: [String]?
        /// The message of the pushed head commit or of the pull request's head (nil when unknown).
        public var headMessage: String?

        public init(name: String, ref: String, action: String? = nil, changedFiles: [String]? = nil, headMessage: String? = nil) {
            self.name = name
            self.ref = ref
            self.action = action
            self.changedFiles = changedFiles
            self.headMessage = headMessage
        }
    }

    /// What in a commit message keeps GitHub from running `push` and `pull_request` workflows for
    /// it ("Skipping workflow runs"): one of five bracketed words anywhere, or a `skip-checks: true`
    /// trailer as its last line. Nil when there is none.
    public static func skipDirective(_ message: String) -> String? {
        for word in ["[skip ci]", "[ci skip]", "[no ci]", "[skip actions]", "[actions skip]"] where message.contains(word) {
            return word
        }
        let last = message.split(whereSeparator: \.isNewline).last.map { $0.trimmingCharacters(in: .whitespaces) }
        return last == "skip-checks:true" || last == "skip-checks: true" ? last : nil
    }

    /// Why the workflow would not run for `event` (one sentence naming the filter), or nil when it would.
    public static func reason(_ triggers: WorkflowTriggers?, _ event: Event) -> String? {
        guard let triggers else { return nil }
        guard let trigger = triggers.trigger(event.name) else {
            let listened = triggers.events.map(\.name)
            return "the workflow does not listen to '\(event.name)' (on: \(listened.isEmpty ? "nothing" : listened.joined(separator: ", ")))"
        }
        let at = { (located: [Located<String>]?) -> String in located?.first?.location.map { " (\($0))" } ?? "" }
        let filter = "on.\(event.name)"
        if let types = trigger.types, let action = event.action, !types.contains(where: { $0.value == action }) {
            return "its action '\(action)' is not in \(filter).types (\(types.map(\.value).joined(separator: ", ")))\(at(types))"
        }
        if event.name == "pull_request" || event.name == "pull_request_target", trigger.types == nil, let action = event.action,
           !["opened", "synchronize", "reopened"].contains(action) {
            return "its action '\(action)' is not one of \(event.name)'s default types (opened, synchronize, reopened)"
        }
        if event.name == "push" || event.name == "pull_request", let message = event.headMessage, let directive = skipDirective(message) {
            return "its head commit's message says '\(directive)'"
        }
        // Without a ref (not a git repository, a detached HEAD) the branch and tag filters cannot be checked.
        guard !event.ref.isEmpty else { return nil }
        let isTag = event.ref.hasPrefix("refs/tags/")
        let name = event.ref.hasPrefix("refs/heads/") ? String(event.ref.dropFirst("refs/heads/".count))
            : isTag ? String(event.ref.dropFirst("refs/tags/".count)) : event.ref
        let what = event.name == "push" ? (isTag ? "tag" : "branch") : "base branch"
        let refFilters = isTag && event.name == "push" ? (trigger.tags, trigger.tagsIgnore, "tags") : (trigger.branches, trigger.branchesIgnore, "branches")
        let otherGiven = isTag ? (trigger.branches != nil || trigger.branchesIgnore != nil) : (trigger.tags != nil || trigger.tagsIgnore != nil)
        if let patterns = refFilters.0, !FilterPattern.selects(patterns.map(\.value), name) {
            return "\(what) '\(name)' does not match \(filter).\(refFilters.2) (\(patterns.map(\.value).joined(separator: ", ")))\(at(patterns))"
        }
        if let patterns = refFilters.1, FilterPattern.selects(patterns.map(\.value), name) {
            return "\(what) '\(name)' matches \(filter).\(refFilters.2)-ignore (\(patterns.map(\.value).joined(separator: ", ")))\(at(patterns))"
        }
        if event.name == "push", refFilters.0 == nil, refFilters.1 == nil, otherGiven {
            let given = isTag ? "branches" : "tags"
            return "\(filter) filters only \(given), so a push of a \(what) does not trigger it"
        }
        // Paths are not evaluated for pushes of tags.
        guard !(event.name == "push" && isTag), let files = event.changedFiles else { return nil }
        if let patterns = trigger.paths, !files.contains(where: { FilterPattern.selects(patterns.map(\.value), $0) }) {
            return "none of the \(files.count) changed file\(files.count == 1 ? "" : "s") matches \(filter).paths (\(patterns.map(\.value).joined(separator: ", ")))\(at(patterns))"
        }
        if let patterns = trigger.pathsIgnore, !files.isEmpty, files.allSatisfy({ FilterPattern.selects(patterns.map(\.value), $0) }) {
            return "every changed file matches \(filter).paths-ignore (\(patterns.map(\.value).joined(separator: ", ")))\(at(patterns))"
        }
        return nil
    }
}
