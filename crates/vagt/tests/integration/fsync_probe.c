/*
 * Test probe for the ordering test (ordering.rs), loaded into `vagt serve` with LD_PRELOAD.
 *
 * - fdatasync(): calls the real one, sleeps VAGT_PROBE_DELAY_US more (so a premature ACK cannot
 *   hide in a race), then appends "S\n" to $VAGT_PROBE_LOG.
 * - send()/sendto()/write(): a buffer holding a DC-09 ACK appends "A\n" *before* the real call.
 * - VAGT_PROBE_FAIL_IF=<path>: while that file exists, fdatasync() fails with EIO without
 *   syncing (a failing disk), for the storage-fault tests (storage.rs).
 * - VAGT_PROBE_SLOW_IF=<path>: while that file exists, the delay applies only then (a disk
 *   that hangs), for the shutdown test (serve.rs).
 *
 * The log is opened O_APPEND, so the order of lines is the order of these events.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

static int log_fd = -2;

static void note(const char *line) {
    if (log_fd == -2) {
        const char *path = getenv("VAGT_PROBE_LOG");
        log_fd = path ? open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600) : -1;
    }
    if (log_fd >= 0) {
        /* The raw syscall: our own write() wrapper must not see this. */
        syscall(SYS_write, log_fd, line, strlen(line));
    }
}

static int is_ack(const void *buf, size_t len) {
    return buf != NULL && len >= 6 && memmem(buf, len, "ACK\"", 4) != NULL;
}

int fdatasync(int fd) {
    static int (*real)(int);
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    const char *fail_if = getenv("VAGT_PROBE_FAIL_IF");
    if (fail_if && access(fail_if, F_OK) == 0) {
        errno = EIO;
        return -1;
    }
    int rc = real(fd);
    const char *d = getenv("VAGT_PROBE_DELAY_US");
    const char *slow_if = getenv("VAGT_PROBE_SLOW_IF");
    if (!slow_if || access(slow_if, F_OK) == 0) usleep(d ? (useconds_t)atoi(d) : 0);
    note("S\n");
    return rc;
}

ssize_t send(int fd, const void *buf, size_t len, int flags) {
    static ssize_t (*real)(int, const void *, size_t, int);
    if (!real) real = (ssize_t (*)(int, const void *, size_t, int))dlsym(RTLD_NEXT, "send");
    if (is_ack(buf, len)) note("A\n");
    return real(fd, buf, len, flags);
}

ssize_t sendto(int fd, const void *buf, size_t len, int flags, const struct sockaddr *to, socklen_t tolen) {
    static ssize_t (*real)(int, const void *, size_t, int, const struct sockaddr *, socklen_t);
    if (!real) real = (ssize_t (*)(int, const void *, size_t, int, const struct sockaddr *, socklen_t))dlsym(RTLD_NEXT, "sendto");
    if (is_ack(buf, len)) note("A\n");
    return real(fd, buf, len, flags, to, tolen);
}

ssize_t write(int fd, const void *buf, size_t len) {
    static ssize_t (*real)(int, const void *, size_t);
    if (!real) real = (ssize_t (*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
    if (is_ack(buf, len)) note("A\n");
    return real(fd, buf, len);
}
