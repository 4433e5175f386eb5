// The executable is thin: everything lives in the NixActionsCLI library, testable in process.
import Foundation
import NixActionsCLI

exit(await CommandLineTool.main(Array(CommandLine.arguments.dropFirst())))
