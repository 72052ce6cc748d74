// The schema history is a target of its own (see Package.swift); users of the bindings get it
// with them.
@_exported import QMPHistory
