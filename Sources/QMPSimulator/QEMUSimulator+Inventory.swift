import QMPCore
import QMPServer

/// Objects, character devices, block nodes, network backends, devices and QOM: what the
/// simulated machine holds, kept consistent across the commands that show it.
extension QEMUSimulator {
    static func failure(_ description: String, _ errorClass: String = QMPError.ErrorClass.genericError) -> QMPErrorBody
    {
        QMPErrorBody(errorClass: errorClass, description: description)
    }

    /// Object types the simulator can create, with their QOM parent (QEMU 7.2, x86_64).
    static let creatableObjectTypes: [String: String] = [
        "iothread": "event-loop-base",
        "main-loop": "event-loop-base",
        "secret": "secret_common",
        "memory-backend-ram": "memory-backend",
        "memory-backend-file": "memory-backend",
        "memory-backend-memfd": "memory-backend",
        "rng-random": "rng-backend",
        "rng-builtin": "rng-backend",
        "throttle-group": "object",
        "tls-creds-anon": "tls-creds",
        "tls-creds-psk": "tls-creds",
        "tls-creds-x509": "tls-creds",
        "authz-simple": "authz",
        "authz-list": "authz",
        "can-bus": "object",
        "thread-context": "object",
    ]

    /// Abstract types among the parents above.
    static let abstractTypes: [String: String] = [
        "event-loop-base": "object",
        "secret_common": "object",
        "memory-backend": "object",
        "rng-backend": "object",
        "tls-creds": "object",
        "authz": "object",
    ]

    static let netdevTypes: Set<String> = [
        "user", "tap", "l2tpv3", "socket", "stream", "dgram", "vde", "bridge", "hubport", "netmap", "vhost-user",
        "vhost-vdpa",
    ]

    func registerInventory(_ table: inout QMPCommandTable) {
        let machine = self.machineState

        // MARK: Objects
        table.registerImmediate(Command.ObjectAdd.self) { command, _ in
            let type = command.qomType
            guard Self.creatableObjectTypes[type] != nil else {
                throw Self.failure("Parameter 'qom-type' does not accept value '\(type)'")
            }
            try machine.withLockedValue { machine in
                guard !machine.objects.contains(where: { $0.id == command.id }) else {
                    throw Self.failure("attempt to add duplicate property '\(command.id)' to object (type 'container')")
                }
                machine.objects.append((command.id, type, command.properties))
                machine.hasObjectsContainer = true
            }
            return Self.empty
        }
        table.registerImmediate(Command.ObjectDel.self) { command, _ in
            try machine.withLockedValue { machine in
                guard let index = machine.objects.firstIndex(where: { $0.id == command.id }) else {
                    throw Self.failure("object '\(command.id)' not found")
                }
                machine.objects.remove(at: index)
            }
            return Self.empty
        }
        table.registerImmediate(Command.QueryIOThreads.self) { _, _ in
            let threads = machine.withLockedValue { $0.objects }.filter { $0.qomType == "iothread" }
            // The schema check has made each of these an integer in range, when given.
            return .array(
                threads.enumerated().map { index, thread in
                    let properties = thread.properties
                    return [
                        "id": .string(thread.id),
                        "thread-id": .int(Int64(100_000 + index)),
                        "poll-max-ns": .int(properties["poll-max-ns"]?.int64Value ?? 32768),
                        "poll-grow": .int(properties["poll-grow"]?.int64Value ?? 0),
                        "poll-shrink": .int(properties["poll-shrink"]?.int64Value ?? 0),
                        "aio-max-batch": .int(properties["aio-max-batch"]?.int64Value ?? 0),
                    ]
                }
            )
        }

        // MARK: Character devices
        table.registerImmediate(Command.ChardevAdd.self) { command, _ in
            let id = command.id
            try machine.withLockedValue { machine in
                guard !machine.chardevs.contains(where: { $0.id == id }), id != "compat_monitor0" else {
                    throw Self.failure("Chardev with id '\(id)' already exists")
                }
                machine.chardevs.append((id, command.backendType))
            }
            // QEMU's ChardevReturn, whose only member is the pty path of pty backends.
            return Self.empty
        }
        table.registerImmediate(Command.ChardevRemove.self) { command, _ in
            try machine.withLockedValue { machine in
                guard let index = machine.chardevs.firstIndex(where: { $0.id == command.id }) else {
                    throw Self.failure("Chardev '\(command.id)' not found")
                }
                machine.chardevs.remove(at: index)
            }
            return Self.empty
        }
        table.registerImmediate(Command.QueryChardev.self) { _, _ in
            let chardevs = machine.withLockedValue { $0.chardevs }
            let monitor: JSONValue = [
                "label": "compat_monitor0", "filename": "unix:simulated,server=on", "frontend-open": true,
            ]
            return .array(
                chardevs.map { ["label": .string($0.id), "filename": .string($0.backend), "frontend-open": false] }
                    + [monitor]
            )
        }

        // MARK: Block nodes
        table.registerImmediate(Command.BlockdevAdd.self) { command, _ in
            let driver = command.driver
            guard Command.BlockdevAdd.nullDrivers.contains(driver) else {
                throw Self.failure("the simulated QEMU opens only null-co and null-aio nodes, not '\(driver)'")
            }
            guard let name = command.nodeName else {
                throw Self.failure("A top-level node name must be given with blockdev-add")
            }
            try machine.withLockedValue { machine in
                guard !machine.blockNodes.contains(where: { $0.name == name }) else {
                    throw Self.failure("Duplicate nodes with node-name='\(name)'")
                }
                machine.blockNodes.append((name, driver, command.nullSize, command.readOnly ?? false))
            }
            return Self.empty
        }
        table.registerImmediate(Command.BlockdevDel.self) { command, _ in
            let name = command.nodeName
            try machine.withLockedValue { machine in
                guard let index = machine.blockNodes.firstIndex(where: { $0.name == name }) else {
                    throw Self.failure("Failed to find node with node-name='\(name)'")
                }
                machine.blockNodes.remove(at: index)
            }
            return Self.empty
        }
        table.registerImmediate(Command.BlockResize.self) { command, _ in
            let node = machine.withLockedValue { machine in
                // A device name would name a block backend first; the simulated machine has
                // none, so only the node name can find anything, and an empty one finds nothing.
                command.nodeName.flatMap { name in machine.blockNodes.first { $0.name == name } }
            }
            guard let node else {
                throw Self.failure(
                    "Cannot find device='\(command.device ?? "")' nor node-name='\(command.nodeName ?? "")'"
                )
            }
            guard command.size >= 0 else {
                throw Self.failure("Parameter 'size' expects a >0 size")
            }
            // The block layer's largest image: INT64_MAX rounded down to a multiple of 1 GiB.
            let maximumLength: Int64 = Int64.max - (1 << 30) + 1
            guard command.size <= maximumLength else {
                throw Self.failure("offset(\(command.size)) exceeds maximum(\(maximumLength))")
            }
            guard !node.readOnly else {
                throw Self.failure("Image is read-only")
            }
            // The null drivers, the only ones the simulator opens, cannot change their size.
            throw Self.failure("Image format driver does not support resize")
        }
        // By name: the reply is built member by member, in QEMU 7.2's shape.
        table.registerImmediate("query-named-block-nodes") { _ in
            .array(machine.withLockedValue { $0.blockNodes }.map(Self.blockNodeInfo))
        }
        table.registerImmediate(Command.QueryBlock.self) { _, _ in [] }

        // MARK: Network backends
        table.registerImmediate(Command.NetdevAdd.self) { netdev, _ in
            let type = netdev.type ?? ""
            guard Self.netdevTypes.contains(type) else {
                throw Self.failure("Parameter 'type' does not accept value '\(type)'")
            }
            try machine.withLockedValue { machine in
                guard !machine.netdevs.contains(where: { $0.id == netdev.id }) else {
                    throw Self.failure("Duplicate ID '\(netdev.id)'")
                }
                machine.netdevs.append((netdev.id, type))
            }
            return Self.empty
        }
        table.registerImmediate(Command.NetdevDel.self) { command, _ in
            try machine.withLockedValue { machine in
                guard let index = machine.netdevs.firstIndex(where: { $0.id == command.id }) else {
                    throw Self.failure("Device '\(command.id)' not found", QMPError.ErrorClass.deviceNotFound)
                }
                machine.netdevs.remove(at: index)
            }
            return Self.empty
        }

        // MARK: The machine, devices and CPUs
        table.registerImmediate(Command.DeviceAdd.self) { command, _ in
            try machine.withLockedValue { machine in
                try Self.addDevice(
                    driver: command.driver,
                    bus: command.bus,
                    id: command.id,
                    properties: command.properties,
                    to: &machine,
                    hotplug: true
                )
            }
            return Self.empty
        }
        table.registerImmediate(Command.DeviceDel.self) { command, request in
            let deleted = try machine.withLockedValue { machine in try Self.deleteDevice(command.id, in: &machine) }
            if let deleted { request.server.broadcast(deleted) }
            return Self.empty
        }
        table.registerImmediate(Command.QueryCPUsFast.self) { _, _ in
            machine.withLockedValue { Self.queryCPUsFast($0) }
        }
        table.registerImmediate(Command.QueryHotpluggableCPUs.self) { _, _ in
            try machine.withLockedValue { machine in try Self.queryHotpluggableCPUs(machine) }
        }
        // JSON: the PCI layout as QEMU 7.2 shows it, built member by member.
        table.registerImmediate("query-pci") { _ in machine.withLockedValue { Self.queryPCI($0) } }
        // JSON: recorded, served as recorded.
        table.registerImmediate("query-machines") { _ in Self.machineList }
        table.registerImmediate(Command.QueryCurrentMachine.self) { _, _ in
            ["wakeup-suspend-support": .bool(machine.withLockedValue { $0.type == .pc })]
        }
        table.registerImmediate(Command.QueryTarget.self) { _, _ in ["arch": "x86_64"] }

        // MARK: QOM
        table.registerImmediate(Command.QOMList.self) { command, _ in
            let node = try machine.withLockedValue { try Self.qomNode(command.path, in: $0) }
            let properties =
                node.properties.map { (name: $0.name, type: $0.type) }
                + node.children.map { (name: $0.name, type: "child<\($0.type)>") }
            return .array(properties.map { ["name": .string($0.name), "type": .string($0.type)] })
        }
        table.registerImmediate(Command.QOMGet.self) { command, _ in
            let path = command.path
            let property = command.property
            let node = try machine.withLockedValue { try Self.qomNode(path, in: $0) }
            guard let found = node.properties.first(where: { $0.name == property }) else {
                if node.children.contains(where: { $0.name == property }) {
                    return .string(path.hasSuffix("/") ? path + property : path + "/" + property)
                }
                throw Self.failure("Property '\(node.type).\(property)' not found")
            }
            guard let value = found.value else {
                throw Self.failure("the simulated QEMU does not model the value of \(node.type).\(property)")
            }
            return value
        }
        table.registerImmediate(Command.QOMListTypes.self) { command, _ in
            var types = Self.creatableObjectTypes.map { (name: $0.key, parent: $0.value, abstract: false) }
            if command.abstract ?? false {
                types += Self.abstractTypes.map { (name: $0.key, parent: $0.value, abstract: true) }
            }
            let selected = types.filter { type in
                guard let implements = command.implements else { return true }
                var current: String? = type.name
                while let name = current {
                    if name == implements { return true }
                    current = Self.creatableObjectTypes[name] ?? Self.abstractTypes[name]
                }
                return false
            }
            return .array(
                selected.sorted { $0.name < $1.name }.map { type in
                    var info: JSONObject = ["name": .string(type.name)]
                    if type.abstract { info["abstract"] = true }
                    info["parent"] = .string(type.parent)
                    return .object(info)
                }
            )
        }
    }

    /// QEMU 7.2's `query-machines`, recorded: the list is the same whatever machine runs.
    static let machineList: JSONValue = {
        // Recorded data, checked by the tests; it always parses.
        try! JSONValue(parsing: QEMU72MachineData.machines)
    }()

    static func blockNodeInfo(_ node: (name: String, driver: String, size: Int64?, readOnly: Bool)) -> JSONValue {
        let size = node.size ?? (1 << 30)
        var description: JSONObject = ["driver": .string(node.driver)]
        if let explicit = node.size {
            description["size"] = .int(explicit)
        }
        let filename =
            node.size == nil ? "\(node.driver)://" : "json:" + JSONValue.object(description).serialized(style: .qemu)
        return [
            "iops_rd": 0, "detect_zeroes": "off",
            "image": [
                "virtual-size": .int(size), "filename": .string(filename), "format": .string(node.driver),
                "actual-size": 0,
            ],
            "iops_wr": 0, "ro": .bool(node.readOnly), "node-name": .string(node.name), "backing_file_depth": 0,
            "drv": .string(node.driver), "iops": 0, "bps_wr": 0, "write_threshold": 0, "encrypted": false, "bps": 0,
            "bps_rd": 0, "cache": ["no-flush": false, "direct": false, "writeback": true], "file": .string(filename),
        ]
    }

    /// One QOM object as qom-list and qom-get see it.
    struct QOMNode {
        var type: String
        /// A nil value: QEMU has the property, the simulation does not know its value.
        var properties: [(name: String, type: String, value: JSONValue?)]
        var children: [(name: String, type: String)]
    }

    static func qomNode(_ path: String, in machine: Machine) throws(QMPErrorBody) -> QOMNode {
        let components = path.split(separator: "/").map(String.init)
        let typeProperty = { (type: String) in [(name: "type", type: "string", value: Optional(JSONValue.string(type)))]
        }
        if machine.type == .pc, let node = pcQOMNode(components, in: machine) {
            return node
        }
        switch components {
        case []:
            let machineType = machine.type == .pc ? pcMachineType : "none-machine"
            var children = [(name: "chardevs", type: "container"), (name: "machine", type: machineType)]
            if machine.hasObjectsContainer {
                children.append((name: "objects", type: "container"))
            }
            return QOMNode(type: "container", properties: typeProperty("container"), children: children)
        case ["machine"]:
            return QOMNode(
                type: "none-machine",
                properties: typeProperty("none-machine"),
                children: [
                    (name: "peripheral", type: "container"), (name: "peripheral-anon", type: "container"),
                    (name: "unattached", type: "container"),
                ]
            )
        case ["machine", "peripheral"], ["machine", "peripheral-anon"], ["machine", "unattached"]:
            return QOMNode(type: "container", properties: typeProperty("container"), children: [])
        case ["objects"] where machine.hasObjectsContainer:
            return QOMNode(
                type: "container",
                properties: typeProperty("container"),
                children: machine.objects.map { (name: $0.id, type: $0.qomType) }
            )
        case ["chardevs"]:
            return QOMNode(
                type: "container",
                properties: typeProperty("container"),
                children: [(name: "compat_monitor0", type: "chardev-socket")]
                    + machine.chardevs.map { (name: $0.id, type: "chardev-" + $0.backend) }
            )
        case let parts where parts.count == 2 && parts[0] == "chardevs":
            if parts[1] == "compat_monitor0" {
                return QOMNode(type: "chardev-socket", properties: typeProperty("chardev-socket"), children: [])
            }
            if let chardev = machine.chardevs.first(where: { $0.id == parts[1] }) {
                let type = "chardev-" + chardev.backend
                return QOMNode(type: type, properties: typeProperty(type), children: [])
            }
        case let parts where parts.count == 2 && parts[0] == "objects":
            if let object = machine.objects.first(where: { $0.id == parts[1] }) {
                let type = object.qomType
                let given = object.properties
                var properties = typeProperty(type)
                if type == "secret" {
                    let format = given["format"] ?? "raw"
                    properties.append((name: "format", type: "QCryptoSecretFormat", value: Optional(format)))
                }
                for (name, value) in given where !properties.contains(where: { $0.name == name }) {
                    properties.append((name: name, type: value.kindName, value: Optional(value)))
                }
                return QOMNode(type: type, properties: properties, children: [])
            }
        default:
            break
        }
        throw failure("Device '\(path)' not found", QMPError.ErrorClass.deviceNotFound)
    }
}
