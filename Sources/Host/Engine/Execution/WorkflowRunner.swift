import Foundation
import NixActionsPluginMessages
import Synchronization

/// Runs a compiled workflow: schedules jobs from the ready set and runs each through its executor.
public struct WorkflowRunner: Sendable {
    public let workflow: Workflow
    public let executors: any ExecutorProvider
    public let reporter: any RunReporter
    public let options: RunOptions

    public init(workflow: Workflow, executors: any ExecutorProvider, reporter: any RunReporter, options: RunOptions) {
        self.workflow = workflow
        self.executors = executors
        self.reporter = reporter
        self.options = options
    }

    /// Run the selected jobs. Returns when every started job has been cleaned up.
    public func run() async -> RunSummary {
        let clock = ContinuousClock()
        let started = clock.now
        reporter.report(.workflowStarted(workflow: workflow.name, runID: options.runID))
        let graph = JobGraph(workflow)
        let members = graph.closure(of: options.selectedJobs)
        let order = graph.topologicalOrder(of: members)
        let instances = ExecutorCache(provider: executors, options: options)

        var results: [String: RunSummary.JobResult] = [:]
        var running: Set<String> = []
        await withTaskGroup(of: RunSummary.JobResult.self) { group in
            /// Start every job whose needs are all finished, up to the parallelism cap.
            func launchReady() {
                var progressed = true
                while progressed {
                    progressed = false
                    for id in order where results[id] == nil && !running.contains(id) {
                        let needs = graph.needs[id] ?? []
                        guard needs.allSatisfy({ results[$0] != nil }) else { continue }
                        guard let job = workflow.job(id) else { continue }
                        // Default condition success(): every job it needs succeeded.
                        if let blocker = needs.first(where: { results[$0]?.outcome != .success }) {
                            let result = RunSummary.JobResult(
                                id: id, name: job.displayName, outcome: .skipped, failure: nil, duration: .zero)
                            results[id] = result
                            reporter.report(.message(job: id, level: .info, text: "skipped: needed job '\(blocker)' did not succeed"))
                            reporter.report(.jobFinished(job: id, name: job.displayName, outcome: .skipped, duration: .zero, failure: nil))
                            progressed = true
                            continue
                        }
                        guard running.count < options.maxParallelJobs else { return }
                        running.insert(id)
                        group.addTask {
                            await JobRunner(job: job, workflow: workflow, reporter: reporter, options: options)
                                .run(instances)
                        }
                    }
                }
            }
            launchReady()
            for await result in group {
                running.remove(result.id)
                results[result.id] = result
                launchReady()
            }
        }
        await instances.destroyAll()

        let jobs = order.compactMap { results[$0] }
        let outcome: Outcome
        if jobs.contains(where: { $0.outcome == .cancelled }) || Task.isCancelled {
            outcome = .cancelled
        } else if jobs.contains(where: { $0.outcome == .failure }) {
            outcome = .failure
        } else {
            outcome = .success
        }
        reporter.report(.workflowFinished(workflow: workflow.name, outcome: outcome, duration: clock.now - started))
        return RunSummary(outcome: outcome, jobs: jobs)
    }
}

/// One executor instance per distinct executor reference in the run, made on first use.
final class ExecutorCache: Sendable {
    let provider: any ExecutorProvider
    let options: RunOptions
    private let instances = Mutex<[ExecutorReference: Result<any Executor, EngineError>]>([:])

    init(provider: any ExecutorProvider, options: RunOptions) {
        self.provider = provider
        self.options = options
    }

    func executor(for reference: ExecutorReference) -> Result<any Executor, EngineError> {
        var key = reference
        key.location = nil
        return instances.withLock { instances in
            if let existing = instances[key] { return existing }
            let configuration = ExecutorConfiguration(
                runID: options.runID, runDirectory: options.runDirectory,
                projectDirectory: options.projectDirectory, options: reference.options)
            let made: Result<any Executor, EngineError>
            do {
                made = .success(try provider.makeExecutor(pluginID: reference.pluginID, configuration: configuration))
            } catch let error as EngineError {
                made = .failure(error)
            } catch {
                made = .failure(EngineError("\(error)"))
            }
            instances[key] = made
            return made
        }
    }

    func destroyAll() async {
        instances.withLock { $0.removeAll() }
    }
}
