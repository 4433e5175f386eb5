/// Parses the `NAME=value` / `NAME<<DELIM` format of GITHUB_ENV and GITHUB_OUTPUT (and `--env-file`).
public enum EnvFileParser {
    public static func parse(_ text: String) -> [(String, String)] {
        var result: [(String, String)] = []
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map {
            $0.hasSuffix("\r") ? String($0.dropLast()) : String($0)
        }[...]
        while let line = lines.popFirst() {
            if line.isEmpty || line.hasPrefix("#") { continue }
            if let range = line.range(of: "<<"), !line[..<range.lowerBound].contains("=") {
                let name = String(line[..<range.lowerBound])
                let delimiter = String(line[range.upperBound...])
                var value: [String] = []
                while let next = lines.popFirst(), next != delimiter { value.append(next) }
                result.append((name, value.joined(separator: "\n")))
            } else if let equals = line.firstIndex(of: "=") {
                result.append((String(line[..<equals]), String(line[line.index(after: equals)...])))
            }
        }
        return result
    }
}
