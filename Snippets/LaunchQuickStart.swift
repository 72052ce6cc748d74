// snippet.hide
import QEMULauncher

// snippet.show
try await QEMULauncher(machine: "q35").withQEMU { qemu in
    try await qemu.client.execute("cont")
    print(try await qemu.client.execute("query-status"))
}
