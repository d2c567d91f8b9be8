/*
 * Listeners: accept TCP connections, read the peer's HELLO under the same
 * framing checks as any link, and hand the connection to the link the
 * owner matches it to.  Anything else closes that one connection with a
 * log line naming the peer and the problem.
 */
#include "config.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/listener.h>

#include "pgemu.h"
#include "wire.h"

#define HELLO_TIMEOUT_MS	5000

struct pending {
	struct listener		*lst;
	struct bufferevent	*bev;
	struct event		*ev_timeout;
	char			 addr[80];
	struct pending		*next;
};

struct listener {
	char			 name[PGEMU_NAME_MAX];
	struct event_base	*base;
	struct evconnlistener	*evl;
	struct event		*ev_rearm;
	int			 port;
	int			 max_message;
	listener_match_cb	 match;
	void			*arg;
	struct pending		*pending;
	uint64_t		 accepted, refused;
	char			 last_refusal[200];
};

static void
pending_free(struct pending *p)
{
	struct pending	**pp;

	for (pp = &p->lst->pending; *pp != NULL; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	if (p->bev != NULL)
		bufferevent_free(p->bev);
	event_free(p->ev_timeout);
	free(p);
}

static void pending_refuse(struct pending *, int, const char *, ...)
    __printflike(3, 4);

/*
 * Close a connection that did not become a link, logged at pri: a peer
 * that only closed or said nothing is harmless (a probe, a second pgemud
 * finding the node served), a protocol error or a refused peer is not.
 */
static void
pending_refuse(struct pending *p, int pri, const char *fmt, ...)
{
	struct listener	*lst = p->lst;
	va_list		 ap;
	char		 msg[200];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	lst->refused++;
	snprintf(lst->last_refusal, sizeof(lst->last_refusal), "%s: %s",
	    p->addr, msg);
	log_msg(pri, "listener %s: connection from %s closed: %s", lst->name,
	    p->addr, msg);
	pending_free(p);
}

static void
pending_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	pending_refuse(arg, LOG_NOTICE, "no HELLO within %d ms",
	    HELLO_TIMEOUT_MS);
}

static void
pending_read_cb(struct bufferevent *bev, void *arg)
{
	struct pending	*p = arg;
	struct listener	*lst = p->lst;
	struct evbuffer	*in = bufferevent_get_input(bev);
	uint8_t		 hdr[WIRE_HDR_LEN];
	uint32_t	 type, len;
	struct wire_msg	 m;
	struct wire_hello h;
	struct link	*l;
	char		 err[200];

	if (evbuffer_get_length(in) < WIRE_HDR_LEN)
		return;
	evbuffer_copyout(in, hdr, WIRE_HDR_LEN);
	if (wire_check_header(hdr, (uint32_t)lst->max_message, &type, &len,
	    err, sizeof(err)) == -1) {
		pending_refuse(p, LOG_WARNING, "protocol error: %s", err);
		return;
	}
	if (type != MSG_HELLO) {
		pending_refuse(p, LOG_WARNING,
		    "protocol error: expected HELLO, got %s",
		    wire_type_name(type));
		return;
	}
	if (evbuffer_get_length(in) < WIRE_HDR_LEN + (size_t)len)
		return;
	m.type = type;
	m.len = len;
	m.body = evbuffer_pullup(in, WIRE_HDR_LEN + len) + WIRE_HDR_LEN;
	if (wire_hello_decode(&m, &h, err, sizeof(err)) == -1) {
		pending_refuse(p, LOG_WARNING, "protocol error: %s", err);
		return;
	}
	if ((l = lst->match(lst->arg, &m, err, sizeof(err))) == NULL) {
		pending_refuse(p, LOG_WARNING, "%s", err);
		return;
	}
	evbuffer_drain(in, WIRE_HDR_LEN + len);
	bufferevent_setcb(bev, NULL, NULL, NULL, NULL);
	p->bev = NULL;
	log_debug("listener %s: %s is node %s", lst->name, p->addr, h.node);
	link_attach(l, bev, p->addr, lst->name);
	if (evbuffer_get_length(bufferevent_get_input(bev)) > 0 &&
	    l->bev == bev)
		event_active(l->ev_more, 0, 0);
	lst->accepted++;
	pending_free(p);
}

static void
pending_event_cb(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	pending_refuse(arg, LOG_INFO, "%s before HELLO",
	    (what & BEV_EVENT_EOF) ? "closed" : "socket error");
}

static void
addr_string(const struct sockaddr *sa, char *out, size_t outlen)
{
	char	host[64] = "?";
	int	port = 0;

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)sa;

		inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
		port = ntohs(sin->sin_port);
		snprintf(out, outlen, "%s:%d", host, port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)sa;

		inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
		port = ntohs(sin6->sin6_port);
		snprintf(out, outlen, "[%s]:%d", host, port);
	} else
		snprintf(out, outlen, "?");
}

static void
listener_accept_cb(struct evconnlistener *evl, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct listener	*lst = arg;
	struct pending	*p;
	struct timeval	 tv;

	(void)evl;
	(void)salen;
	p = xcalloc(1, sizeof(*p));
	p->lst = lst;
	addr_string(sa, p->addr, sizeof(p->addr));
	p->bev = bufferevent_socket_new(lst->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (p->bev == NULL) {
		close(fd);
		free(p);
		return;
	}
	p->ev_timeout = evtimer_new(lst->base, pending_timeout_cb, p);
	ms_to_tv(HELLO_TIMEOUT_MS, &tv);
	evtimer_add(p->ev_timeout, &tv);
	p->next = lst->pending;
	lst->pending = p;
	bufferevent_setcb(p->bev, pending_read_cb, NULL, pending_event_cb, p);
	bufferevent_enable(p->bev, EV_READ | EV_WRITE);
}

static void
listener_rearm_cb(evutil_socket_t fd, short what, void *arg)
{
	struct listener	*lst = arg;

	(void)fd;
	(void)what;
	evconnlistener_enable(lst->evl);
}

/* Out of descriptors: stop accepting for a second rather than spin. */
static void
listener_error_cb(struct evconnlistener *evl, void *arg)
{
	struct listener	*lst = arg;
	struct timeval	 tv = { 1, 0 };
	int		 e = EVUTIL_SOCKET_ERROR();

	log_warnx("listener %s: accept: %s", lst->name,
	    evutil_socket_error_to_string(e));
	evconnlistener_disable(evl);
	evtimer_add(lst->ev_rearm, &tv);
}

struct listener *
listener_new(struct event_base *base, const char *name, const char *address,
    int port, int max_message, listener_match_cb match, void *arg, char *err,
    size_t errlen)
{
	struct listener		*lst;
	struct sockaddr_storage	 ss;
	int			 sslen = sizeof(ss);
	char			 spec[96];

	if (strchr(address, ':') != NULL)
		snprintf(spec, sizeof(spec), "[%s]:%d", address, port);
	else
		snprintf(spec, sizeof(spec), "%s:%d", address, port);
	if (evutil_parse_sockaddr_port(spec, (struct sockaddr *)&ss,
	    &sslen) == -1) {
		snprintf(err, errlen, "bad listen address %s", spec);
		return NULL;
	}
	lst = xcalloc(1, sizeof(*lst));
	snprintf(lst->name, sizeof(lst->name), "%s", name);
	lst->base = base;
	lst->port = port;
	lst->max_message = max_message;
	lst->match = match;
	lst->arg = arg;
	lst->evl = evconnlistener_new_bind(base, listener_accept_cb, lst,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
	    128, (struct sockaddr *)&ss, sslen);
	if (lst->evl == NULL) {
		snprintf(err, errlen, "listen on %s: %s", spec,
		    strerror(errno));
		free(lst);
		return NULL;
	}
	evconnlistener_set_error_cb(lst->evl, listener_error_cb);
	lst->ev_rearm = evtimer_new(base, listener_rearm_cb, lst);
	return lst;
}

void
listener_free(struct listener *lst)
{
	if (lst == NULL)
		return;
	while (lst->pending != NULL)
		pending_free(lst->pending);
	evconnlistener_free(lst->evl);
	event_free(lst->ev_rearm);
	free(lst);
}

int
listener_port(const struct listener *lst)
{
	return lst->port;
}

json_t *
listener_json(const struct listener *lst)
{
	return json_pack("{s:s, s:i, s:I, s:I, s:s}", "name", lst->name,
	    "port", lst->port, "accepted", (json_int_t)lst->accepted,
	    "refused", (json_int_t)lst->refused, "last_refusal",
	    lst->last_refusal);
}
