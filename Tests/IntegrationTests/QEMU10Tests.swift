import Foundation
import QEMULauncher
import QMPClient
import QMPCore
import Testing

@Suite("QEMU 10.0 beside the distribution's QEMU")
struct QEMU10Tests {
    @Test("it starts as the launcher's own process, and the launcher's shutdown ends it")
    func launcherOwnsTheProcess() async throws {
        let binary = try QEMU10.binary
        let pid = try await RealQEMU.with(try RealQEMURelease.qemu10.launcher()) { qemu in
            #expect(qemu.client.greeting.version?.series == "10.0")
            #if os(Linux)
            // The wrapper execs all the way down: the pid the launcher signals is QEMU's own.
            let executable = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(qemu.pid)/exe")
            #expect(executable.hasSuffix("/usr/bin/qemu-system-x86_64"))
            #expect(executable != "/usr/bin/qemu-system-x86_64", "the distribution's QEMU started instead")
            #endif
            return qemu.pid
        }
        // RealQEMU.with has checked that the process is gone; its mount namespace went with it.
        #expect(kill(pid, 0) != 0)
        #expect(FileManager.default.isExecutableFile(atPath: binary))
    }

    @Test("it loads its own modules, which the distribution's QEMU's modules would abort")
    func ownModules() async throws {
        try await RealQEMU.with(try RealQEMURelease.qemu10.launcher()) { qemu in
            // Listing every type loads every module; with 7.2's modules QEMU 10.0 aborts here.
            let types = try await qemu.client.execute("qom-list-types").arrayValue ?? []
            #expect(types.count > 100)
            #expect(qemu.isRunning)
        }
        #if os(Linux)
        // The module directory was replaced only inside QEMU's namespace, never in ours.
        let mounts = try String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)
        #expect(!mounts.contains("qemu-10.0"))
        #endif
    }
}
