import Foundation

/// One line of a step's output read as a workflow command, the way GitHub's runner reads it
/// (`ActionCommand.TryParseV2`, then `TryParse`): `::NAME[ PROPERTIES]::DATA` at the line's start
/// (after spaces and tabs), else the older form `##[NAME[ PROPERTIES]]DATA` anywhere in it.
///
/// The host's command processor reads every output line with it; a process reader reads the
/// `add-mask` lines of output read from both pipes at once with it too, to register their values
/// before either chunk is shown (`SimultaneousOutput`). One parser, so both take the same value.
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

/// Output read from a process's two pipes in one wake-up, when which was written first cannot be
/// known (`ChildProcess.wait`, `HelperChannel`).
///
/// A chunk that registers a secret (`::add-mask::`) goes first, so that the other cannot show the
/// value before it is masked (`echo "::add-mask::$S" >&2; echo "$S"`). When both do (the value
/// on stdout followed by another `::add-mask::` line), no order is safe: the values of the
/// complete `add-mask` lines of both are handed to `onSecret` before either chunk is delivered
/// (registered again, harmlessly, when the host reads the lines in order).
public enum SimultaneousOutput {
    public static func deliver(
        _ chunks: [(stream: Int32, bytes: [UInt8])], onSecret: (([UInt8]) -> Void)?,
        onOutput: (Int32, UnsafeRawBufferPointer) -> Void
    ) {
        let masking = chunks.map { ChildProcess.registersSecret($0.bytes) }
        if let onSecret, chunks.count > 1 {
            for (chunk, masks) in zip(chunks, masking) where masks {
                for value in addMaskValues(in: chunk.bytes) { onSecret(value) }
            }
        }
        for order in [true, false] {
            for (chunk, masks) in zip(chunks, masking) where masks == order {
                chunk.bytes.withUnsafeBytes { onOutput(chunk.stream, $0) }
            }
        }
    }

    /// The values of the whole `add-mask` lines in `bytes`, as bytes (a line ends at LF or CR;
    /// the last, unfinished one is left out: its value may go on in the next read). A line that
    /// is not UTF-8 is read as Latin-1 (one character per byte), so its value keeps its bytes.
    static func addMaskValues(in bytes: [UInt8]) -> [[UInt8]] {
        var values: [[UInt8]] = []
        var start = 0
        for index in bytes.indices where bytes[index] == 10 || bytes[index] == 13 {
            let line = Array(bytes[start..<index])
            start = index + 1
            guard ChildProcess.registersSecret(line) else { continue }
            if let text = String(validating: line, as: UTF8.self) {
                if let command = WorkflowCommandLine.parse(text, isName: { $0 == "add-mask" }), !command.data.isEmpty {
                    values.append(Array(command.data.utf8))
                }
            } else if let command = WorkflowCommandLine.parse(latin1(line), isName: { $0 == "add-mask" }), !command.data.isEmpty {
                values.append(command.data.unicodeScalars.map { UInt8(truncatingIfNeeded: $0.value) })
            }
        }
        return values
    }

    /// `bytes` as Latin-1 text: one character per byte.
    public static func latin1(_ bytes: some Sequence<UInt8>) -> String {
        String(String.UnicodeScalarView(bytes.map { Unicode.Scalar($0) }))
    }
}
