import Foundation

/// Creates output directories owner-only (mode 0700), whatever the umask.
///
/// Reports and CSV tables are financial data; a directory created by `mkdir -p` under a cron job's umask 022
/// would be 0755 and list them to every local user. Each missing component is created with `mkdir` and then
/// `chmod`ed to 0700 explicitly (the umask only narrows `mkdir`'s mode, and may be anything). Directories
/// that already exist are left as they are: their mode is the operator's choice (the files inside are 0600
/// anyway, see ``AtomicFile``).
public enum PrivateDirectory {
    /// Owner read/write/search only.
    public static let mode: mode_t = 0o700

    /// Creates `path` and any missing parents with mode 0700; existing directories are kept unchanged.
    public static func create(_ path: String) throws(OutputError) {
        let absolute = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        var prefix = ""
        for component in absolute.split(separator: "/", omittingEmptySubsequences: true) {
            prefix += "/" + component
            var st = stat()
            if stat(prefix, &st) == 0 {
                guard (st.st_mode & S_IFMT) == S_IFDIR else {
                    throw .cannotWrite(path: path, reason: "\(prefix) exists and is not a directory")
                }
                continue
            }
            guard errno == ENOENT else { throw .cannotWrite(path: path, reason: "\(prefix): " + String(cString: strerror(errno))) }
            if mkdir(prefix, mode) != 0 {
                if errno == EEXIST { continue }  // created meanwhile by someone else: theirs, like any existing one
                throw .cannotWrite(path: path, reason: "cannot create \(prefix): " + String(cString: strerror(errno)))
            }
            // mkdir's mode is masked by the umask; set it exactly.
            if chmod(prefix, mode) != 0 {
                throw .cannotWrite(path: path, reason: "cannot set mode 0700 on \(prefix): " + String(cString: strerror(errno)))
            }
        }
    }
}
