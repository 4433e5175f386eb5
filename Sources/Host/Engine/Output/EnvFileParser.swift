/// Parses the `NAME=value` / `NAME<<DELIM` format of GITHUB_ENV and GITHUB_OUTPUT (and `--env-file`).
public enum EnvFileParser {
    /// A `NAME<<DELIM` block whose delimiter line never comes.
    public struct UnclosedBlock: Error, Sendable, Equatable, CustomStringConvertible {
        public var name: String
        public var delimiter: String
        /// 1-based line of `NAME<<DELIM`.
        public var line: Int

        public var description: String {
            "'\(name)<<\(delimiter)' on line \(line) is never closed: matching delimiter '\(delimiter)' not found"
        }
    }

    /// The entries in file order; a block that is never closed is an error (as on GitHub) rather
    /// than a value that swallows every line after it.
    public static func parseStrictly(_ text: String) -> Result<[(String, String)], UnclosedBlock> {
        entries(text, strict: true)
    }

    /// The entries in file order; a block that is never closed takes the rest of the file.
    public static func parse(_ text: String) -> [(String, String)] {
        (try? entries(text, strict: false).get()) ?? []
    }

    private static func entries(_ text: String, strict: Bool) -> Result<[(String, String)], UnclosedBlock> {
        var result: [(String, String)] = []
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map {
            $0.hasSuffix("\r") ? $0.dropLast() : $0
        }[...]
        while let line = lines.popFirst() {
            if line.isEmpty || line.hasPrefix("#") { continue }
            if let range = line.range(of: "<<"), !line[..<range.lowerBound].contains("=") {
                let name = String(line[..<range.lowerBound])
                let delimiter = line[range.upperBound...]
                let start = lines.startIndex  // 0-based index of the next line = 1-based line of this one
                let end = lines.firstIndex(of: delimiter)
                if end == nil && strict {
                    return .failure(UnclosedBlock(name: name, delimiter: String(delimiter), line: start))
                }
                result.append((name, lines[start..<(end ?? lines.endIndex)].joined(separator: "\n")))
                lines = lines[min((end ?? lines.endIndex) + 1, lines.endIndex)...]
            } else if let equals = line.firstIndex(of: "=") {
                result.append((String(line[..<equals]), String(line[line.index(after: equals)...])))
            }
        }
        return .success(result)
    }
}
