import Foundation

/// Comparison operators.
enum ExpressionBinaryOperator: String, Sendable, Hashable {
    case equal = "==", notEqual = "!=", less = "<", lessOrEqual = "<=", greater = ">", greaterOrEqual = ">="
}

/// Short-circuiting operators; they return one of their operands.
enum ExpressionLogicalOperator: String, Sendable, Hashable {
    case and = "&&", or = "||"
}

/// A node of a parsed expression. Offsets are UTF-8 offsets in the source.
indirect enum ExpressionNode: Sendable, Hashable {
    /// `null`, `true`, `1.5`, `'text'`.
    case literal(ExpressionValue, offset: Int)
    /// A top-level named value such as `github`; offset of the name.
    case context(name: String, offset: Int)
    /// `base.name`; offset of `name`.
    case property(ExpressionNode, name: String, offset: Int)
    /// `base[index]`; offset of `[`.
    case index(ExpressionNode, ExpressionNode, offset: Int)
    /// `base.*` or `base[*]`; offset of `*`.
    case star(ExpressionNode, offset: Int)
    /// `!operand`; offset of `!`.
    case not(ExpressionNode, offset: Int)
    /// `lhs op rhs`; offset of the operator.
    case binary(ExpressionBinaryOperator, ExpressionNode, ExpressionNode, offset: Int)
    /// `a && b && c` or `a || b || c`; offset of the first operator.
    case logical(ExpressionLogicalOperator, [ExpressionNode], offset: Int)
    /// `name(args)`; offset of the name.
    case call(ExpressionFunction, [ExpressionNode], offset: Int)
    /// `plugin.name(arguments)`: a function a plugin declares (see nixactions/functions.h).
    case pluginCall(String, [ExpressionNode], offset: Int)
    /// `( inner )`; offset of `(`.
    case group(ExpressionNode, offset: Int)

    /// The offset of the node's anchor token.
    var offset: Int {
        switch self {
        case .literal(_, let offset), .context(_, let offset), .property(_, _, let offset),
             .index(_, _, let offset), .star(_, let offset), .not(_, let offset),
             .binary(_, _, _, let offset), .logical(_, _, let offset), .call(_, _, let offset),
             .pluginCall(_, _, let offset), .group(_, let offset):
            return offset
        }
    }
}

/// A parsed `${{ }}` expression.
public struct Expression: Sendable, Hashable, CustomStringConvertible {
    /// The text the expression was parsed from (the text inside `${{ }}`);
    /// node and error offsets are relative to it.
    public let source: String
    let root: ExpressionNode

    init(source: String, root: ExpressionNode) {
        self.source = source
        self.root = root
    }

    /// The source text.
    public var description: String { source }

    /// Every context access in source order, for static validation. Each access
    /// chain yields one reference, as far as its path is static.
    public var references: [ContextReference] {
        var collector = ExpressionAnalysis()
        collector.visit(root)
        return collector.references.sorted { $0.offset < $1.offset }
    }

    /// Which of `success()`, `failure()`, `always()` and `cancelled()` are called.
    public var statusFunctions: Set<StatusFunction> {
        var collector = ExpressionAnalysis()
        collector.visit(root)
        return collector.statusFunctions
    }

    /// Where `hashFiles(…)` is called (offsets).
    public var hashFilesCalls: [Int] {
        var collector = ExpressionAnalysis()
        collector.visit(root)
        return collector.hashFilesOffsets
    }

    /// Every `plugin.name(…)` call: its name, argument count and offset, and each argument's
    /// value when it is a literal (nil otherwise).
    public var pluginCalls: [(name: String, arguments: Int, offset: Int, literals: [ExpressionValue?])] {
        var collector = ExpressionAnalysis()
        collector.visit(root)
        return collector.pluginCalls
    }
}

/// A context access path, e.g. `needs.build.outputs.version` is root `needs`
/// with path `["build", "outputs", "version"]`.
///
/// Property names and literal indexes (`matrix['os']`, `a[0]` as `"0"`) are path
/// elements. A dynamic index or `*` ends the static path: the path stops before it
/// and `isComplete` is false. The root is lowercased (context names are
/// case-insensitive); path elements keep their spelling.
public struct ContextReference: Sendable, Hashable, CustomStringConvertible {
    /// The context name, lowercased, e.g. `needs`.
    public let root: String
    /// The static path below the root.
    public let path: [String]
    /// False when a dynamic index or `*` follows `path`.
    public let isComplete: Bool
    /// UTF-8 offset in the expression source of the root identifier.
    public let offset: Int

    /// Creates a reference.
    public init(root: String, path: [String], isComplete: Bool = true, offset: Int) {
        self.root = root
        self.path = path
        self.isComplete = isComplete
        self.offset = offset
    }

    /// Dotted form, with `.*` marking an incomplete path, e.g. `needs.build.*`.
    public var description: String {
        ([root] + path).joined(separator: ".") + (isComplete ? "" : ".*")
    }
}

/// Collects references and status-function calls from a tree.
struct ExpressionAnalysis {
    var references: [ContextReference] = []
    var statusFunctions: Set<StatusFunction> = []
    var pluginCalls: [(name: String, arguments: Int, offset: Int, literals: [ExpressionValue?])] = []
    /// Where `hashFiles(…)` is called.
    var hashFilesOffsets: [Int] = []

    private enum Step { case name(String), dynamic(ExpressionNode), star }

    mutating func visit(_ node: ExpressionNode) {
        switch node {
        case .literal:
            return
        case .context, .property, .index, .star:
            visitChain(node)
        case .group(let inner, _), .not(let inner, _):
            visit(inner)
        case .binary(_, let lhs, let rhs, _):
            visit(lhs)
            visit(rhs)
        case .logical(_, let operands, _):
            for operand in operands { visit(operand) }
        case .call(let function, let arguments, let offset):
            if let status = function.statusFunction { statusFunctions.insert(status) }
            if function == .hashFiles { hashFilesOffsets.append(offset) }
            for argument in arguments { visit(argument) }
        case .pluginCall(let name, let arguments, let offset):
            pluginCalls.append((name, arguments.count, offset, arguments.map { argument in
                if case .literal(let value, _) = argument { return value }
                return nil
            }))
            for argument in arguments { visit(argument) }
        }
    }

    private mutating func visitChain(_ node: ExpressionNode) {
        var steps: [Step] = []
        var current = node
        loop: while true {
            switch current {
            case .property(let base, let name, _):
                steps.append(.name(name)); current = base
            case .index(let base, .literal(let key, _), _) where key.isStringOrNumber:
                steps.append(.name(key.displayString)); current = base
            case .index(let base, let key, _):
                steps.append(.dynamic(key)); current = base
            case .star(let base, _):
                steps.append(.star); current = base
            case .group(let inner, _):
                current = inner
            default:
                break loop
            }
        }
        steps.reverse()
        if case .context(let name, let offset) = current {
            var path: [String] = []
            var complete = true
            for step in steps {
                guard case .name(let element) = step else { complete = false; break }
                path.append(element)
            }
            references.append(ContextReference(root: name.lowercased(), path: path, isComplete: complete, offset: offset))
        } else {
            visit(current)
        }
        for case .dynamic(let key) in steps { visit(key) }
    }
}

extension ExpressionValue {
    var isStringOrNumber: Bool {
        switch self {
        case .string, .number: return true
        default: return false
        }
    }
}
