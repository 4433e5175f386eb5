import Foundation

extension ExpressionEvaluator {
    /// Applies a built-in function to evaluated arguments. The parser has
    /// already checked argument counts; missing arguments read as null.
    func call(_ function: ExpressionFunction, _ arguments: [ExpressionValue], at offset: Int) throws(ExpressionError) -> ExpressionValue {
        func argument(_ position: Int) -> ExpressionValue {
            position < arguments.count ? arguments[position] : .null
        }
        func failure(_ message: String, hint: String? = nil) -> ExpressionError {
            ExpressionError(message: message, offset: offset, source: source, hint: hint)
        }
        switch function {
        case .contains:
            return ExpressionBuiltins.contains(argument(0), argument(1))
        case .startsWith:
            return ExpressionBuiltins.startsWith(argument(0), argument(1))
        case .endsWith:
            return ExpressionBuiltins.endsWith(argument(0), argument(1))
        case .join:
            switch ExpressionBuiltins.join(arguments) {
            case .success(let value): return value
            case .failure(let problem): throw failure(problem.message, hint: ExpressionLimits.hint)
            }
        case .toJSON:
            return .string(argument(0).gitHubJSON())
        case .fromJSON:
            // GitHub's `FromJson.cs` reads the argument's text: an array or object is the text
            // `Array` or `Object`, which is no JSON (audit 48: it parsed the value's JSON here).
            if !argument(0).isPrimitive {
                throw failure("fromJSON: the argument is \(argument(0).kindName == "array" ? "an array" : "an object"), not JSON text",
                              hint: "GitHub reads it as the text '\(argument(0).gitHubText)' and fails; it is already a value: use it without fromJSON")
            }
            let text = argument(0).displayString
            if text.allSatisfy(\.isWhitespace) {
                throw failure("fromJSON: empty input", hint: "fromJSON needs a JSON document, e.g. fromJSON('[1, 2]')")
            }
            do {
                return try ExpressionValue.fromJSON(text, lenient: true)
            } catch {
                // The text it read (audit 58 examples L15: a job's output `api,web` was not shown),
                // whole or not at all: the message is masked later, and a piece of a long text
                // could hold a piece of a secret the masking would not know (review 59 H1).
                let hint = text.count <= 100 ? "the text it read: '\(DisplayText.escaped(text))'"
                    : "the text it read has \(text.count) characters (not shown)"
                throw failure("fromJSON: \(error.message)", hint: hint)
            }
        case .format:
            switch ExpressionBuiltins.format(argument(0).displayString, Array(arguments.dropFirst())) {
            case .success(let text): return .string(text)
            case .failure(let problem) where problem.tooLarge: throw failure(problem.message, hint: ExpressionLimits.hint)
            case .failure(let problem): throw failure("format: \(problem.message)", hint: "usage: \(function.signature)")
            }
        case .case:
            switch ExpressionBuiltins.caseOf(arguments) {
            case .success(let value): return value
            case .failure(let problem): throw failure(problem.message, hint: "usage: \(function.signature)")
            }
        case .hashFiles:
            // As GitHub's runner (HashFilesFunction): arguments as text; a first one starting
            // with `--` is an option, `--follow-symbolic-links` the only one (files that are
            // links are hashed through here either way).
            var patterns = arguments.map(\.gitHubText)
            if let option = patterns.first, option.hasPrefix("--") {
                guard option == "--follow-symbolic-links" else {
                    throw failure("hashFiles: invalid glob option \(option)", hint: "the only option is --follow-symbolic-links, given first")
                }
                patterns.removeFirst()
            }
            do {
                return .string(try context.hashFiles(patterns))
            } catch {
                throw failure(error.message.hasPrefix("hashFiles") ? error.message : "hashFiles: \(error.message)",
                              hint: error.hint)
            }
        case .success:
            return .bool(context.status.succeeded && !context.status.cancelled)
        case .failure:
            return .bool(context.status.failed)
        case .always:
            return .bool(true)
        case .cancelled:
            return .bool(context.status.cancelled)
        }
    }
}
