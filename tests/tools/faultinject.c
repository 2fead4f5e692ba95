/* faultinject.c: an LD_PRELOAD library that stops a process at a chosen write to one file, the
 * power-cut harness's knife. FAULT_FILE: the file (disk image) watched; FAULT_AFTER=k: k writes to it
 * go through, the next one ends the process with exit status 99 before it happens; FAULT_COUNT: a file
 * that gets the number of writes made, when the process ends by itself.
 * And the attacker of a time-of-check-to-time-of-use race: FAULT_CHANGE_FILE (an image being installed)
 * is overwritten with the bytes of FAULT_CHANGE_WITH just before the first read from it of at least
 * FAULT_CHANGE_READ bytes (the install's data copy), after everything read before was checked.
 * And two faults of a mapped image: FAULT_NO_POPULATE=1 makes madvise(MADV_POPULATE_READ) fail with
 * EINVAL, as on kernels before 5.14; FAULT_SHRINK_FILE is truncated to one page at the first such call. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

static dev_t watched_dev;
static ino_t watched_ino;
static int watching;
static long long allowed = -1, made;
static dev_t change_dev;
static ino_t change_ino;
static int changing;
static long long change_read;

__attribute__((constructor)) static void setup(void) {
        const char *f = getenv("FAULT_FILE"), *k = getenv("FAULT_AFTER");
        struct stat st;
        if (f && stat(f, &st) == 0) {
                watched_dev = st.st_dev;
                watched_ino = st.st_ino;
                watching = 1;
        }
        if (k)
                allowed = atoll(k);
        const char *c = getenv("FAULT_CHANGE_FILE"), *n = getenv("FAULT_CHANGE_READ");
        if (c && getenv("FAULT_CHANGE_WITH") && stat(c, &st) == 0) {
                change_dev = st.st_dev;
                change_ino = st.st_ino;
                changing = 1;
                change_read = n ? atoll(n) : 1;
        }
}

#define NEXT(name) ((__typeof__(&name)) dlsym(RTLD_NEXT, #name))

/* Copies FAULT_CHANGE_WITH over FAULT_CHANGE_FILE in place (same inode), once. */
static void before_read(int fd, size_t n) {
        struct stat st;
        if (!changing || (long long) n < change_read || fstat(fd, &st) != 0 || st.st_dev != change_dev ||
            st.st_ino != change_ino)
                return;
        changing = 0;
        int in = open(getenv("FAULT_CHANGE_WITH"), O_RDONLY | O_CLOEXEC);
        int out = open(getenv("FAULT_CHANGE_FILE"), O_WRONLY | O_CLOEXEC);
        char buf[65536];
        ssize_t got;
        off_t off = 0;
        while (in >= 0 && out >= 0 && (got = read(in, buf, sizeof(buf))) > 0) {
                if (NEXT(pwrite)(out, buf, (size_t) got, off) != got)
                        _exit(98);
                off += got;
        }
        if (in < 0 || out < 0 || fsync(out) != 0)
                _exit(98);
        close(in);
        close(out);
        fprintf(stderr, "faultinject: %s now holds the bytes of %s\n", getenv("FAULT_CHANGE_FILE"),
                getenv("FAULT_CHANGE_WITH"));
}

ssize_t pread(int fd, void *buf, size_t n, off_t off) {
        before_read(fd, n);
        return NEXT(pread)(fd, buf, n, off);
}

ssize_t pread64(int fd, void *buf, size_t n, off_t off) {
        before_read(fd, n);
        return NEXT(pread64)(fd, buf, n, off);
}

ssize_t read(int fd, void *buf, size_t n) {
        before_read(fd, n);
        return NEXT(read)(fd, buf, n);
}

__attribute__((destructor)) static void report(void) {
        const char *c = getenv("FAULT_COUNT");
        if (!c || !watching)
                return;
        FILE *f = fopen(c, "we");
        if (f) {
                fprintf(f, "%lld\n", made);
                fclose(f);
        }
}

static void before_write(int fd) {
        struct stat st;
        if (!watching || fstat(fd, &st) != 0 || st.st_dev != watched_dev || st.st_ino != watched_ino)
                return;
        if (allowed >= 0 && made >= allowed)
                _exit(99);
        made++;
}


ssize_t write(int fd, const void *buf, size_t n) {
        before_write(fd);
        return NEXT(write)(fd, buf, n);
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off) {
        before_write(fd);
        return NEXT(pwrite)(fd, buf, n, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off) {
        before_write(fd);
        return NEXT(pwrite64)(fd, buf, n, off);
}

ssize_t writev(int fd, const struct iovec *iov, int n) {
        before_write(fd);
        return NEXT(writev)(fd, iov, n);
}

ssize_t pwritev(int fd, const struct iovec *iov, int n, off_t off) {
        before_write(fd);
        return NEXT(pwritev)(fd, iov, n, off);
}

int madvise(void *addr, size_t len, int advice) {
        static int shrunk, refused;
        const char *shrink = getenv("FAULT_SHRINK_FILE");
        if (advice == MADV_POPULATE_READ && shrink && !__atomic_exchange_n(&shrunk, 1, __ATOMIC_SEQ_CST)) {
                if (truncate(shrink, 4096) != 0)
                        _exit(98);
                fprintf(stderr, "faultinject: %s is now 4096 bytes\n", shrink);
        }
        if (advice == MADV_POPULATE_READ && getenv("FAULT_NO_POPULATE")) {
                if (!__atomic_exchange_n(&refused, 1, __ATOMIC_SEQ_CST))
                        fprintf(stderr, "faultinject: MADV_POPULATE_READ refused\n");
                errno = EINVAL;
                return -1;
        }
        return NEXT(madvise)(addr, len, advice);
}
