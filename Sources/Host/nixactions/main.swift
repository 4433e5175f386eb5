// The executable is thin: everything lives in the NixActionsCLI library, testable in process.
import Foundation
import NixActionsCLI

// SIGINT, SIGTERM and SIGHUP go to one thread of ours (blocked here, before any thread exists).
SignalHub.start()
// A closed output pipe must not kill the run before it cleans up: writes then fail with EPIPE.
signal(SIGPIPE, SIG_IGN)
exit(await CommandLineTool.main(Array(CommandLine.arguments.dropFirst())))
