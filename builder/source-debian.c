/* source-debian.c: a Debian base from packages: mmdebstrap --mode=unshare writes a tar stream to a pipe
 * and the archive source reads it, so the root file system is never unpacked on disk.
 *
 * mmdebstrap runs in a session of its own: when it fails it sends SIGHUP to its whole process group
 * (`kill HUP => -getpgrp()`), which must reach only itself and its children, never ingot. So a
 * terminal's SIGINT does not reach it either: when the build is cancelled or fails, ingot stops it
 * (SIGTERM to its group while it prepares the root, the closed pipe once it writes) and waits until
 * it has cleaned up. What it prints goes to a memory file, and a failure is reported with the lines
 * that say why. */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "source.h"

extern char **environ;

/* mmdebstrap copies the build machine's /etc/hostname and /etc/resolv.conf into the chroot for the
 * installation (as regular files); they are the build host's, not the image's. No Debian package
 * ships either as a regular file (resolvconf and systemd-resolved make /etc/resolv.conf a symlink,
 * which stays). */
#define HOOK_FORGET_HOST                                                                        \
        "--customize-hook=for f in hostname resolv.conf; do "                                   \
        "if [ -f \"$1/etc/$f\" ] && [ ! -h \"$1/etc/$f\" ]; then rm -f \"$1/etc/$f\"; fi; done"

/* How many of mmdebstrap's lines a failure quotes, and how much of each. */
#define REASON_LINES 3
#define REASON_LINE_MAX 240
/* The tail of its output that is looked at. */
#define OUTPUT_TAIL (256 * 1024)

static int build_argv(const struct ingot_recipe *r, char ***ret) {
        _cleanup_strv_free_ char **argv = NULL;
        _cleanup_free_ char *variant = NULL, *include = NULL;
        if (asprintf(&variant, "--variant=%s", r->debian_variant ?: "minbase") < 0)
                return -ENOMEM;
        if (r->packages) {
                size_t len = 0;
                for (char **p = r->packages; *p; p++)
                        len += strlen(*p) + 1;
                include = malloc(len + sizeof("--include="));
                if (!include)
                        return -ENOMEM;
                char *s = stpcpy(include, "--include=");
                for (char **p = r->packages; *p; p++)
                        s = stpcpy(stpcpy(s, p == r->packages ? "" : ","), *p);
        }
        /* not --quiet: apt's own account of a failure ("Err:", "E: ...") is what the error quotes; a NULL
         * (no packages, no mirror) is left out */
        const char *args[] = { "mmdebstrap", "--mode=unshare", "--format=tar", variant, HOOK_FORGET_HOST, include,
                               r->base_source, "-", r->debian_mirror };
        for (size_t i = 0; i < ELEMENTSOF(args); i++) {
                if (!args[i])
                        continue;
                int q = strv_extend(&argv, args[i]);
                if (q < 0)
                        return q;
        }
        *ret = TAKE_PTR(argv);
        return 0;
}

/* The environment with SOURCE_DATE_EPOCH as the build has it: mmdebstrap makes its tar (file times,
 * /etc/shadow's dates, what it removes) reproducible from it. */
static int build_env(int64_t source_date_epoch, char ***ret) {
        _cleanup_strv_free_ char **env = NULL;
        for (char **e = environ; e && *e; e++) {
                if (strncmp(*e, "SOURCE_DATE_EPOCH=", 18) == 0)
                        continue;
                int r = strv_extend(&env, *e);
                if (r < 0)
                        return r;
        }
        if (source_date_epoch >= 0) {
                char *s;
                if (asprintf(&s, "SOURCE_DATE_EPOCH=%lld", (long long) source_date_epoch) < 0)
                        return -ENOMEM;
                int r = strv_push(&env, s);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(env);
        return 0;
}

static int spawn(char **argv, char **env, int out_fd, int err_fd, pid_t *ret_pid, struct ingot_error *err) {
        posix_spawn_file_actions_t fa;
        posix_spawnattr_t attr;
        posix_spawn_file_actions_init(&fa);
        posix_spawnattr_init(&attr);
        posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_adddup2(&fa, out_fd, STDOUT_FILENO);
        posix_spawn_file_actions_adddup2(&fa, err_fd, STDERR_FILENO);
        /* a session (and process group) of its own; default dispositions and no blocked signals, so
         * that our SIGTERM stops it whatever the caller did with its own signals */
        sigset_t def, none;
        sigemptyset(&def);
        sigaddset(&def, SIGINT);
        sigaddset(&def, SIGTERM);
        sigaddset(&def, SIGHUP);
        sigaddset(&def, SIGPIPE);
        sigemptyset(&none);
        posix_spawnattr_setsigdefault(&attr, &def);
        posix_spawnattr_setsigmask(&attr, &none);
        posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
        int r = posix_spawnp(ret_pid, argv[0], &fa, &attr, argv, env);
        posix_spawnattr_destroy(&attr);
        posix_spawn_file_actions_destroy(&fa);
        if (r != 0)
                return error_set(err, -r, "cannot run mmdebstrap: %s", strerror(r));
        return 0;
}

struct debian_source {
        struct source source;
        struct source *stream; /* the archive source over the pipe */
        const volatile sig_atomic_t *cancel;
        char *suite, *display;
        int pipe, output;      /* its stdout (our end), its stdout and stderr's memory file */
        pid_t pid;
        char buffer[64 * 1024];
};

static bool cancelled(const struct debian_source *d) {
        return d->cancel && *d->cancel;
}

/* Reads what is left of the stream after the end of the archive, so that mmdebstrap's last writes
 * do not fail. */
static int drain(struct debian_source *d) {
        for (;;) {
                if (cancelled(d))
                        return -ECANCELED;
                struct pollfd p = { .fd = d->pipe, .events = POLLIN };
                int n = poll(&p, 1, 100);
                if (n < 0 && errno != EINTR)
                        return -errno;
                if (n <= 0)
                        continue;
                ssize_t got = read(d->pipe, d->buffer, sizeof(d->buffer));
                if (got == 0)
                        return 0;
                if (got < 0 && errno != EINTR)
                        return -errno;
        }
}

/* Waits for mmdebstrap, first stopping it (SIGTERM to its process group, which it leads) when stop is
 * set: the build ended while it was still preparing the root (downloading, installing), before it
 * wrote anything. Once it writes, the closed pipe stops it (EPIPE: it sends its own group SIGHUP and
 * removes its temporary directory), and a signal could cut that cleanup short. */
static int wait_mmdebstrap(pid_t pid, bool stop, int *ret_status) {
        if (stop)
                (void) kill(-pid, SIGTERM);
        while (waitpid(pid, ret_status, 0) < 0)
                if (errno != EINTR)
                        return -errno;
        return 0;
}

static bool starts_with(const char *s, size_t len, const char *prefix) {
        size_t n = strlen(prefix);
        return len >= n && memcmp(s, prefix, n) == 0;
}

/* Appends "\n  LINE" (cut to REASON_LINE_MAX bytes) to reason. */
static void reason_add(char *reason, size_t size, const char *line, size_t len) {
        size_t used = strlen(reason);
        if (used + 4 >= size)
                return;
        snprintf(reason + used, size - used, "\n  %.*s%s", (int) (len > REASON_LINE_MAX ? REASON_LINE_MAX : len),
                 line, len > REASON_LINE_MAX ? "..." : "");
}

/* The lines of mmdebstrap's output that say why it failed: its and apt's "E:" lines (but the final
 * "E: mmdebstrap failed to run"), the first REASON_LINES of them; without any, its last lines that
 * are not "I:" progress. Empty when it said nothing. */
static void failure_reason(int fd, char *reason, size_t size) {
        *reason = 0;
        off_t end = lseek(fd, 0, SEEK_END);
        if (end <= 0)
                return;
        size_t len = end > OUTPUT_TAIL ? OUTPUT_TAIL : (size_t) end;
        _cleanup_free_ char *text = malloc(len + 1);
        if (!text || pread_full(fd, text, len, (uint64_t) (end - (off_t) len)) < 0)
                return;
        text[len] = 0;

        const char *lines[REASON_LINES];
        size_t lens[REASON_LINES], n = 0;
        const char *other[REASON_LINES]; /* the last lines that are not "I:", as a ring */
        size_t other_lens[REASON_LINES], n_other = 0;
        for (char *s = text; *s;) {
                char *e = strchrnul(s, '\n');
                size_t l = (size_t) (e - s);
                while (l > 0 && (s[l - 1] == '\r' || s[l - 1] == ' '))
                        l--;
                if (starts_with(s, l, "E: ") && !starts_with(s, l, "E: mmdebstrap failed to run")) {
                        if (n < REASON_LINES) {
                                lines[n] = s;
                                lens[n++] = l;
                        }
                } else if (l > 0 && !starts_with(s, l, "I: ")) {
                        other[n_other % REASON_LINES] = s;
                        other_lens[n_other++ % REASON_LINES] = l;
                }
                s = *e ? e + 1 : e;
        }
        for (size_t i = 0; i < n; i++)
                reason_add(reason, size, lines[i], lens[i]);
        if (n > 0)
                return;
        size_t first = n_other > REASON_LINES ? n_other - REASON_LINES : 0;
        for (size_t i = first; i < n_other; i++)
                reason_add(reason, size, other[i % REASON_LINES], other_lens[i % REASON_LINES]);
}

static int debian_next(struct source *source, const struct source_entry **ret, struct ingot_error *err) {
        struct debian_source *d = (struct debian_source *) source;
        return d->stream->next(d->stream, ret, err);
}

static int debian_read(struct source *source, const void **ret_data, size_t *ret_size, uint64_t *ret_offset,
                       struct ingot_error *err) {
        struct debian_source *d = (struct debian_source *) source;
        return d->stream->read(d->stream, ret_data, ret_size, ret_offset, err);
}

static void debian_free(struct debian_source *d) {
        if (!d)
                return;
        safe_close(d->pipe);
        safe_close(d->output);
        free(d->suite);
        free(d->display);
        free(d);
}
DEFINE_TRIVIAL_CLEANUP_FUNC(struct debian_source *, debian_free);

/* The stream's result is the build's, unless mmdebstrap failed and so cut the stream: then its
 * failure is the cause, with the lines that say why. */
static int debian_close(struct source *source, int result, const struct ingot_error *result_err,
                        struct ingot_error *err) {
        struct debian_source *d = (struct debian_source *) source;
        bool started, ended;
        source_archive_stream_state(d->stream, &started, &ended);
        struct ingot_error stream_err = { 0 };
        int r = d->stream->close(d->stream, result, result_err, &stream_err);
        if (r >= 0)
                r = drain(d);
        /* from here on its writes fail (EPIPE) and it tears itself down */
        d->pipe = safe_close(d->pipe);

        int status = 0;
        int w = wait_mmdebstrap(d->pid, r < 0 && !started, &status);
        if (w < 0)
                r = error_set(err, w, "waiting for mmdebstrap: %s", strerror(-w));
        else if (cancelled(d))
                r = error_set(err, -ECANCELED, "interrupted");
        else if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
                r = r < 0 ? error_set(err, r, "%s", stream_err.code ? stream_err.message : strerror(-r)) : 0;
        else if (r < 0 && !ended) /* our error, before mmdebstrap cut the stream */
                r = error_set(err, r, "%s", stream_err.code ? stream_err.message : strerror(-r));
        else {
                char reason[REASON_LINES * (REASON_LINE_MAX + 8) + 1];
                failure_reason(d->output, reason, sizeof(reason));
                if (WIFEXITED(status))
                        r = error_set(err, -EPROTO, "mmdebstrap %s failed with exit status %d%s%s", d->suite,
                                      WEXITSTATUS(status), *reason ? ":" : " and said nothing", reason);
                else
                        r = error_set(err, -EPROTO, "mmdebstrap %s was killed by signal %d (%s)%s%s", d->suite,
                                      WTERMSIG(status), strsignal(WTERMSIG(status)), *reason ? ":" : "", reason);
        }
        debian_free(d);
        return r;
}

int source_debian_open(const struct ingot_recipe *recipe, int64_t source_date_epoch, const volatile sig_atomic_t *cancel,
                       struct source **ret, struct ingot_error *err) {
        _cleanup_strv_free_ char **argv = NULL, **env = NULL;
        int r = build_argv(recipe, &argv);
        if (r < 0)
                return r;
        r = build_env(source_date_epoch, &env);
        if (r < 0)
                return r;
        _cleanup_(debian_freep) struct debian_source *d = calloc(1, sizeof(*d));
        if (!d)
                return -ENOMEM;
        d->pipe = d->output = -1;
        d->cancel = cancel;
        d->suite = strdup(recipe->base_source);
        if (!d->suite || asprintf(&d->display, "mmdebstrap %s", recipe->base_source) < 0) {
                d->display = NULL;
                return -ENOMEM;
        }
        d->source = (struct source) { .display = d->display, .next = debian_next, .read = debian_read,
                                      .close = debian_close };

        int pipefd[2];
        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return error_set(err, -errno, "pipe: %s", strerror(errno));
        d->pipe = pipefd[0];
        _cleanup_close_ int wfd = pipefd[1];
        d->output = memfd_create("mmdebstrap-output", MFD_CLOEXEC);
        if (d->output < 0)
                return error_set(err, -errno, "memfd_create: %s", strerror(errno));
        r = spawn(argv, env, wfd, d->output, &d->pid, err);
        if (r < 0)
                return r;
        r = source_archive_open(d->pipe, d->display, cancel, &d->stream);
        if (r < 0) { /* mmdebstrap sees its stdout closed and stops */
                int status;
                wfd = safe_close(wfd);
                d->pipe = safe_close(d->pipe);
                (void) wait_mmdebstrap(d->pid, true, &status);
                return r;
        }
        *ret = &d->source;
        TAKE_PTR(d);
        return 0;
}
