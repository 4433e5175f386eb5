import Testing
@testable import NixActionsEngine

/// docs/caching.md, `paths`: a glob keeps its fixed leading folders as the root, `!` excludes,
/// `..` is refused, and so is a path that would archive the whole file system.
@Suite("Cache paths: roots, globs, exclusions")
struct CachePathsTests {
    typealias Root = CachePaths.Root

    @Test("plain folders are roots; a glob's fixed leading folders are its root and the rest what it includes")
    func roots() throws {
        #expect(try CachePaths.roots(["node_modules", "./vendor/", "~/.cache/pip", "/opt/tool"]) == [
            Root(name: "0", path: "node_modules", includes: nil, excludes: []),
            Root(name: "1", path: "vendor", includes: nil, excludes: []),
            Root(name: "2", path: "~/.cache/pip", includes: nil, excludes: []),
            Root(name: "3", path: "/opt/tool", includes: nil, excludes: []),
        ])
        #expect(try CachePaths.roots(["build/**/*.o", "build/**/*.a"]) == [
            Root(name: "0", path: "build", includes: ["**/*.o", "**/*.a"], excludes: [])
        ])
        // The whole folder and a glob under it: the whole folder.
        #expect(try CachePaths.roots(["build/*.o", "build"]) == [Root(name: "0", path: "build", includes: nil, excludes: [])])
        // A glob from the workspace itself.
        #expect(try CachePaths.roots(["*.lock"]) == [Root(name: "0", path: "", includes: ["*.lock"], excludes: [])])
        // `.` parts are no part of the name: `a/.` is `a` (review 49: a root inside `a`).
        #expect(try CachePaths.roots(["a/.", "./b/./c/"]) == [
            Root(name: "0", path: "a", includes: nil, excludes: []), Root(name: "1", path: "b/c", includes: nil, excludes: []),
        ])
    }

    @Test("a path inside another cached path is archived under it, whichever comes first (review 49: the first root's merge could put a link on the second's path)")
    func nestedRoots() throws {
        #expect(try CachePaths.roots(["a", "a/b"]) == [Root(name: "0", path: "a", includes: nil, excludes: [])])
        #expect(try CachePaths.roots(["x", "a/b", "a"]) == [
            Root(name: "0", path: "x", includes: nil, excludes: []), Root(name: "1", path: "a", includes: nil, excludes: []),
        ])
        #expect(try CachePaths.roots(["a/*.txt", "a/b", "a/c/*.o"]) == [Root(name: "0", path: "a", includes: ["*.txt", "b/**", "c/*.o"], excludes: [])])
        #expect(try CachePaths.roots(["~/.cache/pip", "~/.cache", "/opt/t"]) == [
            Root(name: "0", path: "~/.cache", includes: nil, excludes: []), Root(name: "1", path: "/opt/t", includes: nil, excludes: []),
        ])
        #expect(try CachePaths.roots(["*.lock", "vendor", "!vendor/tmp"]) == [
            Root(name: "0", path: "", includes: ["*.lock", "vendor/**"], excludes: ["vendor/tmp"]),
        ])
        #expect(CachePaths.nests(["a", "a/b"]) && !CachePaths.nests(["a", "ab", "b/a"]))
    }

    @Test("'!path' excludes under the root it is in; '..' and a root of '/' are refused")
    func exclusionsAndRefusals() throws {
        #expect(try CachePaths.roots(["build", "!build/tmp", "!other/x"]) == [
            Root(name: "0", path: "build", includes: nil, excludes: ["tmp"])
        ])
        #expect(try CachePaths.roots(["*.txt", "!notes.txt"]) == [Root(name: "0", path: "", includes: ["*.txt"], excludes: ["notes.txt"])])
        #expect(throws: EngineError.self) { try CachePaths.roots(["../outside"]) }
        #expect(throws: EngineError.self) { try CachePaths.roots(["deps/../../x"]) }
        #expect(throws: EngineError.self) { try CachePaths.roots(["/*"]) }
        #expect(throws: EngineError.self) { try CachePaths.roots(["/**/*.so"]) }
    }
}
