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

    /// Why a GITHUB_ENV/GITHUB_OUTPUT file cannot be used (GitHub's runner fails the step for each).
    public enum Problem: Error, Sendable, Equatable, CustomStringConvertible {
        case unclosed(UnclosedBlock)
        /// A line that is neither `NAME=value` nor `NAME<<DELIM` (1-based line), or `<<` without a
        /// name or a delimiter.
        case invalid(line: Int, text: String, why: String)

        /// The problem with its quoted text passed through `redact` (a redactor's): before the
        /// description cuts it at 80 characters, which would cut through a long secret.
        public func redacted(by redact: (String) -> String) -> Problem {
            switch self {
            case .unclosed(var block):
                block.name = redact(block.name)
                block.delimiter = redact(block.delimiter)
                return .unclosed(block)
            case .invalid(let line, let text, let why): return .invalid(line: line, text: redact(text), why: why)
            }
        }

        public var description: String {
            switch self {
            case .unclosed(let block): block.description
            case .invalid(let line, let text, let why): "line \(line) '\(text.count > 80 ? text.prefix(80) + "…" : text[...])' \(why)"
            }
        }
    }

    /// The entries in file order, read as GitHub's runner on Linux reads them: lines end at `\n`
    /// (a `\r` before it stays in the line), empty lines are skipped, and a line that is neither `NAME=value` nor
    /// `NAME<<DELIM` (a `#` line too: there are no comments), a block without a name or a
    /// delimiter, or one that is never closed is an error rather than something guessed at.
    public static func parseStrictly(_ text: String) -> Result<[(String, String)], Problem> {
        let read = entries(text, strict: true)
        if let problem = read.problem { return .failure(problem) }
        return .success(read.entries)
    }

    /// As `parseStrictly`, with the entries before the first problem: GitHub's runner applies
    /// each pair as it reads it, so those before a bad line are set when the step fails.
    public static func parseUntilProblem(_ text: String) -> (entries: [(String, String)], problem: Problem?) {
        entries(text, strict: true)
    }

    /// The entries in file order, leniently: `#` lines are comments, other lines without `=` are
    /// skipped, and a block that is never closed takes the rest of the file.
    public static func parse(_ text: String) -> [(String, String)] {
        entries(text, strict: false).entries
    }

    /// `text`'s lines, split at each `\n` byte (a `\r\n` too: Swift counts it as one character,
    /// which `split(separator: "\n")` would not split at), without a `\r` before it unless
    /// `keepingCR` (GitHub's runner on Linux splits command files at `\n` only, so a CRLF line's
    /// value ends with the CR there: audit 58 F4).
    public static func lines(_ text: String, keepingCR: Bool = false) -> [Substring] {
        text.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false).map {
            let line = Substring($0)
            return !keepingCR && line.unicodeScalars.last == "\r" ? Substring(line.unicodeScalars.dropLast()) : line
        }
    }

    /// The 1-based number of the first line that ends with CR LF, if any.
    public static func firstCRLFLine(_ text: String) -> Int? {
        guard let range = text.utf8.firstRange(of: [0x0D, 0x0A]) else { return nil }
        return text.utf8[..<range.lowerBound].reduce(1) { $1 == 0x0A ? $0 + 1 : $0 }
    }

    /// Where the first `<<` of `line` is, found in its UTF-8 bytes: Foundation's `range(of:)` on a
    /// substring of a large file's text cost time in the whole text at every line, so reading a
    /// 4 MB GITHUB_ENV took 40 s (audit 66 remote H3).
    static func firstHeredocMark(_ line: Substring) -> Range<Substring.Index>? {
        let bytes = line.utf8
        var index = bytes.startIndex
        while index < bytes.endIndex {
            if bytes[index] == UInt8(ascii: "<") {
                let next = bytes.index(after: index)
                if next < bytes.endIndex, bytes[next] == UInt8(ascii: "<") { return index..<bytes.index(after: next) }
            }
            index = bytes.index(after: index)
        }
        return nil
    }

    private static func entries(_ text: String, strict: Bool) -> (entries: [(String, String)], problem: Problem?) {
        var result: [(String, String)] = []
        let all = lines(text, keepingCR: strict)
        var lines = all[...]
        // A file that ends with a newline has no line after it.
        if text.unicodeScalars.last == "\n" { lines = lines.dropLast() }
        while let line = lines.popFirst() {
            let number = lines.startIndex  // 1-based line of `line`
            if line.isEmpty { continue }
            if !strict && line.hasPrefix("#") { continue }
            let heredoc = Self.firstHeredocMark(line)
            let equals = line.utf8.firstIndex(of: UInt8(ascii: "="))
            if let range = heredoc, equals.map({ $0 > range.lowerBound }) ?? true {
                let name = String(line[..<range.lowerBound])
                let delimiter = line[range.upperBound...]
                if strict && (name.isEmpty || delimiter.isEmpty) {
                    return (result, .invalid(line: number, text: String(line), why: "is not NAME<<DELIMITER: the name and the delimiter must not be empty"))
                }
                let start = lines.startIndex
                let end = lines.firstIndex(of: delimiter)
                if end == nil && strict {
                    return (result, .unclosed(UnclosedBlock(name: name, delimiter: String(delimiter), line: number)))
                }
                result.append((name, lines[start..<(end ?? lines.endIndex)].joined(separator: "\n")))
                lines = lines[min((end ?? lines.endIndex) + 1, lines.endIndex)...]
            } else if let equals {
                result.append((String(line[..<equals]), String(line[line.index(after: equals)...])))
            } else if strict {
                return (result, .invalid(line: number, text: String(line), why: "is neither NAME=VALUE nor NAME<<DELIMITER"))
            }
        }
        return (result, nil)
    }
}
