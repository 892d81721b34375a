package import AutoInterp
package import Foundation
import Synchronization

/// What a scripted run test starts from: a temporary folder holding the planted dataset and its
/// SAE (``ScriptedRun/writeDataset(in:contexts:length:width:seed:)``) and one ``ScriptedLLM``,
/// which answers the real-time endpoint, the batch test server and the batch files alike.
/// `remove()` stops the endpoints it started and removes the folder.
///
/// ```swift
/// let fixture = try ScriptedRunFixture(contexts: 30)
/// defer { fixture.remove() }
/// let endpoint = try fixture.endpoint()
/// let request = try fixture.request(name: "rt", neurons: "0-1", endpoint: endpoint.baseURL)
/// ```
package final class ScriptedRunFixture: Sendable {
    package let dir: TemporaryDirectory
    /// `acts.safetensors` in ``dir``.
    package let dataset: URL
    /// The planted SAE (`sae/` in ``dir``), given to requests that study features.
    package let sae: URL
    package let scripted: ScriptedLLM
    private let started = Mutex<[@Sendable () -> Void]>([])

    /// - Parameters:
    ///   - contexts: the dataset's contexts (``ScriptedRun/writeDataset(in:contexts:length:width:seed:)``'s default 80).
    ///   - logprobs: whether the scripted model serves logprobs (not on Anthropic's API).
    package init(contexts: Int = 80, logprobs: Bool = true) throws {
        let dir = try TemporaryDirectory()
        do {
            (dataset, sae) = try ScriptedRun.writeDataset(in: dir, contexts: contexts)
        } catch {
            dir.remove()
            throw error
        }
        self.dir = dir
        scripted = ScriptedLLM(logprobs: logprobs)
    }

    /// A real-time endpoint answered by the scripted model.
    package func endpoint() throws -> TestEndpoint {
        let endpoint = try TestEndpoint(TestEndpoint.Configuration(handler: scripted.handler))
        started.withLock { $0.append(endpoint.stop) }
        return endpoint
    }

    /// The batch test server, its state in `server/` of ``dir``, its lines and probes answered by the scripted model.
    package func server(_ options: BatchTestServer.Options = BatchTestServer.Options()) throws -> BatchTestServer {
        let server = try BatchTestServer(folder: dir.path("server"), options: options, handler: scripted.handler)
        started.withLock { $0.append(server.stop) }
        return server
    }

    /// ``ScriptedRun/request(name:dir:dataset:sae:features:neurons:endpoint:model:selection:)`` for
    /// `features` (of the planted SAE) and `neurons` of the dataset, its results in `results/` of ``dir``.
    package func request(name: String = "run", features: String = "none", neurons: String, endpoint: String) throws -> RunRequest {
        try ScriptedRun.request(
            name: name, dir: dir, dataset: dataset, sae: features == "none" ? nil : sae, features: features, neurons: neurons, endpoint: endpoint)
    }

    /// Stops the endpoints started here (the last first) and removes ``dir``.
    package func remove() {
        for stop in started.withLock({ $0.reversed() }) { stop() }
        dir.remove()
    }
}
