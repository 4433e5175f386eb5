/// The `.env` format as the common dotenv tools read it (python-dotenv, the Node `dotenv`
/// package, docker compose), used by `--secret-file` and the `file` secret provider:
///
///     # a comment
///     export API_KEY=sk_live_123        # `export ` is allowed; a ` #` starts a comment
///     NAME = value                      # spaces around `=` are dropped
///     QUOTED="line one\nline two"       # double quotes: \n \r \t \" \\ \$ escapes, may span lines
///     LITERAL='no $escapes \n here'     # single quotes: taken as written, may span lines
///     EMPTY=
///
/// A line that is not a comment, blank or an assignment is an error (with its line number), never
/// silently skipped. Variables (`${X}`) are not expanded.
public enum Dotenv {
    public struct Entry: Sendable, Equatable {
        public var name: String
        public var value: String
        /// 1-based line of the assignment.
        public var line: Int
    }

    public struct ParseError: Error, Sendable, Equatable, CustomStringConvertible {
        public var line: Int
        public var message: String
        public var description: String { "line \(line): \(message)" }
    }

    public static func parse(_ text: String) -> Result<[Entry], ParseError> {
        var entries: [Entry] = []
        let scalars = Array(text.unicodeScalars)
        var index = 0
        var line = 1

        func skipBlanks() {
            while index < scalars.count, scalars[index] == " " || scalars[index] == "\t" { index += 1 }
        }
        func restOfLine() {
            while index < scalars.count, scalars[index] != "\n" { index += 1 }
        }

        while index < scalars.count {
            skipBlanks()
            guard index < scalars.count else { break }
            if scalars[index] == "\n" || scalars[index] == "\r" {
                if scalars[index] == "\n" { line += 1 }
                index += 1
                continue
            }
            if scalars[index] == "#" {
                restOfLine()
                continue
            }
            let startLine = line
            // Name, after an optional `export `.
            var name = ""
            while index < scalars.count, isNameScalar(scalars[index]) {
                name.unicodeScalars.append(scalars[index])
                index += 1
            }
            if name == "export", index < scalars.count, scalars[index] == " " || scalars[index] == "\t" {
                skipBlanks()
                name = ""
                while index < scalars.count, isNameScalar(scalars[index]) {
                    name.unicodeScalars.append(scalars[index])
                    index += 1
                }
            }
            skipBlanks()
            guard !name.isEmpty, name.unicodeScalars.first.map({ !("0"..."9").contains($0) }) ?? false else {
                return .failure(ParseError(line: startLine, message: Self.noName))
            }
            guard index < scalars.count, scalars[index] == "=" else {
                return .failure(ParseError(line: startLine, message: Self.noEquals))
            }
            index += 1
            skipBlanks()
            var value = ""
            if index < scalars.count, scalars[index] == "\"" || scalars[index] == "'" {
                let quote = scalars[index]
                index += 1
                var closed = false
                while index < scalars.count {
                    let scalar = scalars[index]
                    if scalar == quote {
                        closed = true
                        index += 1
                        break
                    }
                    if scalar == "\n" { line += 1 }
                    if quote == "\"", scalar == "\\", index + 1 < scalars.count {
                        let next = scalars[index + 1]
                        switch next {
                        case "n": value += "\n"
                        case "r": value += "\r"
                        case "t": value += "\t"
                        case "\"", "\\", "$", "'", "`": value.unicodeScalars.append(next)
                        case "\n":
                            line += 1  // a line continuation
                        default:
                            value.unicodeScalars.append(scalar)
                            value.unicodeScalars.append(next)
                        }
                        index += 2
                        continue
                    }
                    value.unicodeScalars.append(scalar)
                    index += 1
                }
                guard closed else {
                    return .failure(ParseError(line: startLine, message: "the quoted value of '\(name)' is never closed"))
                }
                skipBlanks()
                if index < scalars.count, scalars[index] == "#" { restOfLine() }
                skipBlanks()
                if index < scalars.count, scalars[index] == "\r" { index += 1 }
                guard index >= scalars.count || scalars[index] == "\n" else {
                    return .failure(ParseError(line: line, message: "unexpected text after the quoted value of '\(name)'"))
                }
            } else {
                while index < scalars.count, scalars[index] != "\n" {
                    // ` #` starts a comment; a `#` inside a word does not.
                    if scalars[index] == "#", value.unicodeScalars.last.map({ $0 == " " || $0 == "\t" }) ?? true { restOfLine(); break }
                    value.unicodeScalars.append(scalars[index])
                    index += 1
                }
                while let last = value.unicodeScalars.last, last == " " || last == "\t" || last == "\r" {
                    value.unicodeScalars.removeLast()
                }
            }
            entries.append(Entry(name: name, value: value, line: startLine))
        }
        return .success(entries)
    }

    /// A line without `=` is often the second line of an unquoted value (a key, a certificate),
    /// so the message never quotes the line: any of it may be part of a secret.
    /// A line that does not start with a name: said as a line without '=' is, the line not shown
    /// either (audit 64 cli L21: `=v` got a shorter message than `this is bad`).
    static let noName = "expected NAME=VALUE, NAME letters, digits and '_', not starting with a digit (the line is not shown: it may hold part of a secret)"
    static let noEquals = "expected NAME=VALUE (the line is not shown: it may hold part of a secret); a value on several lines must be in quotes"

    static func isNameScalar(_ scalar: Unicode.Scalar) -> Bool {
        ("A"..."Z").contains(scalar) || ("a"..."z").contains(scalar) || ("0"..."9").contains(scalar) || scalar == "_" || scalar == "."
            || scalar == "-"
    }
}
