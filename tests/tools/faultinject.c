/* faultinject.c: an LD_PRELOAD library that stops a process at a chosen write to one file, the
 * power-cut harness's knife. FAULT_FILE: the file (disk image) watched; FAULT_AFTER=k: k writes to it
 * go through, the next one ends the process with exit status 99 before it happens; FAULT_COUNT: a file
 * that gets the number of writes made, when the process ends by itself. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

static dev_t watched_dev;
static ino_t watched_ino;
static int watching;
static long long allowed = -1, made;

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

#define NEXT(name) ((__typeof__(&name)) dlsym(RTLD_NEXT, #name))

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
