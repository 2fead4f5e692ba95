/* replay.c: the main of a fuzz target built without libFuzzer: runs the target once on every file
 * given, and on every file in each directory given, so `make check` replays corpora and crashes. */
#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>

#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static int replay_file(const char *path) {
        FILE *f = fopen(path, "re");
        if (!f) {
                fprintf(stderr, "%s: %s\n", path, strerror(errno));
                return -1;
        }
        size_t cap = 1 << 16, size = 0;
        uint8_t *buf = malloc(cap);
        for (size_t n; buf && (n = fread(buf + size, 1, cap - size, f)) > 0;) {
                size += n;
                if (size == cap)
                        buf = realloc(buf, cap *= 2);
        }
        fclose(f);
        if (!buf)
                return -1;
        LLVMFuzzerTestOneInput(buf, size);
        free(buf);
        return 0;
}

int main(int argc, char **argv) {
        if (LLVMFuzzerInitialize)
                LLVMFuzzerInitialize(&argc, &argv);
        unsigned replayed = 0;
        for (int i = 1; i < argc; i++) {
                struct stat st;
                if (stat(argv[i], &st) < 0) {
                        fprintf(stderr, "%s: %s\n", argv[i], strerror(errno));
                        return 1;
                }
                if (!S_ISDIR(st.st_mode)) {
                        if (replay_file(argv[i]) < 0)
                                return 1;
                        replayed++;
                        continue;
                }
                struct dirent **names;
                int n = scandir(argv[i], &names, NULL, alphasort);
                if (n < 0) {
                        fprintf(stderr, "%s: %s\n", argv[i], strerror(errno));
                        return 1;
                }
                for (int k = 0; k < n; k++) {
                        char path[4096];
                        snprintf(path, sizeof(path), "%s/%s", argv[i], names[k]->d_name);
                        if (names[k]->d_name[0] != '.' && stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
                                if (replay_file(path) < 0)
                                        return 1;
                                replayed++;
                        }
                        free(names[k]);
                }
                free(names);
        }
        printf("replayed %u inputs\n", replayed);
        return 0;
}
