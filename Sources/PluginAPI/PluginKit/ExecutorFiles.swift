import CNixActionsPlugin
import Foundation
import NixActionsPluginMessages
import NixActionsProcessKit

/// What an executor adopts, on top of `ExecutorPlugin`, to move trees into and out of its jobs
/// (`nixactions.executor.files/1`, nixactions/files.h). The kit answers that interface only for
/// executors that adopt it.
///
/// - `put`: the host writes a tar archive into `source` (already checked entry by entry by a
///   `TarGuard`); the executor extracts it into a staging folder where the job runs and moves
///   it into place only when `source.outcome()` says the archive came complete and valid.
/// - `get`: the executor writes a tar archive of the request's roots into `stream`, from a
///   thread that may block (a process's output thread), and returns the counts. The kit closes
///   the stream when `get` returns (OK) or throws (aborted) if the executor has not.
///
/// `FilesTransfer` does both with a POSIX shell and `tar` where the job runs: an executor only
/// says how to run a shell script there (`JobShell`).
public protocol ExecutorFiles: ExecutorPlugin {
    func put(_ request: FilesPut, from source: PutSource, context: OperationContext) async throws -> FilesPutResult
    func get(_ request: FilesGet, into stream: StreamWriter, context: OperationContext) async throws -> FilesGetResult
}

/// A failure with a status other than NXA_STATUS_FAILED (e.g. NXA_STATUS_TIMED_OUT).
public struct StatusFailure: Error, Sendable {
    public var status: nxa_status
    public var failure: OperationFailure
    public init(_ status: nxa_status, _ failure: OperationFailure) {
        self.status = status
        self.failure = failure
    }
}

/// How to run `sh -c SCRIPT sh ARGUMENTS…` where a job runs (this machine, a container, a host
/// over ssh), with the job's workspace and temporary folder as that shell sees them.
public struct JobShell: Sendable {
    public struct Outcome: Sendable {
        public var status: Int32
        /// What the script wrote on its standard error.
        public var errors: String
        public init(status: Int32, errors: String) {
            self.status = status
            self.errors = errors
        }
    }

    /// Run the script. `input`: its standard input (`input.readDescriptor`; call
    /// `input.closeReader()` once the process has started, or if it cannot). `output`: where its
    /// standard output goes, called on a thread that may block; returning false ends the process.
    public typealias Run = @Sendable (
        _ script: String, _ arguments: [String], _ input: PutSource?, _ output: (@Sendable (UnsafeRawBufferPointer) -> Bool)?
    ) async throws -> Outcome

    public let workspace: String
    public let temporary: String
    public let run: Run
    /// Where `get` makes its staging folder (links to the roots, through which tar reads), when
    /// not in `temporary`: a folder the job's processes cannot reach, outside the folder where
    /// links are not followed (`followingNoLinks`). nil: `temporary`.
    public var scratch: String?
    /// Where `put` extracts before it moves entries into place, when not in `temporary`: a folder
    /// the job's processes cannot reach (they could plant a device node or a named pipe where
    /// the merge keeps its notes: review 52), on the same mount as the job's folders (entries
    /// move by rename). nil: `temporary`.
    public var staging: String?

    public init(workspace: String, temporary: String, run: @escaping Run) {
        self.workspace = workspace
        self.temporary = temporary
        self.run = run
    }

    /// A shell reached through a command on this machine: `command(script, arguments)` is its
    /// argument vector (`/bin/sh -c …`, `podman exec -i NAME /bin/sh -c …`, `ssh HOST 'sh -c …'`).
    public init(workspace: String, temporary: String, environment: [String: String],
                command: @escaping @Sendable (_ script: String, _ arguments: [String]) -> [String]) {
        self.init(workspace: workspace, temporary: temporary) { script, arguments, input, output in
            try await Self.run(command(script, arguments), environment: environment, input: input, output: output)
        }
    }

    /// `arguments` (a command of this machine) run where no symbolic link is followed inside
    /// `folder`: in a mount namespace of its own, `folder` is mounted over itself with
    /// `nosymfollow` (Linux 5.10), `nodev`, `nosuid` and `noexec`, its other options kept (a user
    /// namespace must repeat the flags it cannot clear), so a link there (one a container's
    /// process put, or swapped in for a folder while the command runs) fails with ELOOP instead of
    /// leading elsewhere, and a device node planted there cannot be opened; links are still read
    /// and made (tar archives and extracts them as links). Root gets the namespace with
    /// `unshare --mount`; another user with a user namespace of its own as well (files it makes
    /// stay its own). The mount's options are read back (`findmnt`): where the kernel or mount(8)
    /// ignored `nosymfollow` (Linux before 5.10, util-linux before 2.36.1: review 52), or the
    /// namespace cannot be made, the command does not run: the script exits 70 with a line
    /// `NXA-ERROR …` on its standard error.
    public static func followingNoLinks(in folder: String, _ arguments: [String], root: Bool = geteuid() == 0) -> [String] {
        let script = """
            fail() { echo "NXA-ERROR cannot keep symbolic links in $1 from being followed: $2" >&2; exit 70; }
            options() { findmnt -n -o VFS-OPTIONS -M "$1" 2>/dev/null | tail -n 1; }
            mount --bind -- "$1" "$1" || fail "$1" "no mount namespace"
            kept=$(options "$1")
            mount -o "remount,bind,${kept:+$kept,}nosymfollow,nodev,nosuid,noexec" -- "$1" "$1" || fail "$1" "the remount was refused"
            case ,$(options "$1"), in *,nosymfollow,*) ;; *) fail "$1" "this system has no nosymfollow (Linux 5.10 and util-linux 2.36.1 have it)" ;; esac
            shift
            exec "$@"
            """
        let namespace = root ? ["unshare", "--mount", "--propagation", "private"]
            : ["unshare", "--user", "--map-root-user", "--mount", "--propagation", "private"]
        return namespace + ["/bin/sh", "-c", script, "sh", folder] + arguments
    }

    /// Whether `followingNoLinks` works here for `folder` (a namespace can be made and the kernel
    /// keeps `nosymfollow`): run once with a command that does nothing.
    public static func canFollowNoLinks(in folder: String) async -> Bool {
        guard let outcome = try? await run(followingNoLinks(in: folder, ["/bin/true"]), environment: ProcessInfo.processInfo.environment,
                                           input: nil, output: nil) else { return false }
        return outcome.status == 0
    }

    /// Run `arguments` on this machine with `input` as standard input and `output` receiving its
    /// standard output; a failure to start it is an `OperationFailure`.
    public static func run(
        _ arguments: [String], environment: [String: String], input: PutSource?, output: (@Sendable (UnsafeRawBufferPointer) -> Bool)?
    ) async throws -> Outcome {
        do {
            let outcome = try await StreamingCommand.run(
                arguments, environment: environment, input: input?.readDescriptor, started: { input?.closeReader() }, output: output)
            return Outcome(status: outcome.status, errors: outcome.errors)
        } catch {
            throw OperationFailure(message: "cannot run \(arguments.first ?? "sh"): \(String(cString: strerror(error.errno)))")
        }
    }
}

/// `put` and `get` with a POSIX shell and tar where the job runs (GNU tar for `get`: it renames
/// entries with `--transform`; busybox tar is enough for `put`).
public enum FilesTransfer {
    /// Root names travel into a sed expression and folder names: letters, digits, '.', '_', '-'.
    static func validRootName(_ name: String) -> Bool {
        !name.isEmpty && name != "." && name != ".." && name.utf8.allSatisfy {
            ($0 >= 0x30 && $0 <= 0x39) || ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x7a) || $0 == 0x2e || $0 == 0x5f || $0 == 0x2d
        }
    }

    /// The root names entries must start with, nil when names are relative to the single root "".
    static func rootNames(_ names: [String]) throws -> Set<String>? {
        if names == [""] { return nil }
        guard !names.isEmpty else { throw OperationFailure(message: "the request has no roots") }
        for name in names where !validRootName(name) {
            throw OperationFailure(message: "root name '\(name)' is not allowed (letters, digits, '.', '_', '-'; \"\" only as the single root)")
        }
        guard Set(names).count == names.count else { throw OperationFailure(message: "the request names a root twice") }
        return Set(names)
    }

    static func checkPath(_ path: String) throws {
        guard !path.contains("\n"), !path.contains("\0") else { throw OperationFailure(message: "root path '\(path)' has a line break") }
    }


    // MARK: put

    public static func put(_ request: FilesPut, from source: PutSource, shell: JobShell, context: OperationContext) async throws -> FilesPutResult {
        for root in request.roots { try checkPath(root.path) }
        let staging = (shell.staging ?? shell.temporary) + "/.nixactions-put-\(context.id)"
        let extracted: JobShell.Outcome
        do {
            extracted = try await shell.run(extractScript, [staging], source, nil)
        } catch {
            source.closeReader()
            _ = await source.outcome()
            await remove(staging, shell)
            throw error
        }
        source.closeReader()
        // The stream belongs to this operation until its writer closes it (stream.h rule 9).
        let outcome = await source.outcome()
        func discard() async { await remove(staging, shell) }
        if Task.isCancelled {
            await discard()
            throw CancellationError()
        }
        // The first reason wins: what the guard refused, then tar's own failure (which makes the
        // host's writes fail and the stream look aborted), then an aborted or incomplete stream.
        if let violation = outcome.violation {
            await discard()
            throw OperationFailure(message: "put refused, nothing was changed: \(violation)")
        }
        if extracted.status != 0 && (outcome.status == NXA_STATUS_OK || outcome.readerGone) {
            await discard()
            throw OperationFailure(message: "put failed, nothing was changed: tar -x exited \(extracted.status): \(lastLines(extracted.errors))")
        }
        if let failure = outcome.failure {
            await discard()
            if outcome.status == NXA_STATUS_CANCELLED { throw CancellationError() }
            throw OperationFailure(message: "put refused, nothing was changed: \(failure)")
        }
        guard extracted.status == 0 else {
            await discard()
            throw OperationFailure(message: "put failed, nothing was changed: tar -x exited \(extracted.status): \(lastLines(extracted.errors))")
        }
        var arguments = [shell.workspace, staging]
        for root in request.roots { arguments += [root.name, root.path, outcome.rootFolders.contains(root.name) ? "1" : ""] }
        let merged = try await shell.run(mergeScript, arguments, nil, nil)
        guard merged.status == 0 else {
            await discard()
            let reason = merged.errors.split(separator: "\n").first { $0.hasPrefix("NXA-ERROR ") }.map { String($0.dropFirst(10)) }
            throw OperationFailure(message: "put failed: \(reason ?? lastLines(merged.errors))",
                                   hint: reason == nil ? "entries moved into place before the failure stay" : nil)
        }
        return FilesPutResult(files: outcome.files, bytes: outcome.bytes)
    }

    /// Remove a staging folder, also when the operation was cancelled (a cancelled task would end
    /// the `rm` at once): the removal runs in a task of its own.
    static func remove(_ staging: String, _ shell: JobShell) async {
        // Folders the archive made read-only are opened first (a user who is not root could not empty them).
        await Task { _ = try? await shell.run("chmod -R u+rwx \"$1\" 2>/dev/null; rm -rf \"$1\"", [staging], nil, nil) }.value
    }

    static func lastLines(_ text: String) -> String {
        text.split(separator: "\n").suffix(3).joined(separator: "; ")
    }

    /// Extract the archive on standard input into the empty folder $1; setuid, setgid and sticky
    /// bits are dropped; owners are not applied (-o).
    static let extractScript = """
        rm -rf "$1" && mkdir -p "$1" && cd "$1" || exit 70
        tar -x -o -f - || exit $?
        chmod -R u-s,g-s,o-t . 2>/dev/null
        exit 0
        """

    /// The job's path of a root: relative to the workspace ($ws), absolute, or under $HOME; and
    /// `check NAME PATH …`: a relative root must not climb out of the workspace or pass through a
    /// symbolic link there (a put would write, a get would read, where the link points: a
    /// workspace's `node_modules -> ~/.aws` must not be archived into a cache or an artifact).
    static let resolveFunction = """
        check() {
          while [ $# -ge 2 ]; do
            case $2 in
              "~"*|/*) ;;
              *)
                rest=$2 cur=$ws
                while [ -n "$rest" ]; do
                  part=${rest%%/*}
                  case $rest in */*) rest=${rest#*/} ;; *) rest= ;; esac
                  if [ -z "$part" ] || [ "$part" = . ]; then continue; fi
                  if [ "$part" = .. ]; then echo "NXA-ERROR root '$2' climbs out of the workspace" >&2; return 1; fi
                  cur=$cur/$part
                  if [ -L "$cur" ]; then echo "NXA-ERROR root '$2' passes through the symbolic link '${cur#"$ws"/}'" >&2; return 1; fi
                done ;;
            esac
            shift 2
          done
        }
        resolve() {
          case $1 in
            "~") abs=$HOME ;;
            "~/"*) abs=$HOME/${1#"~/"} ;;
            /*) abs=$1 ;;
            ""|.|./) abs=$ws ;;
            *) abs=$ws/$1 ;;
          esac
        }
        """

    /// `ws staging (name path own)…`: check every relative root (no existing part of it may be a
    /// symbolic link, so it stays in the workspace), then merge staging[/name] into each root entry
    /// by entry, descending only into real folders, then remove the staging folder. `own` is 1
    /// when the archive holds the root folder's own entry: a root that does not exist is then the
    /// extracted folder moved into place, and one that exists takes its mode and mtime after the
    /// merge, as tar gives an existing folder (where that is refused, the merge stands). Without
    /// it (an archive made before roots had their entry) a missing root is made with the default
    /// mode and an existing one is left as it is.
    static let mergeScript = resolveFunction + """

        merge() (
          for e in "$1"/* "$1"/.[!.]* "$1"/..?*; do
            [ -e "$e" ] || [ -L "$e" ] || continue
            d=$2/${e##*/}
            if [ -d "$e" ] && [ ! -L "$e" ] && [ -d "$d" ] && [ ! -L "$d" ]; then
              # Emptied into the folder that is there (a read-only one from the archive too).
              [ -w "$e" ] || chmod u+rwx "$e" || exit 1
              merge "$e" "$d" || exit 1
            else
              if [ -e "$d" ] || [ -L "$d" ]; then rm -rf "$d" || exit 1; fi
              if [ -d "$e" ] && [ ! -L "$e" ] && [ ! -w "$e" ]; then
                # A read-only folder moves to another folder only once writable (its `..`
                # changes); it gets its mode back there (Go's module cache is read-only).
                m=$(modeof "$e") && chmod u+w "$e" && mv "$e" "$d" && chmod "$m" "$d" || exit 1
              else
                mv "$e" "$d" || exit 1
              fi
            fi
          done
        )
        # The permission bits of $1 as chmod's symbolic mode, from `ls -ld` (POSIX has no
        # stat(1)): only the rwx bits change, so a folder's setgid and sticky bits stay.
        modeof() {
          p=$(ls -ld "$1") || return 1
          p=${p%% *} u= g= o=
          case $p in ?r*) u=${u}r ;; esac
          case $p in ??w*) u=${u}w ;; esac
          case $p in ???[xs]*) u=${u}x ;; esac
          case $p in ????r*) g=${g}r ;; esac
          case $p in ?????w*) g=${g}w ;; esac
          case $p in ??????[xs]*) g=${g}x ;; esac
          case $p in ???????r*) o=${o}r ;; esac
          case $p in ????????w*) o=${o}w ;; esac
          case $p in ?????????[xt]*) o=${o}x ;; esac
          m=a-rwx
          [ -n "$u" ] && m=$m,u+$u
          [ -n "$g" ] && m=$m,g+$g
          [ -n "$o" ] && m=$m,o+$o
          printf '%s' "$m"
        }
        # Out of the way, whatever modes the archive gave its folders (a 0555 folder cannot be
        # emptied or moved by a user who is not root).
        discard() { chmod -R u+rwx "$staging" 2>/dev/null; rm -rf "$staging"; }
        ws=$1 staging=$2
        shift 2
        # Every relative root stays in the workspace, and every root the archive holds is a real
        # folder or file (never a link: merging a link's target would move files from wherever it
        # points), checked before anything moves. A root the archive does not hold is not made.
        i=0
        while [ "$i" -lt $# ]; do
          if ! check "$1" "$2"; then discard; exit 1; fi
          # A root that is a link before the put (`~/.cache -> /data/cache`) is the user's; one
          # that becomes a link during it was put there by an earlier root's merge.
          resolve "$2"
          if [ -L "$abs" ]; then : > "$staging/link+$1"; fi
          if [ -n "$1" ] && { [ -L "$staging/$1" ] || { [ -e "$staging/$1" ] && [ ! -d "$staging/$1" ] && [ ! -f "$staging/$1" ]; }; }; then
            printf 'NXA-ERROR the root %s of the archive is neither a folder nor a file\\n' "$1" >&2
            discard
            exit 1
          fi
          # A root whose folders above it are in the way (a file where one must be a folder) fails
          # here, before anything moves, not half-way (audit 60 M1).
          p=${abs%/*}
          while [ -n "$p" ] && [ ! -e "$p" ] && [ ! -L "$p" ]; do
            case $p in */*) p=${p%/*} ;; *) p= ;; esac  # a relative path ends (review 60 L8)
          done
          if [ -n "$p" ] && [ ! -d "$p" ]; then
            printf 'NXA-ERROR the root %s cannot be put: %s is in the way (not a folder)\\n' "$2" "$p" >&2
            discard
            exit 1
          fi
          set -- "$@" "$1" "$2" "$3"
          shift 3
          i=$((i + 3))
        done
        # Merge every root; a root folder's own mode and mtime are given after all of them (a
        # read-only folder would refuse a root nested in it), each kept until then in the staging
        # folder (`mode+NAME`, and `mtime+NAME` as the reference for touch -r).
        i=0
        while [ "$i" -lt $# ]; do
          # Again just before its merge: an earlier root's merge may have put a link on its path.
          if ! check "$1" "$2"; then discard; exit 1; fi
          resolve "$2"
          src=$staging
          [ -n "$1" ] && src=$staging/$1
          if [ -L "$abs" ] && [ ! -e "$staging/link+$1" ]; then
            printf 'NXA-ERROR the root %s became a symbolic link during the put; nothing was put through it\\n' "$2" >&2
            discard
            exit 1
          fi
          if [ -d "$src" ]; then
            if [ "$3" = 1 ]; then
              modeof "$src" > "$staging/mode+$1" && touch -r "$src" "$staging/mtime+$1" || rm -f "$staging/mode+$1"
              chmod u+rwx "$src" || exit 1
            fi
            # A file where the archive has a folder is replaced, as a file root replaces what
            # is there (audit 60 M1: the restore failed after earlier roots were put).
            if { [ -e "$abs" ] || [ -L "$abs" ]; } && [ ! -d "$abs" ]; then rm -f "$abs" || exit 1; fi
            if [ "$3" = 1 ] && [ ! -e "$abs" ]; then
              # A folder that is not there: the archive's own goes into place.
              [ -n "${abs%/*}" ] && { mkdir -p "${abs%/*}" || exit 1; }
              mv "$src" "$abs" || exit 1
            else
              mkdir -p "$abs" || exit 1
              merge "$src" "$abs" || exit 1
            fi
          elif [ -n "$1" ] && [ -f "$src" ]; then
            # A path that is a file (`paths: [tool.bin]`): it replaces what is there.
            [ -n "${abs%/*}" ] && { mkdir -p "${abs%/*}" || exit 1; }
            if [ -e "$abs" ] || [ -L "$abs" ]; then rm -rf "$abs" || exit 1; fi
            mv "$src" "$abs" || exit 1
          fi
          set -- "$@" "$1" "$2" "$3"
          shift 3
          i=$((i + 3))
        done
        # The roots' own modes and times, last root first (where the job's user may not change
        # them, the merge stands).
        order=
        while [ $# -ge 3 ]; do
          [ "$3" = 1 ] && [ -n "$1" ] && [ -f "$staging/mode+$1" ] && order="$1 $2
        $order"
          shift 3
        done
        printf '%s' "$order" | while IFS=' ' read -r name path; do
          [ -n "$name" ] || continue
          resolve "$path"
          [ -d "$abs" ] && [ ! -L "$abs" ] || continue
          chmod "$(cat "$staging/mode+$name")" "$abs" 2>/dev/null
          touch -r "$staging/mtime+$name" "$abs" 2>/dev/null
        done
        discard
        """

    // MARK: get

    /// A pattern relative to its root, checked and without "./" or a trailing "/".
    static func pattern(_ text: String, what: String) throws -> String {
        let parts = text.split(separator: "/").filter { $0 != "." }
        guard !text.hasPrefix("/"), !parts.contains(".."), !text.contains("\n"), !text.contains("\0") else {
            throw OperationFailure(message: "\(what) '\(text)' must be a relative path inside its root")
        }
        return parts.joined(separator: "/")
    }

    static func isGlob(_ text: String) -> Bool { text.contains(where: { "*?[".contains($0) }) }

    /// An include as the get script's direct mode takes it: "**" (everything) or a literal path
    /// (with everything under it; "DIR/**" is DIR); nil when it needs the filter.
    static func literalInclude(_ pattern: String) -> String? {
        if pattern == "**" || pattern.isEmpty { return "**" }
        var text = pattern
        if text.hasSuffix("/**") { text.removeLast(3) }
        return isGlob(text) ? nil : text
    }

    /// A glob as a POSIX extended regular expression on a root-relative path: "*" and "?" stay in
    /// one folder, "**" crosses folders ("**/" also matches nothing), anything else is itself.
    static func regex(_ glob: String) -> String {
        var out = "^"
        let characters = Array(glob)
        var index = 0
        while index < characters.count {
            let character = characters[index]
            if character == "*" {
                if index + 1 < characters.count, characters[index + 1] == "*" {
                    if index + 2 < characters.count, characters[index + 2] == "/" {
                        out += "(.*/)?"
                        index += 3
                    } else {
                        out += ".*"
                        index += 2
                    }
                    continue
                }
                out += "[^/]*"
            } else if character == "?" {
                out += "[^/]"
            } else if character == "[", let close = closingBracket(characters, from: index) {
                // A bracket expression, `[!…]` or `[^…]` negated; never matching "/", as a glob's.
                var inner = characters[(index + 1)..<close]
                var negated = false
                if let first = inner.first, first == "!" || first == "^" {
                    negated = true
                    inner = inner.dropFirst()
                }
                // A "[" that opens a known class ("[:digit:]") closed in the expression stays as
                // written; any other "[" ("[[:]", "[[:digits:]", and "[." or "[=": collating symbols and
                // equivalence classes are not carried, awk's differ) is a member, put last, where
                // awk cannot read it as opening something the expression never closes.
                let members = Array(inner)
                var core = ""
                var bracket = false
                var at = 0
                while at < members.count {
                    let member = members[at]
                    if member == "[" {
                        var end = at + 2
                        while end + 1 < members.count, !(members[end] == ":" && members[end + 1] == "]") { end += 1 }
                        if at + 1 < members.count, members[at + 1] == ":", end + 1 < members.count,
                           classNames.contains(String(members[(at + 2)..<end])) {
                            core += String(members[at...(end + 1)])
                            at = end + 2
                        } else {
                            bracket = true
                            at += 1
                        }
                        continue
                    }
                    core += member == "\\" ? "\\\\" : String(member)
                    at += 1
                }
                // A last "-" is a member only last ("a-/" or "a-[" would be a range); "/" goes after
                // the members when negated (a leading "]" is a member only first).
                let dash = core.count > 1 && core.hasSuffix("-")
                if dash { core.removeLast() }
                out += "[" + (negated ? "^" : "") + core + (bracket ? "[" : "") + (negated ? "/" : "") + (dash ? "-" : "") + "]"
                index = close + 1
                continue
            } else if character.isLetter || character.isNumber || "/-_ ".contains(character) {
                out.append(character)
            } else if "\\^]".contains(character) {
                out += "\\" + String(character)
            } else {
                out += "[" + String(character) + "]"
            }
            index += 1
        }
        return out + "$"
    }

    /// The POSIX character classes awk knows; `[[:digits:]]` (a typo) would make it refuse the
    /// whole expression, so an unknown name's "[" is a member like any other.
    static let classNames: Set<String> = ["alnum", "alpha", "blank", "cntrl", "digit", "graph", "lower", "print", "punct", "space", "upper", "xdigit"]

    /// The index of the "]" that closes the bracket expression opened at `open` (a "]" right
    /// after "[", "[!" or "[^" is a member, as is a class such as "[:digit:]"), or nil: no "]", or a
    /// "/" first (then "[" is literal).
    static func closingBracket(_ characters: [Character], from open: Int) -> Int? {
        var index = open + 1
        if index < characters.count, characters[index] == "!" || characters[index] == "^" { index += 1 }
        if index < characters.count, characters[index] == "]" { index += 1 }
        while index < characters.count {
            if characters[index] == "/" { return nil }
            if characters[index] == "]" { return index }
            if characters[index] == "[", index + 1 < characters.count, characters[index + 1] == ":" {
                var end = index + 2
                while end + 1 < characters.count, !(characters[end] == ":" && characters[end + 1] == "]"), characters[end] != "/" { end += 1 }
                if end + 1 < characters.count, characters[end] == ":", classNames.contains(String(characters[(index + 2)..<end])) {
                    index = end + 2
                    continue
                }
            }
            index += 1
        }
        return nil
    }

    /// The get script's arguments for one root: name, path, the direct includes, the filter
    /// ("" in direct mode; else the include and exclude expressions on two lines), and whether the
    /// root folder's own entry goes first ("1" for a named root taken whole, excludes aside: its
    /// mode and mtime travel, files.h). A path is taken when it or a folder above it matches an
    /// include, and none of them matches an exclude.
    static func getArguments(_ root: FilesGetRoot) throws -> [String] {
        try checkPath(root.path)
        let includes = try (root.include ?? ["**"]).map { try pattern($0, what: "include") }
        let excludes = try (root.exclude ?? []).map { try pattern($0, what: "exclude") }
        let whole = !root.name.isEmpty && includes.contains { $0 == "**" || $0.isEmpty } ? "1" : ""
        let direct = includes.map(literalInclude)
        if excludes.isEmpty, direct.allSatisfy({ $0 != nil }) {
            return [root.name, root.path, direct.compactMap { $0 }.joined(separator: "\n"), "", whole]
        }
        let include = includes.contains("**") || includes.contains("") ? "" : includes.map { "(" + regex($0) + ")" }.joined(separator: "|")
        let exclude = excludes.map { "(" + regex($0) + ")" }.joined(separator: "|")
        return [root.name, root.path, "**", include + "\n" + exclude + "\n", whole]
    }

    public static func get(_ request: FilesGet, into stream: StreamWriter, shell: JobShell, context: OperationContext) async throws -> FilesGetResult {
        let names = try rootNames(request.roots.map(\.name))
        if request.followSymlinks == true {
            throw OperationFailure(message: "followSymlinks is not supported yet: links are archived as links")
        }
        let staging = (shell.scratch ?? shell.temporary) + "/.nixactions-get-\(context.id)"
        var arguments = [shell.workspace, staging]
        for root in request.roots { arguments += try getArguments(root) }
        // What goes out is checked like what comes in, and counted.
        let counter = GuardBox(TarGuard(rootNames: names))
        let produced: JobShell.Outcome
        do {
            produced = try await shell.run(getScript, arguments, nil) { bytes in
                counter.feed(bytes)
                return stream.write(bytes) == NXA_STATUS_OK
            }
        } catch {
            await remove(staging, shell)  // the script removes it itself unless it was ended
            throw error
        }
        if produced.status != 0 && produced.status != 1 || Task.isCancelled { await remove(staging, shell) }
        let lines = produced.errors.split(separator: "\n")
        let missing = lines.filter { $0.hasPrefix("NXA-MISSING ") }.map { String($0.dropFirst(12)) }
        let skipped = lines.first { $0.hasPrefix("NXA-SKIPPED ") }.flatMap { Int($0.dropFirst(12)) } ?? 0
        let newlines = lines.first { $0.hasPrefix("NXA-NEWLINES ") }.flatMap { Int($0.dropFirst(13)) } ?? 0
        let stopped = stream.stopStatus
        if stopped != NXA_STATUS_OK {
            let failure = OperationFailure(message: "the receiver stopped taking the archive (status \(stopped))")
            await Blocking.run { stream.close(stopped, message: failure.error.message) }
            if stopped == NXA_STATUS_CANCELLED { throw CancellationError() }
            throw StatusFailure(stopped, failure)
        }
        try Task.checkCancellation()
        let errors = lines.filter { !$0.hasPrefix("NXA-MISSING ") && !$0.hasPrefix("NXA-SKIPPED ") && !$0.hasPrefix("NXA-NEWLINES ") }.joined(separator: "\n")
        // GNU tar exits 1 when a file changed while it was read: archived as read, with a warning.
        guard produced.status == 0 || produced.status == 1 else {
            let reason = errors.split(separator: "\n").first { $0.hasPrefix("NXA-ERROR ") }.map { String($0.dropFirst(10)) }
            let message = "get failed: " + (reason ?? "tar -c exited \(produced.status): \(lastLines(errors))")
            await Blocking.run { stream.close(NXA_STATUS_FAILED, message: message) }
            throw OperationFailure(message: message)
        }
        if let problem = counter.finish() {
            await Blocking.run { stream.close(NXA_STATUS_FAILED, message: problem) }
            throw OperationFailure(message: "get produced an archive that breaks the rules: \(problem)")
        }
        if produced.status == 1 { context.log(.warning, "files changed while they were archived: \(lastLines(errors))") }
        await Blocking.run { stream.close(NXA_STATUS_OK) }
        if skipped > 0 {
            context.log(.info, skipped == 1 ? "1 entry that is not a file, folder or link was left out"
                                             : "\(skipped) entries that are not files, folders or links were left out")
        }
        if newlines > 0 {
            context.log(.warning, (newlines == 1 ? "1 entry whose name holds a line break was" : "\(newlines) entries whose names hold a line break were")
                            + " left out (with all a folder of them holds): this version cannot archive such names")
        }
        return FilesGetResult(files: counter.files, bytes: counter.bytes, skipped: skipped + newlines, missing: missing)
    }

    /// `ws staging (name path includes filter whole)…`: one link per existing root in the staging
    /// folder, the members to archive in `list`, GNU tar renames `rN/./…` to `NAME/…` (or to `…`
    /// for the root "") and a whole root's own `rN/.` to `NAME`. A literal include whose path
    /// passes through a symbolic link matches nothing.
    static let getScript = resolveFunction + """

        ws=$1 g=$2
        shift 2
        single=0 filtered=0
        # Names with a line break cannot go through the line-by-line listing below: each one
        # (a folder with all it holds) is left out and counted (NXA-NEWLINES), never dropped
        # without a word (audit 64 cache M1).
        nl='
        '
        nlpat="*$nl*"
        [ $# -eq 5 ] && [ -z "$1" ] && single=1
        rm -rf "$g" && mkdir -p "$g" || exit 70
        : > "$g/list"
        i=0 transforms=
        while [ $# -ge 5 ]; do
          name=$1 path=$2 includes=$3 filter=$4 whole=$5
          shift 5
          check "$name" "$path" || exit 71
          resolve "$path"
          if [ -n "$name" ] && [ -f "$abs" ] && [ ! -L "$abs" ]; then
            # A file: archived as the root itself (NAME), from its folder.
            i=$((i + 1))
            dir=${abs%/*}
            ln -s "${dir:-/}" "$g/r$i" || exit 70
            transforms="$transforms
        --transform=s|^r$i/\\./[^/]*$|$name|S"
            printf 'r%s/./%s\\n' "$i" "${abs##*/}" >> "$g/list"
            continue
          fi
          if [ ! -d "$abs" ]; then printf 'NXA-MISSING %s\\n' "$path" >&2; continue; fi
          i=$((i + 1))
          ln -s "$abs" "$g/r$i" || exit 70
          if [ -n "$filter" ]; then printf '%s' "$filter" > "$g/re.$i"; filtered=1; fi
          if [ -n "$name" ]; then to="$name/"; else to=; fi
          transforms="$transforms
        --transform=s|^r$i/\\./|$to|S"
          if [ -n "$name" ] && [ "$whole" = 1 ]; then
            # The folder itself first (its mode and mtime), as a name of its own in the listing.
            transforms="$transforms
        --transform=s|^r$i/\\.$|$name|S"
            printf 'r%s/.\\n' "$i" >> "$g/list"
          fi
          printf '%s\\n' "$includes" | while IFS= read -r inc; do
            if [ "$inc" = "**" ]; then
              for e in "$abs"/* "$abs"/.[!.]* "$abs"/..?*; do
                [ -e "$e" ] || [ -L "$e" ] || continue
                case ${e##*/} in *"$nl"*) printf 'NXA-NL\\n'; continue ;; esac
                printf 'r%s/./%s\\n' "$i" "${e##*/}"
              done
              continue
            fi
            rest=$inc cur=$abs ok=1
            while :; do
              case $rest in */*) part=${rest%%/*}; rest=${rest#*/} ;; *) break ;; esac
              cur=$cur/$part
              if [ -L "$cur" ] || [ ! -d "$cur" ]; then ok=0; break; fi
            done
            if [ $ok = 1 ] && { [ -e "$abs/$inc" ] || [ -L "$abs/$inc" ]; }; then printf 'r%s/./%s\\n' "$i" "$inc"; fi
          done >> "$g/list"
        done
        cd "$g" || exit 70
        set -f
        IFS='
        '
        if tar --version 2>/dev/null | grep -q 'GNU tar'; then
          walk() { find "$@" -name "$nlpat" -prune -exec printf 'NXA-NL\\n' \\; -o ! \\( -type f -o -type d -o -type l \\) -exec printf 'NXA-SKIP\\n' \\; -o -print; }
          # Every entry, folders before their contents, links not followed; devices, fifos and
          # sockets are left out and counted. Members without a filter are walked by one `find`
          # (a tree of many top-level entries is not a process per entry). The listing streams
          # into tar as it is made: archiving starts with the first name.
          # A root with a filter keeps the paths that it or a folder above matches (re.N: the
          # include expression, "" for all, then the exclude expression). pax keeps mtimes to
          # the nanosecond; atime and ctime, which extraction does not restore, are left out.
          listing() {
            set --
            while IFS= read -r m; do
              n=${m%%/*}
              case $m in
                NXA-NL) printf 'NXA-NL\\n'; continue ;;
                */.)
                  # A root folder's own entry, alone (a walk would descend into it).
                  if [ $# -gt 0 ]; then walk "$@"; set --; fi
                  printf '%s\\n' "$m"
                  continue ;;
              esac
              if [ -f "re.${n#r}" ]; then
                if [ $# -gt 0 ]; then walk "$@"; set --; fi
                # A path with a line break goes to the filter with each one as '?' (which the
                # globs' `*` and `?` match as they would the line break; no literal part of a glob
                # holds one): only those the globs take are counted.
                find "$m" -path "$nlpat" -exec sh -c 'for p do printf "NXA-NL %s" "$p" | tr "\\n" "?"; echo; done' nxa {} + \\
                  -o ! \\( -type f -o -type d -o -type l \\) -exec printf 'NXA-SKIP\\n' \\; -o -print |
                  inc=$(sed -n 1p "re.${n#r}") exc=$(sed -n 2p "re.${n#r}") pre="$n/./" awk '
                    $0 == "NXA-SKIP" { print; next }
                    {
                      line = $0; mark = 0
                      if (substr(line, 1, 7) == "NXA-NL ") { line = substr(line, 8); mark = 1 }
                      q = substr(line, length(ENVIRON["pre"]) + 1); ok = (ENVIRON["inc"] == ""); bad = 0
                      while (q != "") {
                        if (ENVIRON["inc"] != "" && q ~ ENVIRON["inc"]) ok = 1
                        if (ENVIRON["exc"] != "" && q ~ ENVIRON["exc"]) bad = 1
                        at = match(q, /\\/[^\\/]*$/)
                        if (at == 0) break
                        q = substr(q, 1, at - 1)
                      }
                      if (ok && !bad) print (mark ? "NXA-NL" : $0)
                    }' || : > filter-failed
              else
                set -- "$@" "$m"
              fi
            done < list
            if [ $# -gt 0 ]; then walk "$@"; fi
          }
          set -- $transforms
          unset IFS
          listing | awk '$0 == "NXA-SKIP" { n++; next } $0 == "NXA-NL" { l++; next } { print } END { print n + 0 > "skipped"; print l + 0 > "newlines" }' |
            tar -c -f - --format=pax --pax-option=delete=atime,delete=ctime "$@" --no-recursion --verbatim-files-from -T -
          status=$?
          # An expression awk refused would have left the root's listing empty without a word.
          if [ -e filter-failed ]; then echo "NXA-ERROR awk could not apply a root's include or exclude globs" >&2; status=1; fi
          printf 'NXA-SKIPPED %s\\n' "$(cat skipped 2>/dev/null || echo 0)" >&2
          printf 'NXA-NEWLINES %s\\n' "$(cat newlines 2>/dev/null || echo 0)" >&2
        elif [ "$filtered" = 1 ]; then
          echo "NXA-ERROR include globs and excludes need GNU tar where the job runs" >&2
          status=71
        elif [ "$single" = 1 ]; then
          # Another tar (busybox): one root named "", members as arguments, its own format.
          printf 'NXA-NEWLINES %s\\n' "$(grep -c '^NXA-NL$' list)" >&2
          set -- $(grep -v '^NXA-NL$' list | sed 's|^r1/\\./||')
          unset IFS
          if [ $# -eq 0 ]; then
            dd if=/dev/zero bs=512 count=2 2>/dev/null
            status=$?
          else
            cd r1/ && tar -c -f - -- "$@"
            status=$?
          fi
        else
          echo "NXA-ERROR named roots need GNU tar where the job runs" >&2
          status=71
        fi
        cd / && rm -rf "$g"
        exit $status
        """
}

/// A TarGuard shared with an output callback (one writer thread at a time).
final class GuardBox: @unchecked Sendable {
    private var value: TarGuard
    private let lock = NSLock()
    init(_ value: TarGuard) { self.value = value }
    func feed(_ bytes: UnsafeRawBufferPointer) { lock.withLock { _ = value.feed(bytes) } }
    func finish() -> String? { lock.withLock { value.finish() } }
    var files: Int { lock.withLock { value.files } }
    var bytes: Int { lock.withLock { value.bytes } }
}

extension PluginExport {
    nonisolated(unsafe) static var filesTable: UnsafeMutablePointer<nxa_executor_files_v1>?

    /// The files function table (nixactions/files.h), made once. It works on the executor's own
    /// instances (`ExecutorBox`), and its operations are cancelled through the executor's `cancel`.
    static func filesInterface() -> UnsafeMutablePointer<nxa_executor_files_v1> {
        if let table = filesTable { return table }
        let table = UnsafeMutablePointer<nxa_executor_files_v1>.allocate(capacity: 1)
        table.initialize(
            to: nxa_executor_files_v1(
                struct_size: UInt32(MemoryLayout<nxa_executor_files_v1>.size),
                put: { instance, op, json, length, outStream, error in
                    guard let box = PluginExport.box(instance), let files = box.executor as? any ExecutorFiles, let outStream else {
                        PluginExport.fill(error, "files put: not a files-capable executor instance, or no out_stream")
                        return NXA_STATUS_INVALID_ARGUMENT
                    }
                    guard let request = PluginExport.decode(FilesPut.self, json, length, error) else { return NXA_STATUS_INVALID_ARGUMENT }
                    let source: PutSource
                    do {
                        let names = try FilesTransfer.rootNames(request.roots.map(\.name))
                        source = try PutSource(rootNames: names, context: OperationContext(id: op, host: box.operations.host))
                    } catch let failure as OperationFailure {
                        PluginExport.fill(error, failure.error.message)
                        return NXA_STATUS_INVALID_ARGUMENT
                    } catch let other {
                        PluginExport.fill(error, "\(other)")
                        return NXA_STATUS_FAILED
                    }
                    outStream.pointee = UnsafePointer(source.stream)
                    box.start(op) { context in
                        // Whatever the executor did, the operation completes only after the host
                        // closed the stream (stream.h rule 9); closing the read end makes the
                        // host's next write fail at once, so the close comes promptly.
                        do {
                            let result = try await files.put(request, from: source, context: context)
                            source.closeReader()
                            _ = await source.outcome()
                            return result
                        } catch {
                            source.closeReader()
                            _ = await source.outcome()
                            throw error
                        }
                    }
                    return NXA_STATUS_OK
                },
                get: { instance, op, json, length, stream, error in
                    guard let box = PluginExport.box(instance), let files = box.executor as? any ExecutorFiles, let stream else {
                        PluginExport.fill(error, "files get: not a files-capable executor instance, or no stream")
                        return NXA_STATUS_INVALID_ARGUMENT
                    }
                    guard let request = PluginExport.decode(FilesGet.self, json, length, error) else { return NXA_STATUS_INVALID_ARGUMENT }
                    // The writer reads no field beyond the creator's struct_size (stream.h).
                    guard Int(stream.pointee.struct_size) >= MemoryLayout<nxa_stream>.size else {
                        PluginExport.fill(error, "files get: the stream struct is \(stream.pointee.struct_size) bytes, too small")
                        return NXA_STATUS_INVALID_ARGUMENT
                    }
                    let writer = StreamWriter(stream)
                    box.start(op) { context in
                        do {
                            let result = try await files.get(request, into: writer, context: context)
                            // Closed before the operation completes (stream.h rule 3).
                            if !writer.isClosed { await Blocking.run { writer.close(NXA_STATUS_OK) } }
                            return result
                        } catch {
                            if !writer.isClosed { await Blocking.run { writer.close(after: error) } }
                            throw error
                        }
                    }
                    return NXA_STATUS_OK
                }
            ))
        filesTable = table
        return table
    }
}

/// Run a call that may block (a stream's `write` or `close`) on a thread of its own, never on
/// Swift's cooperative pool (stream.h rule 4), and wait for it.
public enum Blocking {
    public static func run<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread { continuation.resume(returning: body()) }
        }
    }
}
