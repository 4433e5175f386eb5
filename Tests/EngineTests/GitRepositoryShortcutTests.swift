import Foundation
@testable import NixActionsEngine
import Testing
import TestSupport

/// `GitRepository.read` does not start git where no work tree can be (no `.git` above).
@Suite("GitRepository: no git process outside a work tree")
struct GitRepositoryShortcutTests {
    @Test("a folder with no .git above it is not a work tree; one below a repository (also through a link) is")
    func mayBeInWorkTree() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let plain = temp.path + "/plain/deep"
        let repository = temp.path + "/repo/sub/deeper"
        try FileManager.default.createDirectory(atPath: plain, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: repository, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: temp.path + "/repo/.git", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: temp.path + "/plain/link", withDestinationPath: repository)
        // Only when the temporary folder itself is outside any repository can 'plain' say no.
        if !GitRepository.mayBeInWorkTree(temp.path, environment: [:]) {
            #expect(!GitRepository.mayBeInWorkTree(plain, environment: [:]))
            #expect(GitRepository.mayBeInWorkTree(plain, environment: ["GIT_DIR": "/elsewhere/.git"]))
        }
        #expect(GitRepository.mayBeInWorkTree(repository, environment: [:]))
        #expect(GitRepository.mayBeInWorkTree(temp.path + "/plain/link", environment: [:]), "a link into a repository is in it")
        #expect(GitRepository.read(at: plain).isRepository == false)
    }
}
