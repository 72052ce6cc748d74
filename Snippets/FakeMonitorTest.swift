// snippet.hide
import QMPClient
import QMPCore
import QMPTestSupport

/// The code under test: pauses the machine at `address` when it runs.
func pauseIfRunning(at address: QMPAddress) async throws {
    try await QMPClient.withConnection(to: address) { client in
        let status = try await client.execute("query-status")
        if status["running"] == true {
            try await client.execute("stop")
        }
    }
}

// snippet.show
// snippet.test
try await withFakeMonitor { monitor in
    monitor.expect("query-status", reply: ["running": true, "status": "running"])
    monitor.expect("stop", emitting: ["STOP"])
    try await pauseIfRunning(at: monitor.address)
}
// snippet.end
