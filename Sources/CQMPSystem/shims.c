#define _GNU_SOURCE
#include "CQMPSystem.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

extern char **environ;

/* Fills `address` for the socket at `path`. A path too long for sun_path is reached through
 * its directory, never by changing the working directory (which belongs to the whole process):
 * on Linux the address names the directory's descriptor in /proc/self/fd, elsewhere it holds
 * only the socket's name, for connectat(2) relative to the directory. The directory's
 * descriptor, when one was opened, is left in `*directory` (else -1) for the caller to close
 * once it has connected. Returns 0 or -errno; -ENAMETOOLONG when even the name does not fit. */
static int cqmp_unix_address(const char *path, struct sockaddr_un *address, int *directory) {
    memset(address, 0, sizeof(*address));
    address->sun_family = AF_UNIX;
    *directory = -1;
    size_t length = strlen(path);
    if (length < sizeof(address->sun_path)) {
        memcpy(address->sun_path, path, length);
        return 0;
    }
#if defined(__linux__) || defined(__APPLE__) || defined(__FreeBSD__)
    const char *slash = strrchr(path, '/');
    if (slash == NULL || slash[1] == '\0') {
        return -ENAMETOOLONG;
    }
    const char *name = slash + 1;
    size_t directory_length = slash == path ? 1 : (size_t)(slash - path);
    char *directory_path = strndup(path, directory_length);
    if (directory_path == NULL) {
        return -ENOMEM;
    }
#if defined(__linux__)
    // O_PATH: the directory need only be searchable, as for a connect by its full path.
    int fd = open(directory_path, O_PATH | O_DIRECTORY | O_CLOEXEC);
#elif defined(O_SEARCH)
    int fd = open(directory_path, O_SEARCH | O_DIRECTORY | O_CLOEXEC);
#else
    int fd = open(directory_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
#endif
    int error = errno;
    free(directory_path);
    if (fd < 0) {
        return -error;
    }
#if defined(__linux__)
    int written = snprintf(address->sun_path, sizeof(address->sun_path), "/proc/self/fd/%d/%s", fd, name);
    if (written < 0 || (size_t)written >= sizeof(address->sun_path)) {
        close(fd);
        return -ENAMETOOLONG;
    }
#else
    size_t name_length = strlen(name);
    if (name_length >= sizeof(address->sun_path)) {
        close(fd);
        return -ENAMETOOLONG;
    }
    memcpy(address->sun_path, name, name_length);
#endif
    *directory = fd;
    return 0;
#else
    return -ENAMETOOLONG;
#endif
}

/* connect(2) to an address made by cqmp_unix_address; the path is resolved during the call, so
 * the directory's descriptor may be closed as soon as it returns. */
static int cqmp_connect_address(int socket_fd, const struct sockaddr_un *address, int directory) {
#if defined(__APPLE__) || defined(__FreeBSD__)
    if (directory >= 0) {
        return connectat(directory, socket_fd, (const struct sockaddr *)address, sizeof(*address));
    }
#else
    (void)directory;
#endif
    return connect(socket_fd, (const struct sockaddr *)address, sizeof(*address));
}

int cqmp_connect_unix(const char *path) {
    struct sockaddr_un address;
    int directory;
    int prepared = cqmp_unix_address(path, &address, &directory);
    if (prepared != 0) {
        return prepared;
    }
#ifdef SOCK_CLOEXEC
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
#else
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd >= 0) {
        fcntl(fd, F_SETFD, FD_CLOEXEC);
    }
#endif
    if (fd < 0) {
        int error = errno;
        if (directory >= 0) {
            close(directory);
        }
        return -error;
    }
    int connected = cqmp_connect_address(fd, &address, directory);
    int error = errno;
    if (directory >= 0) {
        close(directory);
    }
    if (connected != 0) {
        close(fd);
        return -error;
    }
    return fd;
}

int cqmp_connect_unix_nonblocking(const char *path, int *fd) {
    struct sockaddr_un address;
    int directory;
    int prepared = cqmp_unix_address(path, &address, &directory);
    if (prepared != 0) {
        return prepared;
    }
#ifdef SOCK_CLOEXEC
    int socket_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
#else
    int socket_fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (socket_fd >= 0) {
        fcntl(socket_fd, F_SETFD, FD_CLOEXEC);
        fcntl(socket_fd, F_SETFL, fcntl(socket_fd, F_GETFL) | O_NONBLOCK);
    }
#endif
    if (socket_fd < 0) {
        int error = errno;
        if (directory >= 0) {
            close(directory);
        }
        return -error;
    }
    int connected = cqmp_connect_address(socket_fd, &address, directory);
    int error = errno;
    if (directory >= 0) {
        close(directory);
    }
    if (connected != 0) {
        if (error == EINPROGRESS) {
            *fd = socket_fd;
            return -EINPROGRESS;
        }
        close(socket_fd);
        return -error;
    }
    *fd = socket_fd;
    return 0;
}

int cqmp_connect_finished(int fd) {
    struct pollfd entry = {.fd = fd, .events = POLLOUT, .revents = 0};
    int ready = poll(&entry, 1, 0);
    if (ready < 0) {
        return -errno;
    }
    if (ready == 0) {
        return -EINPROGRESS;
    }
    int error = 0;
    socklen_t length = sizeof(error);
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0) {
        return -errno;
    }
    return error == 0 ? 0 : -error;
}

ssize_t cqmp_send_with_fds(int socket, const void *buf, size_t len, const int *fds, int nfds) {
    struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
    struct msghdr message;
    memset(&message, 0, sizeof(message));
    message.msg_iov = &iov;
    message.msg_iovlen = 1;

    // Room for up to 253 descriptors, the kernel's SCM_MAX_FD.
    union {
        char buffer[CMSG_SPACE(sizeof(int) * 253)];
        struct cmsghdr align;
    } control;
    if (nfds < 0 || nfds > 253) {
        return -EINVAL;
    }
    if (nfds > 0) {
        memset(&control, 0, sizeof(control));
        message.msg_control = control.buffer;
        message.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
        struct cmsghdr *header = CMSG_FIRSTHDR(&message);
        header->cmsg_level = SOL_SOCKET;
        header->cmsg_type = SCM_RIGHTS;
        header->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
        memcpy(CMSG_DATA(header), fds, sizeof(int) * nfds);
    }
    ssize_t sent;
    do {
#ifdef MSG_NOSIGNAL
        sent = sendmsg(socket, &message, MSG_NOSIGNAL);
#else
        sent = sendmsg(socket, &message, 0);
#endif
    } while (sent < 0 && errno == EINTR);
    return sent < 0 ? -errno : sent;
}

ssize_t cqmp_recv_with_fds(int socket, void *buf, size_t len, int *fds, int maxfds, int *nfds) {
    struct iovec iov = {.iov_base = buf, .iov_len = len};
    struct msghdr message;
    memset(&message, 0, sizeof(message));
    message.msg_iov = &iov;
    message.msg_iovlen = 1;
    union {
        char buffer[CMSG_SPACE(sizeof(int) * 253)];
        struct cmsghdr align;
    } control;
    message.msg_control = control.buffer;
    message.msg_controllen = sizeof(control.buffer);
    *nfds = 0;
    ssize_t received;
    do {
        received = recvmsg(socket, &message, 0);
    } while (received < 0 && errno == EINTR);
    if (received < 0) {
        return -errno;
    }
    for (struct cmsghdr *header = CMSG_FIRSTHDR(&message); header != NULL; header = CMSG_NXTHDR(&message, header)) {
        if (header->cmsg_level == SOL_SOCKET && header->cmsg_type == SCM_RIGHTS) {
            int count = (int)((header->cmsg_len - CMSG_LEN(0)) / sizeof(int));
            int *data = (int *)CMSG_DATA(header);
            for (int i = 0; i < count; i++) {
                if (*nfds < maxfds) {
                    fds[(*nfds)++] = data[i];
                } else {
                    close(data[i]);
                }
            }
        }
    }
    return received;
}

pid_t cqmp_spawn(const char *const argv[], const char *log_path) {
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attributes;
    if (posix_spawn_file_actions_init(&actions) != 0) {
        return -errno;
    }
    posix_spawnattr_init(&attributes);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
    posix_spawn_file_actions_addclosefrom_np(&actions, 3);
#endif
    // Our own process group, so that a terminal's Ctrl-C reaches us, and we decide how QEMU ends.
    short flags = POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
    posix_spawnattr_setpgroup(&attributes, 0);
    // The calling thread may block signals (Dispatch's worker threads block nearly all), and
    // a child inherits that mask: QEMU would then ignore SIGTERM. Start it with none blocked
    // and every signal at its default action.
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attributes, &none);
    posix_spawnattr_setsigdefault(&attributes, &all);
#ifdef POSIX_SPAWN_CLOEXEC_DEFAULT
    flags |= POSIX_SPAWN_CLOEXEC_DEFAULT;
#endif
    posix_spawnattr_setflags(&attributes, flags);
    pid_t pid;
    int result = posix_spawnp(&pid, argv[0], &actions, &attributes, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attributes);
    return result == 0 ? pid : -result;
}

int cqmp_open_pseudo_terminal(char *name, size_t size) {
    int master = posix_openpt(O_RDWR | O_NOCTTY);
    if (master < 0) {
        return -errno;
    }
    if (grantpt(master) != 0 || unlockpt(master) != 0) {
        int error = errno;
        close(master);
        return -error;
    }
#if defined(__linux__)
    int failed = ptsname_r(master, name, size);
    if (failed != 0) {
        close(master);
        return -failed;
    }
#else
    // ptsname's buffer is shared by the process: copied at once, but not safe from other threads.
    const char *shared = ptsname(master);
    if (shared == NULL || strlen(shared) >= size) {
        int error = shared == NULL ? errno : ENAMETOOLONG;
        close(master);
        return -error;
    }
    strcpy(name, shared);
#endif
    return master;
}
