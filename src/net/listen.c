/*
 * Listeners: accept TCP connections, of two kinds.
 *
 * A named-peer listener reads the peer's greeting (the lab's HELLO) under
 * the framing checks of its protocol, and hands the connection to the link
 * the owner matches it to.  Anything else closes that one connection with
 * a log line naming the peer and the problem.
 *
 * A session listener makes each connection a session at once: a server
 * link with no named peer (link_new_session) speaking the listener's
 * protocol, owned by the role through its callbacks (opened, message,
 * closed), up to a limit; past it a connection is refused, with the
 * protocol's refusal frame if it has one.  A session that ends is freed
 * here, on the next turn of the loop.
 */
#include "config.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
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
	uint8_t			 challenge[AUTH_NONCE_LEN];
	TAILQ_ENTRY(pending)	 entry;
};

struct listener {
	char			 name[PGEMU_NAME_MAX];
	struct event_base	*base;
	struct evconnlistener	*evl;
	struct event		*ev_rearm;
	int			 port;
	int			 max_message;
	const struct link_proto	*proto;
	uint64_t		 accepted, refused;
	int			 npending;	/* before their greeting */
	struct log_rate		 refusals;	/* lines of refusals */
	char			 last_refusal[200];

	/* A named-peer listener. */
	listener_match_cb	 match;
	void			*arg;
	TAILQ_HEAD(pendings, pending) pending;

	/* A session listener (match is NULL). */
	struct session_conf	 sc;
	TAILQ_HEAD(, link)	 sessions;	/* open, or greeting */
	TAILQ_HEAD(, link)	 ended;		/* to free */
	int			 nsessions;
	uint64_t		 seq;		/* names the sessions */
	struct event		*ev_reap;
};

/*
 * Count and log a connection that did not become a link or a session: verb
 * is what happened to it ("closed", "refused").
 */
/* Limits of every listener (the lab file's; listener_set_limits). */
static int	listener_max_pending = 64;
static int	listener_log_rate = 10;

void
listener_set_limits(int max_pending, int log_rate)
{
	listener_max_pending = max_pending;
	listener_log_rate = log_rate;
}

static void
listener_refused(struct listener *lst, int pri, const char *addr,
    const char *verb, const char *msg)
{
	char	what[64];

	lst->refused++;
	snprintf(lst->last_refusal, sizeof(lst->last_refusal), "%s: %s",
	    addr, msg);
	snprintf(what, sizeof(what), "listener %s", lst->name);
	if (log_rate_ok(&lst->refusals, listener_log_rate, pri, what))
		log_msg(pri, "listener %s: connection from %s %s: %s",
		    lst->name, addr, verb, msg);
}

/* The name of the greeting frame the listener waits for. */
static const char *
listener_hello_name(const struct listener *lst)
{
	const struct wire_type_info *ti;

	ti = wire_type_find(lst->proto->types, lst->proto->hello_type);
	return ti != NULL ? ti->name : "greeting";
}

static void
pending_free(struct pending *p)
{
	TAILQ_REMOVE(&p->lst->pending, p, entry);
	p->lst->npending--;
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
	va_list	ap;
	char	msg[200];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	listener_refused(p->lst, pri, p->addr, "closed", msg);
	pending_free(p);
}

static void
pending_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pending	*p = arg;

	(void)fd;
	(void)what;
	pending_refuse(p, LOG_NOTICE, "no %s within %d ms",
	    listener_hello_name(p->lst), HELLO_TIMEOUT_MS);
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
	struct link_peer_id id;
	struct link	*l;
	char		 err[200];

	if (evbuffer_get_length(in) < WIRE_HDR_LEN)
		return;
	evbuffer_copyout(in, hdr, WIRE_HDR_LEN);
	if (wire_check_frame(lst->proto->types, hdr,
	    (uint32_t)lst->max_message, &type, &len, err,
	    sizeof(err)) != WIRE_FRAME_OK) {
		pending_refuse(p, LOG_WARNING, "protocol error: %s", err);
		return;
	}
	if (type != lst->proto->hello_type) {
		pending_refuse(p, LOG_WARNING,
		    "protocol error: expected %s, got %s",
		    listener_hello_name(lst), wire_type_find(lst->proto->types,
		    type)->name);
		return;
	}
	if (evbuffer_get_length(in) < WIRE_HDR_LEN + (size_t)len)
		return;
	m.type = type;
	m.len = len;
	m.body = evbuffer_pullup(in, WIRE_HDR_LEN + len) + WIRE_HDR_LEN;
	memset(&id, 0, sizeof(id));
	memcpy(id.challenge, p->challenge, sizeof(id.challenge));
	if (lst->proto->identify(&m, &id, err, sizeof(err)) == -1) {
		pending_refuse(p, LOG_WARNING, "protocol error: %s", err);
		return;
	}
	if ((l = lst->match(lst->arg, &id, err, sizeof(err))) == NULL) {
		pending_refuse(p, LOG_WARNING, "%s", err);
		return;
	}
	evbuffer_drain(in, WIRE_HDR_LEN + len);
	bufferevent_setcb(bev, NULL, NULL, NULL, NULL);
	p->bev = NULL;
	log_debug("listener %s: %s is node %s", lst->name, p->addr, id.node);
	memcpy(l->nonce_self, id.challenge, sizeof(l->nonce_self));
	memcpy(l->nonce_peer, id.nonce, sizeof(l->nonce_peer));
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
	struct pending	*p = arg;
	int		 err = EVUTIL_SOCKET_ERROR();

	(void)bev;
	/*
	 * A peer that connects and goes (a probe) may reset rather than
	 * close, once our CHALLENGE is on its way: closed all the same.
	 */
	pending_refuse(p, LOG_INFO, "%s before %s",
	    (what & BEV_EVENT_EOF) || ((what & BEV_EVENT_ERROR) &&
	    (err == ECONNRESET || err == EPIPE)) ? "closed" : "socket error",
	    listener_hello_name(p->lst));
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

/*
 * Past the limit: the protocol's refusal frame, if it has one, goes out
 * best effort (the socket is new, its buffer empty), then the close.
 */
static void
session_refuse(struct listener *lst, evutil_socket_t fd, const char *addr)
{
	struct wire_writer	w;
	char			why[120];

	snprintf(why, sizeof(why), "the limit of %d session%s is reached",
	    lst->sc.limit, lst->sc.limit == 1 ? "" : "s");
	if (lst->proto->refuse != NULL) {
		lst->proto->refuse(&w, why);
		if (wire_end(&w, (uint32_t)lst->max_message, NULL) == 0 &&
		    send(fd, w.buf, w.len, MSG_NOSIGNAL | MSG_DONTWAIT) == -1)
			log_debug("listener %s: refusal to %s not sent: %s",
			    lst->name, addr, strerror(errno));
		wire_writer_free(&w);
	}
	close(fd);
	listener_refused(lst, LOG_WARNING, addr, "refused", why);
}

/* A new session, within the limit: the role hears of it once it opens. */
static void
session_accept(struct listener *lst, evutil_socket_t fd, const char *addr)
{
	struct bufferevent	*bev;
	struct link		*l;
	char			 name[PGEMU_NAME_MAX];

	if (lst->nsessions >= lst->sc.limit) {
		session_refuse(lst, fd, addr);
		return;
	}
	bev = bufferevent_socket_new(lst->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		close(fd);
		return;
	}
	snprintf(name, sizeof(name), "%s#%llu", lst->name,
	    (unsigned long long)++lst->seq);
	l = link_new_session(lst->base, name, &lst->sc, lst);
	TAILQ_INSERT_TAIL(&lst->sessions, l, entry);
	lst->nsessions++;
	lst->accepted++;
	link_accept(l, bev, addr, lst->name);
}

/* Called by link.c when a session is back to IDLE: free it soon. */
void
listener_session_ended(struct listener *lst, struct link *l)
{
	TAILQ_REMOVE(&lst->sessions, l, entry);
	lst->nsessions--;
	TAILQ_INSERT_TAIL(&lst->ended, l, entry);
	event_active(lst->ev_reap, 0, 0);
}

static void
listener_reap_cb(evutil_socket_t fd, short what, void *arg)
{
	struct listener	*lst = arg;
	struct link	*l;

	(void)fd;
	(void)what;
	while ((l = TAILQ_FIRST(&lst->ended)) != NULL) {
		TAILQ_REMOVE(&lst->ended, l, entry);
		link_free(l);
	}
}

static void
listener_accept_cb(struct evconnlistener *evl, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct listener	*lst = arg;
	struct pending	*p;
	struct timeval	 tv;
	char		 addr[80];

	(void)evl;
	(void)salen;
	addr_string(sa, addr, sizeof(addr));
	if (lst->match == NULL) {
		session_accept(lst, fd, addr);
		return;
	}
	/*
	 * A flood of silent connections must not keep the real peers out:
	 * past the limit the oldest one that has not greeted makes room.  A
	 * real peer greets within a round trip, a flood's connection never.
	 */
	if (lst->npending >= listener_max_pending &&
	    (p = TAILQ_LAST(&lst->pending, pendings)) != NULL)
		pending_refuse(p, LOG_WARNING, "evicted: %d connections wait "
		    "for their %s (lab.max_pending), this one the longest",
		    lst->npending, listener_hello_name(lst));
	p = xcalloc(1, sizeof(*p));
	p->lst = lst;
	snprintf(p->addr, sizeof(p->addr), "%s", addr);
	p->bev = bufferevent_socket_new(lst->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (p->bev == NULL) {
		close(fd);
		free(p);
		return;
	}
	p->ev_timeout = evtimer_new(lst->base, pending_timeout_cb, p);
	ms_to_tv(HELLO_TIMEOUT_MS, &tv);
	evtimer_add(p->ev_timeout, &tv);
	TAILQ_INSERT_HEAD(&lst->pending, p, entry);
	lst->npending++;
	bufferevent_setcb(p->bev, pending_read_cb, NULL, pending_event_cb, p);
	bufferevent_enable(p->bev, EV_READ | EV_WRITE);
	/* Authenticated links: the client answers our nonce in its HELLO. */
	if (lst->proto->challenge != NULL && auth_enabled()) {
		struct wire_writer	w;

		lst->proto->challenge(&w, p->challenge);
		if (wire_end(&w, (uint32_t)lst->max_message, NULL) == 0)
			bufferevent_write(p->bev, w.buf, w.len);
		wire_writer_free(&w);
	}
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

/*
 * Bind and listen on address:port, with room for backlog connections not
 * yet accepted; the caller says what it accepts.
 */
static struct listener *
listener_bind(struct event_base *base, const char *name, const char *address,
    int port, const struct link_proto *proto, int max_message, int backlog,
    char *err, size_t errlen)
{
	struct listener		*lst;
	struct sockaddr_storage	 ss;
	int			 sslen = sizeof(ss), one = 1;
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
	lst->proto = proto;
	lst->max_message = max_message;
	TAILQ_INIT(&lst->pending);
	TAILQ_INIT(&lst->sessions);
	TAILQ_INIT(&lst->ended);
	lst->evl = evconnlistener_new_bind(base, listener_accept_cb, lst,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
	    backlog, (struct sockaddr *)&ss, sslen);
	if (lst->evl == NULL) {
		snprintf(err, errlen, "listen on %s: %s", spec,
		    strerror(errno));
		free(lst);
		return NULL;
	}
	/* What it accepts inherits TCP_NODELAY: no setsockopt per session. */
	setsockopt(evconnlistener_get_fd(lst->evl), IPPROTO_TCP, TCP_NODELAY,
	    &one, sizeof(one));
	evconnlistener_set_error_cb(lst->evl, listener_error_cb);
	lst->ev_rearm = evtimer_new(base, listener_rearm_cb, lst);
	lst->ev_reap = event_new(base, -1, 0, listener_reap_cb, lst);
	return lst;
}

/* Peers named in advance: match() finds the link for a greeting. */
struct listener *
listener_new(struct event_base *base, const char *name, const char *address,
    int port, const struct link_proto *proto, int max_message,
    listener_match_cb match, void *arg, char *err, size_t errlen)
{
	struct listener	*lst;

	if (proto->hello_type == 0 || proto->identify == NULL) {
		snprintf(err, errlen, "listener %s: protocol %s does not name "
		    "its peers", name, proto->name);
		return NULL;
	}
	lst = listener_bind(base, name, address, port, proto, max_message,
	    128, err, errlen);
	if (lst == NULL)
		return NULL;
	lst->match = match;
	lst->arg = arg;
	return lst;
}

/* Anonymous clients: each connection a session, up to sc->limit. */
struct listener *
listener_new_sessions(struct event_base *base, const char *name,
    const char *address, int port, const struct session_conf *sc, char *err,
    size_t errlen)
{
	struct listener	*lst;

	if (sc->limit < 1) {
		snprintf(err, errlen, "listener %s: session limit %d, at "
		    "least 1", name, sc->limit);
		return NULL;
	}
	/*
	 * Many clients may come at once (every desktop of a desktop server
	 * that died): room for all of them, as far as the kernel's
	 * net.core.somaxconn lets, rather than SYNs dropped and retried a
	 * second later.
	 */
	lst = listener_bind(base, name, address, port, sc->proto,
	    sc->max_message, sc->limit < 128 ? 128 : sc->limit, err,
	    errlen);
	if (lst == NULL)
		return NULL;
	lst->sc = *sc;
	return lst;
}

/*
 * Sessions still open are freed without a word to their role; not to be
 * called from a session's own callback.
 */
void
listener_free(struct listener *lst)
{
	struct pending	*p;
	struct link	*l;

	if (lst == NULL)
		return;
	while ((p = TAILQ_FIRST(&lst->pending)) != NULL)
		pending_free(p);
	while ((l = TAILQ_FIRST(&lst->sessions)) != NULL) {
		TAILQ_REMOVE(&lst->sessions, l, entry);
		link_free(l);
	}
	while ((l = TAILQ_FIRST(&lst->ended)) != NULL) {
		TAILQ_REMOVE(&lst->ended, l, entry);
		link_free(l);
	}
	evconnlistener_free(lst->evl);
	event_free(lst->ev_rearm);
	event_free(lst->ev_reap);
	free(lst);
}

int
listener_nsessions(const struct listener *lst)
{
	return lst->nsessions;
}

int
listener_port(const struct listener *lst)
{
	return lst->port;
}

json_t *
listener_json(const struct listener *lst)
{
	json_t	*j;

	j = json_pack("{s:s, s:i, s:I, s:I, s:s}", "name", lst->name,
	    "port", lst->port, "accepted", (json_int_t)lst->accepted,
	    "refused", (json_int_t)lst->refused, "last_refusal",
	    lst->last_refusal);
	json_object_set_new(j, "log_lines_suppressed",
	    json_integer((json_int_t)lst->refusals.total_suppressed));
	if (lst->match != NULL)
		json_object_set_new(j, "pending", json_integer(lst->npending));
	if (lst->match == NULL) {
		json_object_set_new(j, "protocol",
		    json_string(lst->proto->name));
		json_object_set_new(j, "sessions",
		    json_integer(lst->nsessions));
		json_object_set_new(j, "limit", json_integer(lst->sc.limit));
	}
	return j;
}
