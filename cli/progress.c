/* progress.c: the progress line long verbs draw on a terminal: a monotonic clock, at most five
 * redraws a second, the bytes-done line installs draw, and the line cleared when the work ends. */
#include <time.h>

#include "cli.h"

double now_seconds(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

bool progress_due(struct progress_state *s, bool final) {
        double t = now_seconds();
        if (t - s->last < 0.2 && !final)
                return false;
        s->last = t;
        return true;
}

void progress_clear(struct progress_state *s) {
        if (s->shown)
                fputs("\r\033[K", stderr);
}

void progress_draw_bytes(const struct ingot_progress *p, void *userdata) {
        struct progress_state *s = userdata;
        if (!progress_due(s, p->bytes == p->total_bytes))
                return;
        double t = s->last;
        double mib = (double) p->bytes / 1048576.0, total = (double) p->total_bytes / 1048576.0;
        fprintf(stderr, "\r\033[K%-6s %8.1f / %.1f MiB  %7.1f MiB/s", p->phase, mib, total,
                t > s->start ? mib / (t - s->start) : 0);
        s->shown = true;
        fflush(stderr);
}
