import QMPCore

/// What the clients of one listener may run through a ``QMPProxy``.
///
/// A command is judged in four steps, and the first that refuses it decides:
/// 1. the built-in rules (``BuiltInRule``), which refuse what can take guest memory off the
///    host, bypass QMP altogether or end the machine, whatever the other lists say, unless
///    ``liftedBuiltInRules`` names the rule;
/// 2. the ``deny`` rules;
/// 3. the ``profile``: ``Profile/readOnly`` lets only reads through;
/// 4. the ``allow`` rules, when there are any: a command must match one of them.
///
/// A refused command never reaches the upstream monitor. Its client gets QEMU's error shape,
/// class `GenericError`, with a desc that names the rule that refused it.
///
/// The policy is `Codable`; its JSON form uses the property names:
///
/// ```json
/// {
///   "profile": "full",
///   "deny": [{"command": "device_del", "arguments": {"id": "!hot-*"}}],
///   "allow": [],
///   "liftedBuiltInRules": ["quit"]
/// }
/// ```
///
/// Every member may be left out: an empty object is ``standard``.
public struct QMPProxyPolicy: Sendable, Hashable, Codable {
    /// What a listener's clients may do before the lists are looked at.
    public enum Profile: String, Sendable, Hashable, Codable {
        /// Every command, as far as the lists and the built-in rules allow.
        case full
        /// Only commands that read: every `query-*` command, `qom-get`, `qom-list`,
        /// `qom-list-types`, `qom-list-properties` and `device-list-properties`.
        case readOnly = "read-only"
    }

    /// A rule that refuses a command unless the policy lifts it by name.
    public enum BuiltInRule: String, Sendable, Hashable, Codable, CaseIterable {
        /// `migrate`: sends the guest's memory wherever its URI points.
        case migrate
        /// `dump-guest-memory`: writes the guest's memory to a host file.
        case dumpGuestMemory = "dump-guest-memory"
        /// `pmemsave` and `memsave`: write ranges of guest memory to a host file.
        case memorySave = "memsave"
        /// `human-monitor-command`: runs HMP, which no QMP rule sees into.
        case humanMonitorCommand = "human-monitor-command"
        /// `quit`: ends QEMU, for every client.
        case quit
        /// `object-add` of a `secret` or `secret_keyring` object: key material.
        case secretObjects = "object-add-secret"

        /// Whether the rule covers this command.
        func covers(_ command: String, _ arguments: JSONObject) -> Bool {
            switch self {
            case .migrate: command == "migrate"
            case .dumpGuestMemory: command == "dump-guest-memory"
            case .memorySave: command == "pmemsave" || command == "memsave"
            case .humanMonitorCommand: command == "human-monitor-command"
            case .quit: command == "quit"
            case .secretObjects:
                command == "object-add" && Self.secretTypes.contains(arguments["qom-type"]?.stringValue ?? "")
            }
        }

        private static let secretTypes: Set<String> = ["secret", "secret_keyring"]
    }

    /// A command, and optionally what some of its arguments must look like.
    ///
    /// `command` and each argument pattern are globs: `*` stands for any run of characters,
    /// `?` for one. A pattern that starts with `!` matches what the rest does not match,
    /// a missing argument included. An argument is named by its path, members of nested
    /// objects joined with dots (`props.id`); strings, numbers and booleans are matched by
    /// their text, and a missing argument, an object or an array matches no plain pattern.
    public struct Rule: Sendable, Hashable, Codable {
        /// The command's name, or a glob over names.
        public var command: String
        /// Patterns the arguments must all match for the rule to apply, by argument path.
        public var arguments: [String: String]

        /// A rule for `command`, applying only where every pattern in `arguments` matches.
        public init(command: String, arguments: [String: String] = [:]) {
            self.command = command
            self.arguments = arguments
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            command = try container.decode(String.self, forKey: .command)
            arguments = try container.decodeIfPresent([String: String].self, forKey: .arguments) ?? [:]
        }

        /// Whether the rule applies to this command with these arguments.
        public func matches(_ name: String, _ given: JSONObject) -> Bool {
            guard Glob.matches(command, name) else { return false }
            for (path, pattern) in arguments {
                let text = Self.text(at: path, in: given)
                if pattern.hasPrefix("!") {
                    if let text, Glob.matches(String(pattern.dropFirst()), text) { return false }
                } else {
                    guard let text, Glob.matches(pattern, text) else { return false }
                }
            }
            return true
        }

        /// The argument at a dotted path as text, when it is a string, a number or a boolean.
        static func text(at path: String, in arguments: JSONObject) -> String? {
            var value: JSONValue = .object(arguments)
            for key in path.split(separator: ".", omittingEmptySubsequences: false) {
                guard case .object(let object) = value, let member = object[String(key)] else { return nil }
                value = member
            }
            switch value {
            case .string(let text): return text
            case .int(let number): return String(number)
            case .uint(let number): return String(number)
            case .double(let number): return String(number)
            case .bool(let flag): return flag ? "true" : "false"
            case .null, .array, .object: return nil
            }
        }

        /// The rule as its desc names it: the command, then its patterns in order.
        var summary: String {
            let patterns = arguments.sorted { $0.key < $1.key }.map { "\($0.key) '\($0.value)'" }
            return patterns.isEmpty ? "'\(command)'" : "'\(command)' with \(patterns.joined(separator: ", "))"
        }
    }

    /// What the policy makes of one command.
    public enum Decision: Sendable, Hashable {
        /// Forwarded upstream.
        case allowed
        /// Refused; `reason` says by which rule, in the words the client's error desc uses.
        case denied(reason: String)
    }

    /// Which commands the listener's clients may run before the lists apply.
    public var profile: Profile
    /// Commands refused, first match deciding.
    public var deny: [Rule]
    /// When not empty, only the commands that match one of these get through.
    public var allow: [Rule]
    /// Built-in rules that this policy lifts: only a rule named here stops refusing.
    public var liftedBuiltInRules: Set<BuiltInRule>

    /// A policy; by default every command except those of the built-in rules.
    public init(
        profile: Profile = .full,
        deny: [Rule] = [],
        allow: [Rule] = [],
        liftedBuiltInRules: Set<BuiltInRule> = []
    ) {
        self.profile = profile
        self.deny = deny
        self.allow = allow
        self.liftedBuiltInRules = liftedBuiltInRules
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        profile = try container.decodeIfPresent(Profile.self, forKey: .profile) ?? .full
        deny = try container.decodeIfPresent([Rule].self, forKey: .deny) ?? []
        allow = try container.decodeIfPresent([Rule].self, forKey: .allow) ?? []
        liftedBuiltInRules = try container.decodeIfPresent(Set<BuiltInRule>.self, forKey: .liftedBuiltInRules) ?? []
    }

    /// Every command but those of the built-in rules.
    public static let standard = QMPProxyPolicy()

    /// Reads only (``Profile/readOnly``), with the built-in rules.
    public static let readOnly = QMPProxyPolicy(profile: .readOnly)

    /// Judges one command.
    public func decide(_ command: String, arguments: JSONObject) -> Decision {
        for rule in BuiltInRule.allCases where !liftedBuiltInRules.contains(rule) && rule.covers(command, arguments) {
            return .denied(reason: "built-in rule '\(rule.rawValue)'")
        }
        if let index = deny.firstIndex(where: { $0.matches(command, arguments) }) {
            return .denied(reason: "deny rule \(index + 1) (\(deny[index].summary))")
        }
        if profile == .readOnly && !Self.reads(command) {
            return .denied(reason: "the read-only profile")
        }
        if !allow.isEmpty && !allow.contains(where: { $0.matches(command, arguments) }) {
            return .denied(reason: "no allow rule matches")
        }
        return .allowed
    }

    /// Whether a command only reads, for the read-only profile.
    static func reads(_ command: String) -> Bool {
        command.hasPrefix("query-") || readCommands.contains(command)
    }

    private static let readCommands: Set<String> = [
        "qom-get", "qom-list", "qom-list-types", "qom-list-properties", "device-list-properties",
    ]
}

extension JSONValue {
    fileprivate var stringValue: String? {
        if case .string(let text) = self { return text }
        return nil
    }
}

/// Shell-style globs over Unicode scalars: `*` for any run, `?` for one.
enum Glob {
    static func matches(_ pattern: String, _ text: String) -> Bool {
        let pattern = Array(pattern.unicodeScalars)
        let text = Array(text.unicodeScalars)
        var p = 0
        var t = 0
        // Where the last `*` was, and the text position it has swallowed up to: on a mismatch the
        // star takes one more scalar, so the match needs no recursion.
        var star: Int?
        var swallowed = 0
        while t < text.count {
            if p < pattern.count && (pattern[p] == "?" || pattern[p] == text[t]) {
                p += 1
                t += 1
            } else if p < pattern.count && pattern[p] == "*" {
                star = p
                swallowed = t
                p += 1
            } else if let star {
                p = star + 1
                swallowed += 1
                t = swallowed
            } else {
                return false
            }
        }
        while p < pattern.count && pattern[p] == "*" {
            p += 1
        }
        return p == pattern.count
    }
}
