/* progress.c: the progress line long verbs draw on a terminal: a monotonic clock, at most five
 * redraws a second, and the line cleared when the work ends. */
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
        s->shown = true;
        return true;
}

void progress_clear(struct progress_state *s) {
        if (s->shown)
                fputs("\r\033[K", stderr);
}
