// snippet.hide
import QMPClient
import QMPProxy

// snippet.show
try await QMPClient.withConnection(to: .unixSocket(path: "/run/vm1/qmp.sock")) { monitor in
    let proxy = QMPProxy(
        upstream: monitor,
        configuration: .init(listeners: [
            .init(name: "operators", addresses: [.unixSocket(path: "/run/vm1/ops.sock")]),
            .init(name: "metrics", addresses: [.tcp(host: "127.0.0.1", port: 4444)], policy: .readOnly),
        ])
    )
    try await proxy.run()
}
