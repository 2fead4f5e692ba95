/* http.c: libcurl transfers for fleet delivery: the options every transfer shares (http and https only,
 * redirects, timeouts, CA settings; proxies from the environment, as libcurl reads them), bounded retries
 * with doubling backoff, and an in-order stream that resumes an interrupted transfer with Range. */
#include <curl/curl.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "http.h"

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

static size_t mem_write(char *p, size_t size, size_t n, void *userdata) {
        struct membuf *m = userdata;
        size_t len = size * n;
        if (len > m->max - m->size) {
                m->too_big = true;
                return 0;
        }
        if (m->size + len + 1 > m->cap) {
                size_t cap = (m->size + len + 1) * 2;
                uint8_t *d = realloc(m->data, cap);
                if (!d)
                        return 0;
                m->data = d;
                m->cap = cap;
        }
        memcpy(m->data + m->size, p, len);
        m->size += len;
        m->data[m->size] = 0;
        return len;
}

int http_get(const struct ingot_fetch_options *o, const char *url, size_t max, uint8_t **ret, size_t *ret_size,
             struct ingot_error *err) {
        struct retry rt = { .o = o, .url = url };
        for (;;) {
                char errbuf[CURL_ERROR_SIZE];
                struct membuf m = { .max = max };
                CURL *c = easy_new(o, url, errbuf);
                if (!c)
                        return error_set(err, -ENOMEM, "%s: cannot set up libcurl", url);
                curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, mem_write);
                curl_easy_setopt(c, CURLOPT_WRITEDATA, &m);
                CURLcode rc = curl_easy_perform(c);
                long status = 0;
                curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
                curl_easy_cleanup(c);
                if (rc == CURLE_OK && (m.data || (m.data = calloc(1, 1)))) {
                        *ret = m.data;
                        *ret_size = m.size;
                        return 0;
                }
                free(m.data);
                if (m.too_big)
                        return error_set(err, -EFBIG, "%s: larger than %zu bytes", url, max);
                char why[CURL_ERROR_SIZE + 32];
                describe(rc, status, errbuf, why, sizeof(why));
                if (!transient(rc, status) || !retry_after(&rt, why, false))
                        return give_up(&rt, rc, status, why, err);
        }
}

struct http_stream {
        const struct ingot_fetch_options *o;
        char *url;
        uint64_t size;     /* what the index promises */
        uint64_t received; /* bytes taken from the network: handed out or spilled */
        uint64_t pos;      /* bytes handed to the reader */
        uint64_t at_last_failure;
        CURLM *multi;
        CURL *easy;
        char errbuf[CURL_ERROR_SIZE];
        uint8_t *dest;     /* the reader's buffer while it waits */
        size_t dest_size, dest_filled;
        uint8_t *spill;    /* what came past the end of dest */
        size_t spill_start, spill_end, spill_cap;
        bool too_long, no_memory;
        struct retry rt;
};

static size_t stream_write(char *p, size_t size, size_t n, void *userdata) {
        struct http_stream *s = userdata;
        size_t len = size * n;
        if (len > s->size - s->received) {
                s->too_long = true;
                return 0;
        }
        size_t take = s->dest_size - s->dest_filled < len ? s->dest_size - s->dest_filled : len;
        memcpy(s->dest + s->dest_filled, p, take);
        s->dest_filled += take;
        if (take < len) {
                size_t rest = len - take;
                if (s->spill_end + rest > s->spill_cap) {
                        size_t cap = (s->spill_end + rest) * 2;
                        uint8_t *d = realloc(s->spill, cap);
                        if (!d) {
                                s->no_memory = true;
                                return 0;
                        }
                        s->spill = d;
                        s->spill_cap = cap;
                }
                memcpy(s->spill + s->spill_end, p + take, rest);
                s->spill_end += rest;
        }
        s->received += len;
        return len;
}

int http_stream_new(const struct ingot_fetch_options *o, const char *url, uint64_t size, struct http_stream **ret) {
        struct http_stream *s = calloc(1, sizeof(*s));
        if (!s || !(s->url = strdup(url))) {
                free(s);
                return -ENOMEM;
        }
        s->o = o;
        s->size = size;
        s->rt = (struct retry) { .o = o, .url = s->url };
        pthread_once(&once, global_init);
        if (init_result != CURLE_OK || !(s->multi = curl_multi_init())) {
                http_stream_free(s);
                return -ENOMEM;
        }
        *ret = s;
        return 0;
}

static void stream_stop(struct http_stream *s) {
        if (!s->easy)
                return;
        curl_multi_remove_handle(s->multi, s->easy);
        curl_easy_cleanup(s->easy);
        s->easy = NULL;
}

void http_stream_free(struct http_stream *s) {
        if (!s)
                return;
        stream_stop(s);
        if (s->multi)
                curl_multi_cleanup(s->multi);
        free(s->spill);
        free(s->url);
        free(s);
}

static int stream_start(struct http_stream *s, struct ingot_error *err) {
        s->easy = easy_new(s->o, s->url, s->errbuf);
        if (!s->easy)
                return error_set(err, -ENOMEM, "%s: cannot set up libcurl", s->url);
        curl_easy_setopt(s->easy, CURLOPT_WRITEFUNCTION, stream_write);
        curl_easy_setopt(s->easy, CURLOPT_WRITEDATA, s);
        if (s->received > 0) {
                /* libcurl sends Range: bytes=N- and fails unless the answer is 206 from N */
                curl_easy_setopt(s->easy, CURLOPT_RESUME_FROM_LARGE, (curl_off_t) s->received);
                if (s->o->event)
                        s->o->event(&(struct ingot_fetch_event) { .type = "resume", .url = s->url,
                                                                  .offset = s->received },
                                    s->o->userdata);
        }
        if (curl_multi_add_handle(s->multi, s->easy) != CURLM_OK) {
                stream_stop(s);
                return error_set(err, -ENOMEM, "%s: cannot start the transfer", s->url);
        }
        return 0;
}

/* The transfer ended (or broke): 0 to go on, resuming if bytes are missing; or an error. */
static int stream_finished(struct http_stream *s, struct ingot_error *err) {
        CURLcode rc = CURLE_OK;
        CURLMsg *m;
        int queued;
        while ((m = curl_multi_info_read(s->multi, &queued)))
                if (m->msg == CURLMSG_DONE)
                        rc = m->data.result;
        long status = 0;
        curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
        stream_stop(s);
        if (s->no_memory)
                return -ENOMEM;
        if (s->too_long)
                return error_set(err, -EBADMSG, "%s: longer than the %llu bytes the index lists", s->url,
                                 (unsigned long long) s->size);
        if (rc == CURLE_OK && s->received == s->size)
                return 0;
        if (rc == CURLE_OK)
                rc = CURLE_PARTIAL_FILE; /* the server ended early without saying so */
        char why[CURL_ERROR_SIZE + 64];
        describe(rc, status, s->errbuf, why, sizeof(why));
        if (rc == CURLE_RANGE_ERROR)
                return error_set(err, -EPROTO, "%s: cannot resume at byte %llu: %s", s->url,
                                 (unsigned long long) s->received, why);
        bool progressed = s->received > s->at_last_failure;
        s->at_last_failure = s->received;
        if (!transient(rc, status) || !retry_after(&s->rt, why, progressed))
                return give_up(&s->rt, rc, status, why, err);
        return 0;
}

int http_stream_read(void *userdata, void *buf, size_t size, uint64_t offset, struct ingot_error *err) {
        struct http_stream *s = userdata;
        if (offset != s->pos || size > s->size - s->pos)
                return error_set(err, -EINVAL, "%s: bytes %llu-%llu asked out of order", s->url,
                                 (unsigned long long) offset, (unsigned long long) (offset + size));
        s->dest = buf;
        s->dest_size = size;
        s->dest_filled = 0;
        size_t n = s->spill_end - s->spill_start < size ? s->spill_end - s->spill_start : size;
        if (n)
                memcpy(buf, s->spill + s->spill_start, n);
        s->spill_start += n;
        s->dest_filled = n;
        if (s->spill_start == s->spill_end)
                s->spill_start = s->spill_end = 0;
        int r = 0;
        while (r >= 0 && s->dest_filled < size) {
                if (!s->easy) {
                        r = stream_start(s, err);
                        continue;
                }
                int running = 0;
                if (curl_multi_perform(s->multi, &running) != CURLM_OK) {
                        r = error_set(err, -EIO, "%s: libcurl failed", s->url);
                        break;
                }
                if (s->dest_filled >= size)
                        break;
                if (running)
                        (void) curl_multi_poll(s->multi, NULL, 0, 1000, NULL);
                else
                        r = stream_finished(s, err);
        }
        s->dest = NULL;
        s->dest_size = s->dest_filled = 0;
        if (r < 0)
                return r;
        s->pos += size;
        return 0;
}
