/* http.h: HTTP(S) transfers for fleet delivery (libcurl): small files into memory and one large file
 * streamed in order, both retried with bounded backoff; the stream resumes with Range requests. */
#pragma once

#include "util.h"

/* A small file (at most max bytes), NUL-terminated for text; -ENOENT for HTTP 404. */
int http_get(const struct ingot_fetch_options *o, const char *url, size_t max, uint8_t **ret, size_t *ret_size,
             struct ingot_error *err);

/* Byte ranges of one file, asked one after another over a connection kept open between them. */
struct http_ranges;
int http_ranges_new(const struct ingot_fetch_options *o, const char *url, struct http_ranges **ret);
void http_ranges_free(struct http_ranges *r);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct http_ranges *, http_ranges_free);
/* Bytes [offset, offset + size) into buf, by a Range request: -EOPNOTSUPP (said in err) when the server
 * answers with anything but those bytes as a 206 (a server that ignores Range sends the whole file with
 * 200: the transfer stops at its first bytes). A request cut short goes on from its last byte. */
int http_ranges_get(struct http_ranges *r, uint64_t offset, size_t size, void *buf, struct ingot_error *err);

struct byte_range {
        uint64_t offset;
        size_t size;
};
/* Several ranges in one request, answered as multipart/byteranges: each range's bytes into buf one
 * after another, in the order given. -EOPNOTSUPP (said in err) when the server answers otherwise (one
 * part, or the whole file): ask them one at a time then. */
int http_ranges_get_many(struct http_ranges *r, const struct byte_range *ranges, size_t n, void *buf,
                         struct ingot_error *err);

/* A file of exactly size bytes, read in order by http_stream_read (a slot_read_fn). */
struct http_stream;
int http_stream_new(const struct ingot_fetch_options *o, const char *url, uint64_t size, struct http_stream **ret);
int http_stream_read(void *stream, void *buf, size_t size, uint64_t offset, struct ingot_error *err);
void http_stream_free(struct http_stream *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct http_stream *, http_stream_free);
