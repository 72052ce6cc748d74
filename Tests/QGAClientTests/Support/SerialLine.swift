import CQMPSystem
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A serial line between two character devices, as QEMU makes one between a guest's serial
/// port and the host's `-chardev pty`: two pseudo-terminals whose master sides the line joins,
/// so that each end is a terminal opened by path (`/dev/pts/N`), the agent's and the client's.
/// The test holds both terminal ends open too, so that an end opened and closed by the agent
/// or the client never leaves the line hung up.
final class SerialLine: Sendable {
    /// Where the agent opens its port.
    let agentEnd: String
    /// Where the client opens its device.
    let clientEnd: String

    private init(agentEnd: String, clientEnd: String) {
        self.agentEnd = agentEnd
        self.clientEnd = clientEnd
    }

    /// Makes the line, runs `body`, and takes the line down, also when `body` throws.
    static func with<Result>(_ body: (SerialLine) async throws -> Result) async throws -> Result {
        let agent = try PseudoTerminal()
        let client = try PseudoTerminal()
        defer {
            closeDescriptor(agent.terminal)
            closeDescriptor(client.terminal)
        }
        let eventLoop = MultiThreadedEventLoopGroup.singleton.next()
        func open(_ master: CInt) async throws -> any Channel {
            try await NIOPipeBootstrap(group: eventLoop)
                .channelOption(.autoRead, value: false)
                .takingOwnershipOfDescriptor(inputOutput: master)
                .get()
        }
        let agentSide = try await open(agent.master)
        let clientSide = try await open(client.master)
        try await eventLoop.submit {
            try agentSide.pipeline.syncOperations.addHandler(Splice(to: clientSide))
            try clientSide.pipeline.syncOperations.addHandler(Splice(to: agentSide))
            for side in [agentSide, clientSide] {
                try side.syncOptions?.setOption(.autoRead, value: true)
                side.read()
            }
        }.get()
        let line = SerialLine(agentEnd: agent.terminalPath, clientEnd: client.terminalPath)
        do {
            let result = try await body(line)
            try? await agentSide.close()
            try? await clientSide.close()
            return result
        } catch {
            try? await agentSide.close()
            try? await clientSide.close()
            throw error
        }
    }

    /// Writes what one master reads to the other.
    private final class Splice: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let partner: any Channel

        init(to partner: any Channel) { self.partner = partner }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            partner.writeAndFlush(unwrapInboundIn(data), promise: nil)
        }
    }
}

/// A pseudo-terminal pair in raw mode: the master's descriptor, and the terminal's path and
/// an open descriptor of it.
struct PseudoTerminal {
    let master: CInt
    let terminal: CInt
    let terminalPath: String

    init() throws {
        var name = [CChar](repeating: 0, count: 128)
        let master = cqmp_open_pseudo_terminal(&name, name.count)
        guard master >= 0 else { throw SetupError("could not open a pseudo-terminal: errno \(-master)") }
        let path = String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let terminal = open(path, O_RDWR | O_NOCTTY)
        guard terminal >= 0 else {
            closeDescriptor(master)
            throw SetupError("could not open \(path): errno \(errno)")
        }
        // Raw before anyone writes: a default line discipline would echo the agent's replies.
        var settings = termios()
        tcgetattr(terminal, &settings)
        cfmakeraw(&settings)
        tcsetattr(terminal, TCSANOW, &settings)
        self.master = master
        self.terminal = terminal
        self.terminalPath = path
    }
}

/// `close(2)`, under a name no type member shadows.
private func closeDescriptor(_ descriptor: CInt) {
    _ = close(descriptor)
}

extension RealGuestAgent {
    /// Starts an agent on the serial port at `device` (`qemu-ga -m isa-serial`) with a private
    /// directory of its own, runs `body`, and ends the agent by its pid, also when `body` throws.
    static func onSerialPort<Result>(_ device: String, _ body: () async throws -> Result) async throws -> Result {
        let binary = try binary()
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("swift-qmp-qga-serial-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = [
            "-m", "isa-serial", "-p", device, "-t", directory.path,
            "-f", directory.appendingPathComponent("qga.pid").path,
            "-l", directory.appendingPathComponent("qga.log").path,
            "-b", blockedCommands.joined(separator: ","),
        ]
        try process.run()
        defer {
            // SIGKILL, as RealGuestAgent.with explains.
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        return try await body()
    }
}
