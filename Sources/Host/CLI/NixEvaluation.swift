import Foundation
import NixActionsPluginHost
import NixActionsEngine
import NixActionsProcessKit
import Synchronization

/// Reads a workflow written in Nix (`ci.nix`): evaluates it with `nix-instantiate` through the
/// repository's Nix library (`nix/eval.nix`) into JSON, which `NixWorkflow` maps onto the model.
enum NixEvaluation {
    /// How long an evaluation may take (a workflow file that loops forever is stopped).
    static let timeLimit: TimeInterval = 120

    static func isNixFile(_ path: String) -> Bool { path.hasSuffix(".nix") }

    /// Load a workflow file of either kind.
    static func load(file path: String, functionArities: FunctionArities?,
                     environment: [String: String] = ProcessInfo.processInfo.environment, filesFolder: NixFilesFolder? = nil) -> LoadResult {
        guard isNixFile(path) else { return WorkflowLoader.load(file: path, functionArities: functionArities) }
        switch evaluate(path) {
        case .failure(let diagnostic): return LoadResult(workflow: nil, diagnostics: [diagnostic])
        case .success(let json):
            return NixWorkflow.load(json: json, file: path, projectDirectory: FileManager.default.currentDirectoryPath,
                                    environment: environment, functionArities: functionArities, filesFolder: filesFolder, findTool: onPath)
        }
    }

    /// Where the Nix library is: `$NIXACTIONS_NIX_LIB`, `share/nixactions/nix` next to the
    /// program's folder (an installed or flake-built nixactions), or the `nix/` folder of the
    /// source tree the program was built in (above the program, or where it was compiled).
    /// A library is used only where no user but root and this one can change it (`TrustedCode`):
    /// its files run with this user's rights (audit 60 users H1). Candidates that fail are passed
    /// over, and said (`refused`) when none is used.
    static func library() -> (path: String?, refused: [String]) {
        let fileManager = FileManager.default
        var refused: [String] = []
        func trusted(_ candidate: String) -> String? {
            guard fileManager.fileExists(atPath: "\(candidate)/eval.nix") else { return nil }
            if let problem = TrustedCode.problem(candidate) {
                refused.append("the Nix library in \(candidate) is not used: \(problem)")
                return nil
            }
            return ProjectCheckout.real(candidate)  // what was checked, not a link that could change (review 60 L6)
        }
        if let given = ProcessInfo.processInfo.environment["NIXACTIONS_NIX_LIB"], !given.isEmpty {
            return (trusted(given), refused)
        }
        let executable = (CommandLine.arguments.first.flatMap { Bundle.main.executablePath ?? $0 } ?? "") as NSString
        var folder = PathText.parent(executable.resolvingSymlinksInPath)
        let installed = (PathText.parent(folder) as NSString).appendingPathComponent("share/nixactions/nix")
        if let found = trusted(installed) { return (found, refused) }
        while folder.count > 1 {
            if fileManager.fileExists(atPath: "\(folder)/Package.swift"), let found = trusted("\(folder)/nix") { return (found, refused) }
            folder = PathText.parent(folder)
        }
        // The source tree this program was built from (a copied binary: `cp .build/release/nixactions
        // ~/bin/`; audit 58 M5: only the folders above the program were looked at).
        let built = PathText.parent(PathText.parent(PathText.parent(PathText.parent(#filePath))))
        return (trusted("\(built)/nix"), refused)
    }

    /// Where `command` is on this process's PATH (the local executor's lookup), or nil.
    static func onPath(_ command: String) -> String? {
        let found = FastFiles.resolve(command, searchPath: ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
        return found.contains("/") ? found : nil
    }

    /// Nix's message as it printed it (it names the file, line and column), without its advice to
    /// pass `--show-trace`, which is not an option of nixactions, and the library's own frames.
    static func nixMessage(_ data: Data) -> String {
        String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
            .filter { !$0.contains("(use '--show-trace' to show detailed location information)") }
            .joined(separator: "\n").trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// What a Nix command did.
    struct Outcome {
        var status: Int32
        var output: Data
        var errors: Data
        var timedOut: Bool
        /// It printed more than `outputLimit` and was ended.
        var tooLarge = false
        var succeeded: Bool { !timedOut && !tooLarge && status == 0 }
    }

    /// The most a Nix evaluation may print: what a workflow file may hold (audit 55 H2: a 200-byte
    /// file that makes a 1 GiB string was read whole, and the process aborted out of memory).
    static let outputLimit = WorkflowLoader.fileLimit
    /// The most of Nix's standard error kept for its message (its first bytes: where it says what failed).
    static let errorLimit = 1 << 20

    /// Run a Nix command to its end, within `timeLimit` and `outputLimit`. An interrupt (SIGINT,
    /// SIGTERM, SIGHUP) while it runs ends it and removes `home` before this process exits with 130,
    /// as a run cancelled by one of them does (audit 55 H3: 143 and 129): the child leads a
    /// process group of its own, which a terminal's Ctrl-C does not reach. Started with
    /// ProcessKit's spawn, it gets no descriptor of this process but its standard streams.
    static func runNix(_ program: String, _ arguments: [String], environment: [String: String], home: String) -> Outcome {
        let running = Mutex<ChildProcess?>(nil)
        // SignalHub (main.swift) takes SIGINT, SIGTERM and SIGHUP; while Nix runs, they end it.
        let previous = SignalHub.handler.withLock { current in
            defer {
                current = { number in
                    running.withLock { $0 }?.signalAll(SIGKILL)
                    try? FileManager.default.removeItem(atPath: home)
                    // Said, as a run's cancel is (Nix audit 58 L7: `validate` exited 130 without a word).
                    StandardStreams.writeError("\nnixactions: cancelled (signal \(number)) while Nix evaluated the workflow\n")
                    PluginExitGuard.hostExits()
                    exit(ExitStatus.cancelled)
                }
            }
            return current
        }
        defer { SignalHub.handler.withLock { $0 = previous } }
        let child: ChildProcess
        do {
            // Nix runs before the run's supervisor is up: it dies with this process, even of SIGKILL.
            child = try ChildProcess(arguments: [program] + arguments, environment: environment, directory: nil, diesWithCaller: true)
        } catch {
            return Outcome(status: 127, output: Data(), errors: Data("cannot run \(program): \(error)".utf8), timedOut: false)
        }
        running.withLock { $0 = child }
        let timedOut = Mutex(false)
        let timer = DispatchWorkItem {
            timedOut.withLock { $0 = true }
            child.signalAll(SIGKILL)
        }
        DispatchQueue.global().asyncAfter(deadline: .now() + timeLimit, execute: timer)
        var output = Data(), errors = Data()
        var tooLarge = false
        // All of its output: the JSON must be whole (a Nix daemon it started does not hold the pipes).
        // Past the limit it is ended, and what it still prints is dropped.
        let termination = child.wait(drainAfterExit: .seconds(30)) { stream, bytes in
            if stream == 1 {
                guard !tooLarge else { return }
                if output.count + bytes.count > outputLimit {
                    tooLarge = true
                    output = Data()
                    child.signalAll(SIGKILL)
                } else {
                    output.append(contentsOf: bytes)
                }
            } else if errors.count < errorLimit {
                errors.append(contentsOf: bytes.prefix(errorLimit - errors.count))
            }
        }
        timer.cancel()
        var outcome = Outcome(status: termination.exitStatus, output: output, errors: errors, timedOut: timedOut.withLock { $0 })
        outcome.tooLarge = tooLarge
        return outcome
    }

    /// Attributes of the original's library that this one does not have, and what they were.
    static let originalOnly = [
        "setupNode": "an action", "setupPython": "an action", "setupRust": "an action", "npmInstall": "an action",
        "npmTest": "an action", "npmBuild": "an action", "npmLint": "an action", "buildahBuildPush": "a job template",
        "jobs": "its job templates", "linuxPkgs": "its Linux package set", "mkExecutor": "executors as bash hooks",
    ]

    /// The most heap a Nix evaluation may collect, unless GC_MAXIMUM_HEAP_SIZE says otherwise.
    static let heapLimit = "2G"

    /// Nix's home folders: `nixactions-nix-XXXXXX` in TMPDIR.
    static let homePrefix = "nixactions-nix-"

    /// The JSON `nix/eval.nix` makes of the file, or the error to show (Nix's own message, as it printed it).
    static func evaluate(_ path: String) -> Result<String, Diagnostic> {
        let at = SourceLocation(file: path, line: 1, column: 1)
        guard let instantiate = onPath("nix-instantiate") else {
            return .failure(Diagnostic(.error, "reading a workflow written in Nix needs Nix: nix-instantiate is not on PATH", at: at,
                                       hint: "install Nix (Debian and Ubuntu: apt install nix-bin; elsewhere https://nixos.org/download)"))
        }
        let (found, refused) = library()
        guard let library = found else {
            if !refused.isEmpty {
                return .failure(Diagnostic(.error, refused.joined(separator: "; "), at: at,
                                           hint: "its files would run as you: use a copy only root and you can change (chmod go-w; chown), "
                                               + "or set NIXACTIONS_NIX_LIB to the nix/ folder of such a copy"))
            }
            return .failure(Diagnostic(.error, "cannot find NixActions' Nix library (nix/eval.nix)", at: at,
                                       hint: "set NIXACTIONS_NIX_LIB to the nix/ folder of the NixActions sources"))
        }
        let absolute = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        // Nix wants a home for its caches: a private one, removed afterwards. It is locked while
        // this process lives: one that a killed nixactions left is removed by the next evaluation.
        let base = RunSupervision.temporaryBases[0]
        PrivateFolder.sweepDead(base: base, prefix: homePrefix) { PrivateFolder.isMade($0, prefix: homePrefix) }
        let folder: PrivateFolder
        do {
            folder = try PrivateFolder(base: base, prefix: homePrefix)
        } catch {
            return .failure(Diagnostic(.error, "cannot make a folder for Nix in \(base): \(String(cString: strerror(error.errno)))", at: at,
                                       hint: "set TMPDIR to a writable folder"))
        }
        defer { folder.remove() }
        let home = folder.path

        var environment = ProcessInfo.processInfo.environment
        environment["HOME"] = home
        environment["XDG_CACHE_HOME"] = home
        // Nix's collected heap is bounded (Boehm's GC_MAXIMUM_HEAP_SIZE; one given is kept): a file
        // that makes a 200-million-element list grew past 3 GB in 3 s, and `list` evaluates every
        // .nix file of the workflow folders (audit 58 M6). Past it, Nix says "out of memory".
        if environment["GC_MAXIMUM_HEAP_SIZE"] == nil { environment["GC_MAXIMUM_HEAP_SIZE"] = Self.heapLimit }
        // With <nixpkgs> on the search path, `pkgs` is the real one: evaluation then needs a
        // store to write derivations to, and the jobs build what they use. Else a stand-in, no store.
        let nixpkgs = runNix(instantiate, ["--find-file", "nixpkgs"], environment: environment, home: home).succeeded
        let common = ["\(library)/eval.nix", "--argstr", "file", absolute, "--argstr", "root", FileManager.default.currentDirectoryPath]
        func failure(_ outcome: Outcome) -> Diagnostic {
            if outcome.timedOut {
                return Diagnostic(.error, "the Nix evaluation of '\(path)' did not finish within \(Int(timeLimit)) s", at: at,
                                  hint: "look for a function that calls itself without end")
            }
            if outcome.tooLarge {
                return Diagnostic(.error, "the Nix evaluation of '\(path)' printed more than \(outputLimit >> 20) MiB; it was ended", at: at,
                                  hint: "a workflow may hold at most \(outputLimit >> 20) MiB, as a workflow file may; look for a value that grows without end")
            }
            // Nix's message as it printed it (it names the file, line and column); exit status 2.
            let message = nixMessage(outcome.errors)
            // The workflow file's text, read once, for the hints that look at what it says.
            let source = try? String(contentsOfFile: absolute, encoding: .utf8)
            // Without <nixpkgs>, `pkgs` is a stand-in whose attributes exist only when named:
            // `with pkgs; [ ripgrep ]` leaves `ripgrep` undefined (audit 48: the bare message).
            var hint: String?
            if message.contains("error: out of memory") {
                hint = "the evaluation may use at most \(ProcessInfo.processInfo.environment["GC_MAXIMUM_HEAP_SIZE"] ?? Self.heapLimit) of heap "
                    + "(GC_MAXIMUM_HEAP_SIZE sets it); look for a value that grows without end"
            } else if !nixpkgs, let name = message.firstMatch(of: /attribute '([^']+)' missing/)?.1,
                      let text = source, text.contains("lib." + name) {
                // The stand-in lib has a few of nixpkgs' functions (Nix audit 58 L2: no word of it).
                hint = "without <nixpkgs> on NIX_PATH, lib is NixActions' stand-in, which has no '\(name)' (nix/lib.nix lists what it has): "
                    + "use builtins.\(name) where there is one, or put a nixpkgs on NIX_PATH"
            } else if let name = message.firstMatch(of: /attribute '([^']+)' missing/)?.1.description,
                      let what = originalOnly[name],
                      let text = source,
                      ["nixactions.", "actions.", "jobs."].contains(where: { text.contains($0 + name) }) {
                // The original's helpers this library does not have (Nix audit 65 M4: the bare message).
                hint = "'\(name)' (\(what)) of the original NixActions is not provided here (docs/nix.md, Not supported): "
                    + (name.hasPrefix("setup") || name.hasPrefix("npm")
                        ? "write it as an action, e.g. { name = \"install\"; deps = [ pkgs.nodejs ]; bash = \"npm ci\"; }"
                        : "write its steps as actions of a job")
            } else if let argument = message.firstMatch(of: /called (without required|with unexpected) argument '([^']+)'/)?.2,
                      let place = message.matches(of: /(\/[^:\s]+):(\d+):(\d+)/).first(where: { $0.1 == absolute }),
                      let line = Int(place.2), let column = Int(place.3) {
                // The workflow file asks for an argument it is not given: at its own line, not the
                // library's call of it (Nix audit 65 M3). Nix 2.8 says "anonymous function at
                // FILE:L:C called without…", later ones "function 'anonymous lambda' called
                // without…" with the place after it (review 65 L3).
                return Diagnostic(.error, "the Nix evaluation of '\(path)' failed:\n\(message)",
                                  at: SourceLocation(file: path, line: line, column: column),
                                  hint: "a workflow file is called with only the arguments it names of pkgs, nixactions, lib and executor; "
                                      + "give '\(argument)' a default ('\(argument) ? …') or take it out")
            } else if let name = message.firstMatch(of: /undefined variable '([^']+)'/)?.1,
                      let text = source, text.contains("${" + name + "}") {
                // bash's `${VAR}` in a Nix string is Nix's own interpolation (audit 64 cli L15).
                hint = "in a Nix string, ${\(name)} is Nix's interpolation: for the shell's variable write ''${\(name)} inside '' … '', or \\${\(name)} inside \" … \""
            } else if !nixpkgs, let name = message.firstMatch(of: /undefined variable '([^']+)'/)?.1,
               let text = source, text.contains("with pkgs") {
                hint = "without <nixpkgs> on NIX_PATH, `with pkgs;` brings no names into scope: write pkgs.\(name)"
            }
            // A `throw`, an `assert` or a refusal of the library has no position in Nix's message;
            // the JSON printed before it does (Nix audit 58 M4: no file:line:column at all).
            if message.firstMatch(of: /:\d+:\d+/) == nil, let place = failedValue(in: String(decoding: outcome.output, as: UTF8.self)) {
                return Diagnostic(.error, "the Nix evaluation of '\(path)' failed in the value of '\(place.key)':\n\(message)",
                                  at: SourceLocation(file: place.file, line: place.line, column: place.column), hint: hint)
            }
            // The library names the place itself (`nixactions: ci.nix:9:11: jobs.e.executor is …`):
            // the diagnostic takes it (Nix audit 65 M2: it stayed in the middle of the text).
            if let found = message.firstMatch(of: /nixactions: ([^\s:]+):(\d+):(\d+):[ ]/), let line = Int(found.2), let column = Int(found.3) {
                return Diagnostic(.error, "the Nix evaluation of '\(path)' failed:\n\(message)",
                                  at: SourceLocation(file: String(found.1), line: line, column: column), hint: hint)
            }
            // Nix names the place inside its text (`at /abs/ci.nix:6:48:`): the diagnostic takes
            // the first one as its FILE:LINE:COL, as every other diagnostic has (Nix audit 58 L6:
            // editors and CI problem matchers missed it).
            if let found = message.firstMatch(of: /\bat (\/[^:\n]+):(\d+):(\d+):/), let line = Int(found.2), let column = Int(found.3) {
                var file = String(found.1)
                let here = FileManager.default.currentDirectoryPath + "/"
                if file.hasPrefix(here) { file.removeFirst(here.count) }
                if hint == nil, message.contains("syntax error") {
                    hint = "Nix points where it noticed: a missing ';' after an attribute, or an unclosed '{', '[' or string, is often just before"
                }
                return Diagnostic(.error, "the Nix evaluation of '\(path)' failed:\n\(message)",
                                  at: SourceLocation(file: file, line: line, column: column), hint: hint)
            }
            return Diagnostic(.error, "the Nix evaluation of '\(path)' failed:\n\(message)", hint: hint)
        }
        if nixpkgs {
            // Write the .drv files of the packages the jobs use (`--eval` only computes their paths).
            let written = runNix(instantiate, common + ["--arg", "nixpkgs", "true", "--arg", "instantiate", "true"],
                                 environment: environment, home: home)
            if !written.succeeded { return .failure(failure(written)) }
        }
        let evaluated = runNix(
            instantiate, ["--eval", "--strict", "--json"] + (nixpkgs ? ["--arg", "nixpkgs", "true"] : ["--store", "dummy://"]) + common,
            environment: environment, home: home)
        guard evaluated.succeeded else { return .failure(failure(evaluated)) }
        var json = String(decoding: evaluated.output, as: UTF8.self)
        if !nixpkgs {
            json = projectPaths(in: json, instantiate: instantiate, environment: environment, home: home)
        }
        return .success(json)
    }

    /// Where the value that failed is, from the JSON Nix printed before it failed: the key
    /// written without a value (`"bash":}`), or the list left empty at the end (`"steps":[]}}`),
    /// at the position its object's `__pos` gives it. An
    /// object without one, or whose `__pos` does not name the key (the value of `jobs`, a whole job
    /// that failed), is placed at the key holding that object, and so on outwards (Nix audit 65
    /// M2: a throw in `name`, `jobs`, a job or its `steps` had no position).
    static func failedValue(in partial: String) -> (file: String, line: Int, column: Int, key: String)? {
        struct Frame {
            var isObject: Bool
            var key: String?  // the last key read in it
            var position: (file: String, keys: [String: (Int, Int)])?
            var start: String.UTF8View.Index  // where its text starts (its `__pos` is parsed whole when it closes)
        }
        let bytes = partial.utf8
        var stack: [Frame] = []
        var index = bytes.startIndex
        var expectingKey = false
        func readString() -> String? {
            // At an opening quote: the string's text (escapes kept, enough for keys), index past it.
            var end = bytes.index(after: index)
            while end < bytes.endIndex, bytes[end] != UInt8(ascii: "\"") {
                if bytes[end] == UInt8(ascii: "\\") { end = bytes.index(after: end) }
                if end < bytes.endIndex { end = bytes.index(after: end) }
            }
            guard end < bytes.endIndex else { return nil }
            let text = String(partial[bytes.index(after: index)..<end])
            index = bytes.index(after: end)
            return text
        }
        func place(_ key: String) -> (file: String, line: Int, column: Int, key: String)? {
            // The failing key in the innermost object that places it, else the key holding that object.
            var wanted = key
            for level in stack.indices.reversed() {
                let frame = stack[level]
                if frame.isObject, let position = frame.position, let (line, column) = position.keys[wanted] {
                    return (position.file, line, column, key)
                }
                // Outwards: the key of the object holding this one (a list passes it through).
                if level > 0, stack[level - 1].isObject, let holder = stack[level - 1].key { wanted = holder }
            }
            return nil
        }
        while index < bytes.endIndex {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                stack.append(Frame(isObject: byte == UInt8(ascii: "{"), key: nil, position: nil, start: index))
                expectingKey = byte == UInt8(ascii: "{")
                index = bytes.index(after: index)
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                let closed = stack.popLast()
                index = bytes.index(after: index)
                // A `__pos` object closed: its parent object has its positions.
                if let closed, closed.isObject, stack.last?.key == "__pos",
                   let object = try? JSONSerialization.jsonObject(with: Data(partial[closed.start..<index].utf8)) as? [String: Any],
                   let file = object["file"] as? String {
                    var keys: [String: (Int, Int)] = [:]
                    for (name, value) in (object["keys"] as? [String: Any]) ?? [:] {
                        if let pair = value as? [Int], pair.count == 2 { keys[name] = (pair[0], pair[1]) }
                    }
                    stack[stack.count - 1].position = (file, keys)
                }
                expectingKey = false
            case UInt8(ascii: ","):
                expectingKey = stack.last?.isObject == true
                index = bytes.index(after: index)
            case UInt8(ascii: "\""):
                guard let text = readString() else { return nil }
                if expectingKey, !stack.isEmpty {
                    stack[stack.count - 1].key = text
                    expectingKey = false
                    // `"key":` then at once `}`, `]` or `,`: the value that failed.
                    if index < bytes.endIndex, bytes[index] == UInt8(ascii: ":") {
                        let next = bytes.index(after: index)
                        if next == bytes.endIndex || [UInt8(ascii: "}"), UInt8(ascii: "]"), UInt8(ascii: ",")].contains(bytes[next]) {
                            return place(text)
                        }
                        // A list whose item failed is printed empty, and only closers follow it to
                        // the end (`"envFrom":[]}`, `"steps":[]}}}`): that list's key.
                        if bytes[next] == UInt8(ascii: "["), bytes.index(after: next) < bytes.endIndex,
                           bytes[bytes.index(after: next)] == UInt8(ascii: "]"),
                           bytes[bytes.index(next, offsetBy: 2)...].allSatisfy({ [UInt8(ascii: "}"), UInt8(ascii: "]"), 0x0A, 0x20].contains($0) }) {
                            return place(text)
                        }
                        index = next
                    }
                }
            default:
                index = bytes.index(after: index)
            }
        }
        return nil
    }

    /// Store paths the evaluation named but no store holds, `"bash ${./ci/test.sh}"` (a path in a
    /// string): without a store (`--store dummy://`) Nix computes `/nix/store/HASH-test.sh` and
    /// copies nothing, so the step failed with "No such file" (Nix audit 58 H1:
    /// the original copied it into the store). Each is replaced by the project's own file whose
    /// store path it is: the candidates are the project's entries of that name, whose store paths
    /// one more evaluation computes the same way. A path of the machine, as the original's was.
    static func projectPaths(in json: String, instantiate: String, environment: [String: String], home: String) -> String {
        guard json.contains("/nix/store/") else { return json }
        var missing: [String: String] = [:]  // store path → its name
        for match in json.matches(of: /\/nix\/store\/[0-9a-df-np-sv-z]{32}-([0-9A-Za-z+._?=-]+)/) {
            let path = String(match.0)
            if missing[path] == nil, !FileManager.default.fileExists(atPath: path) { missing[path] = String(match.1) }
        }
        guard !missing.isEmpty else { return json }
        let root = FileManager.default.currentDirectoryPath
        let candidates = projectEntries(named: Set(missing.values), under: root, limit: 50_000)
        guard !candidates.isEmpty, let list = try? JSONEncoder().encode(candidates), let listText = String(data: list, encoding: .utf8) else { return json }
        let computed = runNix(instantiate, ["--eval", "--strict", "--json", "--store", "dummy://", "--argstr", "list", listText, "-E",
                                            "{ list }: map (p: \"${/. + p}\") (builtins.fromJSON list)"],
                              environment: environment, home: home)
        guard computed.succeeded, let stored = try? JSONDecoder().decode([String].self, from: computed.output), stored.count == candidates.count else {
            return json
        }
        var result = json
        for (candidate, storePath) in zip(candidates, stored) where missing[storePath] != nil {
            guard let encoded = try? JSONEncoder().encode(candidate), let text = String(data: encoded, encoding: .utf8) else { continue }
            // The path inside a JSON string: its escaped form without the quotes.
            result = result.replacingOccurrences(of: storePath, with: String(text.dropFirst().dropLast()))
        }
        return result
    }

    /// Absolute paths of the entries under `root` (the project, and itself) whose names are in
    /// `names`; `.git` and the runner's `.nixactions/runs` are not entered, at most `limit` looked at.
    static func projectEntries(named names: Set<String>, under root: String, limit: Int) -> [String] {
        var found: [String] = []
        if names.contains((root as NSString).lastPathComponent) { found.append(root) }
        var pending = [root], seen = 0
        while let folder = pending.popLast(), seen < limit {
            guard let entries = try? FileManager.default.contentsOfDirectory(atPath: folder) else { continue }
            for name in entries.sorted() {
                seen += 1
                let path = folder + "/" + name
                if names.contains(name) { found.append(path) }
                var info = stat()
                guard name != ".git", path != root + "/.nixactions/runs", lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else { continue }
                pending.append(path)
            }
        }
        return found
    }
}
