import Foundation
import NixActionsProcessKit
import Synchronization

/// Where a Nix workflow's written files (`pkgs.writeText` and friends of the stand-in pkgs) go
/// for a run: a private folder (0700; files 0600, scripts 0700) made on first use under
/// `root` (the run's TMPDIR), removed with the run (`RunCommand` hands it to the run's cleanup).
/// Audit 58 H3: they were written world-readable into the project's `.nixactions/nix-files` and
/// kept, a token in a written `.npmrc` too, by `validate` and `--dry-run` as well.
public final class NixFilesFolder: Sendable {
    let root: String
    private let made = Mutex<Result<String, EngineError>?>(nil)

    public init(root: String) { self.root = root }

    /// The folder, made on first call.
    public func folder() -> Result<String, EngineError> {
        made.withLock { made in
            if let made { return made }
            var template = Array((root + "/nixactions-nix-files-XXXXXX").utf8CString)
            let result: Result<String, EngineError>
            if template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) != nil {
                result = .success(String(cString: template))
            } else {
                result = .failure(EngineError("cannot make a folder for the workflow's written files in \(root): \(String(cString: strerror(errno)))",
                                              hint: "set TMPDIR to a folder you can write"))
            }
            made = result
            return result
        }
    }

    /// The folder, if it was made.
    public var createdPath: String? { made.withLock { if case .success(let path)? = $0 { return path } else { return nil } } }

    /// Remove the folder and what it holds (nothing when it was never made).
    public func remove() {
        if let path = createdPath { _ = FastFiles.removeTree(path) }
    }
}
