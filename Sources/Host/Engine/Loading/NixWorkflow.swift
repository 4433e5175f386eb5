import Crypto
import Foundation
import NixActionsProcessKit
import NixActionsPluginMessages
import Yams

/// Workflows written in Nix in the original NixActions' style (`docs/nix.md`).
///
/// The CLI evaluates the file with `nix/eval.nix` into plain JSON (format `nixactions.nix/1`,
/// every key as the user wrote it, positions under `__pos`); this maps that JSON onto the same
/// node tree a YAML workflow gives, with positions in the `.nix` file, so that one compiler and
/// one validator serve both. What YAML cannot say (shell-test conditions, `$JOB_ENV` sourced
/// before each step, the job's `continueOnError`, named artifacts) is set on the compiled jobs
/// afterwards (`OriginalSemantics`).
public enum NixWorkflow {
    public static let format = "nixactions.nix/1"

    static let workflowKeys = ["name", "env", "envFrom", "secrets", "retry", "timeout", "jobs", "nix", "logging"]
    static let jobKeys = [
        "name", "actions", "steps", "executor", "needs", "condition", "if", "continueOnError", "env", "envFrom", "secrets",
        "inputs", "outputs", "retry", "timeout", "nix",
    ]
    static let stepKeys = ["name", "id", "bash", "deps", "env", "workdir", "condition", "if", "continueOnError", "retry", "timeout", "uses", "with"]
    /// The shell of a `bash` action: the original ran each as a `writeShellApplication` (errexit, nounset, pipefail).
    static let bashShell = "bash --noprofile --norc -euo pipefail {0}"
    static let statusFunctions: Set<String> = ["success()", "failure()", "always()", "cancelled()"]
    /// Keys found in the original's own examples that its code never read, and what was meant.
    static let ignoredByTheOriginal = ["envProviders": "envFrom", "continue-on-error": "continueOnError"]
    /// YAML's names of keys a Nix file spells otherwise, when the place knows the Nix name.
    static let yamlNames = ["run": "bash", "working-directory": "workdir", "runs-on": "executor", "timeout-minutes": "timeout"]

    /// The key an unknown `key` likely meant among `known`: its Nix spelling when it is YAML's
    /// (`run` → `bash`, audit 64 cli M5), else the did-you-mean.
    static func meantInNix(_ key: String, known: [String]) -> String? {
        if let nixName = yamlNames[key], known.contains(nixName) { return nixName }
        return didYouMean(key, in: known)
    }

    /// - Parameters:
    ///   - json: what `nix-instantiate --eval --strict --json nix/eval.nix …` printed.
    ///   - file: the `.nix` file, as diagnostics name it.
    ///   - projectDirectory: where `envProviders.file` paths are read from.
    ///   - environment: the environment the run will have (`envProviders.required` checks it).
    ///   - findTool: where a tool is on PATH (package placeholders, `deps`).
    ///   - filesFolder: where the stand-in pkgs' written files go (a run's private folder); nil
    ///     (validate, list, a dry run): none is written, and their paths name no real folder.
    public static func load(
        json: String, file: String, projectDirectory: String, environment: [String: String] = ProcessInfo.processInfo.environment,
        functionArities: FunctionArities? = nil, filesFolder: NixFilesFolder? = nil, findTool: @escaping (String) -> String?
    ) -> LoadResult {
        var translator = Translator(file: file, projectDirectory: projectDirectory, environment: environment, findTool: findTool)
        translator.filesFolder = filesFolder
        let value: JSONValue
        do {
            value = try JSONDecoder().decode(JSONValue.self, from: Data(json.utf8))
        } catch {
            translator.reader.diagnostics.error(
                "the Nix evaluation of '\(file)' did not print JSON: \(error)", at: SourceLocation(file: file, line: 1, column: 1))
            return LoadResult(workflow: nil, diagnostics: translator.reader.diagnostics.sorted)
        }
        guard case .object(let top) = value, top["__format"] == .string(format) else {
            translator.reader.diagnostics.error(
                "'\(file)' did not evaluate to nixactions.mkWorkflow { … }", at: SourceLocation(file: file, line: 1, column: 1),
                hint: "write the file as { pkgs, nixactions, ... }: nixactions.mkWorkflow { name = \"ci\"; jobs = { … }; }")
            return LoadResult(workflow: nil, diagnostics: translator.reader.diagnostics.sorted)
        }
        let root = translator.workflow(top)
        let baseName = ((file as NSString).lastPathComponent as NSString).deletingPathExtension
        var reader = translator.reader
        guard var workflow = WorkflowLoader.compileWorkflow(root, reader: &reader, defaultName: baseName) else {
            return LoadResult(workflow: nil, diagnostics: reader.diagnostics.sorted)
        }
        Self.keepLiteral(&workflow.env)
        for index in workflow.jobs.indices {
            Self.keepLiteral(&workflow.jobs[index].env)
            let id = workflow.jobs[index].id
            workflow.jobs[index].original = translator.jobSemantics[id] ?? OriginalSemantics()
            if let derivations = translator.derivations[id], !derivations.isEmpty {
                var nix = workflow.jobs[index].nix ?? NixPackages(location: workflow.jobs[index].location)
                nix.derivations = derivations
                workflow.jobs[index].nix = nix
            }
            let conditions: [Int: Located<String>] = translator.stepConditions[id] ?? [:]
            for (stepIndex, condition) in conditions where stepIndex < workflow.jobs[index].steps.count {
                workflow.jobs[index].steps[stepIndex].shellCondition = condition
            }
        }
        translator.checkArtifacts(workflow, into: &reader.diagnostics)
        if let problem = translator.written.problem {
            reader.diagnostics.error(problem.message, at: SourceLocation(file: file, line: 1, column: 1), hint: problem.hint)
        }
        workflow.secretReferences = Validator.validate(workflow, functions: functionArities, into: &reader.diagnostics)
        return LoadResult(workflow: workflow, diagnostics: reader.diagnostics.sorted)
    }

    /// Entries whose value starts with `Translator.literalMarker` become literal text (no `${{ }}`).
    static func keepLiteral(_ env: inout [EnvEntry]) {
        for index in env.indices where env[index].value.source.value.hasPrefix(Translator.literalMarker) {
            let text = String(env[index].value.source.value.dropFirst(Translator.literalMarker.count))
                .replacingOccurrences(of: "\u{1}{{", with: "${{")
            env[index].value = .literal(text, at: env[index].value.source.location)
        }
    }
}

extension NixWorkflow {
    /// The files a translation wrote (by path) and the first failure to write one.
    final class WrittenFiles {
        var contents: [String: String] = [:]
        var problem: EngineError?
    }

    struct Translator {
        var reader: NodeReader
        let projectDirectory: String
        let environment: [String: String]
        let findTool: (String) -> String?
        var jobSemantics: [String: OriginalSemantics] = [:]
        var stepConditions: [String: [Int: Located<String>]] = [:]
        /// The real nixpkgs derivations each job uses (evaluated with `<nixpkgs>`), to build when it starts.
        var derivations: [String: [String]] = [:]
        /// Where each named artifact (`outputs`) is made, and the places that restore one (`inputs`).
        var producers: [String: (job: String, at: SourceLocation?)] = [:]
        var consumers: [(name: String, job: String, at: SourceLocation?)] = []
        var workflowRetry: [String: JSONValue]?
        var workflowTimeout: JSONValue?
        var missingTools: Set<String> = []
        /// Where written files go (nil: none is written) and what each path holds.
        var filesFolder: NixFilesFolder?
        let written = WrittenFiles()
        /// Put before a value that must stay literal (a dotenv file's): `load` turns those entries into
        /// literal templates after compiling, so `${{` in a file is text.
        static let literalMarker = "\u{1}nixactions-literal\u{1}"

        /// The workflow's env and envFrom values: what a job's `envProviders.required` finds set.
        var workflowEnv: [(String, Node)] = []

        init(file: String, projectDirectory: String, environment: [String: String], findTool: @escaping (String) -> String?) {
            reader = NodeReader(file: file)
            self.projectDirectory = projectDirectory
            self.environment = environment
            self.findTool = findTool
        }

        var file: String { reader.file }

        /// Whether a file named by the library's positions (relative to the project, or absolute) is the workflow file.
        func isOwnFile(_ named: String) -> Bool {
            func absolute(_ path: String) -> String {
                ((path.hasPrefix("/") ? path : projectDirectory + "/" + path) as NSString).standardizingPath
            }
            return absolute(named) == absolute(file) || named == file
        }

        // MARK: positions and nodes

        /// The `__pos` of a Nix attribute set.
        struct Position {
            var line: Int?
            var column: Int?
            var keys: [String: (Int, Int)] = [:]

            /// - Parameter isOwnFile: whether a file named in `__pos` is the workflow file; positions in
            ///   another (an imported file) are dropped: a mark carries no file, and a right line in
            ///   the wrong file misleads more than no line.
            init(_ object: [String: JSONValue], isOwnFile: (String) -> Bool = { _ in true }) {
                guard case .object(let pos)? = object["__pos"] else { return }
                if let file = pos["file"]?.stringValue, !isOwnFile(file) { return }
                line = pos["line"]?.intValue
                column = pos["column"]?.intValue
                if case .object(let keys)? = pos["keys"] {
                    for (key, value) in keys {
                        // [line, column] in the set's file; a third element names another file: use the set's place.
                        guard case .array(let parts) = value, parts.count == 2, let l = parts[0].intValue, let c = parts[1].intValue else { continue }
                        self.keys[key] = (l, c)
                    }
                }
            }

            var mark: Mark? { line.flatMap { l in column.map { c in NixWorkflow.mark(l, c) } } }
            func mark(_ key: String) -> Mark? { keys[key].map { NixWorkflow.mark($0.0, $0.1) } ?? mark }
            func location(_ file: String, _ key: String? = nil) -> SourceLocation? {
                if let key, let (l, c) = keys[key] { return SourceLocation(file: file, line: l, column: c) }
                return line.flatMap { l in column.map { c in SourceLocation(file: file, line: l, column: c) } }
            }
        }

        static func string(_ text: String, _ mark: Mark?) -> Node { .scalar(.init(text, .implicit, .doubleQuoted, mark)) }
        static func plain(_ text: String, _ mark: Mark?) -> Node { .scalar(.init(text, .implicit, .plain, mark)) }
        static func mapping(_ pairs: [(String, Node)], _ mark: Mark?) -> Node {
            .mapping(.init(pairs.map { (string($0.0, $0.1.mark ?? mark), $0.1) }, .implicit, .block, mark))
        }
        static func sequence(_ nodes: [Node], _ mark: Mark?) -> Node { .sequence(.init(nodes, .implicit, .block, mark)) }

        /// Any JSON value as a node (options passed through: secrets, executor options, `with`).
        func node(_ value: JSONValue, _ mark: Mark?) -> Node {
            switch value {
            case .null: return Self.plain("null", mark)
            case .bool(let flag): return Self.plain(flag ? "true" : "false", mark)
            case .number: return Self.plain(Self.scalarText(value) ?? "0", mark)
            case .string(let text): return Self.string(resolvePlaceholders(text), mark)
            case .array(let items): return Self.sequence(items.map { node($0, mark) }, mark)
            case .object(let object):
                let position = Position(object, isOwnFile: isOwnFile)
                return Self.mapping(object.keys.sorted().filter { !$0.hasPrefix("__") }.map { ($0, node(object[$0]!, position.mark($0) ?? mark)) }, position.mark ?? mark)
            }
        }

        /// A scalar's text as YAML would give it (numbers without a needless `.0`); nil for lists and sets.
        static func scalarText(_ value: JSONValue) -> String? {
            switch value {
            case .string(let text): return text
            case .bool(let flag): return flag ? "true" : "false"
            case .number(let number):
                return number.rounded() == number && abs(number) < 1e15 ? String(Int64(number)) : String(number)
            default: return nil
            }
        }

        mutating func error(_ message: String, _ at: SourceLocation?, context: String?, hint: String? = nil) {
            // Without a position (a key written in another file), the error names the file alone.
            reader.diagnostics.error(message, at: at ?? SourceLocation(file: file, line: 0, column: 0), context: context, hint: hint)
        }

        /// Report keys not in `known` (metadata keys start with `__`).
        mutating func checkKeys(_ object: [String: JSONValue], known: [String], what: String, position: Position, context: String?) {
            for key in object.keys.sorted() where !key.hasPrefix("__") && !known.contains(key) {
                // Keys the original's own examples use and its code ignored: ignored here too, said aloud.
                if let meant = NixWorkflow.ignoredByTheOriginal[key], known.contains(meant) {
                    reader.diagnostics.warning(
                        "'\(key)' in \(what) is ignored (the original NixActions ignored it too)", at: position.location(file, key),
                        context: context, hint: "did you mean '\(meant)'? (\(meant == "envFrom" ? "a list of providers" : "continueOnError = true"))")
                    continue
                }
                let meant = NixWorkflow.meantInNix(key, known: known)
                let hint = meant.map { "did you mean '\($0)'?" } ?? "allowed here: \(known.joined(separator: ", "))"
                error("unknown key '\(key)' in \(what)", position.location(file, key), context: context, hint: hint)
            }
        }

        // MARK: package placeholders

        /// `@nixactions-pkg:jq@/bin/jq` → jq's path on PATH; `@nixactions-pkg:NAME@` → the folder above
        /// the `bin/` holding NAME's program. A package not found stays as it is (with a warning from `deps`).
        func resolvePlaceholders(_ text: String) -> String {
            var ignored = Set<String>()
            return resolvePlaceholders(text, unresolved: &ignored)
        }

        /// Resolve the placeholders of a value the user wrote, with a warning for each package not on PATH.
        mutating func resolving(_ text: String, at location: SourceLocation?, context: String?) -> String {
            var unresolved = Set<String>()
            let result = resolvePlaceholders(text, unresolved: &unresolved)
            for name in unresolved.sorted() where missingTools.insert(name).inserted {
                reader.diagnostics.warning(
                    "package '\(name)' is not on PATH: the command refers to it (\"${pkgs.\(name)}\") and will not be found",
                    at: location, context: context, hint: "install it, or build it with nix = { packages = [ \"\(name)\" ]; } on the job")
            }
            return result
        }

        func resolvePlaceholders(_ text: String, unresolved: inout Set<String>) -> String {
            let text = text.contains("@nixactions-file:") ? writeFiles(text) : text
            guard text.contains("@nixactions-pkg:") else { return text }
            var result = ""
            var rest = Substring(text)
            while let start = rest.range(of: "@nixactions-pkg:") {
                result += rest[..<start.lowerBound]
                let after = rest[start.upperBound...]
                guard let end = after.firstIndex(of: "@") else { result += rest[start.lowerBound...]; return result }
                // NAME:PROGRAM (nix/pkgs.nix writes both; the program is what is looked for on PATH).
                let placeholder = String(after[..<end])
                let parts = placeholder.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
                let name = parts[0], program = parts.count > 1 ? parts[1] : parts[0]
                rest = after[after.index(after: end)...]
                if rest.hasPrefix("/bin/") {
                    let tool = String(rest.dropFirst(5).prefix { !$0.isWhitespace && !"\"';|&)<>".contains($0) })
                    if let found = findTool(tool) {
                        result += found
                        rest = rest.dropFirst(5 + tool.count)
                        continue
                    }
                }
                if let found = findTool(program.isEmpty ? name : program) {
                    result += PathText.parent(PathText.parent(found))
                } else {
                    result += "@nixactions-pkg:\(placeholder)@"
                    unresolved.insert(name)
                }
            }
            return result + rest
        }

        /// `@nixactions-file:NAME:MODE:TEXT@` (`pkgs.writeText` and friends of the stand-in pkgs):
        /// the text is written to `HASH-NAME` in the run's private folder for them (0600, 0700 for
        /// a script; content-addressed) and the placeholder becomes that path. Without a folder
        /// (validate, a dry run) nothing is written; the text is still known to `envProviders.file`.
        func writeFiles(_ text: String) -> String {
            var result = ""
            var rest = Substring(text)
            while let start = rest.range(of: "@nixactions-file:") {
                result += rest[..<start.lowerBound]
                let after = rest[start.upperBound...]
                guard let end = after.firstIndex(of: "@") else { result += rest[start.lowerBound...]; return result }
                let parts = after[..<end].split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
                rest = after[after.index(after: end)...]
                guard parts.count == 3 else { continue }
                func unescape(_ s: String) -> String { s.replacingOccurrences(of: "%40", with: "@").replacingOccurrences(of: "%3A", with: ":").replacingOccurrences(of: "%25", with: "%") }
                let name = unescape(parts[0]).filter { $0.isLetter || $0.isNumber || "._-".contains($0) }
                let content = unescape(parts[2])
                // `b` (writeShellScriptBin): a folder whose bin/NAME is the script, NAME as written.
                let program = parts[1] == "b" ? unescape(parts[0]) : nil
                let hash = SHA256.hash(data: Data(((program.map { "bin/\($0)\n" } ?? "") + content).utf8)).prefix(8)
                    .map { String(format: "%02x", $0) }.joined()
                let fileName = hash + "-" + (name.isEmpty ? "file" : name)
                var path = "/nixactions-nix-files-unwritten/" + fileName
                if let program, program.isEmpty || program.contains("/") || program == "." || program == ".." || program.utf8.contains(0) {
                    written.problem = written.problem ?? EngineError("the workflow's program '\(program)' (pkgs.writeShellScriptBin) cannot be a file name",
                                                                     hint: "name it with letters, digits, '.', '_' or '-'")
                } else if let filesFolder {
                    switch filesFolder.folder() {
                    case .success(let folder):
                        path = folder + "/" + fileName
                        // In the run's private folder: 0600, a script 0700 (a program's folders 0700).
                        let file = program.map { path + "/bin/" + $0 } ?? path
                        if written.contents[file] == nil {
                            func made(_ folder: String) -> Int32? { mkdir(folder, 0o700) == 0 || errno == EEXIST ? nil : errno }
                            let folders = program == nil ? nil : made(path) ?? made(path + "/bin")
                            if let error = folders ?? FastFiles.write(content, to: file) ?? (parts[1] != "r" && chmod(file, 0o700) != 0 ? errno : nil) {
                                written.problem = written.problem ?? EngineError("cannot write the workflow's file \(file): \(String(cString: strerror(error)))")
                            }
                        }
                    case .failure(let problem):
                        written.problem = written.problem ?? problem
                    }
                }
                written.contents[program.map { path + "/bin/" + $0 } ?? path] = content
                result += path
            }
            return result + rest
        }

        // MARK: workflow

        mutating func workflow(_ top: [String: JSONValue]) -> Node {
            let position = Position(top, isOwnFile: isOwnFile)
            let context = "workflow '\(top["name"]?.stringValue ?? ((file as NSString).lastPathComponent as NSString).deletingPathExtension)'"
            checkKeys(top, known: NixWorkflow.workflowKeys, what: "the workflow", position: position, context: context)
            var pairs: [(String, Node)] = []
            if let name = top["name"] { pairs.append(("name", node(name, position.mark("name")))) }
            var env = envPairs(top["env"], position: position, key: "env", context: context)
            if let providers = top["envFrom"] {
                let (values, secretEntries) = envFrom(providers, position: position, known: env, context: context)
                // The workflow's own env wins over its providers, as at a job's level: the
                // original's precedence list, and its executors exported `env` after sourcing
                // the providers (audit 48).
                env = merged(values, env)
                if !secretEntries.isEmpty { pairs.append(("secrets", Self.sequence(secretEntries, position.mark("envFrom")))) }
            }
            if !env.isEmpty { pairs.append(("env", Self.mapping(env, position.mark("env")))) }
            workflowEnv = env
            if let secrets = top["secrets"] {
                if let index = pairs.firstIndex(where: { $0.0 == "secrets" }), case .sequence(var list) = pairs[index].1,
                   case .sequence(let more) = node(secrets, position.mark("secrets")) {
                    for item in more { list.append(item) }
                    pairs[index].1 = .sequence(list)
                } else {
                    pairs.append(("secrets", node(secrets, position.mark("secrets"))))
                }
            }
            checkRetry(top["retry"], position: position, context: context)
            checkTimeout(top["timeout"], position: position, context: context)
            if case .object(let retry)? = top["retry"] { workflowRetry = retry }
            workflowTimeout = top["timeout"]
            if let nix = top["nix"] { pairs.append(("nix", node(nix, position.mark("nix")))) }
            if top["logging"] != nil {
                reader.diagnostics.warning(
                    "'logging' of the original is not used: the command line decides the log format", at: position.location(file, "logging"),
                    context: context, hint: "use --log-format (or NIXACTIONS_LOG_FORMAT)")
            }
            guard case .object(let jobs)? = top["jobs"] else {
                if let jobs = top["jobs"] { pairs.append(("jobs", node(jobs, position.mark("jobs")))) }
                return Self.mapping(pairs, position.mark)
            }
            // Jobs in the order they are written (Nix prints attribute sets sorted by name).
            let ordered = jobs.keys.sorted { a, b in
                let pa = Self.declared(jobs[a]), pb = Self.declared(jobs[b])
                if pa != pb { return pa.lexicographicallyPrecedes(pb) }
                return a < b
            }
            var jobPairs: [(String, Node)] = []
            for id in ordered {
                guard case .object(let job) = jobs[id]! else {
                    jobPairs.append((id, node(jobs[id]!, position.mark("jobs"))))
                    continue
                }
                // `test = lib.optionalAttrs runTests { … };` turned off: the original left such a
                // job out (mk-workflow.nix), as its style guide recommends (audit 58 M2: an error).
                if !job.keys.contains(where: { !$0.hasPrefix("__") }) {
                    reader.diagnostics.note("job '\(id)' is empty ({ }): left out, as the original left out a job that lib.optionalAttrs turned off",
                                            at: Position(job, isOwnFile: isOwnFile).location(file) ?? position.location(file, "jobs"), context: context)
                    continue
                }
                jobPairs.append((id, self.job(id, job)))
            }
            pairs.append(("jobs", Self.mapping(jobPairs, position.mark("jobs"))))
            return Self.mapping(pairs, position.mark)
        }

        /// Where a job is written (line, column), for ordering; jobs without a position go last.
        static func declared(_ value: JSONValue?) -> [Int] {
            guard case .object(let job)? = value, case .object(let pos)? = job["__pos"] else { return [Int.max, 0] }
            if case .object(let declared)? = pos["declared"], let line = declared["line"]?.intValue {
                return [line, declared["column"]?.intValue ?? 0]
            }
            return [pos["line"]?.intValue ?? Int.max, pos["column"]?.intValue ?? 0]
        }

        func merged(_ base: [(String, Node)], _ over: [(String, Node)]) -> [(String, Node)] {
            var result = base
            for (name, value) in over {
                if let index = result.firstIndex(where: { $0.0 == name }) { result[index].1 = value } else { result.append((name, value)) }
            }
            return result
        }

        /// An `env` set as `NAME: value` pairs: strings, numbers and booleans as text; anything else an error.
        mutating func envPairs(_ value: JSONValue?, position: Position, key: String, context: String?) -> [(String, Node)] {
            guard let value else { return [] }
            guard case .object(let env) = value else {
                error("'\(key)' must be an attribute set of strings", position.location(file, key), context: context)
                return []
            }
            let mark = position.mark(key)
            var pairs: [(String, Node)] = []
            for name in env.keys.sorted() where !name.hasPrefix("__") {
                // As the original exported them (`toString`): true is 1, false and null are empty
                // (audit 58 M1: "false" was a non-empty value, so `[ -n "$DRY_RUN" ]` held).
                let value = env[name]!
                let nixText: String? = value == .bool(true) ? "1" : value == .bool(false) || value == .null ? "" : Self.scalarText(value)
                guard let text = nixText else {
                    error("\(key).\(name) must be a string, a number, a boolean or null", position.location(file, key), context: context)
                    continue
                }
                pairs.append((name, Self.string(resolvePlaceholders(text), mark)))
            }
            return pairs
        }

        /// The original's `envFrom` providers: static values and dotenv files become `env` (under
        /// the level's own `env`, as the original had it), secret files and sops files become
        /// `secrets:` entries, and `required` names are checked against what is known by then.
        mutating func envFrom(_ value: JSONValue, position: Position, known: [(String, Node)], context: String?) -> (env: [(String, Node)], secrets: [Node]) {
            let at = position.location(file, "envFrom")
            let mark = position.mark("envFrom")
            guard case .array(let providers) = value else {
                error("'envFrom' must be a list of providers", at, context: context, hint: "e.g. envFrom = [ (nixactions.envProviders.file { path = \".env\"; }) ];")
                return ([], [])
            }
            var env: [(String, Node)] = []
            var secrets: [Node] = []
            var secretProviders = false
            for provider in providers {
                guard case .object(let entry) = provider, let kind = entry["provider"]?.stringValue else {
                    error("each entry of 'envFrom' must be a provider (nixactions.envProviders.…)", at, context: context)
                    continue
                }
                switch kind {
                case "static":
                    guard case .object(let values)? = entry["values"] else { continue }
                    env = merged(env, envPairs(.object(values), position: position, key: "envFrom", context: context))
                case "file":
                    guard checkProviderOptions(entry, kind: kind, options: [("path", false), ("required", true), ("secrets", true)], at: at, context: context) else {
                        continue
                    }
                    guard let path = entry["path"]?.stringValue.map(resolvePlaceholders) else {
                        error("envProviders.file needs a 'path'", at, context: context)
                        continue
                    }
                    let required = entry["required"] == .bool(true)
                    if entry["secrets"] == .bool(true) {
                        var options: [(String, Node)] = [("provider", Self.string("file", mark)), ("file", Self.string(path, mark))]
                        if !required { options.append(("required", Self.plain("false", mark))) }
                        secrets.append(Self.mapping(options, mark))
                        secretProviders = true
                        continue
                    }
                    let full = path.hasPrefix("/") ? path : "\(projectDirectory)/\(path)"
                    guard let text = written.contents[full] ?? (try? String(contentsOfFile: full, encoding: .utf8)) else {
                        if required {
                            error("envProviders.file: cannot read '\(path)'", at, context: context, hint: "create it, or set required = false")
                        }
                        continue
                    }
                    switch Dotenv.parse(text) {
                    case .success(let values):
                        // A file's values are text, never `${{ }}` (as with --env-file): marked to be kept literal.
                        env = merged(env, values.map {
                            ($0.name, Self.string(Translator.literalMarker + $0.value.replacingOccurrences(of: "${{", with: "\u{1}{{"), mark))
                        })
                    case .failure(let problem): error("envProviders.file '\(path)': \(problem)", at, context: context)
                    }
                case "sops":
                    guard checkProviderOptions(entry, kind: kind, options: [("file", false), ("format", false), ("required", true)], at: at, context: context) else {
                        continue
                    }
                    guard let path = entry["file"]?.stringValue else {
                        error("envProviders.sops needs a 'file'", at, context: context)
                        continue
                    }
                    var options: [(String, Node)] = [("provider", Self.string("sops", mark)), ("file", Self.string(path, mark))]
                    if let format = entry["format"]?.stringValue {
                        // The original's own check (an assert): one of its three formats.
                        guard ["yaml", "json", "dotenv"].contains(format) else {
                            error("envProviders.sops's format '\(format)' is not one of yaml, json, dotenv",
                                  Position(entry, isOwnFile: isOwnFile).location(file, "format") ?? at, context: context,
                                  hint: didYouMean(format, in: ["yaml", "json", "dotenv"]).map { "did you mean '\($0)'?" } ?? "format = \"yaml\";")
                            continue
                        }
                        options.append(("format", Self.string(format, mark)))
                    }
                    if entry["required"] == .bool(false) { options.append(("required", Self.plain("false", mark))) }
                    secrets.append(Self.mapping(options, mark))
                    secretProviders = true
                case "required":
                    guard case .array(let names)? = entry["names"] else { continue }
                    let set = Set((known + env).map(\.0)).union(environment.keys)
                    // A secret provider before it (a sops file, a file of secrets) may set any name: its
                    // names are known only when it is read, at run time.
                    let unset = names.compactMap(\.stringValue).filter { !set.contains($0) }
                    let missing = secretProviders ? [] : unset
                    if secretProviders && !unset.isEmpty {
                        // Not checked, and said so (Nix audit 65 M1: nothing said the check was skipped).
                        reader.diagnostics.warning(
                            "envProviders.required: \(unset.joined(separator: ", ")) \(unset.count == 1 ? "is" : "are") not checked: a secret provider before it may set \(unset.count == 1 ? "it" : "them") when the run starts",
                            at: at ?? SourceLocation(file: file, line: 0, column: 0), context: context,
                            hint: "if none does, \(unset.count == 1 ? "it is" : "they are") empty; to fail then, check in an action: "
                                + unset.map { ": \"${\($0):?}\"" }.joined(separator: "; "))
                    }
                    if !missing.isEmpty {
                        error("required variable\(missing.count == 1 ? "" : "s") not set: \(missing.joined(separator: ", "))", at, context: context,
                              hint: "set \(missing.count == 1 ? "it" : "them") in the environment, with --env NAME=VALUE, or in an envFrom provider before this one")
                    }
                default:
                    error("unknown provider '\(kind)' in envFrom", at, context: context, hint: "providers: static, file, sops, required")
                }
            }
            return (env, secrets)
        }

        /// The options of an `envProviders.file`/`.sops` entry: a key it does not take is an error
        /// with a did-you-mean, and so is a value of the wrong type (Nix audit 65 H1: `secret = true`
        /// was dropped, and the file's values reached the logs unmasked; `secrets = "yes"` was false).
        /// `options`: each name, and whether it is true or false (else a string). False: said, skip it.
        mutating func checkProviderOptions(_ entry: [String: JSONValue], kind: String, options: [(name: String, isFlag: Bool)],
                                           at: SourceLocation?, context: String?) -> Bool {
            let position = Position(entry, isOwnFile: isOwnFile)
            let names = options.map(\.name)
            var fine = true
            for key in entry.keys.sorted() where key != "provider" && !key.hasPrefix("__") && !names.contains(key) {
                error("envProviders.\(kind) has no option '\(key)'", position.location(file, key) ?? at, context: context,
                      hint: didYouMean(key, in: names).map { "did you mean '\($0)'?" } ?? "its options: \(names.joined(separator: ", "))")
                fine = false
            }
            for (name, isFlag) in options {
                guard let value = entry[name], value != .null else { continue }
                let right: Bool
                if case .bool = value { right = isFlag } else { right = !isFlag && value.stringValue != nil }
                if !right {
                    error("envProviders.\(kind)'s '\(name)' must be \(isFlag ? "true or false" : "a string")", position.location(file, name) ?? at,
                          context: context, hint: isFlag ? "\(name) = true;" : "\(name) = \"…\";")
                    fine = false
                }
            }
            return fine
        }

        // MARK: jobs

        mutating func job(_ id: String, _ job: [String: JSONValue]) -> Node {
            let position = Position(job, isOwnFile: isOwnFile)
            let context = "job '\(id)'"
            checkKeys(job, known: NixWorkflow.jobKeys, what: "the job", position: position, context: context)
            var semantics = OriginalSemantics()
            if case .array(let paths)? = job["__derivations"] {
                var seen: Set<String> = []
                derivations[id] = paths.compactMap(\.stringValue).filter { seen.insert($0).inserted }
            }
            var pairs: [(String, Node)] = []
            if let name = job["name"] { pairs.append(("name", node(name, position.mark("name")))) }
            if let needs = job["needs"] { pairs.append(("needs", node(needs, position.mark("needs")))) }
            for key in ["condition", "if"] {
                guard let value = job[key] else { continue }
                if job["condition"] != nil && job["if"] != nil && key == "if" {
                    error("'condition' and 'if' both set the condition of job '\(id)'", position.location(file, key), context: context, hint: "keep one of them")
                    continue
                }
                switch condition(value, position: position, key: key, context: context) {
                case .expression(let node): pairs.append(("if", node))
                case .shell(let test): semantics.shellCondition = test
                case .none: break
                }
            }
            // The original's continueOnError let the workflow go on past this job's failure; here
            // jobs that do not need it always go on, so it changes nothing (audit 48: it never
            // made the job's later actions run).
            if let value = job["continueOnError"], value != .bool(true), value != .bool(false), value != .null {
                error("continueOnError must be true or false", position.location(file, "continueOnError"), context: context)
            }
            if let executor = job["executor"] { pairs += self.executor(executor, position: position, context: context) }
            var env = envPairs(job["env"], position: position, key: "env", context: context)
            var secrets: [Node] = []
            if let providers = job["envFrom"] {
                let (values, entries) = envFrom(providers, position: position, known: workflowEnv + env, context: context)
                env = merged(values, env)  // the job's own env wins over its providers
                secrets = entries
            }
            if !env.isEmpty { pairs.append(("env", Self.mapping(env, position.mark("env")))) }
            if case .array(let more)? = job["secrets"] { secrets += more.map { node($0, position.mark("secrets")) } }
            else if let other = job["secrets"] { error("'secrets' must be a list", position.location(file, "secrets"), context: context); _ = other }
            if !secrets.isEmpty { pairs.append(("secrets", Self.sequence(secrets, position.mark("secrets")))) }
            if let nix = job["nix"] { pairs.append(("nix", node(nix, position.mark("nix")))) }
            artifacts(job, id: id, position: position, semantics: &semantics, context: context)

            // Retry and timeout: the job's are defaults of its actions, merged over the workflow's.
            checkRetry(job["retry"], position: position, context: context)
            checkTimeout(job["timeout"], position: position, context: context)
            var retry = workflowRetry
            switch job["retry"] {
            case .object(let own)?: retry = (retry ?? [:]).merging(own) { _, new in new }
            case .null?: retry = nil
            default: break
            }
            var timeout = workflowTimeout
            if let own = job["timeout"] { timeout = own }

            if job["actions"] != nil && job["steps"] != nil {
                error("'actions' and 'steps' both list the steps of job '\(id)'", position.location(file, "steps"), context: context, hint: "keep one of them")
            }
            let stepsKey = job["steps"] != nil ? "steps" : "actions"
            if case .array(let steps)? = job[stepsKey] {
                var nodes: [Node] = []
                for (index, step) in steps.enumerated() {
                    guard case .object(let object) = step else {
                        error("each action must be an attribute set", position.location(file, stepsKey), context: context)
                        continue
                    }
                    nodes.append(self.step(object, index: index, job: id, retry: retry, timeout: timeout, context: context))
                }
                pairs.append(("steps", Self.sequence(nodes, position.mark(stepsKey))))
            } else if let steps = job[stepsKey] {
                pairs.append(("steps", node(steps, position.mark(stepsKey))))
            } else {
                pairs.append(("steps", Self.sequence([], position.mark)))
            }
            jobSemantics[id] = semantics
            return Self.mapping(pairs, position.mark)
        }

        enum Condition { case expression(Node), shell(Located<String>), none }

        /// `success()` and the other status functions, and `${{ }}` expressions, are GitHub's `if`;
        /// any other string is a shell test (the original's meaning).
        mutating func condition(_ value: JSONValue, position: Position, key: String, context: String?) -> Condition {
            guard case .string(let raw) = value else {
                if value != .null { error("'\(key)' must be a string", position.location(file, key), context: context) }
                return .none
            }
            let text = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            if text.isEmpty { return .none }
            if NixWorkflow.statusFunctions.contains(text) || text.contains("${{") {
                return .expression(Self.string(text, position.mark(key)))
            }
            return .shell(Located(resolvePlaceholders(text), at: position.location(file, key)))
        }

        /// The executor of a job: `local` (copyRepo), `oci` (an image), `ssh` (a host); `k8s` has none yet.
        mutating func executor(_ value: JSONValue, position: Position, context: String?) -> [(String, Node)] {
            let at = position.location(file, "executor"), mark = position.mark("executor")
            guard case .object(let options) = value, let type = options["type"]?.stringValue else {
                error("'executor' must be one of nixactions.executors.local, oci, ssh", at, context: context)
                return []
            }
            func refuse(_ key: String, _ why: String, hint: String) {
                if let option = options[key], option != .null, option != .array([]), option != .object([:]) {
                    error("executors.\(type): '\(key)' \(why)", at, context: context, hint: hint)
                }
            }
            // The original's options of local and oci (nix/default.nix); anything else would have
            // been dropped without a word (audit 61 input H4). ssh's go to its plugin, which checks them.
            let known: [String: [String]] = [
                "local": ["copyRepo", "name"],
                "oci": ["containerEnv", "copyRepo", "extraMounts", "extraPackages", "image", "mode", "name"],
            ]
            if let allowed = known[type] {
                for key in options.keys.sorted() where key != "type" && !key.hasPrefix("__") && !allowed.contains(key) {
                    let suggestion = didYouMean(key, in: allowed)
                    error("executors.\(type): unknown option '\(key)'", at, context: context,
                          hint: suggestion.map { "did you mean '\($0)'?" } ?? "its options: \(allowed.joined(separator: ", "))")
                }
            }
            if options["name"] != nil && type == "local" {
                reader.diagnostics.warning("executors.local: 'name' (a workspace shared between jobs) is not supported; each job has its own workspace",
                                           at: at, context: context)
            }
            var pairs: [(String, Node)] = []
            if options["copyRepo"] == .bool(false) {
                pairs.append(("workspace", Self.mapping([("copy-project", Self.plain("false", mark))], mark)))
            }
            switch type {
            case "local":
                break
            case "oci":
                guard let image = options["image"]?.stringValue, !image.isEmpty else {
                    error("executors.oci needs an 'image' here", at, context: context,
                          hint: "the original built images from Nix packages; this runner runs an existing image: executors.oci { image = \"debian:stable\"; }")
                    return pairs
                }
                refuse("extraPackages", "cannot add packages to an image", hint: "use an image that has them, or nix = { packages = [ … ]; } on the job")
                if options["mode"]?.stringValue == "shared" {
                    reader.diagnostics.warning("executors.oci: mode \"shared\" (one container for every job) is not supported; each job gets its own container",
                                               at: at, context: context)
                }
                var container: [(String, Node)] = [("image", Self.string(image, mark))]
                if let env = options["containerEnv"] { container.append(("env", node(env, mark))) }
                if let mounts = options["extraMounts"], mounts != .null { container.append(("volumes", node(mounts, mark))) }
                pairs.append(("container", Self.mapping(container, mark)))
            case "ssh":
                var with: [(String, Node)] = []
                for key in options.keys.sorted() where !["type", "copyRepo", "name"].contains(key) && !key.hasPrefix("__") {
                    with.append((key, node(options[key]!, mark)))
                }
                pairs.append(("executor", Self.mapping([("plugin", Self.string("ssh", mark)), ("with", Self.mapping(with, mark))], mark)))
            case "k8s":
                error("executors.k8s: there is no Kubernetes executor yet", at, context: context,
                      hint: "run the job with executors.local, executors.oci { image = …; } or executors.ssh { host = …; }")
            default:
                error("unknown executor type '\(type)'", at, context: context, hint: "executors: local, oci, ssh")
            }
            return pairs
        }

        /// `outputs = { NAME = PATH; }` and `inputs = [ NAME { name; path; } ]`: named artifacts.
        mutating func artifacts(_ job: [String: JSONValue], id: String, position: Position, semantics: inout OriginalSemantics, context: String?) {
            if let outputs = job["outputs"] {
                let at = position.location(file, "outputs")
                if case .object(let named) = outputs {
                    for name in named.keys.sorted() {
                        let paths: [String]
                        switch named[name]! {
                        case .string(let path): paths = [path]
                        case .array(let items): paths = items.compactMap(\.stringValue)
                        default:
                            error("outputs.\(name) must be a path", at, context: context)
                            continue
                        }
                        // Names are stored as folder names (`Planner.safeKey`): `Dist` and `dist` are one artifact.
                        if let other = producers.first(where: { Planner.safeKey($0.key) == Planner.safeKey(name) }) {
                            error("artifact '\(name)' is also made by job '\(other.value.job)'\(other.key == name ? "" : " (as '\(other.key)')")", at,
                                  context: context, hint: "give each artifact its own name")
                        }
                        producers[name] = (id, at)
                        for path in paths { checkArtifactPath(path, artifact: name, at: position.location(file, "outputs"), context: context) }
                        semantics.keepArtifacts.append((name, paths))
                    }
                } else {
                    error("'outputs' must be an attribute set of artifact names and paths", at, context: context,
                          hint: "e.g. outputs = { dist = \"dist/\"; }; (in a .nix workflow, outputs are artifacts)")
                }
            }
            if let inputs = job["inputs"] {
                let at = position.location(file, "inputs")
                guard case .array(let items) = inputs else {
                    error("'inputs' must be a list of artifact names", at, context: context, hint: "e.g. inputs = [ \"dist\" { name = \"docs\"; path = \"site/\"; } ];")
                    return
                }
                for item in items {
                    switch item {
                    case .string(let name):
                        semantics.restoreArtifacts.append((name, nil))
                        consumers.append((name, id, at))
                    case .object(let entry):
                        guard let name = entry["name"]?.stringValue else {
                            error("an entry of 'inputs' needs a 'name'", at, context: context)
                            continue
                        }
                        let path = entry["path"]?.stringValue.map { $0 == "." || $0 == "./" ? nil : $0 } ?? nil
                        if let path { checkArtifactPath(path, artifact: name, at: at, context: context) }
                        semantics.restoreArtifacts.append((name, path))
                        consumers.append((name, id, at))
                    default:
                        error("an entry of 'inputs' must be a name or { name; path; }", at, context: context)
                    }
                }
            }
        }

        /// A path the run would refuse (absolute, `~`, climbing out of the workspace) is an error
        /// here, each one (Nix audit 65 L2: found by `run` after the job's actions, the first only).
        mutating func checkArtifactPath(_ path: String, artifact: String, at: SourceLocation?, context: String?) {
            do { _ = try ArtifactStore.relative(path, artifact: artifact, role: "path") } catch let problem as EngineError {
                error(problem.message, at, context: context, hint: problem.hint)
            } catch {}
        }

        /// Each restored artifact is made by a job the restoring job needs (directly or not).
        func checkArtifacts(_ workflow: Workflow, into diagnostics: inout DiagnosticBag) {
            for (name, job, at) in consumers {
                guard let producer = producers[name] else {
                    let hint = didYouMean(name, in: Array(producers.keys)).map { "did you mean '\($0)'?" }
                        ?? "an artifact is made by a job's outputs = { \(name) = \"PATH\"; }"
                    diagnostics.error("job '\(job)' restores artifact '\(name)', which no job makes", at: at, context: "job '\(job)'", hint: hint)
                    continue
                }
                var seen: Set<String> = []
                var queue = [job]
                var found = false
                while let next = queue.popLast(), !found {
                    for need in workflow.job(next)?.needs.map(\.value) ?? [] where seen.insert(need).inserted {
                        if need == producer.job { found = true }
                        queue.append(need)
                    }
                }
                if !found {
                    diagnostics.error("job '\(job)' restores artifact '\(name)' from job '\(producer.job)', which it does not need", at: at,
                                      context: "job '\(job)'", hint: "add needs = [ \"\(producer.job)\" ];")
                }
            }
        }

        // MARK: steps

        mutating func step(_ step: [String: JSONValue], index: Int, job: String, retry jobRetry: [String: JSONValue]?, timeout jobTimeout: JSONValue?, context: String) -> Node {
            let position = Position(step, isOwnFile: isOwnFile)
            checkKeys(step, known: NixWorkflow.stepKeys, what: "action \(index + 1)", position: position, context: context)
            var pairs: [(String, Node)] = []
            for key in ["id", "name", "uses", "with"] {
                if let value = step[key] { pairs.append((key, node(value, position.mark(key)))) }
            }
            if let bash = step["bash"] {
                if case .string(let text) = bash {
                    pairs.append(("run", Self.string(resolving(text, at: position.location(file, "bash"), context: context), position.mark("bash"))))
                } else {
                    pairs.append(("run", node(bash, position.mark("bash"))))
                }
                pairs.append(("shell", Self.string(NixWorkflow.bashShell, position.mark("bash"))))
            } else if step["uses"] == nil, !step.keys.contains(where: { NixWorkflow.meantInNix($0, known: NixWorkflow.stepKeys) == "bash" }) {
                // (A misspelt `bash`, or YAML's `run`, has its unknown-key error: one error for one slip.)
                error("action \(index + 1) of job '\(job)' has no 'bash'", position.location(file), context: context, hint: "e.g. { name = \"test\"; bash = \"make test\"; }")
            }
            if let workdir = step["workdir"], workdir != .null {
                if step["uses"] != nil && step["bash"] == nil {
                    // Said in this file's words (the YAML check would name 'working-directory').
                    error("'workdir' of action \(index + 1) of job '\(job)' only applies to an action with 'bash'", position.location(file, "workdir"),
                          context: context, hint: "an action with 'uses' takes its folder as an input ('with'); remove 'workdir'")
                } else {
                    pairs.append(("working-directory", node(workdir, position.mark("workdir"))))
                }
            }
            let env = envPairs(step["env"], position: position, key: "env", context: context)
            if !env.isEmpty { pairs.append(("env", Self.mapping(env, position.mark("env")))) }
            for key in ["condition", "if"] {
                guard let value = step[key] else { continue }
                if step["condition"] != nil && step["if"] != nil && key == "if" {
                    error("'condition' and 'if' both set the condition of action \(index + 1)", position.location(file, key), context: context, hint: "keep one of them")
                    continue
                }
                switch condition(value, position: position, key: key, context: context) {
                case .expression(let node): pairs.append(("if", node))
                case .shell(let test): stepConditions[job, default: [:]][index] = test
                case .none: break
                }
            }
            if let value = step["continueOnError"], value != .null { pairs.append(("continue-on-error", node(value, position.mark("continueOnError")))) }

            // The nearest retry and timeout: the action's own, else the job's, else the workflow's (null: none).
            var retry = jobRetry
            switch step["retry"] {
            case .object(let own)?: retry = (retry ?? [:]).merging(own) { _, new in new }
            case .null?: retry = nil
            default: break
            }
            checkRetry(step["retry"], position: position, context: context)
            checkTimeout(step["timeout"], position: position, context: context)
            if let retry, let node = retryNode(retry, position: position) { pairs.append(("retry", node)) }
            let timeout = step.keys.contains("timeout") ? step["timeout"] : jobTimeout
            if let timeout, let text = durationText(timeout), let duration = DurationParser.parse(text), duration > .zero {
                pairs.append(("timeout", Self.string(text, position.mark("timeout") ?? position.mark)))
            }
            checkDeps(step["deps"], position: position, context: context)
            return Self.mapping(pairs, position.mark)
        }

        /// The original's retry (`max_attempts`, `backoff`, `min_time`, `max_time` in seconds) as
        /// YAML's; problems are reported where the retry is written (`checkRetry`), not here.
        func retryNode(_ retry: [String: JSONValue], position: Position) -> Node? {
            let mark = position.mark("retry") ?? position.mark
            let attempts = retry["max_attempts"]?.intValue ?? 1
            guard attempts > 1 else { return nil }
            return Self.mapping([
                ("max-attempts", Self.plain(String(min(attempts, 100)), mark)),
                ("backoff", Self.string(retry["backoff"]?.stringValue ?? "exponential", mark)),
                ("delay", Self.string("\(Self.scalarText(retry["min_time"] ?? .number(1)) ?? "1")s", mark)),
                ("max-delay", Self.string("\(Self.scalarText(retry["max_time"] ?? .number(60)) ?? "60")s", mark)),
            ], mark)
        }

        /// A `retry` where it is written (workflow, job or action): a set of known keys and types, or null.
        mutating func checkRetry(_ value: JSONValue?, position: Position, context: String?) {
            guard let value, value != .null else { return }
            let at = position.location(file, "retry")
            let shape = "retry = { max_attempts = 3; backoff = \"exponential\"; min_time = 1; max_time = 60; }"
            guard case .object(let retry) = value else {
                error("retry must be an attribute set (or null)", at, context: context, hint: shape)
                return
            }
            for key in retry.keys.sorted() where !key.hasPrefix("__") {
                switch key {
                case "max_attempts":
                    if retry[key]?.intValue.map({ (0...100).contains($0) }) != true {
                        error("retry.max_attempts must be a whole number from 0 to 100", at, context: context, hint: shape)
                    }
                case "backoff":
                    if !["exponential", "linear", "constant"].contains(retry[key]?.stringValue ?? "") {
                        error("retry.backoff must be \"exponential\", \"linear\" or \"constant\"", at, context: context, hint: shape)
                    }
                case "min_time", "max_time":
                    guard case .number(let seconds)? = retry[key], seconds >= 0 else {
                        error("retry.\(key) must be a number of seconds", at, context: context, hint: shape)
                        continue
                    }
                default:
                    let hint = didYouMean(key, in: ["max_attempts", "backoff", "min_time", "max_time"]).map { "did you mean '\($0)'?" } ?? shape
                    error("unknown key '\(key)' in retry", at, context: context, hint: hint)
                }
            }
        }

        /// A `timeout` where it is written: positive seconds or a duration, or null.
        mutating func checkTimeout(_ value: JSONValue?, position: Position, context: String?) {
            guard let value, value != .null else { return }
            if let text = durationText(value), let duration = DurationParser.parse(text), duration > .zero { return }
            error("timeout must be a positive number of seconds or a duration such as \"30s\", \"5m\", \"1h\" (or null)",
                  position.location(file, "timeout"), context: context)
        }

        /// A timeout of seconds (a number or digits) or `30s`/`5m`/`1h` as a duration YAML reads.
        func durationText(_ value: JSONValue) -> String? {
            switch value {
            case .number(let seconds) where seconds > 0: return "\(Self.scalarText(value) ?? String(seconds))s"
            case .string(let text) where !text.isEmpty: return text.allSatisfy(\.isNumber) ? "\(text)s" : text
            default: return nil
            }
        }

        /// `deps = [ pkgs.jq ]`: with the stand-in packages, the tools must be on PATH.
        mutating func checkDeps(_ value: JSONValue?, position: Position, context: String) {
            guard case .array(let deps)? = value else { return }
            for dep in deps {
                guard case .object(let entry) = dep else { continue }
                if let name = entry["derivation"]?.stringValue {
                    if entry["drvPath"] != nil { continue }  // a real nixpkgs: built when the job starts
                    reader.diagnostics.warning(
                        "deps: '\(name)' is a derivation of a real nixpkgs; this runner does not build 'deps'", at: position.location(file, "deps"),
                        context: context, hint: "put the tools on PATH, or build them with nix = { packages = [ … ]; } on the job")
                    continue
                }
                guard let name = entry["package"]?.stringValue else { continue }
                let program = entry["program"]?.stringValue ?? name
                if program.isEmpty || findTool(program) != nil || missingTools.contains(name) { continue }
                missingTools.insert(name)
                reader.diagnostics.warning(
                    "deps: package '\(name)' is not on PATH ('\(program)' not found)", at: position.location(file, "deps"), context: context,
                    hint: "install it, or build it with nix = { packages = [ \"\(name)\" ]; } on the job")
            }
        }
    }

    /// A Yams mark at a line and column of the `.nix` file (Yams makes marks only while parsing).
    static func mark(_ line: Int, _ column: Int) -> Mark {
        precondition(MemoryLayout<Mark>.size == MemoryLayout<(Int, Int)>.size)
        return unsafeBitCast((line, column), to: Mark.self)
    }
}

extension JSONValue {
    var intValue: Int? {
        if case .number(let number) = self, number.rounded() == number, abs(number) < 1e15 { return Int(number) }
        return nil
    }
}
