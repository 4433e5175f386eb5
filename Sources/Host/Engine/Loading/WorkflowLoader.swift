import Foundation
import NixActionsPluginMessages
import NixActionsProcessKit
import Synchronization
import Yams

/// The result of loading a workflow: the compiled workflow (nil when it could not be built at all)
/// and every problem found, all at once.
public struct LoadResult: Sendable {
    public init(workflow: Workflow?, diagnostics: [Diagnostic]) {
        self.workflow = workflow
        self.diagnostics = diagnostics
    }

    public var workflow: Workflow?
    public var diagnostics: [Diagnostic]

    public var hasErrors: Bool { diagnostics.contains { $0.severity == .error } }
}

/// Turns workflow YAML into a typed `Workflow`, reporting every problem with its position.
public enum WorkflowLoader {
    static let workflowKeys = [
        "name", "run-name", "on", "env", "secrets", "defaults", "jobs", "permissions", "concurrency", "retry", "timeout",
        "timeout-minutes", "nix", "description",
    ]
    /// GitHub-only keys: accepted, with a note that they do not apply locally.
    static let githubOnlyWorkflowKeys: Set<String> = ["run-name", "permissions"]
    static let jobKeys = [
        "name", "needs", "if", "runs-on", "executor", "container", "env", "defaults", "steps", "outputs",
        "timeout-minutes", "timeout", "continue-on-error", "strategy", "retry", "cache", "secrets",
        "artifacts", "workspace", "permissions", "environment", "concurrency", "services", "uses", "with", "snapshot", "nix",
        "cancel-timeout-minutes",
    ]
    /// `cancel-timeout-minutes` is in GitHub's workflow schema (how long a cancelled job may take to
    /// end); here a cancelled step has the executor's grace period (reliability.md).
    static let githubOnlyJobKeys: Set<String> = ["permissions", "environment", "snapshot", "cancel-timeout-minutes"]
    static let stepKeys = [
        "id", "name", "run", "shell", "working-directory", "env", "if", "timeout-minutes", "timeout",
        "continue-on-error", "retry", "uses", "with", "background", "wait", "wait-all", "cancel", "parallel",
    ]

    /// Load a workflow file. With `functions` (plugin function → arity), calls to plugin functions are checked too.
    public static func load(file path: String, functions: [String: Int]? = nil) -> LoadResult {
        load(file: path, functionArities: functions.map { FunctionArities($0) })
    }

    /// The largest workflow or configuration file read (16 MiB; a 20,000-job workflow is about 5).
    /// Its node tree takes up to about 70 times its size (audit 55 H6: a 60 MB file of short
    /// values took 4.2 GB at the earlier 64 MiB limit); GitHub takes at most 512,000 bytes.
    public static let fileLimit = 16 << 20

    /// The largest workflow file GitHub starts a run of ("Workflow file exceeds the maximum allowed
    /// size of 500 KB": docs.github.com, Actions limits); a larger one is a warning here.
    public static let gitHubFileLimit = 512_000

    /// Load a workflow file; plugin functions are looked up only if an expression calls one.
    public static func load(file path: String, functionArities functions: FunctionArities?) -> LoadResult {
        let data: [UInt8]
        switch FastFiles.readWhole(path, limit: fileLimit) {
        case .success(let bytes): data = bytes
        case .failure(let failure):
            let diagnostic = Diagnostic(.error, "cannot read workflow file '\(path)': \(failure.reason)", hint: failure.hint)
            return LoadResult(workflow: nil, diagnostics: [diagnostic])
        }
        guard let text = String(validating: data, as: UTF8.self) else {
            return LoadResult(workflow: nil, diagnostics: [notUTF8(data, file: path, what: "the workflow file")])
        }
        var result = load(yaml: text, file: path, functionArities: functions)
        if let workflow = result.workflow, workflow.triggers == nil, ("/" + path).contains("/.github/workflows/") {
            // GitHub's place for workflows: there a file without `on:` is an invalid workflow that
            // never runs (audit 57 UX M12: not a word here, where it runs).
            result.diagnostics.append(Diagnostic(
                .warning, "the workflow has no 'on:': GitHub reports a workflow without events as invalid and never runs it (it runs here)",
                at: SourceLocation(file: path, line: 1, column: 1), hint: "name the events that start it, e.g. on: [push, pull_request]"))
        }
        if data.count > gitHubFileLimit {
            result.diagnostics.append(Diagnostic(
                .warning, "the workflow file is \(data.count) bytes: GitHub starts no run of a workflow file larger than \(gitHubFileLimit) bytes (it runs here)",
                at: SourceLocation(file: path, line: 1, column: 1), hint: "move long scripts into files of the repository, or split the workflow"))
        }
        return result
    }

    /// The tags of YAML's core schema (`!!str 5` is the text "5"), and none.
    static let coreTags = Set(["", "!"] + ["str", "int", "float", "bool", "null", "seq", "map"].map { "tag:yaml.org,2002:" + $0 })

    /// Any other tag on a value (`!!binary`, `!python/object`) is an error: its value would be read
    /// as the text written, not as what the tag says (a `!!binary` script would run as base64). On
    /// a list or a map, a warning: nothing read changes.
    static func checkTags(_ root: Node, reader: inout NodeReader, defaultName: String) {
        var pending = [(node: root, path: [String]())]
        var reported = 0
        while let (node, path) = pending.popLast(), reported < 20 {
            // The tag as written: `Node.tag` would resolve it (in place: the tags are shared
            // objects), and the readers tell `false` from `"false"` by an unresolved tag.
            let name: String
            switch node {
            case .scalar(let scalar): name = scalar.tag.rawValue
            case .mapping(let mapping): name = mapping.tag.rawValue
            case .sequence(let sequence): name = sequence.tag.rawValue
            default: name = ""
            }
            if !coreTags.contains(name) {
                reported += 1
                let core = name.hasPrefix("tag:yaml.org,2002:")
                let shown = core ? "!!" + name.dropFirst(18) : name
                let context = placeContext(path, root: root, defaultName: defaultName)  // only for what is reported
                switch node {
                case .scalar:
                    reader.diagnostics.error(
                        "YAML tag '\(shown)' is not supported", at: reader.location(node), context: context,
                        // A local tag (`!x`) is likely a value that starts with '!'; one that
                        // resolved to a URI (`!!str`, a `%TAG` handle, `!<…>`) is a tag meant as one.
                        hint: core || name.hasPrefix("!!") || !name.hasPrefix("!")
                            ? "a workflow's values are text, numbers, booleans, lists and maps; remove the tag "
                                + "(its value would otherwise be read as written, not decoded)"
                            // `if: !cancelled()`: YAML reads a plain value that starts with '!' as a tag.
                            : "YAML reads a value that starts with '!' as a tag: quote it ('\(shown)') or write an "
                                + "expression inside ${{ }} (if: ${{ \(shown) }}), as GitHub's docs say")
                default:
                    // On a list or a map the tag changes nothing that is read (GitHub's parser accepts it).
                    var kind = "list"
                    if case .mapping = node { kind = "map" }
                    reader.diagnostics.warning(
                        "YAML tag '\(shown)' on a \(kind) is ignored", at: reader.location(node), context: context,
                        hint: "remove it; tags mean nothing in a workflow")
                }
            }
            // The path is kept as deep as a context names places: jobs › job › steps › step.
            func deeper(_ part: String) -> [String] { path.count < 4 ? path + [part] : path }
            switch node {
            case .mapping(let mapping):
                for (key, value) in mapping.reversed() {
                    pending.append((value, deeper(key.string ?? "")))
                    pending.append((key, path))
                }
            case .sequence(let sequence):
                for (index, item) in sequence.enumerated().reversed() { pending.append((item, deeper("#\(index)"))) }
            default: break
            }
        }
    }

    /// The context of a place in a workflow by its path from the root (keys, "#N" for the Nth list
    /// item): "workflow 'W'", "… › job 'J'", "… › step N 'NAME'", as the loader's own errors say.
    static func placeContext(_ path: [String], root: Node, defaultName: String) -> String {
        func value(_ node: Node?, _ key: String) -> Node? {
            guard case .mapping(let mapping)? = node else { return nil }
            return mapping.first { $0.key.string == key }?.value
        }
        var name = defaultName
        if case .scalar(let scalar)? = value(root, "name"), !scalar.string.isEmpty { name = scalar.string }
        let workflow = "workflow '\(name)'"
        guard path.count >= 2, path[0] == "jobs" else { return workflow }
        let job = "\(workflow) › job '\(path[1])'"
        guard path.count >= 4, path[2] == "steps", path[3].hasPrefix("#"), let index = Int(path[3].dropFirst()) else { return job }
        var stepName: String?
        if case .sequence(let steps)? = value(value(value(root, "jobs"), path[1]), "steps"), index < steps.count,
           case .scalar(let scalar)? = value(steps[index], "name") {
            stepName = scalar.string
        }
        return ExpressionValidator.stepContext(job, index: index, name: stepName)
    }

    /// The error for a file that is not UTF-8, at its first byte that is not (line, and column in bytes).
    public static func notUTF8(_ data: [UInt8], file: String, what: String) -> Diagnostic {
        var iterator = data.makeIterator()
        var decoder = UTF8()
        var offset = 0
        decoding: while true {
            switch decoder.decode(&iterator) {
            case .scalarValue(let scalar): offset += UTF8.width(scalar)
            case .emptyInput, .error: break decoding
            }
        }
        offset = min(offset, data.count)
        let before = data[..<offset]
        let line = 1 + before.reduce(0) { $0 + ($1 == 10 ? 1 : 0) }
        let column = offset - (before.lastIndex(of: 10).map { $0 + 1 } ?? 0) + 1
        let byte = offset < data.count ? String(format: " (byte 0x%02X)", data[offset]) : ""
        return Diagnostic(
            .error, "\(what) is not UTF-8 text\(byte)", at: SourceLocation(file: file, line: line, column: column),
            hint: "save it as UTF-8 (GitHub reads workflows as UTF-8 too); an editor's encoding setting or 'iconv -f LATIN1 -t UTF-8' converts it")
    }

    /// Load a workflow from YAML text; `file` names it in diagnostics.
    public static func load(yaml: String, file: String, functions: [String: Int]? = nil) -> LoadResult {
        load(yaml: yaml, file: file, functionArities: functions.map { FunctionArities($0) })
    }

    /// Load a workflow from YAML text; plugin functions are looked up only if an expression calls one.
    public static func load(yaml text: String, file: String, functionArities functions: FunctionArities?) -> LoadResult {
        // A byte-order mark is allowed at the start of a YAML stream (GitHub reads such files);
        // libyaml, told the text is UTF-8, would take it for content.
        let yaml = text.utf8.starts(with: [0xEF, 0xBB, 0xBF]) ? String(text.unicodeScalars.dropFirst()) : text
        var reader = NodeReader(file: file, yaml: yaml)
        let baseName = ((file as NSString).lastPathComponent as NSString).deletingPathExtension
        if let overrun = AliasBudget.overrun(in: yaml) {
            reader.diagnostics.append(aliasDiagnostic(overrun, file: file, workflow: baseName))
            return LoadResult(workflow: nil, diagnostics: reader.diagnostics.sorted)
        }
        let root: Node
        do {
            // The basic resolver (no rules): Yams hashes every mapping key to find duplicates, and the
            // default resolver matches each key against regular expressions to learn its tag, which
            // was a third of `validate`. Keys are strings here; values are read by their text.
            // A large file of the plain shape is composed in slices on every core (same tree);
            // otherwise from libyaml's events (FastCompose), and by Yams when that declines.
            guard let node = try SlicedCompose.compose(yaml) ?? FastCompose.compose(yaml, .basic) ?? Yams.compose(yaml: yaml, .basic) else {
                reader.diagnostics.error(
                    "the workflow file is empty", at: SourceLocation(file: file, line: 1, column: 1),
                    hint: "a workflow needs at least 'jobs:' with one job that has 'steps:'")
                return LoadResult(workflow: nil, diagnostics: reader.diagnostics.sorted)
            }
            root = node
            FreeAtExit.keep(node)
        } catch {
            reader.diagnostics.append(yamlDiagnostic(error, file: file, yaml: yaml, workflow: baseName))
            return LoadResult(workflow: nil, diagnostics: reader.diagnostics.sorted)
        }
        if yaml.utf8.contains(UInt8(ascii: "!")) { checkTags(root, reader: &reader, defaultName: baseName) }
        var workflow = compileWorkflow(root, reader: &reader, defaultName: baseName)
        workflow?.matchNeedsWithoutCase()
        if let compiled = workflow {
            workflow?.secretReferences = Validator.validate(compiled, functions: functions, into: &reader.diagnostics)
        }
        return LoadResult(workflow: workflow, diagnostics: reader.diagnostics.sorted)
    }

    /// The error for a file whose aliases expand beyond `AliasBudget.maxExpandedNodes` nodes.
    static func aliasDiagnostic(_ overrun: AliasBudget.Overrun, file: String, workflow: String) -> Diagnostic {
        var context = "workflow '\(workflow)'"
        if overrun.path.count >= 2, overrun.path[0] == "jobs" { context += " › job '\(overrun.path[1])'" }
        let place = overrun.path.isEmpty ? "" : " (in \(overrun.path.joined(separator: ".")))"
        return Diagnostic(
            .error,
            "YAML aliases expand to more than \(AliasBudget.maxExpandedNodes) nodes; alias '*\(overrun.anchor)' goes over the limit\(place)",
            at: SourceLocation(file: file, line: overrun.line, column: overrun.column), context: context,
            hint: "anchors and aliases that nest multiply their contents (a 'billion laughs' file); "
                + "write the values out, or use fewer levels of aliases")
    }

    /// The error for YAML that cannot be read; `workflow` (the file's base name) when it is a
    /// workflow, whose places are then named (workflow, job, step).
    static func yamlDiagnostic(_ error: any Error, file: String, yaml: String, workflow: String? = nil) -> Diagnostic {
        func at(_ mark: Mark) -> SourceLocation { SourceLocation(file: file, line: mark.line, column: mark.column) }
        if let error = error as? YamlError {
            if case .duplicatedKeysInMapping = error, let (root, key, path) = FastCompose.firstDuplicateKey(yaml), let mark = key.mark {
                // The repeated key itself, and its place (audit 53 L11: the place was not named).
                return Diagnostic(
                    .error, "duplicate key '\(key.string ?? "")'", at: at(mark), context: workflow.map { placeContext(path, root: root, defaultName: $0) },
                    hint: "YAML keeps only one of them; remove or merge the other")
            }
            switch error {
            case .duplicatedKeysInMapping(let duplicates, let context):
                let key = duplicates.first ?? ""
                return Diagnostic(
                    .error, "duplicate key '\(key)'",
                    at: secondOccurrence(of: key, in: yaml, from: context.mark)
                        .map { SourceLocation(file: file, line: $0.line, column: $0.column) } ?? at(context.mark),
                    hint: "YAML keeps only one of them; remove or merge the other")
            case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
                .composer(let context, let problem, let mark, _):
                if problem.hasPrefix("Maximum nesting level reached") {
                    // libyaml's own words name its C function; say what it means.
                    return Diagnostic(.error, "invalid YAML: nested more deeply than YAML is read here (about 1,000 levels of lists and maps)",
                                      at: at(mark), hint: "a workflow nests a few levels; this file was likely generated wrongly")
                }
                if problem == "found character that cannot start any token", Self.character(in: yaml, at: mark) == "\t" {
                    // The most common YAML mistake gets libyaml's words otherwise (audit 57 UX M2).
                    return Diagnostic(.error, "invalid YAML: a tab character: YAML indents with spaces, never tabs", at: at(mark),
                                      hint: "replace the tab with spaces (an editor's 'indent with spaces' setting keeps them out)")
                }
                if problem == "but found another document" {
                    // libyaml's words read broken, and the quoting hint did not fit (audit 64 cli L6).
                    return Diagnostic(.error, "invalid YAML: a second document ('---') after the workflow's; a workflow file holds one document",
                                      at: at(mark), hint: "remove this '---' line and what follows it, or move that document to a file of its own")
                }
                var message = "invalid YAML: \(problem)"
                if let context { message += " (\(context.text) at \(context.mark.line):\(context.mark.column))" }
                if problem.hasPrefix("did not find expected ','"), let context, context.text.hasPrefix("while parsing a flow"),
                   Self.lines(of: yaml, from: context.mark.line, to: mark.line).contains("${{") {
                    // `steps: [{run: echo ${{ matrix.node }}}]`: the expression's braces end the
                    // `{ }` or `[ ]` (a common slip of GitHub users: audit 64 cli L6).
                    return Diagnostic(.error, message, at: at(mark),
                                      hint: "inside a '{ }' or '[ ]' written on one line, a value with ${{ }} must be in quotes "
                                        + "('echo ${{ matrix.node }}'): its braces end the mapping or list")
                }
                // The most common one: `run: echo "a: b"` (a plain value cannot hold ': ').
                var hint = problem == "mapping values are not allowed in this context"
                    ? "check indentation and quoting on this line: a value without quotes cannot hold ': ' (a colon and a space); "
                        + "quote the whole value with ' or \", or write it as a block (key: | on its own line, the text indented below it)"
                    : "check indentation and quoting on this line"
                if problem == "mapping values are not allowed in this context", let length = longKeyLength(in: yaml, before: mark) {
                    // YAML's limit on a key written without `? ` (audit 55 L3: the hint spoke of values).
                    hint = "YAML reads a key of at most 1,024 characters on one line, and the key before this ':' has \(length); "
                        + "shorten it (a job id or a name this long is likely generated wrongly)"
                }
                return Diagnostic(.error, message, at: at(mark), hint: hint)
            case .reader(let problem, let offset, let value, _):
                // Yams gives where the refused character is (in Characters) and the character:
                // say where it is and which (audit 53: every one was at 1:1).
                let place = offset.map { characterLocation($0, in: yaml) } ?? (line: 1, column: 1)
                let character = value >= 0 && value <= 0x10FFFF ? String(format: " (U+%04X)", value) : ""
                return Diagnostic(.error, "invalid YAML: \(problem)\(character)", at: SourceLocation(file: file, line: place.line, column: place.column),
                                  hint: problem.hasPrefix("control characters")
                                    ? "remove it, or write it as an escape in a double-quoted string (\"\\u0007\", \"\\t\")"
                                    : "the file must be UTF-8 text")
            default:
                return Diagnostic(.error, "invalid YAML: \(error)", at: SourceLocation(file: file, line: 1, column: 1))
            }
        }
        return Diagnostic(.error, "invalid YAML: \(error)", at: SourceLocation(file: file, line: 1, column: 1))
    }

    /// Line and column (counted in Unicode scalars, as libyaml's marks are) of the Character at
    /// `offset` (Yams' reader errors count Characters: CRLF is one).
    static func characterLocation(_ offset: Int, in yaml: String) -> (line: Int, column: Int) {
        let end = yaml.index(yaml.startIndex, offsetBy: max(0, offset), limitedBy: yaml.endIndex) ?? yaml.endIndex
        let scalars = yaml.unicodeScalars[..<end]
        var line = 1
        var column = 1
        var previous: Unicode.Scalar = "\0"
        for scalar in scalars {
            // LF, CRLF (one break) and a lone CR end a line.
            if scalar == "\n" && previous == "\r" {
                column = 1
            } else if scalar == "\n" || scalar == "\r" {
                line += 1
                column = 1
            } else {
                column += 1
            }
            previous = scalar
        }
        return (line, column)
    }

    /// The length in characters of the key on `mark`'s line before it, when that is over YAML's
    /// 1,024-character limit on a key written without `? ` (after indentation and list dashes); nil
    /// for a shorter one or a line whose text before the mark holds ': ' (a value, then).
    /// The character at `mark` (line and column from 1, columns in Unicode scalars), if any.
    /// Lines `first` to `last` (1-based, both included) of `yaml`, joined.
    static func lines(of yaml: String, from first: Int, to last: Int) -> String {
        guard first >= 1, last >= first else { return "" }
        let lines = yaml.split(omittingEmptySubsequences: false) { $0 == "\n" || $0 == "\r" || $0 == "\r\n" }
        return lines.dropFirst(first - 1).prefix(last - first + 1).joined(separator: "\n")
    }

    static func character(in yaml: String, at mark: Mark) -> Unicode.Scalar? {
        guard mark.line >= 1, mark.column >= 1 else { return nil }
        let lines = yaml.split(omittingEmptySubsequences: false) { $0 == "\n" || $0 == "\r" || $0 == "\r\n" }
        guard let line = lines.dropFirst(mark.line - 1).first else { return nil }
        return line.unicodeScalars.dropFirst(mark.column - 1).first
    }

    static func longKeyLength(in yaml: String, before mark: Mark) -> Int? {
        guard mark.line >= 1, mark.column > 1025 else { return nil }
        let lines = yaml.split(omittingEmptySubsequences: false) { $0 == "\n" || $0 == "\r" || $0 == "\r\n" }
        guard let line = lines.dropFirst(mark.line - 1).first else { return nil }
        var key = Substring(String(String.UnicodeScalarView(line.unicodeScalars.prefix(mark.column - 1))))
        while let first = key.first, first == " " || first == "\t" || (first == "-" && key.dropFirst().first == " ") {
            key = key.dropFirst(first == "-" ? 2 : 1)
        }
        guard !key.contains(": ") else { return nil }
        let length = key.unicodeScalars.count
        return length > 1024 ? length : nil
    }

    /// Where `key:` appears for the second time at the indentation of the mapping that starts at `mark`.
    /// Lines end as YAML's do (LF, CRLF or a lone CR: `"\r\n"` is one `Character`, which a split
    /// at `"\n"` would not split at).
    static func secondOccurrence(of key: String, in yaml: String, from mark: Mark) -> (line: Int, column: Int)? {
        let lines = yaml.split(omittingEmptySubsequences: false) { $0 == "\n" || $0 == "\r" || $0 == "\r\n" }
        var seen = 0
        for index in min(max(0, mark.line - 1), lines.count)..<lines.count {
            let line = lines[index]
            // The mapping's first line from its first key on (after a list's "- ", which the
            // first key of a step follows: it was not counted, and the first key was named).
            let indent = index == mark.line - 1 ? mark.column - 1 : line.prefix { $0 == " " }.count
            guard indent + 1 == mark.column else { continue }
            let rest = line.dropFirst(indent)
            for candidate in [key, "\"\(key)\"", "'\(key)'"] where rest.hasPrefix(candidate + ":") {
                seen += 1
                if seen == 2 { return (index + 1, indent + 1) }
            }
        }
        return nil
    }

    static func compileWorkflow(_ root: Node, reader: inout NodeReader, defaultName: String) -> Workflow? {
        var workflow = Workflow(
            name: defaultName, file: reader.file, env: [], defaults: RunDefaults(), jobs: [], unsupported: [])
        // Read `name:` first: errors at the workflow's level name it as its jobs' errors do (audit
        // 53: `on:` and `env:` errors said the file's name).
        if case .mapping(let mapping) = root, let node = mapping.first(where: { $0.key.string == "name" })?.value,
           case .scalar(let scalar) = node, !scalar.string.isEmpty {
            workflow.name = scalar.string
            workflow.hasName = true
        }
        let context = "workflow '\(workflow.name)'"
        // An action's metadata file (action.yml: `runs:`, `inputs:`, no `jobs:`) kept among the
        // workflows: one error saying what it is, not one per key it does not share with a workflow.
        if case .mapping(let mapping) = root, let runs = mapping.first(where: { $0.key.string == "runs" })?.key,
           !mapping.contains(where: { $0.key.string == "jobs" }) {
            reader.diagnostics.error(
                "this is an action's metadata file (it has 'runs:' and no 'jobs:'), not a workflow", at: reader.location(runs),
                context: nil, hint: "workflows have 'jobs:'; an action (action.yml) is used from a workflow's step with 'uses:'")
            return nil
        }
        guard let pairs = reader.mapping(root, what: "the workflow", context: context, known: workflowKeys) else {
            return nil
        }
        var jobsNode: Node?
        var ownRetry: (policy: RetryPolicy?, keyNode: Node)?
        var workflowNix: NixPackages?
        for (key, keyNode, value) in pairs {
            switch key {
            case "name":
                if let name = reader.string(value, what: "name", context: context) { workflow.name = name.value }
            case "env": workflow.env = reader.env(value, context: context)
            case "secrets": workflow.secrets = reader.secrets(value, context: context)
            case "defaults": workflow.defaults = compileDefaults(value, reader: &reader, context: context)
            case "jobs": jobsNode = value
            case "on": workflow.triggers = compileTriggers(value, keyNode: keyNode, reader: &reader, context: context)
            case "retry": ownRetry = (reader.retry(value, context: context), keyNode)
            case "nix": workflowNix = reader.nixPackages(value, context: context)
            case "description": _ = reader.string(value, what: "description", context: context)  // documentation, as on GitHub
            case "timeout", "timeout-minutes":
                workflow.jobTimeout = reader.valueTimeout(
                    value, key: key, keyNode: keyNode, replacing: workflow.jobTimeout, what: "the workflow", context: context)
            case "concurrency":
                // Held between runs (RunConcurrency); its expressions may read `github`, `inputs`
                // and `vars` (GitHub's `workflow-concurrency`), which the validator checks.
                workflow.concurrency = reader.concurrency(value, context: context, workflow: true)
                if let concurrency = workflow.concurrency {
                    let scalar = if case .scalar = value { true } else { false }
                    for (what, field) in [(scalar ? "concurrency" : "concurrency.group", concurrency.group),
                                          ("concurrency.cancel-in-progress", concurrency.cancelExpression)] {
                        if let field, !field.template.isLiteral {
                            workflow.unusedFields.append(UnusedField(what: what, field: field, contexts: ["github", "inputs", "vars"]))
                        }
                    }
                }
            default:
                if githubOnlyWorkflowKeys.contains(key) {
                    reader.diagnostics.note(
                        "'\(key)' is a GitHub-only key; NixActions accepts it and does not use it",
                        at: reader.location(keyNode), context: context)
                    // Not used, but checked as GitHub checks it (audit 56 M1, M2).
                    switch key {
                    case "permissions": reader.checkPermissions(value, context: context)
                    case "run-name":
                        reader.unusedTemplate(value, what: "run-name", contexts: ["github", "inputs", "vars"], context: context,
                                              into: &workflow.unusedFields)
                    default: break
                    }
                }
            }
        }
        applyOwnRetry(ownRetry, to: &workflow.defaults, reader: &reader, context: context)
        let workflowContext = "workflow '\(workflow.name)'"
        guard let jobsNode else {
            if NodeReader.misspells("jobs", in: root, known: workflowKeys) { return workflow }
            reader.diagnostics.error(
                "the workflow has no 'jobs'", at: reader.location(root), context: workflowContext,
                hint: "add 'jobs:' with at least one job, e.g.\n    jobs:\n      build:\n        steps:\n          - run: make")
            return workflow
        }
        guard let jobPairs = reader.mapping(jobsNode, what: "jobs", context: workflowContext) else { return workflow }
        if jobPairs.isEmpty {
            reader.diagnostics.error("'jobs' is empty", at: reader.location(jobsNode), context: workflowContext,
                                     hint: "add at least one job with 'steps:'")
        }
        // GitHub's parser compares job ids without case: `build` and `Build` are one id twice.
        var seenIDs: [String: String] = [:]
        var repeatedIDs: Set<String> = []
        for (id, idNode, _) in jobPairs {
            if let first = seenIDs[id.lowercased()] {
                repeatedIDs.insert(id)
                reader.diagnostics.error(
                    "job id '\(id)' is already defined as '\(first)' (GitHub compares job ids without case)", at: reader.location(idNode),
                    context: workflowContext, hint: "give one of the two jobs another id")
            } else {
                seenIDs[id.lowercased()] = id
            }
        }
        // Jobs compile independently: a large workflow is split into slices (`Slices`), each with
        // its own reader (diagnostics) and its own list of unsupported keys, merged in order.
        let base = workflow, baseReader = reader
        // Yams nodes are not marked Sendable; they are only read here, never changed.
        nonisolated(unsafe) let sharedPairs = jobPairs
        var parts = Slices.map(count: jobPairs.count) { range in
            var localReader = baseReader
            localReader.diagnostics = DiagnosticBag()
            var local = base
            local.unsupported = []
            local.actionUses = []
            compileJobs(sharedPairs[range], reader: &localReader, workflow: &local, context: workflowContext)
            return (jobs: local.jobs, unsupported: local.unsupported, actionUses: local.actionUses, diagnostics: localReader.diagnostics.diagnostics)
        }
        // The first slice's jobs become the workflow's as they are (swapped out of `parts`, not
        // copied: a `Job` copy retains every field); the other slices' are appended to them.
        for index in parts.indices {
            if workflow.jobs.isEmpty {
                swap(&workflow.jobs, &parts[index].jobs)
                workflow.jobs.reserveCapacity(jobPairs.count)
            } else {
                workflow.jobs += parts[index].jobs
            }
            workflow.unsupported += parts[index].unsupported
            workflow.actionUses += parts[index].actionUses
            for diagnostic in parts[index].diagnostics { reader.diagnostics.append(diagnostic) }
        }
        if !repeatedIDs.isEmpty { workflow.jobs.removeAll { repeatedIDs.contains($0.id) } }
        if let workflowNix {
            for index in workflow.jobs.indices where workflow.jobs[index].nix == nil { workflow.jobs[index].nix = workflowNix }
        }
        return workflow
    }

    static func compileJobs(
        _ pairs: ArraySlice<(key: String, keyNode: Node, value: Node)>, reader: inout NodeReader, workflow: inout Workflow,
        context workflowContext: String
    ) {
        for (id, idNode, value) in pairs {
            let valid = isValidIdentifier(id)
            if !valid {
                reader.diagnostics.error(
                    "job id '\(id)' is not valid", at: reader.location(idNode), context: workflowContext,
                    hint: "start with a letter or '_', then letters, digits, '-' or '_'")
            }
            // The body is checked either way, so that every problem is reported at once.
            if let job = compileJob(id, value, keyNode: idNode, reader: &reader, workflow: &workflow), valid {
                workflow.jobs.append(job)
            }
        }
    }

    static func compileDefaults(_ node: Node, reader: inout NodeReader, context: String) -> RunDefaults {
        var defaults = RunDefaults()
        guard let pairs = reader.mapping(node, what: "defaults", context: context, known: ["run", "retry", "timeout", "timeout-minutes"])
        else { return defaults }
        for (key, keyNode, value) in pairs {
            switch key {
            case "retry":
                defaults.retry = reader.retry(value, context: context)
            case "timeout", "timeout-minutes":
                // A default for each step: a value (an expression would need the step's contexts).
                defaults.stepTimeout = reader.valueTimeout(
                    value, key: key, keyNode: keyNode, replacing: defaults.stepTimeout, what: "defaults", context: context)
            default:
                // The whole of it from one expression (GitHub's schema allows it): read at each step's start.
                if case .scalar = value, NodeReader.hasExpression(value) {
                    defaults.runExpression = reader.template(value, what: "defaults.run", context: context)
                    continue
                }
                guard let runPairs = reader.mapping(
                    value, what: "defaults.run", context: context, known: ["shell", "working-directory"])
                else { continue }
                for (runKey, _, item) in runPairs {
                    let field = reader.template(item, what: "defaults.run.\(runKey)", context: context)
                    if runKey == "shell" {
                        defaults.shell = field
                        checkShell(field, reader: &reader, context: context)
                    } else {
                        defaults.workingDirectory = field
                    }
                }
            }
        }
        return defaults
    }

    /// A job's or the workflow's own `retry:` (the original's key) is the same as its
    /// `defaults.retry`; giving both is an error.
    static func applyOwnRetry(
        _ own: (policy: RetryPolicy?, keyNode: Node)?, to defaults: inout RunDefaults, reader: inout NodeReader, context: String
    ) {
        guard let own, let policy = own.policy else { return }
        if defaults.retry != nil {
            reader.diagnostics.error("both 'retry' and 'defaults.retry' are given", at: reader.location(own.keyNode), context: context,
                                     hint: "keep one of them: each is the retry of every step that has none")
        }
        defaults.retry = policy
    }
}
