import ArgumentParser
public struct QMPCommand: AsyncParsableCommand { public init() {} }
