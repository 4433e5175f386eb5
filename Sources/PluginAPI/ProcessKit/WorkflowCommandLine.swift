import Foundation

/// One line of a step's output read as a workflow command, the way GitHub's runner reads it
/// (`ActionCommand.TryParseV2`, then `TryParse`): `::NAME[ PROPERTIES]::DATA` at the line's start
/// (after spaces and tabs), else the older form `##[NAME[ PROPERTIES]]DATA` anywhere in it.
///
/// The host's command processor reads every output line with it; a process reader reads the
/// `add-mask` lines of one pipe with it too, to register their values before output of the other
/// pipe is shown (`TwoPipeOutput`). One parser, so both take the same value.
public struct WorkflowCommandLine: Equatable, Sendable {
    /// The name, in lower case.
    public var name: String
    /// The properties (names in lower case), values unescaped.
    public var properties: [String: String]
    /// The data, unescaped.
    public var data: String

    public init(name: String, properties: [String: String], data: String) {
        self.name = name
        self.properties = properties
        self.data = data
    }

    /// `line` as a command whose name (in lower case) `isName` accepts; nil: no command.
    public static func parse(_ line: String, isName: (String) -> Bool) -> WorkflowCommandLine? {
        func known(_ name: Substring) -> String? {
            let lower = name.lowercased()
            return isName(lower) ? lower : nil
        }
        let trimmed = line.drop { $0 == " " || $0 == "\t" }
        if trimmed.hasPrefix("::") {
            let body = trimmed.dropFirst(2)
            if let end = body.range(of: "::") {
                let head = body[..<end.lowerBound]
                let space = head.firstIndex(of: " ")
                if let name = known(head[..<(space ?? head.endIndex)]) {
                    var properties: [String: String] = [:]
                    if let space {
                        for pair in head[head.index(after: space)...].split(separator: ",") {
                            let parts = pair.split(separator: "=", maxSplits: 1)
                            if parts.count == 2 {
                                properties[parts[0].trimmingCharacters(in: .whitespaces).lowercased()] = unescapeProperty(String(parts[1]))
                            }
                        }
                    }
                    return WorkflowCommandLine(name: name, properties: properties, data: unescapeData(String(body[end.upperBound...])))
                }
            }
        }
        // The older form, anywhere in the line.
        guard let prefix = line.range(of: "##["), let close = line[prefix.upperBound...].firstIndex(of: "]") else { return nil }
        let head = line[prefix.upperBound..<close]
        let space = head.firstIndex(of: " ")
        guard let name = known(head[..<(space ?? head.endIndex)]) else { return nil }
        var properties: [String: String] = [:]
        if let space {
            for pair in head[head.index(after: space)...].split(separator: ";") {
                let parts = pair.split(separator: "=", maxSplits: 1)
                if parts.count == 2 { properties[parts[0].lowercased()] = unescapeLegacy(String(parts[1])) }
            }
        }
        return WorkflowCommandLine(name: name, properties: properties, data: unescapeLegacy(String(line[line.index(after: close)...])))
    }

    /// GitHub's escapes for a command's data (after the second `::`): %0D %0A %25.
    public static func unescapeData(_ text: String) -> String {
        guard text.contains("%") else { return text }
        return text.replacingOccurrences(of: "%0D", with: "\r").replacingOccurrences(of: "%0A", with: "\n")
            .replacingOccurrences(of: "%25", with: "%")
    }

    /// GitHub's escapes for a property's value: %0D %0A %3A %2C %25.
    public static func unescapeProperty(_ text: String) -> String {
        guard text.contains("%") else { return text }
        return text.replacingOccurrences(of: "%0D", with: "\r").replacingOccurrences(of: "%0A", with: "\n")
            .replacingOccurrences(of: "%3A", with: ":").replacingOccurrences(of: "%2C", with: ",")
            .replacingOccurrences(of: "%25", with: "%")
    }

    /// The older form's escapes: %3B %0D %0A %5D %25.
    public static func unescapeLegacy(_ text: String) -> String {
        guard text.contains("%") else { return text }
        return text.replacingOccurrences(of: "%3B", with: ";").replacingOccurrences(of: "%0D", with: "\r")
            .replacingOccurrences(of: "%0A", with: "\n").replacingOccurrences(of: "%5D", with: "]")
            .replacingOccurrences(of: "%25", with: "%")
    }
}
