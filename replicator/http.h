/*
 * http.h -- the daemon's HTTP listener: a few fixed pages, GET/HEAD only,
 * bounded requests (see http.c for the limits).
 */
#ifndef SS_HTTP_H
#define SS_HTTP_H

#include <event2/event.h>

#include "err.h"
#include "util.h"

struct ss_http_page {
	const char *path; /* exact, e.g. "/status" */
	const char *content_type;
	void (*build)(void *arg, struct ss_buf *out); /* the page's body */
};

struct ss_http;

/* Listen on "host:port" / "[v6]:port"; pages (kept by reference) are
 * served with arg.  NULL with err when the address cannot be bound. */
struct ss_http *ss_http_new(struct event_base *base, const char *listen,
			    const struct ss_http_page *pages, int npages, void *arg,
			    struct ss_err *err);
/* The address actually bound, "127.0.0.1:9187" / "[::1]:9187". */
const char *ss_http_bound(const struct ss_http *h);
void ss_http_free(struct ss_http *h); /* NULL: no-op */

#endif
