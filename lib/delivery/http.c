/* http.c: libcurl transfers for fleet delivery: the options every transfer shares (http and https only,
 * redirects, timeouts, CA settings; proxies from the environment, as libcurl reads them), bounded retries
 * with doubling backoff, an in-order stream that resumes an interrupted transfer with Range, and ranges. */
#include <curl/curl.h>
#include <strings.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "http.h"

/* curl_easy_cleanup takes NULL. */
DEFINE_TRIVIAL_CLEANUP_FUNC(CURL *, curl_easy_cleanup);

#define MAX_DELAY_MS 8000u
#define MAX_FAILURES_TOTAL 100u /* even with progress between them: a server that drops every few bytes */

static pthread_once_t once = PTHREAD_ONCE_INIT;
static CURLcode init_result;

static void global_init(void) {
        init_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static CURL *easy_new(const struct ingot_fetch_options *o, const char *url, char *errbuf) {
        pthread_once(&once, global_init);
        if (init_result != CURLE_OK)
                return NULL;
        CURL *c = curl_easy_init();
        if (!c)
                return NULL;
        errbuf[0] = 0;
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
        curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L); /* a stalled transfer fails after 30 s */
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 30L);
        curl_easy_setopt(c, CURLOPT_USERAGENT, "ingot/" INGOT_VERSION);
        curl_easy_setopt(c, CURLOPT_BUFFERSIZE, 256L * 1024);
        if (o->cacert)
                curl_easy_setopt(c, CURLOPT_CAINFO, o->cacert);
        if (o->capath)
                curl_easy_setopt(c, CURLOPT_CAPATH, o->capath);
        return c;
}

/* Failures worth another try: the network, the server's 5xx, 408 and 429. */
static bool transient(CURLcode rc, long status) {
        switch (rc) {
        case CURLE_HTTP_RETURNED_ERROR:
                return status >= 500 || status == 408 || status == 429;
        case CURLE_COULDNT_RESOLVE_PROXY:
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_CONNECT:
        case CURLE_OPERATION_TIMEDOUT:
        case CURLE_SEND_ERROR:
        case CURLE_RECV_ERROR:
        case CURLE_GOT_NOTHING:
        case CURLE_PARTIAL_FILE:
        case CURLE_HTTP2:
        case CURLE_HTTP2_STREAM:
                return true;
        default:
                return false;
        }
}

static int errno_of(CURLcode rc, long status) {
        switch (rc) {
        case CURLE_HTTP_RETURNED_ERROR:
                return status == 404 || status == 410 ? -ENOENT : status == 403 || status == 401 ? -EACCES : -EPROTO;
        case CURLE_COULDNT_CONNECT:
                return -ECONNREFUSED;
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_RESOLVE_PROXY:
                return -EHOSTUNREACH;
        case CURLE_OPERATION_TIMEDOUT:
                return -ETIMEDOUT;
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CACERT_BADFILE:
        case CURLE_SSL_CONNECT_ERROR:
                return -EKEYREJECTED;
        default:
                return -EIO;
        }
}

static void describe(CURLcode rc, long status, const char *errbuf, char *out, size_t size) {
        if (rc == CURLE_HTTP_RETURNED_ERROR)
                snprintf(out, size, "HTTP %ld", status);
        else
                snprintf(out, size, "%s", *errbuf ? errbuf : curl_easy_strerror(rc));
}

struct retry {
        const struct ingot_fetch_options *o;
        const char *url;
        unsigned failures, total;
};

/* After a failure: sleeps and says to try again, or says to give up. progressed: bytes came since the
 * last failure, which starts the count afresh. */
static bool retry_after(struct retry *rt, const char *why, bool progressed) {
        unsigned attempts = rt->o->attempts ? rt->o->attempts : 5;
        if (progressed)
                rt->failures = 0;
        rt->failures++;
        rt->total++;
        if (rt->failures >= attempts || rt->total >= MAX_FAILURES_TOTAL)
                return false;
        unsigned delay = rt->o->backoff_ms ? rt->o->backoff_ms : 500;
        for (unsigned i = 1; i < rt->failures && delay < MAX_DELAY_MS; i++)
                delay *= 2;
        if (delay > MAX_DELAY_MS)
                delay = MAX_DELAY_MS;
        if (rt->o->event)
                rt->o->event(&(struct ingot_fetch_event) { .type = "retry", .url = rt->url, .message = why,
                                                           .attempt = rt->failures + 1, .delay_ms = delay },
                             rt->o->userdata);
        struct timespec ts = { .tv_sec = delay / 1000, .tv_nsec = (long) (delay % 1000) * 1000000 };
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
        return true;
}

static int give_up(const struct retry *rt, CURLcode rc, long status, const char *why, struct ingot_error *err) {
        if (rt->failures > 1)
                return error_set(err, errno_of(rc, status), "%s: %s (gave up after %u attempts)", rt->url, why,
                                 rt->failures);
        return error_set(err, errno_of(rc, status), "%s: %s", rt->url, why);
}

struct membuf {
        uint8_t *data;
        size_t size, cap, max;
        bool too_big;
};

/* Appends len bytes to a growing buffer, keeping a NUL after them; false when out of memory. */
static bool append(uint8_t **buf, size_t *end, size_t *cap, const void *p, size_t len) {
        if (*end + len + 1 > *cap) {
                size_t c = (*end + len + 1) * 2;
                uint8_t *d = realloc(*buf, c);
                if (!d)
                        return false;
                *buf = d;
                *cap = c;
        }
        memcpy(*buf + *end, p, len);
        *end += len;
        (*buf)[*end] = 0;
        return true;
}

static void membuf_done(struct membuf *m) {
        free(m->data);
}

static size_t mem_write(char *p, size_t size, size_t n, void *userdata) {
        struct membuf *m = userdata;
        size_t len = size * n;
        if (len > m->max - m->size) {
                m->too_big = true;
                return 0;
        }
        return append(&m->data, &m->size, &m->cap, p, len) ? len : 0;
}

/* One transfer of url into m: libcurl's result and the HTTP status; -ENOMEM when libcurl cannot be set up. */
static int get_once(const struct ingot_fetch_options *o, const char *url, struct membuf *m, char *errbuf,
                    CURLcode *ret_rc, long *ret_status) {
        _cleanup_(curl_easy_cleanupp) CURL *c = easy_new(o, url, errbuf);
        if (!c)
                return -ENOMEM;
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, mem_write);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, m);
        *ret_rc = curl_easy_perform(c);
        *ret_status = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, ret_status);
        return 0;
}

int http_get(const struct ingot_fetch_options *o, const char *url, size_t max, uint8_t **ret, size_t *ret_size,
             struct ingot_error *err) {
        struct retry rt = { .o = o, .url = url };
        for (;;) {
                char errbuf[CURL_ERROR_SIZE];
                _cleanup_(membuf_done) struct membuf m = { .max = max };
                CURLcode rc;
                long status;
                if (get_once(o, url, &m, errbuf, &rc, &status) < 0)
                        return error_set(err, -ENOMEM, "%s: cannot set up libcurl", url);
                if (rc == CURLE_OK && (m.data || (m.data = calloc(1, 1)))) {
                        *ret = TAKE_PTR(m.data);
                        *ret_size = m.size;
                        return 0;
                }
                if (m.too_big)
                        return error_set(err, -EFBIG, "%s: larger than %zu bytes", url, max);
                char why[CURL_ERROR_SIZE + 32];
                describe(rc, status, errbuf, why, sizeof(why));
                if (!transient(rc, status) || !retry_after(&rt, why, false))
                        return give_up(&rt, rc, status, why, err);
        }
}

struct http_ranges {
        const struct ingot_fetch_options *o;
        char *url;
        CURL *c; /* kept: libcurl keeps its connection open for the next range */
        char errbuf[CURL_ERROR_SIZE];
        uint8_t *data;
        size_t size, got;
        bool not_partial;
};

static size_t range_write(char *p, size_t size, size_t n, void *userdata) {
        struct http_ranges *r = userdata;
        size_t len = size * n;
        long status = 0;
        curl_easy_getinfo(r->c, CURLINFO_RESPONSE_CODE, &status);
        if (status != 206 || len > r->size - r->got) {
                r->not_partial = true;
                return 0;
        }
        memcpy(r->data + r->got, p, len);
        r->got += len;
        return len;
}

int http_ranges_new(const struct ingot_fetch_options *o, const char *url, struct http_ranges **ret) {
        _cleanup_(http_ranges_freep) struct http_ranges *r = calloc(1, sizeof(*r));
        if (!r || !(r->url = strdup(url)) || !(r->c = easy_new(o, url, r->errbuf)))
                return -ENOMEM;
        r->o = o;
        curl_easy_setopt(r->c, CURLOPT_WRITEFUNCTION, range_write);
        curl_easy_setopt(r->c, CURLOPT_WRITEDATA, r);
        *ret = TAKE_PTR(r);
        return 0;
}

void http_ranges_free(struct http_ranges *r) {
        if (!r)
                return;
        curl_easy_cleanup(r->c);
        free(r->url);
        free(r);
}

int http_ranges_get(struct http_ranges *r, uint64_t offset, size_t size, void *buf, struct ingot_error *err) {
        struct retry rt = { .o = r->o, .url = r->url };
        size_t done = 0; /* a cut transfer goes on from where it stopped */
        for (;;) {
                char range[64];
                snprintf(range, sizeof(range), "%llu-%llu", (unsigned long long) (offset + done),
                         (unsigned long long) (offset + size - 1));
                r->data = (uint8_t *) buf + done;
                r->size = size - done;
                r->got = 0;
                r->not_partial = false;
                r->errbuf[0] = 0;
                curl_easy_setopt(r->c, CURLOPT_RANGE, range);
                CURLcode rc = curl_easy_perform(r->c);
                long status = 0;
                curl_easy_getinfo(r->c, CURLINFO_RESPONSE_CODE, &status);
                if (r->not_partial || (rc == CURLE_OK && status != 206))
                        return error_set(err, -EOPNOTSUPP,
                                         "%s: the server does not answer Range requests (bytes %s: HTTP %ld%s)", r->url,
                                         range, status, status == 206 ? ", more bytes than asked" : "");
                done += r->got;
                if (rc == CURLE_OK && done == size)
                        return 0;
                if (rc == CURLE_OK)
                        rc = CURLE_PARTIAL_FILE;
                char why[CURL_ERROR_SIZE + 32];
                describe(rc, status, r->errbuf, why, sizeof(why));
                if (!transient(rc, status) || !retry_after(&rt, why, r->got > 0))
                        return give_up(&rt, rc, status, why, err);
        }
}

/* The boundary of a multipart/byteranges Content-Type, into out; false for another type. */
static bool byteranges_boundary(const char *type, char *out, size_t size) {
        const char *b;
        if (!type || strncasecmp(type, "multipart/byteranges", 20) != 0 || !(b = strcasestr(type, "boundary=")))
                return false;
        b += 9;
        bool quoted = *b == '"';
        b += quoted;
        size_t n = strcspn(b, quoted ? "\"" : "; \t\r\n");
        if (n == 0 || n + 1 > size)
                return false;
        memcpy(out, b, n);
        out[n] = 0;
        return true;
}

/* The parts of body (between "--boundary" lines, each with its Content-Range) into buf where the ranges
 * asked put them; every range exactly once. */
static int split_parts(const uint8_t *body, size_t len, const char *boundary, const struct byte_range *ranges,
                       size_t n, uint8_t *buf) {
        _cleanup_free_ bool *seen = calloc(n ? n : 1, sizeof(*seen));
        if (!seen)
                return -ENOMEM;
        size_t found = 0, bl = strlen(boundary);
        const uint8_t *p = body, *end = body + len;
        for (;;) {
                /* the next "--boundary" */
                const uint8_t *m = NULL;
                for (const uint8_t *q = p; q + 2 + bl <= end; q++)
                        if (q[0] == '-' && q[1] == '-' && memcmp(q + 2, boundary, bl) == 0) {
                                m = q;
                                break;
                        }
                if (!m)
                        return -EBADMSG;
                p = m + 2 + bl;
                if (end - p >= 2 && p[0] == '-' && p[1] == '-')
                        break; /* the closing boundary */
                const uint8_t *headers_end = memmem(p, (size_t) (end - p), "\r\n\r\n", 4);
                if (!headers_end)
                        return -EBADMSG;
                unsigned long long a = 0, b = 0;
                bool have = false;
                for (const uint8_t *h = p; h < headers_end;) {
                        const uint8_t *eol = memmem(h, (size_t) (headers_end + 2 - h), "\r\n", 2);
                        if (!eol)
                                break;
                        char line[256];
                        size_t k = (size_t) (eol - h) < sizeof(line) - 1 ? (size_t) (eol - h) : sizeof(line) - 1;
                        memcpy(line, h, k);
                        line[k] = 0;
                        if (strncasecmp(line, "Content-Range:", 14) == 0 &&
                            sscanf(line + 14, " bytes %llu-%llu/", &a, &b) == 2 && b >= a)
                                have = true;
                        h = eol + 2;
                }
                p = headers_end + 4;
                if (!have || (uint64_t) (end - p) < b - a + 1)
                        return -EBADMSG;
                size_t at = 0, i;
                for (i = 0; i < n && !(ranges[i].offset == a && ranges[i].size == b - a + 1); i++)
                        at += ranges[i].size;
                if (i == n || seen[i])
                        return -EBADMSG; /* a part not asked for, not as asked, or twice */
                memcpy(buf + at, p, ranges[i].size);
                seen[i] = true;
                found++;
                p += ranges[i].size;
        }
        return found == n ? 0 : -EBADMSG;
}

int http_ranges_get_many(struct http_ranges *r, const struct byte_range *ranges, size_t n, void *buf,
                         struct ingot_error *err) {
        size_t total = 0, header = 0;
        for (size_t i = 0; i < n; i++) {
                total += ranges[i].size;
                header += 48;
        }
        _cleanup_free_ char *spec = malloc(header + 1);
        if (!spec)
                return -ENOMEM;
        size_t at = 0;
        for (size_t i = 0; i < n; i++)
                at += (size_t) snprintf(spec + at, header + 1 - at, "%s%llu-%llu", i ? "," : "",
                                        (unsigned long long) ranges[i].offset,
                                        (unsigned long long) (ranges[i].offset + ranges[i].size - 1));
        struct retry rt = { .o = r->o, .url = r->url };
        for (;;) {
                /* each part costs a boundary and a few header lines: 512 bytes is ample */
                _cleanup_(membuf_done) struct membuf m = { .max = total + n * 512 + 4096 };
                r->errbuf[0] = 0;
                curl_easy_setopt(r->c, CURLOPT_RANGE, spec);
                curl_easy_setopt(r->c, CURLOPT_WRITEFUNCTION, mem_write);
                curl_easy_setopt(r->c, CURLOPT_WRITEDATA, &m);
                CURLcode rc = curl_easy_perform(r->c);
                curl_easy_setopt(r->c, CURLOPT_WRITEFUNCTION, range_write);
                curl_easy_setopt(r->c, CURLOPT_WRITEDATA, r);
                long status = 0;
                char *type = NULL, boundary[128];
                curl_easy_getinfo(r->c, CURLINFO_RESPONSE_CODE, &status);
                curl_easy_getinfo(r->c, CURLINFO_CONTENT_TYPE, &type);
                if (m.too_big || (rc == CURLE_OK && (status != 206 || !byteranges_boundary(type, boundary, sizeof(boundary)))))
                        return error_set(err, -EOPNOTSUPP, "%s: the server does not answer %zu ranges at once (HTTP %ld, %s)",
                                         r->url, n, status, type ? type : "no type");
                if (rc == CURLE_OK) {
                        int q = split_parts(m.data, m.size, boundary, ranges, n, buf);
                        if (q == -ENOMEM)
                                return q;
                        if (q < 0)
                                return error_set(err, -EBADMSG, "%s: the answer to %zu ranges is not the parts asked for",
                                                 r->url, n);
                        return 0;
                }
                char why[CURL_ERROR_SIZE + 32];
                describe(rc, status, r->errbuf, why, sizeof(why));
                if (!transient(rc, status) || !retry_after(&rt, why, m.size > 0))
                        return give_up(&rt, rc, status, why, err);
        }
}

/* The stream: a receiver thread runs the transfer (and its resumes) into a ring buffer while the reader
 * takes bytes out in order, so the network never waits on the reader's writes and checks. */
#define RING (32u << 20)

struct http_stream {
        const struct ingot_fetch_options *o;
        char *url;
        uint64_t size;     /* what the index promises */
        uint8_t *ring;
        pthread_mutex_t lock;
        pthread_cond_t changed;
        uint64_t head;     /* bytes received: ring[head % RING] is the next to fill */
        uint64_t tail;     /* bytes handed to the reader */
        uint64_t at_last_failure;
        bool started, finished, cancel, too_long;
        int r;             /* the receiver's result once finished */
        struct ingot_error err;
        pthread_t thread;
        char errbuf[CURL_ERROR_SIZE];
        struct retry rt;
};

static size_t stream_write(char *p, size_t size, size_t n, void *userdata) {
        struct http_stream *s = userdata;
        size_t len = size * n, done = 0;
        pthread_mutex_lock(&s->lock);
        if (len > s->size - s->head) {
                s->too_long = true;
                pthread_mutex_unlock(&s->lock);
                return 0;
        }
        while (done < len) {
                while (s->head - s->tail == RING && !s->cancel)
                        pthread_cond_wait(&s->changed, &s->lock);
                if (s->cancel)
                        break;
                uint64_t head = s->head;
                size_t room = (size_t) (RING - (head - s->tail)), at = (size_t) (head % RING);
                size_t k = len - done < room ? len - done : room;
                if (k > RING - at)
                        k = RING - at;
                pthread_mutex_unlock(&s->lock); /* only this thread writes past head */
                memcpy(s->ring + at, p + done, k);
                pthread_mutex_lock(&s->lock);
                s->head += k;
                done += k;
                pthread_cond_broadcast(&s->changed);
        }
        pthread_mutex_unlock(&s->lock);
        return done == len ? len : 0;
}

/* The transfer of stream_transfer, from byte head on; -ENOMEM when libcurl cannot be set up. */
static int stream_perform(struct http_stream *s, CURLcode *ret_rc, long *ret_status) {
        _cleanup_(curl_easy_cleanupp) CURL *c = easy_new(s->o, s->url, s->errbuf);
        if (!c)
                return -ENOMEM;
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, stream_write);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, s);
        pthread_mutex_lock(&s->lock);
        uint64_t from = s->head;
        pthread_mutex_unlock(&s->lock);
        if (from > 0) {
                /* libcurl sends Range: bytes=N- and fails unless the answer is 206 from N */
                curl_easy_setopt(c, CURLOPT_RESUME_FROM_LARGE, (curl_off_t) from);
                if (s->o->event)
                        s->o->event(&(struct ingot_fetch_event) { .type = "resume", .url = s->url, .offset = from },
                                    s->o->userdata);
        }
        *ret_rc = curl_easy_perform(c);
        *ret_status = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, ret_status);
        return 0;
}

/* One transfer from byte head on; 1 to go on (resume), 0 when complete, or an error. */
static int stream_transfer(struct http_stream *s, struct ingot_error *err) {
        CURLcode rc;
        long status;
        if (stream_perform(s, &rc, &status) < 0)
                return error_set(err, -ENOMEM, "%s: cannot set up libcurl", s->url);
        pthread_mutex_lock(&s->lock);
        uint64_t head = s->head;
        bool cancel = s->cancel, too_long = s->too_long;
        pthread_mutex_unlock(&s->lock);
        if (cancel)
                return -ECANCELED;
        if (too_long)
                return error_set(err, -EBADMSG, "%s: longer than the %llu bytes the index lists", s->url,
                                 (unsigned long long) s->size);
        if (rc == CURLE_OK && head == s->size)
                return 0;
        if (rc == CURLE_OK)
                rc = CURLE_PARTIAL_FILE; /* the server ended early without saying so */
        char why[CURL_ERROR_SIZE + 64];
        describe(rc, status, s->errbuf, why, sizeof(why));
        if (rc == CURLE_RANGE_ERROR)
                return error_set(err, -EPROTO, "%s: cannot resume at byte %llu: %s", s->url, (unsigned long long) head,
                                 why);
        bool progressed = head > s->at_last_failure;
        s->at_last_failure = head;
        if (!transient(rc, status) || !retry_after(&s->rt, why, progressed))
                return give_up(&s->rt, rc, status, why, err);
        return 1;
}

static void *receiver(void *userdata) {
        struct http_stream *s = userdata;
        struct ingot_error e = { 0 };
        int r;
        while ((r = stream_transfer(s, &e)) > 0)
                ;
        pthread_mutex_lock(&s->lock);
        s->r = r;
        s->err = e;
        s->finished = true;
        pthread_cond_broadcast(&s->changed);
        pthread_mutex_unlock(&s->lock);
        return NULL;
}

int http_stream_new(const struct ingot_fetch_options *o, const char *url, uint64_t size, struct http_stream **ret) {
        _cleanup_(http_stream_freep) struct http_stream *s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        /* first, so that http_stream_free can take s from here on */
        pthread_mutex_init(&s->lock, NULL);
        pthread_cond_init(&s->changed, NULL);
        if (!(s->url = strdup(url)) || !(s->ring = malloc(RING)))
                return -ENOMEM;
        s->o = o;
        s->size = size;
        s->rt = (struct retry) { .o = o, .url = s->url };
        pthread_once(&once, global_init);
        if (init_result != CURLE_OK || pthread_create(&s->thread, NULL, receiver, s) != 0)
                return -ENOMEM;
        s->started = true;
        *ret = TAKE_PTR(s);
        return 0;
}

void http_stream_free(struct http_stream *s) {
        if (!s)
                return;
        if (s->started) {
                pthread_mutex_lock(&s->lock);
                s->cancel = true;
                pthread_cond_broadcast(&s->changed);
                pthread_mutex_unlock(&s->lock);
                pthread_join(s->thread, NULL);
        }
        pthread_mutex_destroy(&s->lock);
        pthread_cond_destroy(&s->changed);
        free(s->ring);
        free(s->url);
        free(s);
}

int http_stream_read(void *userdata, void *buf, size_t size, uint64_t offset, struct ingot_error *err) {
        struct http_stream *s = userdata;
        if (offset != s->tail || size > s->size - s->tail)
                return error_set(err, -EINVAL, "%s: bytes %llu-%llu asked out of order", s->url,
                                 (unsigned long long) offset, (unsigned long long) (offset + size));
        uint8_t *out = buf;
        size_t done = 0;
        pthread_mutex_lock(&s->lock);
        while (done < size) {
                while (s->head == s->tail && !s->finished)
                        pthread_cond_wait(&s->changed, &s->lock);
                if (s->head == s->tail) { /* finished without the bytes */
                        int r = s->r < 0 ? s->r : -EIO;
                        if (err && s->err.code)
                                *err = s->err;
                        pthread_mutex_unlock(&s->lock);
                        return s->err.code ? r : error_set(err, r, "%s: ended at byte %llu", s->url,
                                                           (unsigned long long) s->tail);
                }
                uint64_t tail = s->tail;
                size_t at = (size_t) (tail % RING), k = (size_t) (s->head - tail);
                if (k > size - done)
                        k = size - done;
                if (k > RING - at)
                        k = RING - at;
                pthread_mutex_unlock(&s->lock); /* only this thread reads before head */
                memcpy(out + done, s->ring + at, k);
                pthread_mutex_lock(&s->lock);
                s->tail += k;
                done += k;
                pthread_cond_broadcast(&s->changed);
        }
        pthread_mutex_unlock(&s->lock);
        return 0;
}
