#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The entries of a directory of this host, for Tab on an argument that names a file (see
/// ``ShellCompleter/takesFileName(key:command:type:)``). QEMU opens the files itself, so the
/// names are those of the host the shell runs on: right for a local QEMU, which is the usual
/// case; for a remote one they are at least not made up.
enum ShellFileNames {
    /// The names in `directory` (the current directory for `""`), sorted, with a `/` after
    /// those that are directories so that completion can go on into them; `.` and `..` left
    /// out. Empty when the directory cannot be read.
    static func entries(in directory: String) -> [String] {
        guard let stream = opendir(directory.isEmpty ? "." : directory) else { return [] }
        defer { closedir(stream) }
        var names: [String] = []
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { bytes in
                String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name == "." || name == ".." { continue }
            var status = stat()
            // stat, not the entry's type: a link to a directory goes on like a directory.
            let isDirectory = stat(directory + name, &status) == 0 && (status.st_mode & S_IFMT) == S_IFDIR
            names.append(isDirectory ? name + "/" : name)
        }
        return names.sorted()
    }
}
