import Foundation
@testable import NixActionsPluginKit
import Testing
import TestSupport

/// The files interface's shell scripts (`FilesTransfer`: get, extract, merge) run by `/bin/sh`
/// as a user who is not root (nobody, through `setpriv`, when the tests run as root): the case
/// where folder permissions bite, which a run as root never shows.
@Suite("The files scripts as a user who is not root")
struct FilesScriptsTests {
    @Test("a read-only cached folder (0555 root, 0555 inside) is put in place and merged, its mode and mtime kept; a root that an earlier root's merge made a link is refused (review 49 H1, M1)")
    func readOnlyFolders() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let folder = temp.path
        for (name, script) in [("get.sh", FilesTransfer.getScript), ("extract.sh", FilesTransfer.extractScript),
                               ("merge.sh", FilesTransfer.mergeScript)] {
            try script.write(toFile: folder + "/" + name, atomically: true, encoding: .utf8)
        }
        let driver = """
            set -u
            cd "$1"
            mkdir -p ws/d/sub tmp ws2 ws3/d ws4 out
            echo hi > ws/d/f; echo x > ws/d/sub/g; echo pre > ws3/d/pre
            chmod 555 ws/d/sub ws/d; touch -d @978307200 ws/d
            sh get.sh "$PWD/ws" "$PWD/tmp/g" 0 d '**' '' 1 > a.tar 2>/dev/null || echo "get failed"
            sh extract.sh "$PWD/tmp/st" < a.tar || echo "extract failed"
            sh merge.sh "$PWD/ws2" "$PWD/tmp/st" 0 d 1 || echo "merge into a missing root failed"
            echo "missing $(stat -c '%a %Y' ws2/d) $(stat -c %a ws2/d/sub) $(cat ws2/d/f)"
            sh extract.sh "$PWD/tmp/st" < a.tar || echo "extract failed"
            sh merge.sh "$PWD/ws3" "$PWD/tmp/st" 0 d 1 || echo "merge into an existing root failed"
            echo "existing $(stat -c '%a %Y' ws3/d) $(ls ws3/d | tr '\\n' ' ')"
            echo "staging $(ls -A tmp | tr '\\n' ' ')"
            mkdir -p tmp/st/0 tmp/st/1; ln -s "$PWD/out" tmp/st/0/b; echo x > tmp/st/1/x
            sh merge.sh "$PWD/ws4" "$PWD/tmp/st" 0 d 1 1 d/b 1 2>/dev/null && echo "nested merged" || echo "nested refused"
            echo "outside $(ls -A out | tr '\\n' ' ')"
            chmod -R u+rwx . 2>/dev/null
            """
        try driver.write(toFile: folder + "/driver.sh", atomically: true, encoding: .utf8)
        var arguments = ["/bin/sh", folder + "/driver.sh", folder]
        if getuid() == 0 {
            // As nobody, in a folder of its own.
            #expect(chown(folder, 65534, 65534) == 0)
            for name in ["get.sh", "extract.sh", "merge.sh", "driver.sh"] { _ = chown(folder + "/" + name, 65534, 65534) }
            arguments = ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] + arguments
        }
        let result = try runCommandBlocking(URL(fileURLWithPath: arguments[0]), Array(arguments.dropFirst()))
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(!result.stdout.contains("failed"), "\(result.stdout)\n\(result.stderr)")
        #expect(lines.contains("missing 555 978307200 555 hi"), "\(result.stdout)\n\(result.stderr)")
        #expect(lines.contains("existing 555 978307200 f pre sub "), "\(result.stdout)\n\(result.stderr)")
        #expect(lines.contains("staging "), "a staging folder was left: \(result.stdout)")
        #expect(lines.contains("nested refused") && lines.contains("outside "), "\(result.stdout)\n\(result.stderr)")
    }

    @Test("JobShell.followingNoLinks: inside the folder no link is followed (a read and a write through one fail), links are still listed and made, files outside it are reached as ever; as root and as a user who is not root")
    func followingNoLinks() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let folder = temp.path + "/job", outside = temp.path + "/outside"
        try FileManager.default.createDirectory(atPath: folder + "/ws", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
        try "host file\n".write(toFile: outside + "/f", atomically: false, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: folder + "/ws/link", withDestinationPath: outside)
        let script = """
            cat "$1/ws/link/f" 2>/dev/null && echo "read through the link"
            echo x 2>/dev/null > "$1/ws/link/new" && echo "wrote through the link"
            ln -s "$2" "$1/ws/made" && [ -L "$1/ws/made" ] && echo "made a link"
            tar -c -f - -C "$1/ws" . | tar -t -v -f - | grep -q "link -> $2" && echo "archived the link"
            echo y > "$1/ws/plain" && echo "wrote a file"
            rm -f "$1/ws/dev"; mknod "$1/ws/dev" c 1 3 2>/dev/null && { echo x 2>/dev/null > "$1/ws/dev" && echo "opened a device"; }
            cat "$2/f"
            """
        func run(asRoot: Bool) throws -> CommandResult {
            var arguments = JobShell.followingNoLinks(in: folder, ["/bin/sh", "-c", script, "sh", folder, outside], root: asRoot)
            if !asRoot {
                #expect(chown(temp.path, 65534, 65534) == 0)
                _ = chown(folder, 65534, 65534)
                _ = chown(folder + "/ws", 65534, 65534)
                if getuid() == 0 { arguments = ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] + arguments }
            }
            try? FileManager.default.removeItem(atPath: folder + "/ws/made")
            try? FileManager.default.removeItem(atPath: folder + "/ws/plain")
            return try runCommandBlocking(URL(fileURLWithPath: "/usr/bin/env"), arguments)
        }
        for asRoot in getuid() == 0 ? [true, false] : [false] {
            let result = try run(asRoot: asRoot)
            let lines = result.stdout.split(separator: "\n").map(String.init)
            #expect(result.status == 0, "root: \(asRoot): \(result.stdout)\(result.stderr)")
            #expect(lines == ["made a link", "archived the link", "wrote a file", "host file"], "root: \(asRoot): \(result.stdout)\(result.stderr)")
            #expect(!FileManager.default.fileExists(atPath: outside + "/new"))
        }
        // A mount(8) that says yes and does nothing (util-linux before 2.36.1 on a bind remount,
        // a kernel before 5.10): the command does not run (review 52: it ran unprotected).
        let stubs = temp.path + "/stubs"
        try FileManager.default.createDirectory(atPath: stubs, withIntermediateDirectories: true)
        try "#!/bin/sh\nexit 0\n".write(toFile: stubs + "/mount", atomically: false, encoding: .utf8)
        chmod(stubs + "/mount", 0o755)
        let ignored = try runCommandBlocking(URL(fileURLWithPath: "/usr/bin/env"),
                                             ["PATH=\(stubs):/usr/sbin:/usr/bin:/sbin:/bin"] + JobShell.followingNoLinks(in: folder, ["/bin/echo", "ran"]))
        #expect(ignored.status == 70 && !ignored.stdout.contains("ran"), "\(ignored.stdout)\(ignored.stderr)")
        #expect(ignored.stderr.contains("NXA-ERROR cannot keep symbolic links in \(folder) from being followed: this system has no nosymfollow"), "\(ignored.stderr)")
        // Without the namespace the link is followed: what the test shows is the namespace's doing.
        let plain = try runCommandBlocking(URL(fileURLWithPath: "/bin/sh"), ["-c", script, "sh", folder, outside])
        #expect(plain.stdout.hasPrefix("host file\nread through the link\n"), "\(plain.stdout)")
    }
}
