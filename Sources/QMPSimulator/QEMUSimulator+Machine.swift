import QMPCore
import QMPServer

/// The machine itself: its type, its CPUs, its buses and the devices on them.
///
/// Two machines are modelled. `none` has no buses and no CPUs. `pc` is what QEMU 7.2 builds for
/// `-machine pc -nodefaults` (the i440FX machine `pc-i440fx-7.2`). The i440FX machine was chosen
/// over q35 because with `-nodefaults` it has fewer built-in devices (host bridge, PIIX3 with
/// IDE and ACPI), while still having everything a management layer drives at run time: a
/// hot-pluggable PCI bus, CPU hot-plug and ACPI. Devices hot-plugged on its PCI bus need the
/// guest to let go of them, and there is no guest, so their `device_del` stays pending for ever,
/// as in QEMU; devices on a USB bus (a `qemu-xhci` controller) are unplugged at once, with
/// `DEVICE_DELETED`.
extension QEMUSimulator {
    /// The machine types the simulator models.
    public enum MachineType: String, Sendable {
        case none
        case pc
    }

    /// A `-device` given on the command line.
    public struct DeviceSpecification: Sendable, Hashable {
        /// The device's driver, e.g. `usb-kbd`.
        public var driver: String
        /// Its properties, e.g. `id`.
        public var properties: [String: String]

        /// A device of `driver` with `properties`.
        public init(driver: String, properties: [String: String] = [:]) {
            self.driver = driver
            self.properties = properties
        }
    }

    /// A command line the simulator cannot model.
    public struct UnsupportedCommandLine: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    /// The USB devices the simulator can plug: full-speed HID devices, unplugged at once.
    static let usbDevices: [String: [String]] = [
        "usb-kbd": ["pcap", "port", "msos-desc", "serial", "usb_version", "display", "attached"],
        "usb-mouse": ["pcap", "port", "msos-desc", "serial", "usb_version", "attached"],
        "usb-tablet": ["pcap", "port", "msos-desc", "serial", "usb_version", "display", "head", "attached"],
    ]
    /// Ports of a `qemu-xhci` (p2=4, p3=4) that take USB 1 and 2 devices.
    static let xhciFullSpeedPorts = 1...4
    static let cpuType = "qemu64-x86_64-cpu"
    static let pcMachineType = "pc-i440fx-7.2-machine"

    /// A device on the simulated machine.
    struct Device: Sendable {
        var id: String?
        /// Index under /machine/peripheral-anon when there is no id.
        var anonymousIndex: Int?
        var driver: String
        /// The bus's name (`pci.0`, `usb.0`); nil for CPUs.
        var bus: String?
        var hotplugged: Bool
        var unplugPending = false
        var pciSlot: Int?
        var usbPort: Int?
        /// Whether `port` was given (QEMU then reports it; otherwise `port` reads "").
        var portGiven = false
        /// The `child[N]` index on its bus.
        var busChildIndex: Int?
        var coreID: Int?

        var qomPath: String {
            if let id { return "/machine/peripheral/\(id)" }
            return "/machine/peripheral-anon/device[\(anonymousIndex ?? 0)]"
        }
        /// The USB bus a controller provides.
        var providedBus: String? {
            guard driver == "qemu-xhci", let id else { return nil }
            return "\(id).0"
        }
    }

    /// A bus that devices go on.
    struct Bus {
        var name: String
        /// QEMU's bus type name, as its messages say it (`PCI`, `ISA`, `usb-bus`).
        var type: String
        var path: String
        var hotpluggable: Bool
    }

    /// The bus type a device type needs, from its QOM ancestry.
    static func busType(ofDevice driver: String) -> String? {
        var current: String? = driver
        while let name = current {
            switch name {
            case "pci-device": return "PCI"
            case "usb-device": return "usb-bus"
            case "isa-device": return "ISA"
            case "virtio-serial-port": return "virtio-serial-bus"
            case "scsi-device": return "SCSI"
            case "ide-device": return "IDE"
            case "virtio-device": return "virtio-bus"
            case "hda-codec": return "HDA"
            case "ccid-card": return "ccid-bus"
            default: current = deviceTypeParents[name]
            }
        }
        return nil
    }

    static let deviceTypeParents: [String: String] = Dictionary(
        QEMU72MachineData.deviceTypes.map { ($0.name, $0.parent) },
        uniquingKeysWith: { first, _ in first }
    )
    static let abstractDeviceTypes: Set<String> = Set(QEMU72MachineData.deviceTypes.filter(\.abstract).map(\.name))

    static func isCPUType(_ driver: String) -> Bool {
        var current: String? = driver
        while let name = current {
            if name == "x86_64-cpu" { return true }
            current = deviceTypeParents[name]
        }
        return false
    }

    /// The buses of the machine as it is now.
    static func buses(of machine: Machine) -> [Bus] {
        guard machine.type == .pc else { return [] }
        var buses = [
            Bus(name: "pci.0", type: "PCI", path: "/machine/i440fx/pci.0", hotpluggable: true),
            Bus(name: "isa.0", type: "ISA", path: "/machine/unattached/device[3]/isa.0", hotpluggable: false),
        ]
        for device in machine.devices {
            if let bus = device.providedBus {
                buses.append(Bus(name: bus, type: "usb-bus", path: "\(device.qomPath)/\(bus)", hotpluggable: true))
            }
        }
        return buses
    }

    /// The machine state a configuration starts with: boot CPUs and cold-plugged devices.
    static func initialMachine(_ configuration: Configuration) -> Machine {
        var machine = Machine(runState: configuration.startPaused ? .prelaunch : .running)
        machine.type = configuration.machine
        guard configuration.machine == .pc else { return machine }
        // pc creates /objects as it builds the machine.
        machine.hasObjectsContainer = true
        machine.bootCPUs = max(1, configuration.cpus)
        machine.maxCPUs = max(machine.bootCPUs, configuration.maxCPUs)
        for specification in configuration.devices {
            var properties = specification.properties
            let id = properties.removeValue(forKey: "id")
            let bus = properties.removeValue(forKey: "bus")
            // The command line was checked when it was applied; a device it names plugs.
            let given = JSONObject(properties.map { ($0.key, JSONValue.string($0.value)) })
            _ = try? addDevice(
                driver: specification.driver,
                bus: bus,
                id: id,
                properties: given,
                to: &machine,
                hotplug: false
            )
        }
        return machine
    }

    // MARK: - device_add and device_del

    /// Plugs a device as `device_add` (or `-device`) does, with QEMU 7.2's checks in its order.
    /// `properties` are the device's own (`port`, `core-id`, …), which QEMU reads with the
    /// device's property setters rather than the schema.
    static func addDevice(
        driver: String,
        bus busName: String?,
        id: String?,
        properties arguments: JSONObject,
        to machine: inout Machine,
        hotplug: Bool
    ) throws(QMPErrorBody) {
        guard deviceTypeParents[driver] != nil else { throw failure("'\(driver)' is not a valid device model name") }
        guard !abstractDeviceTypes.contains(driver) else {
            throw failure("Parameter 'driver' expects a non-abstract device type")
        }
        // The bus: named, or the first of the type the device needs.
        var bus: Bus?
        let buses = Self.buses(of: machine)
        let neededType = busType(ofDevice: driver)
        if let name = busName {
            guard let named = buses.first(where: { $0.name == name }) else { throw failure("Bus '\(name)' not found") }
            guard let neededType, neededType == named.type else {
                throw failure("Device '\(driver)' can't go on \(named.type) bus")
            }
            bus = named
        } else if let neededType {
            guard let first = buses.first(where: { $0.type == neededType }) else {
                throw failure("No '\(neededType)' bus found for device '\(driver)'")
            }
            bus = first
        }
        if hotplug, let bus, !bus.hotpluggable {
            throw failure("Bus '\(bus.name)' does not support hotplugging")
        }
        let isCPU = isCPUType(driver)
        guard machine.type == .pc, driver == "qemu-xhci" || usbDevices[driver] != nil || isCPU else {
            throw failure("the simulated QEMU cannot create '\(driver)' devices")
        }
        if let id, machine.devices.contains(where: { $0.id == id }) {
            throw failure("Duplicate device ID '\(id)'")
        }
        // Properties: the device's own, and the ones every device takes.
        let common: Set<String> = ["driver", "id", "bus"]
        let own: Set<String> =
            isCPU
            ? []
            : driver == "qemu-xhci"
                ? [
                    "p2", "p3", "streams", "addr", "multifunction", "romfile", "rombar", "failover_pair_id",
                    "acpi-index", "x-pcie-lnksta-dllla", "x-pcie-extcap-init",
                ]
                : Set(usbDevices[driver] ?? [])
        if !isCPU {
            for key in arguments.keys.sorted() where !common.contains(key) && !own.contains(key) {
                throw failure("Property '\(driver).\(key)' not found")
            }
        }

        var device = Device(id: id, anonymousIndex: nil, driver: driver, bus: bus?.name, hotplugged: hotplug)
        if isCPU {
            device.coreID = try checkCPU(driver, arguments, machine)
        } else if driver == "qemu-xhci" {
            let used = Set(machine.devices.compactMap(\.pciSlot)).union([0, 1])
            guard let slot = (2...31).first(where: { !used.contains($0) }) else {
                throw failure("PCI: no slot/function available for qemu-xhci, all in use or reserved")
            }
            device.pciSlot = slot
        } else if let bus {
            let used = Set(machine.devices.filter { $0.bus == bus.name }.compactMap(\.usbPort))
            if let port = arguments["port"] {
                let text = port.stringValue ?? port.serialized()
                guard let number = Int(text), xhciFullSpeedPorts.contains(number), !used.contains(number) else {
                    throw failure("usb port \(text) (bus \(bus.name)) not found (in use?)")
                }
                device.usbPort = number
                device.portGiven = true
            } else {
                guard let free = xhciFullSpeedPorts.first(where: { !used.contains($0) }) else {
                    // QEMU would chain a usb-hub here; the simulator does not model hubs.
                    throw failure(
                        "the simulated QEMU models \(xhciFullSpeedPorts.count) USB ports per qemu-xhci and no hubs"
                    )
                }
                device.usbPort = free
            }
            let counter = machine.busChildCounters[bus.name, default: 0]
            device.busChildIndex = counter
            machine.busChildCounters[bus.name] = counter + 1
        }
        if id == nil {
            // QEMU numbers anonymous devices with a counter that never goes back.
            device.anonymousIndex = machine.anonymousDeviceCount
            machine.anonymousDeviceCount += 1
        }
        machine.devices.append(device)
    }

    /// pc's CPU hot-plug checks (the machine's pre-plug step): the type, then socket, core and
    /// thread ids against the topology (one socket of `maxcpus` cores, one thread each, as
    /// QEMU 7.2 lays out `-smp N,maxcpus=M`), then whether that CPU exists. Returns the core id.
    static func checkCPU(_ driver: String, _ arguments: JSONObject, _ machine: Machine) throws(QMPErrorBody) -> Int {
        guard driver == cpuType else { throw failure("Invalid CPU type, expected cpu type: '\(cpuType)'") }
        let limits: [(name: String, label: String, maximum: Int)] = [
            ("socket-id", "socket", 0), ("die-id", "die", 0), ("core-id", "core", machine.maxCPUs - 1),
            ("thread-id", "thread", 0),
        ]
        var values: [String: Int] = [:]
        for limit in limits {
            guard let value = arguments[limit.name]?.int64Value.map(Int.init) else {
                if limit.name == "die-id" {
                    values[limit.name] = 0
                    continue
                }
                throw failure("CPU \(limit.name) is not set")
            }
            guard value >= 0, value <= limit.maximum else {
                throw failure("Invalid CPU \(limit.name): \(value) must be in range 0:\(limit.maximum)")
            }
            values[limit.name] = value
        }
        let core = values["core-id"] ?? 0
        if core < machine.bootCPUs || machine.devices.contains(where: { $0.coreID == core }) {
            throw failure("CPU[\(core)] with APIC ID \(core) exists")
        }
        return core
    }

    /// Unplugs as `device_del` does: USB devices go at once with DEVICE_DELETED; a PCI device
    /// waits for a guest that never answers; pc's CPUs cannot be unplugged before the guest
    /// switched ACPI CPU hot-plug to its modern interface.
    static func deleteDevice(_ name: String, in machine: inout Machine) throws(QMPErrorBody) -> Event.DeviceDeleted? {
        let found = machine.devices.firstIndex { device in
            name.hasPrefix("/") ? device.qomPath == name : device.id == name
        }
        guard let index = found else {
            throw failure("Device '\(name)' not found", QMPError.ErrorClass.deviceNotFound)
        }
        let device = machine.devices[index]
        if device.coreID != nil {
            throw failure("acpi: device unplug request for not supported device type: \(device.driver)")
        }
        if device.pciSlot != nil {
            guard !device.unplugPending else {
                throw failure("Device \(device.id ?? "") is already in the process of unplug")
            }
            machine.devices[index].unplugPending = true
            return nil
        }
        machine.devices.remove(at: index)
        return Event.DeviceDeleted(device: device.id, path: device.qomPath)
    }

    // MARK: - What the machine shows

    static func cpuList(_ machine: Machine) -> [(core: Int, qomPath: String)] {
        guard machine.type == .pc else { return [] }
        // The first CPU is the first thing pc creates; the others follow one later.
        var list = (0..<machine.bootCPUs).map {
            (core: $0, qomPath: "/machine/unattached/device[\($0 == 0 ? 0 : $0 + 1)]")
        }
        list += machine.devices.compactMap { device in device.coreID.map { (core: $0, qomPath: device.qomPath) } }
        return list.sorted { $0.core < $1.core }
    }

    /// A CPU's place in pc's topology (QEMU's `CpuInstanceProperties`).
    static func cpuProperties(_ core: Int) -> JSONValue {
        ["socket-id": 0, "core-id": .int(Int64(core)), "thread-id": 0]
    }

    static func queryCPUsFast(_ machine: Machine) -> JSONValue {
        .array(
            cpuList(machine).map { cpu in
                [
                    "cpu-index": .int(Int64(cpu.core)), "qom-path": .string(cpu.qomPath),
                    "thread-id": .int(Int64(4000 + cpu.core)), "props": cpuProperties(cpu.core), "target": "x86_64",
                ]
            }
        )
    }

    static func queryHotpluggableCPUs(_ machine: Machine) throws(QMPErrorBody) -> JSONValue {
        guard machine.type == .pc else { throw failure("The feature 'query-hotpluggable-cpus' is not enabled") }
        let present = Dictionary(
            cpuList(machine).map { ($0.core, $0.qomPath) },
            uniquingKeysWith: { first, _ in first }
        )
        return .array(
            (0..<machine.maxCPUs).reversed().map { core in
                var cpu: JSONObject = ["type": .string(cpuType), "vcpus-count": 1, "props": cpuProperties(core)]
                cpu.set("qom-path", present[core])
                return .object(cpu)
            }
        )
    }

    /// `query-pci`: pc's built-in functions on bus 0, then the PCI devices plugged since, with
    /// BARs unassigned (no firmware has run).
    static func queryPCI(_ machine: Machine) -> JSONValue {
        guard machine.type == .pc else { return [] }
        func function(
            _ slot: Int,
            _ function: Int,
            _ classCode: Int,
            _ description: String,
            vendor: Int,
            device: Int,
            qdevID: String = "",
            irqPin: Int = 0,
            regions: [JSONValue] = []
        ) -> JSONValue {
            var entry: JSONObject = [
                "irq_pin": .int(Int64(irqPin)), "bus": 0, "qdev_id": .string(qdevID), "slot": .int(Int64(slot)),
                "class_info": ["class": .int(Int64(classCode)), "desc": .string(description)],
                "id": [
                    "device": .int(Int64(device)), "subsystem-vendor": 6900, "vendor": .int(Int64(vendor)),
                    "subsystem": 4352,
                ],
                "function": .int(Int64(function)), "regions": .array(regions),
            ]
            if irqPin != 0 { entry["irq"] = 0 }
            return .object(entry)
        }
        var devices = [
            function(0, 0, 0x600, "Host bridge", vendor: 0x8086, device: 0x1237),
            function(1, 0, 0x601, "ISA bridge", vendor: 0x8086, device: 0x7000),
            function(
                1,
                1,
                0x101,
                "IDE controller",
                vendor: 0x8086,
                device: 0x7010,
                regions: [["bar": 4, "size": 16, "address": -1, "type": "io"]]
            ),
            function(1, 3, 0x680, "Bridge", vendor: 0x8086, device: 0x7113, irqPin: 1),
        ]
        for device in machine.devices.sorted(by: { ($0.pciSlot ?? 0) < ($1.pciSlot ?? 0) }) {
            guard let slot = device.pciSlot else { continue }
            devices.append(
                function(
                    slot,
                    0,
                    0xC03,
                    "USB controller",
                    vendor: 0x1B36,
                    device: 0x000D,
                    qdevID: device.id ?? "",
                    irqPin: 1,
                    regions: [
                        [
                            "prefetch": false, "mem_type_64": true, "bar": 0, "size": 16384, "address": -1,
                            "type": "memory",
                        ]
                    ]
                )
            )
        }
        return [["bus": 0, "devices": .array(devices)]]
    }

    /// What `qom-list /machine` shows on pc (QEMU 7.2): the machine's properties and children.
    static let pcMachineProperties: [(name: String, type: String)] = [
        ("type", "string"), ("kernel", "string"), ("dt-compatible", "string"), ("boot", "BootConfiguration"),
        ("memory", "MemorySizeConfiguration"), ("initrd", "string"),
        ("confidential-guest-support", "link<confidential-guest-support>"),
        ("graphics", "bool"), ("usb", "bool"), ("firmware", "string"), ("memory-encryption", "string"),
        ("smp", "SMPConfiguration"),
        ("dump-guest-core", "bool"), ("phandle-start", "int"), ("dumpdtb", "string"),
        ("memory-backend", "link<memory-backend>"),
        ("dtb", "string"), ("mem-merge", "bool"), ("append", "string"), ("suppress-vmdesc", "bool"),
        ("smm", "OnOffAuto"),
        ("acpi", "OnOffAuto"), ("pit", "OnOffAuto"), ("pic", "OnOffAuto"), ("x-oem-table-id", "string"),
        ("bus-lock-ratelimit", "uint64_t"),
        ("sgx-epc", "SgxEPC"), ("x-oem-id", "string"), ("max-fw-size", "size"), ("default-bus-bypass-iommu", "bool"),
        ("device-memory-region-size", "int"), ("sata", "bool"), ("vmport", "OnOffAuto"), ("i8042", "bool"),
        ("hpet", "bool"),
        ("smbios-entry-point-type", "str"), ("max-ram-below-4g", "size"), ("smbus", "bool"),
        ("unattached", "child<container>"),
        ("fw_cfg", "child<fw_cfg_io>"), ("peripheral-anon", "child<container>"), ("nvdimm", "bool"),
        ("peripheral", "child<container>"),
        ("nvdimm-persistence", "string"), ("rtc_state", "link<isa-device>"), ("smram", "link<memory-region>"),
        ("cxl-fmw", "CXLFixedMemoryWindow"), ("rtc-time", "struct tm"), ("acpi-device", "link<hotplug-handler>"),
        ("hmat", "bool"),
        ("cxl", "bool"), ("pcspk-audiodev", "str"), ("i440fx", "child<i440FX-pcihost>"),
    ]

    /// A plugged device as QOM shows it.
    static func qomNode(of device: Device, in machine: Machine) -> QOMNode {
        var properties: [(name: String, type: String, value: JSONValue?)] = [
            ("type", "string", .string(device.driver)),
            ("realized", "bool", true),
            ("hotplugged", "bool", .bool(device.hotplugged)),
            ("hotpluggable", "bool", true),
        ]
        if let busName = device.bus, let bus = buses(of: machine).first(where: { $0.name == busName }) {
            properties.insert(("parent_bus", "link<bus>", .string(bus.path)), at: 1)
        }
        var children: [(name: String, type: String)] = []
        if let own = usbDevices[device.driver] {
            for name in own {
                switch name {
                case "pcap", "serial", "display": properties.append((name, "str", ""))
                case "port": properties.append((name, "str", .string(device.portGiven ? "\(device.usbPort ?? 0)" : "")))
                case "msos-desc", "attached": properties.append((name, "bool", true))
                case "usb_version": properties.append((name, "uint32", 2))
                case "head": properties.append((name, "uint32", 0))
                default: break
                }
            }
        } else if device.driver == "qemu-xhci" {
            properties += [
                ("failover_pair_id", "str", ""), ("romfile", "str", nil),
                ("addr", "int32", .int(Int64((device.pciSlot ?? 0) << 3))),
                ("romsize", "uint32", nil), ("x-pcie-lnksta-dllla", "bool", true), ("rombar", "uint32", 1),
                ("x-pcie-extcap-init", "bool", true),
                ("acpi-index", "uint32", 0), ("multifunction", "bool", false), ("legacy-addr", "str", nil),
                ("host", "link<device>", nil),
                ("streams", "bool", true), ("p2", "uint32", 4), ("p3", "uint32", 4),
            ]
            children = [
                ("bus master container[0]", "memory-region"), ("xhci-core", "base-xhci"),
                ("msix-table[0]", "memory-region"),
                ("bus master[0]", "memory-region"), ("msix-pba[0]", "memory-region"),
            ]
            if let bus = device.providedBus { children.append((bus, "usb-bus")) }
        } else if let core = device.coreID {
            properties += [
                ("socket-id", "int32", 0), ("core-id", "int32", .int(Int64(core))), ("thread-id", "int32", 0),
                ("die-id", "int32", 0),
            ]
        }
        return QOMNode(type: device.driver, properties: properties, children: children)
    }

    /// QOM below /machine on pc: the containers, plugged devices and the buses they provide.
    static func pcQOMNode(_ components: [String], in machine: Machine) -> QOMNode? {
        let container = { (children: [(name: String, type: String)]) in
            QOMNode(type: "container", properties: [("type", "string", "container")], children: children)
        }
        switch components {
        case ["machine"]:
            let properties = pcMachineProperties.filter { !$0.type.hasPrefix("child<") }.map { property in
                (
                    name: property.name, type: property.type,
                    value: property.name == "type" ? JSONValue.string(pcMachineType) : nil
                )
            }
            let children = pcMachineProperties.filter { $0.type.hasPrefix("child<") }.map {
                ($0.name, String($0.type.dropFirst(6).dropLast()))
            }
            return QOMNode(type: pcMachineType, properties: properties, children: children)
        case ["machine", "peripheral"]:
            return container(machine.devices.compactMap { device in device.id.map { ($0, device.driver) } })
        case ["machine", "peripheral-anon"]:
            return container(
                machine.devices.compactMap { device in device.anonymousIndex.map { ("device[\($0)]", device.driver) } }
            )
        case let parts where parts.count == 3 && parts[0] == "machine" && parts[1] == "unattached":
            if let cpu = cpuList(machine).first(where: { $0.qomPath == "/machine/unattached/\(parts[2])" }) {
                return qomNode(
                    of: Device(id: nil, driver: cpuType, bus: nil, hotplugged: false, coreID: cpu.core),
                    in: machine
                )
            }
        default:
            break
        }
        let path = "/" + components.joined(separator: "/")
        if let device = machine.devices.first(where: { $0.qomPath == path }) {
            return qomNode(of: device, in: machine)
        }
        for controller in machine.devices {
            guard let busName = controller.providedBus, path == "\(controller.qomPath)/\(busName)" else { continue }
            var properties: [(name: String, type: String, value: JSONValue?)] = [
                ("type", "string", "usb-bus"), ("realized", "bool", true),
                ("hotplug-handler", "link<hotplug-handler>", .string(controller.qomPath)),
            ]
            for device in machine.devices where device.bus == busName {
                properties.append(
                    ("child[\(device.busChildIndex ?? 0)]", "link<\(device.driver)>", .string(device.qomPath))
                )
            }
            return QOMNode(type: "usb-bus", properties: properties, children: [])
        }
        return nil
    }
}

// MARK: - The command line

extension QEMUSimulator.Configuration {
    /// The machine, CPUs and cold-plugged devices of a QEMU command line: `machine` as given to
    /// `-machine`, and `arguments` holding `-smp N[,cpus=N][,maxcpus=M]` and `-device DRIVER,id=ID`.
    /// Throws for what the simulator does not model.
    public mutating func apply(machine: String, arguments: [String]) throws(QEMUSimulator.UnsupportedCommandLine) {
        switch machine.split(separator: ",").first.map(String.init) ?? machine {
        case "none": self.machine = .none
        case "pc", "pc-i440fx-7.2": self.machine = .pc
        default:
            throw QEMUSimulator.UnsupportedCommandLine(
                description: "the simulator does not model -machine \(machine); it models none and pc (pc-i440fx-7.2)"
            )
        }
        var index = arguments.startIndex
        while index < arguments.endIndex {
            let option = arguments[index]
            guard option == "-smp" || option == "-device" else {
                throw QEMUSimulator.UnsupportedCommandLine(
                    description: "the simulator does not model \(option); it models -smp and -device"
                )
            }
            guard index + 1 < arguments.endIndex else {
                throw QEMUSimulator.UnsupportedCommandLine(description: "\(option) needs a value")
            }
            let value = arguments[index + 1]
            index += 2
            var parts = value.split(separator: ",").map(String.init)
            switch option {
            case "-smp":
                if let first = parts.first, !first.contains("="), let count = Int(first) {
                    cpus = count
                    maxCPUs = count
                    parts.removeFirst()
                }
                for part in parts {
                    let pair = part.split(separator: "=", maxSplits: 1).map(String.init)
                    guard pair.count == 2, let number = Int(pair[1]) else {
                        throw QEMUSimulator.UnsupportedCommandLine(
                            description: "cannot read -smp \(value): expected N[,cpus=N][,maxcpus=M]"
                        )
                    }
                    switch pair[0] {
                    case "cpus": cpus = number
                    case "maxcpus": maxCPUs = number
                    default:
                        throw QEMUSimulator.UnsupportedCommandLine(
                            description: "the simulator models -smp cpus and maxcpus, not \(pair[0])"
                        )
                    }
                }
                maxCPUs = max(maxCPUs, cpus)
            default:  // -device, the only other option let through above
                guard let driver = parts.first else {
                    throw QEMUSimulator.UnsupportedCommandLine(description: "-device needs a driver")
                }
                var properties: [String: String] = [:]
                for part in parts.dropFirst() {
                    let pair = part.split(separator: "=", maxSplits: 1).map(String.init)
                    properties[pair[0]] = pair.count == 2 ? pair[1] : "on"
                }
                guard driver == "qemu-xhci" || QEMUSimulator.usbDevices[driver] != nil, self.machine == .pc else {
                    let models = ["qemu-xhci"] + QEMUSimulator.usbDevices.keys.sorted()
                    let list = models.dropLast().joined(separator: ", ") + " and " + models.last!
                    throw QEMUSimulator.UnsupportedCommandLine(
                        description:
                            "the simulator does not model -device \(driver) on -machine \(machine); it models \(list), on -machine pc only"
                    )
                }
                devices.append(QEMUSimulator.DeviceSpecification(driver: driver, properties: properties))
            }
        }
    }

}
