#ifndef CQMPSYSTEM_H
#define CQMPSYSTEM_H

#include <stddef.h>
#include <sys/types.h>

/// Connects a blocking-free stream socket to the Unix socket at `path`.
/// Returns the descriptor, or -errno. A path longer than sockaddr_un holds is reached through
/// its directory (on Linux, macOS and FreeBSD); -ENAMETOOLONG when even that does not fit.
int cqmp_connect_unix(const char *path);

/// Starts connecting a non-blocking stream socket to the Unix socket at `path` (of any length,
/// as cqmp_connect_unix), without ever
/// waiting: a full listen backlog makes a blocking connect() sleep with no bound. Returns 0 and
/// stores the connected descriptor in `*fd`; or -EINPROGRESS with the descriptor in `*fd`, to
/// be finished with cqmp_connect_finished; or -errno with no descriptor (-EAGAIN on Linux when
/// the backlog is full: try again later).
int cqmp_connect_unix_nonblocking(const char *path, int *fd);

/// Whether a connect left in progress has finished, without waiting: 0 when connected,
/// -EINPROGRESS while it is under way, -errno when it failed.
int cqmp_connect_finished(int fd);

/// Sends `len` bytes of `buf` with `nfds` descriptors attached (SCM_RIGHTS) in one sendmsg.
/// Returns the number of bytes sent, or -errno.
ssize_t cqmp_send_with_fds(int socket, const void *buf, size_t len, const int *fds, int nfds);

/// Receives up to `len` bytes and up to `maxfds` descriptors. Stores the descriptors received in
/// `fds` and their count in `*nfds`. Returns the number of bytes received, or -errno.
ssize_t cqmp_recv_with_fds(int socket, void *buf, size_t len, int *fds, int maxfds, int *nfds);

/// Spawns `argv[0]` (resolved through PATH when it has no slash) with stdin from /dev/null and
/// stdout and stderr appended to `log_path`, descriptors other than 0-2 closed in the child,
/// and its own process group. Returns the pid, or -errno.
pid_t cqmp_spawn(const char *const argv[], const char *log_path);

/// Opens a new pseudo-terminal pair, for tests of the character device transport: returns the
/// master's descriptor and stores the path of the terminal end (`/dev/pts/N`) in `name`, or
/// returns -errno.
int cqmp_open_pseudo_terminal(char *name, size_t size);

#endif
