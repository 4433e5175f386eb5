import Foundation

/// The built-in functions. Names are matched case-insensitively.
enum ExpressionFunction: String, Sendable, Hashable, CaseIterable {
    case contains, startsWith, endsWith, format, join, toJSON, fromJSON, hashFiles, `case`
    case success, failure, always, cancelled

    /// The function's canonical name.
    var name: String { rawValue }

    /// Looks a function up by name, ignoring case.
    static func named(_ name: String) -> ExpressionFunction? {
        let lowered = name.lowercased()
        return allCases.first { $0.rawValue.lowercased() == lowered }
    }

    /// Minimum number of arguments.
    var minArguments: Int {
        switch self {
        case .contains, .startsWith, .endsWith: return 2
        case .format, .join, .toJSON, .fromJSON, .hashFiles: return 1
        case .case: return 3
        case .success, .failure, .always, .cancelled: return 0
        }
    }

    /// Maximum number of arguments.
    var maxArguments: Int {
        switch self {
        case .contains, .startsWith, .endsWith, .join: return 2
        case .toJSON, .fromJSON: return 1
        case .format, .hashFiles, .case: return 255
        case .success, .failure, .always, .cancelled: return 0
        }
    }

    /// The documented signature, used in hints.
    var signature: String {
        switch self {
        case .contains: return "contains(search, item)"
        case .startsWith: return "startsWith(searchString, searchValue)"
        case .endsWith: return "endsWith(searchString, searchValue)"
        case .format: return "format(string, replaceValue0, replaceValue1, ..., replaceValueN)"
        case .join: return "join(array, optionalSeparator)"
        case .toJSON: return "toJSON(value)"
        case .fromJSON: return "fromJSON(value)"
        case .hashFiles: return "hashFiles(path, ...)"
        case .case: return "case(pred1, val1, pred2, val2, ..., default)"
        case .success, .failure, .always, .cancelled: return "\(rawValue)()"
        }
    }

    /// The status function this is, if any.
    var statusFunction: StatusFunction? {
        switch self {
        case .success: return .success
        case .failure: return .failure
        case .always: return .always
        case .cancelled: return .cancelled
        default: return nil
        }
    }

    /// Checks an argument count at parse time; returns the problem, if any.
    func arityProblem(_ count: Int) -> String? {
        if count < minArguments {
            let expected = minArguments == maxArguments ? "\(minArguments)" : "at least \(minArguments)"
            return "too few arguments to '\(name)': expected \(expected), got \(count)"
        }
        if count > maxArguments {
            let expected = minArguments == maxArguments ? "\(maxArguments)" : "at most \(maxArguments)"
            return "too many arguments to '\(name)': expected \(expected), got \(count)"
        }
        if self == .case, count % 2 == 0 {
            return "'case' needs an odd number of arguments (predicate/value pairs and a default), got \(count)"
        }
        return nil
    }

    /// A did-you-mean suggestion for an unknown function name.
    static func suggestion(for name: String) -> String {
        let lowered = name.lowercased()
        var best: (ExpressionFunction, Int)?
        for candidate in allCases {
            let distance = ExpressionEditDistance.distance(lowered, candidate.rawValue.lowercased())
            if distance <= 2, best.map({ distance < $0.1 }) ?? true { best = (candidate, distance) }
        }
        if let best { return "did you mean '\(best.0.name)'?" }
        return "available functions: " + allCases.map(\.name).joined(separator: ", ")
    }
}

/// Optimal-string-alignment edit distance (insert, delete, substitute, transpose).
enum ExpressionEditDistance {
    static func distance(_ lhs: String, _ rhs: String) -> Int {
        let a = Array(lhs.unicodeScalars)
        let b = Array(rhs.unicodeScalars)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var table = Array(repeating: Array(repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in 0...a.count { table[i][0] = i }
        for j in 0...b.count { table[0][j] = j }
        for i in 1...a.count {
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                var value = min(table[i - 1][j] + 1, table[i][j - 1] + 1, table[i - 1][j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    value = min(value, table[i - 2][j - 2] + 1)
                }
                table[i][j] = value
            }
        }
        return table[a.count][b.count]
    }
}
