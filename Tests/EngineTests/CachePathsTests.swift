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
