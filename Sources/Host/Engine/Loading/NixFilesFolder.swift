import Foundation
import NixActionsProcessKit
import Synchronization

/// Where a Nix workflow's written files (`pkgs.writeText` and friends of the stand-in pkgs) go
/// for a run: a `PrivateFolder` (0700, locked while this process lives; files 0600, scripts 0700)
/// made on first use under `root` (the run's TMPDIR), removed with the run (`RunCommand` also
/// hands it to the run's cleanup), and swept by the next one if this process was killed first.
/// Audit 58 H3: they were written world-readable into the project's `.nixactions/nix-files` and
/// kept, a token in a written `.npmrc` too, by `validate` and `--dry-run` as well.
public final class NixFilesFolder: Sendable {
    static let prefix = "nixactions-nix-files-"
    let root: String
    private let made = Mutex<Result<PrivateFolder, EngineError>?>(nil)

    public init(root: String) { self.root = root }

    /// The folder, made on first call.
    public func folder() -> Result<String, EngineError> {
        made.withLock { made in
            if made == nil {
                PrivateFolder.sweepDead(base: root, prefix: Self.prefix) { PrivateFolder.isMade($0, prefix: Self.prefix) }
                do {
                    made = .success(try PrivateFolder(base: root, prefix: Self.prefix))
                } catch let error as SpawnError {
                    made = .failure(EngineError("cannot make a folder for the workflow's written files in \(root): \(String(cString: strerror(error.errno)))",
                                                hint: "set TMPDIR to a folder you can write"))
                } catch {
                    made = .failure(EngineError("cannot make a folder for the workflow's written files in \(root): \(error)"))
                }
            }
            return made!.map(\.path)
        }
    }

    /// The folder, if it was made.
    public var createdPath: String? { made.withLock { if case .success(let folder)? = $0 { folder.path } else { nil } } }

    /// Remove the folder and what it holds (nothing when it was never made).
    public func remove() {
        made.withLock { if case .success(let folder)? = $0 { folder.remove() } }
    }
}
