import Synchronization

/// The ports of this machine that running jobs' services publish at a fixed number
/// (`ports: ["5432:5432"]`), shared by every local executor instance of the run. GitHub gives each
/// job a machine of its own; here jobs run side by side, so a job whose services would publish a
/// port another job's services hold waits until that job finishes, instead of failing with the
/// engine's "address already in use". Taken all at once or not at all (no two jobs each holding
/// a port the other waits for), waiters served in order; a cancelled wait ends at once.
public final class PortReservations: Sendable {
    /// One per process: every instance of an executor plugin (never unloaded) shares it.
    public static let shared = PortReservations()

    private struct Waiter {
        let id: Int
        let ports: Set<String>
        let continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var held: Set<String> = []
        var waiting: [Waiter] = []
        var nextID = 0
    }

    private let state = Mutex(State())

    /// The fixed ports of this machine that `services` publish (`8080:80` → `8080/tcp`; `80`, a
    /// port the engine chooses, none).
    public static func fixedPorts(_ services: [ContainerService]) -> Set<String> {
        var ports: Set<String> = []
        for service in services {
            for port in service.ports {
                let parts = port.split(separator: "/", maxSplits: 1)
                let fields = (parts.first ?? "").split(separator: ":", omittingEmptySubsequences: false)
                guard fields.count >= 2, let host = fields.dropLast().last, !host.isEmpty else { continue }
                ports.insert(host + "/" + (parts.count > 1 ? String(parts[1]) : "tcp"))
            }
        }
        return ports
    }

    /// Whether `ports` can be taken now (without waiting).
    public func tryReserve(_ ports: Set<String>) -> Bool {
        state.withLock { state in
            guard state.waiting.isEmpty, state.held.isDisjoint(with: ports) else { return false }
            state.held.formUnion(ports)
            return true
        }
    }

    /// Take `ports`, waiting while another job holds one of them.
    public func reserve(_ ports: Set<String>) async throws {
        guard !ports.isEmpty else { return }
        let id = state.withLock { state -> Int in
            state.nextID += 1
            return state.nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let ready = state.withLock { state -> Bool in
                    if state.waiting.isEmpty && state.held.isDisjoint(with: ports) {
                        state.held.formUnion(ports)
                        return true
                    }
                    state.waiting.append(Waiter(id: id, ports: ports, continuation: continuation))
                    return false
                }
                if ready { continuation.resume() }
                if Task.isCancelled { cancel(id) }
            }
        } onCancel: {
            cancel(id)
        }
    }

    private func cancel(_ id: Int) {
        let waiter = state.withLock { state -> Waiter? in
            guard let index = state.waiting.firstIndex(where: { $0.id == id }) else { return nil }
            return state.waiting.remove(at: index)
        }
        waiter?.continuation.resume(throwing: CancellationError())
        wake()
    }

    /// Give `ports` back; waiters whose ports are all free go, in order.
    public func release(_ ports: Set<String>) {
        guard !ports.isEmpty else { return }
        state.withLock { $0.held.subtract(ports) }
        wake()
    }

    private func wake() {
        let ready = state.withLock { state -> [Waiter] in
            var ready: [Waiter] = []
            var blocked: Set<String> = []
            state.waiting.removeAll { waiter in
                // A waiter is not overtaken by a later one that wants one of its ports.
                guard state.held.isDisjoint(with: waiter.ports), blocked.isDisjoint(with: waiter.ports) else {
                    blocked.formUnion(waiter.ports)
                    return false
                }
                state.held.formUnion(waiter.ports)
                ready.append(waiter)
                return true
            }
            return ready
        }
        for waiter in ready { waiter.continuation.resume() }
    }
}
