/*
 * http.c -- the daemon's small HTTP listener (status_listen): exact paths,
 * GET and HEAD only, bounded requests and idle connections.
 *
 * It owns the socket and the protocol rules; what a page says is the
 * caller's (daemon.c builds /status and /metrics).  Limits, so that an
 * unauthenticated port cannot be used to make the daemon buffer or hold
 * much: request headers 8 KB, body 1 KB (a GET has none; a larger one is
 * answered 413 without being read), 10 s for a request to arrive and for an
 * idle keep-alive connection.  Any other method is answered 405 (501 for
 * TRACE and CONNECT, which libevent refuses itself), any other path 404 (a query string is ignored:
 * /status?x is /status, /statusXYZ is not).  The address is validated when
 * the configuration is loaded (config.c); here it is bound, and the address
 * actually bound is reported.
 */
#include "http.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "util.h"

#define SS_HTTP_MAX_HEADERS 8192
#define SS_HTTP_MAX_BODY 1024
#define SS_HTTP_TIMEOUT_S 10

struct ss_http {
	struct evhttp *http;
	const struct ss_http_page *pages;
	int npages;
	void *arg;
	char bound[128];
};

static void on_request(struct evhttp_request *req, void *arg)
{
	struct ss_http *h = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	struct evbuffer *body;
	struct ss_buf b;
	enum evhttp_cmd_type m = evhttp_request_get_command(req);

	if (m != EVHTTP_REQ_GET && m != EVHTTP_REQ_HEAD) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET, HEAD");
		evhttp_send_error(req, 405, "Method Not Allowed");
		return;
	}
	for (int i = 0; path && i < h->npages; i++) {
		if (strcmp(path, h->pages[i].path) != 0)
			continue;
		ss_buf_init(&b);
		h->pages[i].build(h->arg, &b);
		body = evbuffer_new();
		if (!body) {
			ss_buf_free(&b);
			evhttp_send_error(req, HTTP_INTERNAL, NULL);
			return;
		}
		evbuffer_add(body, b.data, b.len);
		evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
				  h->pages[i].content_type);
		evhttp_add_header(evhttp_request_get_output_headers(req), "Cache-Control",
				  "no-store");
		/* libevent leaves the body out of the answer to a HEAD */
		evhttp_send_reply(req, HTTP_OK, "OK", body);
		evbuffer_free(body);
		ss_buf_free(&b);
		return;
	}
	evhttp_send_error(req, HTTP_NOTFOUND, NULL);
}

/* "host:port" / "[v6]:port" (validated by config.c) into host and port. */
static int split_listen(const char *listen, char *host, size_t n, int *port)
{
	const char *colon = strrchr(listen, ':');
	const char *h = listen;
	size_t hl;

	if (!colon)
		return -1;
	hl = (size_t)(colon - listen);
	if (hl >= 2 && listen[0] == '[' && listen[hl - 1] == ']') {
		h++;
		hl -= 2;
	}
	if (hl >= n)
		return -1;
	memcpy(host, h, hl);
	host[hl] = '\0';
	*port = atoi(colon + 1);
	return *port > 0 && *port <= 65535 ? 0 : -1;
}

static void describe_bound(struct evhttp_bound_socket *s, char *out, size_t n)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	char a[INET6_ADDRSTRLEN] = "?";
	evutil_socket_t fd = evhttp_bound_socket_get_fd(s);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0) {
		snprintf(out, n, "?");
		return;
	}
	if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof a);
		snprintf(out, n, "[%s]:%u", a, ntohs(s6->sin6_port));
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		inet_ntop(AF_INET, &s4->sin_addr, a, sizeof a);
		snprintf(out, n, "%s:%u", a, ntohs(s4->sin_port));
	}
}

struct ss_http *ss_http_new(struct event_base *base, const char *listen,
			    const struct ss_http_page *pages, int npages, void *arg,
			    struct ss_err *err)
{
	struct ss_http *h;
	struct evhttp_bound_socket *s;
	char host[256];
	int port;

	if (split_listen(listen, host, sizeof host, &port) < 0) {
		ss_err_set(err, "status_listen \"%s\": expected host:port or [v6]:port", listen);
		return NULL;
	}
	h = ss_xcalloc(1, sizeof *h);
	h->pages = pages;
	h->npages = npages;
	h->arg = arg;
	h->http = evhttp_new(base);
	if (!h->http) {
		ss_err_set(err, "status_listen %s: cannot create the HTTP server", listen);
		goto fail;
	}
	/* The common methods reach on_request, which answers 405 to all but
	 * GET and HEAD; libevent answers 501 to the rest (TRACE, CONNECT). */
	evhttp_set_allowed_methods(h->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
						    EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
						    EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
	evhttp_set_max_headers_size(h->http, SS_HTTP_MAX_HEADERS);
	evhttp_set_max_body_size(h->http, SS_HTTP_MAX_BODY);
	evhttp_set_timeout(h->http, SS_HTTP_TIMEOUT_S);
	evhttp_set_default_content_type(h->http, "text/plain; charset=utf-8");
	evhttp_set_gencb(h->http, on_request, h);
	s = evhttp_bind_socket_with_handle(h->http, host, (ev_uint16_t)port);
	if (!s) {
		ss_err_set(err, "status_listen %s: cannot listen (address in use or not local?)",
			   listen);
		goto fail;
	}
	describe_bound(s, h->bound, sizeof h->bound);
	return h;
fail:
	ss_http_free(h);
	return NULL;
}

const char *ss_http_bound(const struct ss_http *h)
{
	return h->bound;
}

void ss_http_free(struct ss_http *h)
{
	if (!h)
		return;
	if (h->http)
		evhttp_free(h->http);
	free(h);
}
