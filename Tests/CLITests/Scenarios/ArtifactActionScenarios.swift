import Foundation
import Testing
import TestSupport

@Suite("Scenarios: upload-artifact and download-artifact with GitHub's inputs and layout")
struct ArtifactActionScenarios {
    @Test("--keep-artifacts keeps every artifact of the run next to its logs (<log folder>/artifacts/NAME), says where in one line; without it nothing is kept (audit 57 UX M7)")
    func keepArtifacts() async throws {
        let scenario = try Scenario()
        defer { scenario.remove() }
        let workflow = """
            jobs:
              build:
                steps:
                  - run: mkdir -p dist/sub && echo app > dist/app.txt && echo deep > dist/sub/d.txt
                  - uses: actions/upload-artifact@v4
                    with: { name: dist, path: dist/ }
              test:
                needs: build
                steps:
                  - run: echo passed > report.txt
                  - uses: actions/upload-artifact@v4
                    with: { name: test report, path: report.txt }
            """
        let kept = try await scenario.run(workflow, ["--log-format", "plain", "--keep-artifacts"])
        #expect(kept.status == 0, "\(kept.stdout)\n\(kept.stderr)")
        let runs = try FileManager.default.contentsOfDirectory(atPath: scenario.logs)
        let folder = scenario.logs + "/" + (runs.first ?? "") + "/artifacts"
        #expect(kept.stdout.contains("2 artifacts kept in \(folder)\n"), "\(kept.stdout)")
        #expect(try String(contentsOfFile: folder + "/dist/app.txt", encoding: .utf8) == "app\n")
        #expect(try String(contentsOfFile: folder + "/dist/sub/d.txt", encoding: .utf8) == "deep\n")
        #expect(try String(contentsOfFile: folder + "/test report/report.txt", encoding: .utf8) == "passed\n")
        // Private whatever the umask (audit 66 hardening M1: the copies were 0755/0644).
        var info = stat()
        #expect(stat(folder, &info) == 0 && info.st_mode & 0o777 == 0o700, "\(String(info.st_mode & 0o777, radix: 8))")
        let plain = try await scenario.run(workflow, ["--log-format", "plain"])
        #expect(plain.status == 0 && !plain.stdout.contains("kept in"), "\(plain.stdout)\(plain.stderr)")
        let second = try FileManager.default.contentsOfDirectory(atPath: scenario.logs).filter { !runs.contains($0) }
        #expect(second.count == 1 && !FileManager.default.fileExists(atPath: scenario.logs + "/" + second[0] + "/artifacts"), "\(second)")
    }

    @Test("retention-days and compression-level as upload-artifact reads them (parseInt): a number passes, `7 days` is 7, a word or a level outside 0-9 fails the step after the upload, as setFailed does")
    func numericInputs() async throws {
        let scenario = try Scenario()
        defer { scenario.remove() }
        let result = try await scenario.run("""
            jobs:
              build:
                steps:
                  - run: echo hi > f.txt
                  - uses: actions/upload-artifact@v4
                    with: { name: fine, path: f.txt, retention-days: "7 days", compression-level: 9 }
                  - id: words
                    uses: actions/upload-artifact@v4
                    continue-on-error: true
                    with: { name: words, path: f.txt, retention-days: a week }
                  - id: level
                    uses: actions/upload-artifact@v4
                    continue-on-error: true
                    with: { name: level, path: f.txt, compression-level: 10 }
                  - run: echo "words=${{ steps.words.outcome }} level=${{ steps.level.outcome }}"
              later:
                needs: build
                steps:
                  - uses: actions/download-artifact@v4
                    with: { path: all }
                  - run: ls all
            """)
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        let out = result.stdout
        #expect(out.contains("upload-artifact: Invalid retention-days 'a week'"), "\(out)")
        #expect(out.contains("upload-artifact: Invalid compression-level '10'. Valid values are 0-9"), "\(out)")
        #expect(out.contains("[build] words=failure level=failure\n"), "\(out)")
        // Uploaded all the same, as setFailed does not stop upload-artifact (review 52).
        #expect(out.contains("[later] fine\n") && out.contains("[later] words\n") && out.contains("[later] level\n"), "\(out)")
    }

    @Test("a link to a folder inside the workspace is followed by upload-artifact, as GitHub's glob follows it: dist -> build/out uploads build/out's files (audit 51: no files were found, a green step); a link loop ends; hashFiles does not follow it")
    func linkedFolders() async throws {
        let scenario = try Scenario()
        defer { scenario.remove() }
        let result = try await scenario.run("""
            jobs:
              up:
                steps:
                  - run: mkdir -p build/out/sub && echo app > build/out/app.txt && echo deep > build/out/sub/x.txt && ln -s build/out dist && ln -s .. build/out/sub/loop
                  - uses: actions/upload-artifact@v4
                    with: { name: dist, path: dist/, if-no-files-found: error }
                  - run: echo "hash=${{ hashFiles('dist/**') != '' }}"
              down:
                needs: up
                steps:
                  - uses: actions/download-artifact@v4
                    with: { name: dist, path: got }
                  - run: find got -type f | sort | sed 's/^/got /'
            """)
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        let lines = outputLines(result.stdout)
        // hashFiles does not follow a linked folder, as GitHub's does not by default (audit 52).
        #expect(lines.contains("[up] hash=false"), "\(result.stdout)")
        let got = lines.filter { $0.hasPrefix("[down] got ") }
        #expect(got.first == "[down] got got/app.txt" && got.contains("[down] got got/sub/x.txt"), "\(result.stdout)")
    }

    @Test("a path that matches nothing: a warning and success by default, an error with if-no-files-found: error, silence with ignore")
    func nothingFound() async throws {
        let scenario = try Scenario()
        defer { scenario.remove() }
        let result = try await scenario.run("""
            jobs:
              build:
                steps:
                  - name: Upload nothing
                    uses: actions/upload-artifact@v4
                    with: { name: none, path: missing/ }
                  - name: Upload nothing quietly
                    uses: actions/upload-artifact@v4
                    with: { name: none, path: "gone/*.txt", if-no-files-found: ignore }
                  - run: echo "still running"
                  - name: Upload nothing strictly
                    uses: actions/upload-artifact@v4
                    with: { name: none, path: missing/, if-no-files-found: error }
                  - run: echo must-not-run
              later:
                needs: build
                if: always()
                steps:
                  - uses: actions/download-artifact@v4
                    with: { name: none }
            """)
        #expect(result.status == 1, "\(result.stdout)\n\(result.stderr)")
        let out = result.stdout
        #expect(out.contains("[build] warning: No files were found with the provided path: missing/. No artifacts will be uploaded.\n"), "\(out)")
        #expect(!out.contains("warning: No files were found with the provided path: gone/*.txt"))
        #expect(out.contains("[build] still running\n"))
        #expect(out.contains("step 'Upload nothing strictly': upload-artifact 'none': No files were found with the provided path: missing/."), "\(out)")
        #expect(!out.contains("] must-not-run"))
        // Nothing was uploaded under that name.
        #expect(out.contains("Artifact not found for name: none"), "\(out)")
        #expect(out.contains("no artifact was uploaded yet"), "\(out)")
    }

    @Test("an artifact name with / : * ? \\ or a line break is refused, as on GitHub (here 'a/b' and 'a-b' would also share a folder)")
    func invalidNames() async throws {
        let scenario = try Scenario()
        defer { scenario.remove() }
        let result = try await scenario.run("""
            jobs:
              build:
                steps:
                  - run: echo hi > f.txt
                  - uses: actions/upload-artifact@v4
                    with: { name: a-b, path: f.txt }
                  - uses: actions/upload-artifact@v4
                    with: { name: "../../up/a/b", path: f.txt }
                    continue-on-error: true
                  - uses: actions/upload-artifact@v4
                    with: { name: "c:d*e?", path: f.txt }
                    continue-on-error: true
                  - uses: actions/download-artifact@v4
                    with: { name: a-b, path: got }
                  - run: ls got
            """)
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        let out = result.stdout
        #expect(out.contains("artifact name '../../up/a/b' is not valid: it contains forward slash /"), "\(out)")
        #expect(out.contains("artifact name 'c:d*e?' is not valid: it contains colon :, asterisk *, question mark ?"), "\(out)")
        #expect(out.contains("hint: as on GitHub, an artifact name may not contain \" : < > | * ? \\r \\n \\ /"), "\(out)")
        #expect(out.contains("[build] f.txt\n"), "\(out)")
    }

    @Test("glob and multi-line paths with ! exclusions; the root is the least common ancestor of the search paths")
    func globsAndRoots() async throws {
        let scenario = try Scenario()
        defer { scenario.remove() }
        let result = try await scenario.run("""
            jobs:
              build:
                steps:
                  - run: |
                      mkdir -p out/linux out/mac/deep logs
                      echo l > out/linux/app; echo m > out/mac/deep/app; echo t > out/linux/app.tmp
                      echo log > logs/build.log; echo h > out/.hidden
                  - uses: actions/upload-artifact@v4
                    with:
                      name: bins
                      path: |
                        out/**/app*
                        !out/**/*.tmp
                  - uses: actions/upload-artifact@v4
                    with:
                      name: mixed
                      path: |
                        out/linux/
                        logs/build.log
                  - uses: actions/upload-artifact@v4
                    with: { name: folder, path: out }
                  - uses: actions/upload-artifact@v4
                    with: { name: one, path: logs/build.log }
              use:
                needs: build
                steps:
                  - uses: actions/download-artifact@v4
                    with: { name: bins, path: bins }
                  - uses: actions/download-artifact@v4
                    with: { name: mixed, path: mixed }
                  - uses: actions/download-artifact@v4
                    with: { name: folder, path: folder }
                  - uses: actions/download-artifact@v4
                    with: { name: one }
                  - run: find bins mixed folder build.log -type f | sort | sed 's/^/got /'
            """)
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        let got = outputLines(result.stdout).filter { $0.hasPrefix("[use] got ") }.map { String($0.dropFirst("[use] got ".count)) }
        #expect(got.sorted() == [
            "bins/linux/app", "bins/mac/deep/app",  // root: out, the part before the first wildcard; the .tmp is excluded
            "build.log",  // a single file: stored from the folder that holds it
            "folder/linux/app", "folder/linux/app.tmp", "folder/mac/deep/app",  // a folder: its contents; out/.hidden is left out
            "mixed/logs/build.log", "mixed/out/linux/app", "mixed/out/linux/app.tmp",  // out/linux and logs: the workspace is their ancestor
        ], "\(got)\n\(result.stdout)")
        #expect(got.contains("mixed/out/linux/app"), "the least common ancestor of out/linux and logs is the workspace: \(got)")
        #expect(result.stdout.contains("[build] uploaded artifact 'bins': out/**/app*, !out/**/*.tmp (2 files)\n"))
    }

    @Test("upload-artifact's outputs (artifact-id, artifact-digest) and download-artifact's artifact-ids and download-path; an input neither declares is a warning (audit 51 M5: ids downloaded everything)")
    func outputsAndIDs() async throws {
        let scenario = try Scenario()
        defer { scenario.remove() }
        let result = try await scenario.run("""
            jobs:
              up:
                outputs:
                  a: ${{ steps.a.outputs.artifact-id }}
                  b: ${{ steps.b.outputs.artifact-id }}
                steps:
                  - run: mkdir -p x y && echo one > x/f && echo one > y/f && echo two > y/g
                  - id: a
                    uses: actions/upload-artifact@v4
                    with: { name: first, path: x/, bogus-input: 1 }
                  - id: b
                    uses: actions/upload-artifact@v4
                    with: { name: second, path: y/ }
                  - id: same
                    uses: actions/upload-artifact@v4
                    with: { name: third, path: x/ }
                  - uses: actions/upload-artifact@v4
                    with: { name: other, path: x/ }
                  - run: |
                      echo "id=${{ steps.a.outputs.artifact-id }} url=[${{ steps.a.outputs.artifact-url }}]"
                      echo "digest=${{ steps.a.outputs.artifact-digest }}"
                      echo "same=${{ steps.a.outputs.artifact-digest == steps.same.outputs.artifact-digest }} differs=${{ steps.a.outputs.artifact-digest != steps.b.outputs.artifact-digest }}"
              down:
                needs: up
                steps:
                  - id: ids
                    uses: actions/download-artifact@v4
                    with: { artifact-ids: "${{ needs.up.outputs.a }}, ${{ needs.up.outputs.b }},7", path: got }
                  - run: |
                      find got -type f | sort | sed 's/^/got /'
                      echo "path=${{ steps.ids.outputs.download-path }}" | sed "s|$GITHUB_WORKSPACE|WS|"
                  - uses: actions/download-artifact@v5
                    with: { artifact-ids: "${{ needs.up.outputs.a }}", path: v5 }
                  - run: find v5 -type f | sed 's/^/v5 /'
                  - id: both
                    uses: actions/download-artifact@v4
                    continue-on-error: true
                    with: { name: first, artifact-ids: "${{ needs.up.outputs.a }}" }
                  - id: none
                    uses: actions/download-artifact@v4
                    continue-on-error: true
                    with: { artifact-ids: "7" }
                  - id: word
                    uses: actions/download-artifact@v4
                    continue-on-error: true
                    with: { artifact-ids: "seven" }
            """)
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        let out = result.stdout, lines = outputLines(out)
        #expect(result.stderr.contains("actions/upload-artifact declares no input 'bogus-input'"), "\(result.stderr)")
        let id = lines.first { $0.hasPrefix("[up] id=") }.map { String($0.dropFirst("[up] id=".count)) } ?? ""
        #expect(id.hasSuffix(" url=[]") && Int(id.dropLast(" url=[]".count)).map { $0 > 0 } == true, "\(out)")
        let digest = lines.first { $0.hasPrefix("[up] digest=") }.map { String($0.dropFirst("[up] digest=".count)) } ?? ""
        #expect(digest.count == 64 && digest.allSatisfy(\.isHexDigit), "\(out)")
        #expect(lines.contains("[up] same=true differs=true"), "\(out)")
        let got = lines.filter { $0.hasPrefix("[down] got ") }
        #expect(got == ["[down] got got/first/f", "[down] got got/second/f", "[down] got got/second/g"], "\(out)")
        #expect(lines.contains("[down] path=WS/got"), "\(out)")
        // v5 and later: a single artifact chosen goes into path itself, as by name.
        #expect(lines.contains("[down] v5 v5/f"), "\(out)")
        #expect(out.contains("Could not find the following artifact IDs: 7"), "\(out)")
        #expect(out.contains("Inputs 'name' and 'artifact-ids' cannot be used together"), "\(out)")
        #expect(out.contains("None of the provided artifact IDs were found"), "\(out)")
        #expect(out.contains("Invalid artifact ID: 'seven'. Must be a number."), "\(out)")
    }

    @Test("download-artifact: pattern over artifact names, each in its own folder, or merged with merge-multiple; no name and no pattern: all")
    func patternAndMerge() async throws {
        let scenario = try Scenario()
        defer { scenario.remove() }
        let result = try await scenario.run("""
            jobs:
              build:
                strategy:
                  matrix:
                    os: [linux, mac]
                steps:
                  - run: mkdir -p dist/bin && echo "${{ matrix.os }}" > dist/bin/app-${{ matrix.os }}
                  - uses: actions/upload-artifact@v4
                    with: { name: "dist-${{ matrix.os }}", path: dist/ }
              docs:
                steps:
                  - run: echo d > manual.txt
                  - uses: actions/upload-artifact@v4
                    with: { name: manual, path: manual.txt }
              use:
                needs: [build, docs]
                steps:
                  - uses: actions/download-artifact@v4
                    with: { pattern: "dist-*", path: separate }
                  - uses: actions/download-artifact@v4
                    with: { pattern: "dist-*", path: merged, merge-multiple: true }
                  - uses: actions/download-artifact@v4
                    with: { path: everything }
                  - uses: actions/download-artifact@v4
                    with: { pattern: "nothing-*" }
                  - run: find separate merged everything -type f | sort | sed 's/^/got /'
            """)
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        let got = outputLines(result.stdout).filter { $0.hasPrefix("[use] got ") }.map { String($0.dropFirst("[use] got ".count)) }
        #expect(got.sorted() == [
            "everything/dist-linux/bin/app-linux", "everything/dist-mac/bin/app-mac", "everything/manual/manual.txt",
            "merged/bin/app-linux", "merged/bin/app-mac",  // the two bin/ folders merged, not the second replacing the first
            "separate/dist-linux/bin/app-linux", "separate/dist-mac/bin/app-mac",
        ], "\(got)\n\(result.stdout)")
        #expect(result.stdout.contains("[use] downloaded artifact 'dist-linux' to 'separate/dist-linux'\n"))
        #expect(result.stdout.contains("[use] no artifacts match 'nothing-*'\n"))
    }
}
