import NixActionsProcessKit
import Testing

@Suite("PathText: a path's parent without Foundation's NSString (which traps on one character)")
struct PathTextTests {
    @Test("parent as NSString's deletingLastPathComponent gives it, also for a path of one character (it trapped: upload-artifact path: f crashed the run)")
    func parents() {
        let cases: [(String, String)] = [
            ("a/b", "a"), ("/a", "/"), ("a", ""), (".", ""), ("/", "/"), ("", ""), ("a/b/", "a"), ("a//b", "a"),
            ("/x/y/z", "/x/y"), ("report.txt", ""), ("dist/sub/app.txt", "dist/sub"), ("//a", "/"),
        ]
        for (path, parent) in cases {
            #expect(PathText.parent(path) == parent, "\(path.debugDescription)")
        }
    }
}
