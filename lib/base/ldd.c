/* ldd.c: the shared libraries and loader a host executable needs, as the host's ldd reports them
 * (for Binaries= in recipes and for the initrd's /init). */
#include <fcntl.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>

#include "ldd.h"

extern char **environ;

/* The libraries and loader a dynamic executable needs, as the host's ldd reports them. */
int host_libraries(const char *binary, const char *where, char ***ret, struct ingot_error *err) {
        int pipefd[2];
        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return -errno;
        _cleanup_close_ int rfd = pipefd[0], wfd = pipefd[1];
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, wfd, STDOUT_FILENO);
        posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
        char *argv[] = { (char *) "ldd", (char *) binary, NULL };
        pid_t pid;
        int r = posix_spawnp(&pid, "ldd", &fa, NULL, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        if (r != 0)
                return error_set(err, -r, "%s: cannot run ldd: %s", where, strerror(r));
        closep(&wfd);
        wfd = -1;

        _cleanup_fclose_ FILE *f = fdopen(TAKE_FD(rfd), "re");
        _cleanup_strv_free_ char **libs = NULL;
        _cleanup_free_ char *line = NULL;
        size_t size = 0;
        r = 0;
        while (f && getline(&line, &size, f) >= 0) {
                char *l = strstrip(line), *arrow = strstr(l, "=> "), *path = arrow ? arrow + 3 : l;
                if (r < 0)
                        continue;
                if (strncmp(path, "not found", 9) == 0) {
                        r = error_set(err, -ENOENT, "%s: %s needs %s, which the host lacks", where,
                                      binary, l);
                        continue;
                }
                if (path[0] != '/')
                        continue; /* linux-vdso.so.1 and the like live in the kernel */
                char *end = strstr(path, " (");
                if (end)
                        *end = 0;
                r = strv_extend(&libs, path);
        }
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        if (!f)
                return -ENOMEM;
        if (r < 0)
                return r;
        /* ldd fails for static executables: they need nothing */
        *ret = TAKE_PTR(libs);
        return 0;
}

