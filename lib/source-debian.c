/* source-debian.c: a Debian base from packages: mmdebstrap --mode=unshare writes a tar stream to a pipe
 * and the archive source reads it, so the root file system is never unpacked on disk. */
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>

#include "build.h"

extern char **environ;

static int build_argv(struct build *b, char ***ret) {
        const struct ingot_recipe *r = b->recipe;
        _cleanup_strv_free_ char **argv = NULL;
        _cleanup_free_ char *variant = NULL, *include = NULL;
        if (asprintf(&variant, "--variant=%s", r->debian_variant ?: "minbase") < 0)
                return -ENOMEM;
        int q = strv_extend(&argv, "mmdebstrap");
        if (q >= 0)
                q = strv_extend(&argv, "--quiet");
        if (q >= 0)
                q = strv_extend(&argv, "--mode=unshare");
        if (q >= 0)
                q = strv_extend(&argv, "--format=tar");
        if (q >= 0)
                q = strv_push(&argv, TAKE_PTR(variant));
        if (q >= 0 && r->packages) {
                size_t len = 0;
                for (char **p = r->packages; *p; p++)
                        len += strlen(*p) + 1;
                include = malloc(len + sizeof("--include="));
                if (!include)
                        return -ENOMEM;
                char *s = stpcpy(include, "--include=");
                for (char **p = r->packages; *p; p++)
                        s = stpcpy(stpcpy(s, p == r->packages ? "" : ","), *p);
                q = strv_push(&argv, TAKE_PTR(include));
        }
        if (q >= 0)
                q = strv_extend(&argv, r->base_source);
        if (q >= 0)
                q = strv_extend(&argv, "-");
        if (q >= 0 && r->debian_mirror)
                q = strv_extend(&argv, r->debian_mirror);
        if (q < 0)
                return q;
        *ret = TAKE_PTR(argv);
        return 0;
}

int source_debian_add(struct build *b) {
        _cleanup_strv_free_ char **argv = NULL;
        int r = build_argv(b, &argv);
        if (r < 0)
                return r;

        int pipefd[2];
        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return error_set(b->err, -errno, "pipe: %s", strerror(errno));
        _cleanup_close_ int rfd = pipefd[0], wfd = pipefd[1];

        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, wfd, STDOUT_FILENO);

        /* mmdebstrap makes its tar reproducible from SOURCE_DATE_EPOCH */
        _cleanup_strv_free_ char **env = NULL;
        for (char **e = environ; e && *e; e++)
                if (strncmp(*e, "SOURCE_DATE_EPOCH=", 18) != 0 && (r = strv_extend(&env, *e)) < 0)
                        break;
        if (r >= 0 && b->source_date_epoch >= 0) {
                char *s;
                if (asprintf(&s, "SOURCE_DATE_EPOCH=%lld", (long long) b->source_date_epoch) < 0)
                        r = -ENOMEM;
                else
                        r = strv_push(&env, s);
        }
        if (r < 0) {
                posix_spawn_file_actions_destroy(&fa);
                return r;
        }

        pid_t pid;
        r = posix_spawnp(&pid, argv[0], &fa, NULL, argv, env);
        posix_spawn_file_actions_destroy(&fa);
        if (r != 0)
                return error_set(b->err, -r, "cannot run mmdebstrap: %s", strerror(r));
        closep(&wfd);
        wfd = -1;

        _cleanup_free_ char *display = NULL;
        if (asprintf(&display, "mmdebstrap %s", b->recipe->base_source) < 0)
                display = NULL;
        r = source_archive_add(b, rfd, display ?: "mmdebstrap");
        if (r < 0)
                kill(pid, SIGTERM);
        closep(&rfd);
        rfd = -1;

        int status;
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return r < 0 ? r : error_set(b->err, -errno, "waitpid: %s", strerror(errno));
        if (r < 0)
                return r;
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
                return 0;
        if (WIFEXITED(status))
                return error_set(b->err, -EPROTO, "mmdebstrap %s failed with exit status %d (its messages are above)",
                                 b->recipe->base_source, WEXITSTATUS(status));
        return error_set(b->err, -EPROTO, "mmdebstrap %s was killed by signal %d", b->recipe->base_source,
                         WTERMSIG(status));
}
