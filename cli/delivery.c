/* delivery.c: what the CLI's network installs share (`slot install URL`, `update`): trusted certificates,
 * curl's CA variables, and events drawn as a progress line and messages, or printed as JSON lines. */
#include <glob.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "util.h"

int load_trusted_certs(char ***certs) {
        if (*certs)
                return 0;
        glob_t g;
        if (glob(TRUSTED_DIR "/*.crt", 0, NULL, &g) != 0) {
                log_error("no trusted certificate: give --cert CERT (and none in %s)", TRUSTED_DIR);
                return EXIT_USAGE;
        }
        for (size_t i = 0; i < g.gl_pathc; i++)
                if (strv_extend(certs, g.gl_pathv[i]) < 0) {
                        globfree(&g);
                        return EXIT_FAILURE_;
                }
        globfree(&g);
        return 0;
}

void delivery_print(struct delivery *d, json_object *o) {
        (void) d;
        puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
        fflush(stdout);
        json_object_put(o);
}

static json_object *event_json(const char *type) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "event", json_object_new_string(type));
        return o;
}

static void on_event(const struct ingot_fetch_event *e, void *userdata) {
        struct delivery *d = userdata;
        if (d->json) {
                json_object *o = event_json(e->type);
                if (e->url)
                        json_object_object_add(o, "url", json_object_new_string(e->url));
                if (e->version)
                        json_object_object_add(o, "version", json_object_new_string(e->version));
                if (e->message)
                        json_object_object_add(o, "message", json_object_new_string(e->message));
                if (strcmp(e->type, "resume") == 0)
                        json_object_object_add(o, "offset", json_object_new_int64((int64_t) e->offset));
                if (strcmp(e->type, "seeded") == 0 || strcmp(e->type, "installed") == 0) {
                        json_object_object_add(o, "reused", json_object_new_int64((int64_t) e->reused));
                        json_object_object_add(o, "fetched", json_object_new_int64((int64_t) e->fetched));
                }
                if (strcmp(e->type, "retry") == 0) {
                        json_object_object_add(o, "attempt", json_object_new_int((int) e->attempt));
                        json_object_object_add(o, "delay_ms", json_object_new_int((int) e->delay_ms));
                }
                delivery_print(d, o);
                return;
        }
        progress_clear(&d->progress);
        d->progress.shown = false;
        if (strcmp(e->type, "retry") == 0)
                log_error("%s: %s; trying again in %.1f s (attempt %u)", e->url, e->message, e->delay_ms / 1000.0,
                          e->attempt);
        else if (strcmp(e->type, "resume") == 0)
                log_error("%s: resuming at byte %llu", e->url, (unsigned long long) e->offset);
        else if (strcmp(e->type, "seed") == 0 || strcmp(e->type, "seed-damaged") == 0)
                log_error("%s: %s", e->url, e->message);
        else if (strcmp(e->type, "full") == 0)
                log_error("%s: fetching the whole image: %s", e->url, e->message);
        else if (strcmp(e->type, "selected") == 0 && d->tty)
                fprintf(stderr, "installing %s from %s\n", e->version, e->url);
        else if (strcmp(e->type, "seeded") == 0 && d->tty)
                fprintf(stderr, "%.1f MiB found on the disk's slots, %.1f MiB to fetch\n", e->reused / 1048576.0,
                        e->fetched / 1048576.0);
}

static void on_progress(const struct ingot_progress *p, void *userdata) {
        struct delivery *d = userdata;
        if (!d->json) {
                progress_draw_bytes(p, &d->progress);
                return;
        }
        if (!progress_due(&d->progress, p->bytes == p->total_bytes))
                return;
        json_object *o = event_json("progress");
        json_object_object_add(o, "bytes", json_object_new_int64((int64_t) p->bytes));
        json_object_object_add(o, "total", json_object_new_int64((int64_t) p->total_bytes));
        delivery_print(d, o);
}

void delivery_setup(struct delivery *d, struct ingot_fetch_options *fo, struct ingot_install_options *io) {
        d->tty = isatty(STDERR_FILENO);
        d->progress = (struct progress_state) { .start = now_seconds() };
        /* as curl(1) does: --cacert beats CURL_CA_BUNDLE, which beats SSL_CERT_FILE; proxies
         * (http_proxy, HTTPS_PROXY, ALL_PROXY, NO_PROXY) libcurl reads itself */
        fo->cacert = d->cacert ?: getenv("CURL_CA_BUNDLE") ?: getenv("SSL_CERT_FILE");
        fo->capath = d->capath ?: getenv("SSL_CERT_DIR");
        fo->attempts = d->attempts;
        fo->full = d->full;
        fo->event = on_event;
        fo->userdata = d;
        io->progress = d->json || d->tty ? on_progress : NULL;
        io->userdata = d;
}

int delivery_error(struct delivery *d, int code, const struct ingot_error *err) {
        progress_clear(&d->progress);
        if (d->json) {
                json_object *o = event_json("error");
                json_object_object_add(o, "message",
                                       json_object_new_string(err && err->code ? err->message : strerror(-code)));
                delivery_print(d, o);
        }
        return log_lib_error(NULL, code, err);
}
