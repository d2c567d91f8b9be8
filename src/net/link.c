/*
 * Links: the transport under every TCP link of the lab, client or server
 * side, and under each session of a session listener, on libevent
 * bufferevents.  The transport connects, backs off, reads and writes
 * frames, injects faults, detects a closed or silent peer and counts; the
 * link's protocol (struct link_proto, proto_lab.c for the lab's own) says
 * which frames exist, how a link greets and heartbeats, and what a bad
 * message gets.  Frames go: socket -> link_read_cb (header checked against
 * the protocol's table) -> link_dispatch -> the protocol's control() ->
 * the owner's msg().
 *
 *            START (client)              greeting done
 *   IDLE ----------------> CONNECT --> HELLO --------------> UP
 *    ^  \                   |  ^                          |
 *    |   \ attach (server)  |  | RETRY_TIMER              | CLOSED,
 *    |    `-----------------+--+--------------------> UP  | HOLD_EXPIRED,
 *    |                      v  |                          | PROTO_ERROR
 *    |                     BACKOFF <----------------------'  (client)
 *    `------------------------------------------------------' (server)
 *
 *   any --FAULT_DOWN--> ADMIN_DOWN --FAULT_UP--> CONNECT (client) / IDLE
 *   UP --FAULT_FREEZE--> FROZEN --HOLD_EXPIRED--> FROZEN_LOST
 *   FROZEN --THAW--> UP;  FROZEN_LOST --THAW--> CONNECT / IDLE
 *
 * A protocol without a greeting goes CONNECT -TCP_OK-> UP.  A session is
 * a server link without a named peer: IDLE -TCP_OK-> HELLO on accept
 * while it greets (IDLE -HELLO-> UP if its protocol has no greeting), and
 * back to IDLE, freed by its listener, when it ends.
 *
 * Timers only feed events to link_fsm(); link_change_state() is the one
 * place the state is set, runs the entry actions and logs the transition.
 * A frozen link keeps its TCP connection open but sends nothing and reads
 * nothing: to its peer it is a hung process or a partition.
 */
#include "config.h"

#include <sys/ioctl.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "pgemu.h"
#include "wire.h"

#define MSG_PROCESS_LIMIT	64
#define TIMER_SLACK_US		1000	/* a timer may wake this early */

/*
 * The links between the duplex's nodes (private, router, ACD) of this
 * process: a heartbeat due on one sends those due soon on the others, so
 * an idle node wakes once an interval for all of them, not once each.
 */
static TAILQ_HEAD(, link) link_duplex = TAILQ_HEAD_INITIALIZER(link_duplex);

const char *const link_state_names[LINK_STATE_MAX] = {
	"IDLE", "CONNECT", "HELLO", "UP", "BACKOFF", "FROZEN", "FROZEN_LOST",
	"ADMIN_DOWN"
};

const char *const link_event_names[LEV_MAX] = {
	"START", "TCP_OK", "TCP_FAIL", "HELLO", "HOLD_EXPIRED", "CLOSED",
	"PROTO_ERROR", "RETRY_TIMER", "FAULT_DOWN", "FAULT_UP", "FAULT_FREEZE",
	"FAULT_THAW", "STOP"
};

const char *const link_kind_names[LINK_KIND_MAX] = {
	"private", "router", "acd", "session", "desktop", "cti", "mr"
};

static void	link_change_state(struct link *, enum link_state,
		    enum link_event, const char *);
static void	link_read_cb(struct bufferevent *, void *);
static void	link_start_hold(struct link *);
static void	link_event_cb(struct bufferevent *, short, void *);


static int
link_hold_ms(const struct link *l)
{
	return l->hb.interval_ms * l->hb.misses;
}

/* This end sends heartbeats, as the protocol says. */
static int
link_sends_hb(const struct link *l)
{
	return l->proto->hb == PROTO_HB_BOTH ||
	    (l->proto->hb == PROTO_HB_CLIENT && l->client);
}

/*
 * A timer us from now: from the clock, not from when the loop woke (its
 * cached time), so that a timer the callbacks compare with mono_us() does
 * not wake them before their time.
 */
static void
link_timer_us(struct event *ev, uint64_t us)
{
	struct timeval	tv;

	tv.tv_sec = (time_t)(us / 1000000);
	tv.tv_usec = (suseconds_t)(us % 1000000);
	event_base_update_cache_time(event_get_base(ev));
	evtimer_add(ev, &tv);
}

static void
link_timer_start(struct event *ev, int ms)
{
	link_timer_us(ev, ms < 0 ? 0 : (uint64_t)ms * 1000);
}

/* The hold time starts: the peer has interval x misses (0: no limit). */
static void
link_arm_hold(struct link *l)
{
	if (link_hold_ms(l) <= 0) {
		event_del(l->ev_hold);
		return;
	}
	l->heard_us = mono_us();
	l->hold_rechecked = 0;
	link_timer_start(l->ev_hold, link_hold_ms(l));
}

/*
 * Something heard: the hold time counts from now.  The timer is left
 * where it is (no timer work per frame); when it runs out it looks at
 * when the peer was last heard (link_hold_cb).
 */
static void
link_heard(struct link *l)
{
	l->heard_us = mono_us();
	l->hold_rechecked = 0;
	if (!evtimer_pending(l->ev_hold, NULL))
		link_arm_hold(l);
}

/*
 * When this end's next heartbeat is due: an interval after it last sent
 * anything.  A client whose heartbeats ask for answers also wants one an
 * interval after it last heard its peer.
 */
static uint64_t
link_hb_due_us(const struct link *l)
{
	uint64_t	last = l->sent_us;

	if (l->proto->hb == PROTO_HB_CLIENT && l->heard_us < last)
		last = l->heard_us;
	return last + (uint64_t)l->hb.interval_ms * 1000;
}

/*
 * The heartbeat timer, for when the next heartbeat is due less how late
 * this loop's timers have been waking (a loaded machine: milliseconds), so
 * that heartbeats go every interval, not every interval and a bit.
 */
static void
link_hb_timer(struct link *l, uint64_t due, uint64_t now)
{
	l->hb_fire_us = due > now + l->hb_late_us ? due - l->hb_late_us : now;
	link_timer_us(l->ev_hb, l->hb_fire_us - now);
}

/*
 * A heartbeat now; the timer checks again an interval later.  The hold
 * timer moves to where the hold time runs out, in the same wakeup: an idle
 * link's hold timer never wakes the loop while its peer is heard.
 */
static void
link_send_hb(struct link *l)
{
	struct wire_writer	w;
	uint64_t		now = mono_us(), due;

	l->proto->heartbeat(l, ++l->hb_seq, &w);
	if (link_send(l, &w) == 0)
		l->stats.hb_out++;
	link_hb_timer(l, link_hb_due_us(l), now);
	due = l->heard_us + (uint64_t)link_hold_ms(l) * 1000;
	if (link_hold_ms(l) > 0 && !l->hold_rechecked && due > now &&
	    evtimer_pending(l->ev_hold, NULL))
		link_timer_us(l->ev_hold, due - now);
}

static int
link_of_duplex(const struct link *l)
{
	return l->kind == LINK_KIND_PRIVATE || l->kind == LINK_KIND_ROUTER ||
	    l->kind == LINK_KIND_ACD;
}

/* Heartbeats of this link due within half an interval of now, sent now. */
static int
link_hb_soon(struct link *l, uint64_t now)
{
	if (l->bev == NULL || l->frozen || !evtimer_pending(l->ev_hb, NULL) ||
	    link_hb_due_us(l) > now + (uint64_t)l->hb.interval_ms * 500)
		return 0;
	link_send_hb(l);
	return 1;
}

/* The other links of the duplex: those due soon go with this one. */
static void
link_hb_together(const struct link *l, uint64_t now)
{
	struct link	*o;

	if (!link_of_duplex(l))
		return;
	TAILQ_FOREACH(o, &link_duplex, hb_entry)
		if (o != l && o->base == l->base)
			link_hb_soon(o, now);
}

/* Bytes, or the end of the stream, wait on the socket unread. */
static int
link_input_waits(const struct link *l)
{
	int	n = 0;

	if (l->bev != NULL &&
	    evbuffer_get_length(bufferevent_get_input(l->bev)) > 0)
		return 1;
	if (l->fd == -1)
		return 0;
	if (ioctl(l->fd, FIONREAD, &n) == 0 && n > 0)
		return 1;
	return link_peer_gone(l);
}

/*
 * A heartbeat only if nothing else went out for an interval: any message
 * is one to the peer.  Otherwise the timer waits until an interval after
 * the last one.
 */
static void
link_hb_cb(evutil_socket_t fd, short what, void *arg)
{
	struct link	*l = arg;
	uint64_t	 now = mono_us(), due, late;

	(void)fd;
	(void)what;
	if (l->bev == NULL || l->frozen)
		return;
	/* How late timers wake, smoothed, at most a quarter interval. */
	late = now > l->hb_fire_us ? now - l->hb_fire_us : 0;
	l->hb_late_us = (3 * l->hb_late_us + late) / 4;
	if (l->hb_late_us > (uint64_t)l->hb.interval_ms * 250)
		l->hb_late_us = (uint64_t)l->hb.interval_ms * 250;
	due = link_hb_due_us(l);
	if (due > now + l->hb_late_us + TIMER_SLACK_US) {
		link_hb_timer(l, due, now);
		return;
	}
	link_send_hb(l);
	link_hb_together(l, now);
}

static void
link_hold_cb(evutil_socket_t fd, short what, void *arg)
{
	struct link	*l = arg;
	char		 why[96];
	uint64_t	 now = mono_us();
	uint64_t	 due = l->heard_us + (uint64_t)link_hold_ms(l) * 1000;

	(void)fd;
	(void)what;
	/* Heard since the timer was set: it runs out later. */
	if (now < due) {
		link_timer_us(l->ev_hold, due - now);
		return;
	}
	/*
	 * A loop that wakes late (this process was stopped, or blocked)
	 * finds its peers' heartbeats unread: its own silence, not theirs.
	 * Read first, once, and judge after one more interval.
	 */
	if (!l->frozen && !l->hold_rechecked && l->bev != NULL &&
	    (now > due + (uint64_t)l->hb.interval_ms * 1000 ||
	    link_input_waits(l))) {
		l->hold_rechecked = 1;
		log_link_info(l, "hold time ran out %llu ms late or with "
		    "input unread: reading before judging the peer",
		    (unsigned long long)((now - due) / 1000));
		link_timer_start(l->ev_hold, l->hb.interval_ms);
		return;
	}
	snprintf(why, sizeof(why), "nothing heard for %d ms (%d x %d ms)",
	    link_hold_ms(l), l->hb.misses, l->hb.interval_ms);
	if (l->proto->hold_expired != NULL && !l->frozen)
		l->proto->hold_expired(l);
	link_fsm(l, LEV_HOLD_EXPIRED, why);
}

static void
link_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	link_fsm(arg, LEV_RETRY_TIMER, NULL);
}

static void
link_stable_cb(evutil_socket_t fd, short what, void *arg)
{
	struct link	*l = arg;

	(void)fd;
	(void)what;
	l->backoff_ms = l->backoff_min_ms;
}

static void	link_flush_cb(evutil_socket_t, short, void *);

static void
link_more_cb(evutil_socket_t fd, short what, void *arg)
{
	struct link	*l = arg;

	(void)fd;
	(void)what;
	if (l->bev != NULL)
		link_read_cb(l->bev, l);
}

static void
link_hb_for(const struct cfg *cf, enum link_kind kind, struct cfg_hb *hb)
{
	switch (kind) {
	case LINK_KIND_PRIVATE:
		*hb = cf->hb_private;
		break;
	case LINK_KIND_ROUTER:
		*hb = cf->hb_router;
		break;
	case LINK_KIND_DESKTOP:
		*hb = cf->hb_desktop;
		break;
	case LINK_KIND_MR:
		*hb = cf->hb_mr;
		break;
	case LINK_KIND_CTI:
		/* A lab that shrinks GED-188 idle time-outs shrinks both. */
		*hb = cf->hb_cti;
		hb->interval_ms = (int)((int64_t)hb->interval_ms *
		    cf->cti_idle_scale_ms / 1000);
		if (hb->interval_ms < 1)
			hb->interval_ms = 1;
		break;
	default:
		*hb = cf->hb_acd;
		break;
	}
}

/* The part of a link every kind shares: names, timers, no connection. */
static struct link *
link_alloc(struct event_base *base, const char *name, const char *peer_node,
    enum link_kind kind, int client, const struct link_proto *proto,
    const struct link_ops *ops, void *arg)
{
	struct link	*l = xcalloc(1, sizeof(*l));

	snprintf(l->name, sizeof(l->name), "%s", name);
	snprintf(l->peer_node, sizeof(l->peer_node), "%s", peer_node);
	l->kind = kind;
	l->client = client;
	l->proto = proto;
	l->fd = -1;
	l->base = base;
	l->ops = ops;
	l->arg = arg;
	l->state = l->prev_state = LINK_IDLE;
	mono_now(&l->since);
	l->ev_hb = evtimer_new(base, link_hb_cb, l);
	l->ev_hold = evtimer_new(base, link_hold_cb, l);
	l->ev_retry = evtimer_new(base, link_retry_cb, l);
	l->ev_stable = evtimer_new(base, link_stable_cb, l);
	l->ev_more = event_new(base, -1, 0, link_more_cb, l);
	l->ev_flush = event_new(base, -1, 0, link_flush_cb, l);
	l->pending = evbuffer_new();
	if (link_of_duplex(l))
		TAILQ_INSERT_TAIL(&link_duplex, l, hb_entry);
	return l;
}

/* A link to the named node peer_node, speaking proto. */
struct link *
link_new(struct event_base *base, const char *name, const char *peer_node,
    enum link_kind kind, int client, const char *address, int port,
    const struct cfg *cf, const struct link_proto *proto,
    const struct link_ops *ops, void *arg)
{
	struct link	*l;

	l = link_alloc(base, name, peer_node, kind, client, proto, ops, arg);
	snprintf(l->address, sizeof(l->address), "%s", address);
	l->port = l->primary_port = port;
	link_reconfigure(l, cf);
	l->backoff_ms = l->backoff_min_ms;
	return l;
}

/*
 * A session of listener lst: a server link with no named peer, its limits
 * from the listener.  link_accept() gives it its connection.
 */
struct link *
link_new_session(struct event_base *base, const char *name,
    const struct session_conf *sc, struct listener *lst)
{
	struct link	*l;

	l = link_alloc(base, name, "", LINK_KIND_SESSION, 0, sc->proto,
	    sc->ops, sc->arg);
	l->hb = sc->hb;
	l->quiet = sc->quiet;
	l->max_message = sc->max_message;
	l->lst = lst;
	return l;
}

/*
 * A session's hold time, as its greeting settled it (the client's idle
 * time-out): nothing heard for hold_ms closes it; 0, never.
 */
void
link_set_hold(struct link *l, int hold_ms)
{
	l->hb.interval_ms = hold_ms;
	l->hb.misses = 1;
	if (l->bev != NULL && !l->frozen && l->proto->hb != PROTO_HB_NONE)
		link_arm_hold(l);
}

/* Timers and limits from the lab file; the connection is left alone. */
void
link_reconfigure(struct link *l, const struct cfg *cf)
{
	struct cfg_hb	old = l->hb;
	int		changed;

	link_hb_for(cf, l->kind, &l->hb);
	changed = old.interval_ms != 0 &&
	    (old.interval_ms != l->hb.interval_ms ||
	    old.misses != l->hb.misses);
	l->backoff_min_ms = cf->backoff_min_ms;
	l->backoff_max_ms = cf->backoff_max_ms;
	l->backoff_stable_ms = cf->backoff_stable_ms;
	l->max_message = cf->max_message;
	if (changed && l->bev != NULL && !l->frozen)
		link_start_hold(l);
}

/* A second endpoint of the same peer (a backup), tried in turn. */
void
link_set_alt_port(struct link *l, int port)
{
	l->alt_port = port;
}

int
link_endpoint_differs(const struct link *l, const char *address, int port)
{
	return strcmp(l->address, address) != 0 || l->port != port;
}

static void
link_close(struct link *l)
{
	event_del(l->ev_flush);
	if (l->bev != NULL)
		bufferevent_write_buffer(l->bev, l->pending);
	evbuffer_drain(l->pending, evbuffer_get_length(l->pending));
	if (l->bev != NULL) {
		/* Best effort: what is queued (a BYE) goes out first. */
		if (l->fd != -1 && l->state != LINK_CONNECT && !l->frozen &&
		    l->state != LINK_FROZEN_LOST) {
			struct evbuffer *out = bufferevent_get_output(l->bev);

			evbuffer_unfreeze(out, 1);
			evbuffer_write(out, l->fd);
		}
		bufferevent_free(l->bev);	/* closes the socket */
		l->bev = NULL;
	}
	l->fd = -1;
	l->version = 0;		/* the next connection greets again */
	event_del(l->ev_hb);
	event_del(l->ev_hold);
	event_del(l->ev_more);
}

void
link_free(struct link *l)
{
	if (l == NULL)
		return;
	link_close(l);
	if (link_of_duplex(l))
		TAILQ_REMOVE(&link_duplex, l, hb_entry);
	event_free(l->ev_hb);
	event_free(l->ev_hold);
	event_free(l->ev_retry);
	event_free(l->ev_stable);
	event_free(l->ev_more);
	event_free(l->ev_flush);
	evbuffer_free(l->pending);
	free(l);
}

static void
link_setup_bev(struct link *l, struct bufferevent *bev)
{
	int	one = 1;

	l->bev = bev;
	l->fd = bufferevent_getfd(bev);
	/* A session's socket has it from its listener's. */
	if (l->fd != -1 && l->lst == NULL)
		setsockopt(l->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	bufferevent_setcb(bev, link_read_cb, NULL, link_event_cb, l);
	/* Writes go straight to the socket; the output waits for it only
	   when it did not take them (link_wait_output). */
	bufferevent_enable(bev, EV_READ);
}

/*
 * Output the socket did not take: the loop writes it when the socket
 * can take more (a frozen link's waits until it thaws).  Not watched
 * before: an accepted session costs no writable wakeup of its own.
 */
static void
link_wait_output(struct link *l)
{
	if (!l->frozen && (bufferevent_get_enabled(l->bev) & EV_WRITE) == 0)
		bufferevent_enable(l->bev, EV_WRITE);
}

/* Start a TCP connection to the peer; CONNECT on success. */
static int
link_connect(struct link *l, char *err, size_t errlen)
{
	struct sockaddr_storage	 ss;
	int			 sslen;
	struct bufferevent	*bev;
	char			 spec[96];

	if (strchr(l->address, ':') != NULL)
		snprintf(spec, sizeof(spec), "[%s]:%d", l->address, l->port);
	else
		snprintf(spec, sizeof(spec), "%s:%d", l->address, l->port);
	sslen = sizeof(ss);
	if (evutil_parse_sockaddr_port(spec, (struct sockaddr *)&ss,
	    &sslen) == -1) {
		snprintf(err, errlen, "bad address %s", spec);
		return -1;
	}
	bev = bufferevent_socket_new(l->base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		snprintf(err, errlen, "bufferevent_socket_new failed");
		return -1;
	}
	link_setup_bev(l, bev);
	snprintf(l->peer_addr, sizeof(l->peer_addr), "%s", spec);
	if (bufferevent_socket_connect(bev, (struct sockaddr *)&ss,
	    sslen) == -1) {
		snprintf(err, errlen, "connect %s: %s", spec,
		    strerror(errno));
		link_close(l);
		return -1;
	}
	l->fd = bufferevent_getfd(bev);
	return 0;
}

/* Connected: heartbeats out (if this end sends them), the hold timer. */
static void
link_start_hold(struct link *l)
{
	l->sent_us = mono_us();
	if (link_sends_hb(l))
		link_hb_timer(l, link_hb_due_us(l), l->sent_us);
	if (l->proto->hb != PROTO_HB_NONE)
		link_arm_hold(l);
}

/*
 * The one place a link's state is set.  Entry actions live here, and the
 * transition becomes one log line and one event.  The client's endless
 * CONNECT <-> BACKOFF retry loop is logged once, then only at debug.
 */
static void
link_change_state(struct link *l, enum link_state next, enum link_event ev,
    const char *why)
{
	enum link_state	 prev = l->state;
	int		 was_up, quiet;
	char		 err[160];

	was_up = prev == LINK_UP || prev == LINK_FROZEN;
	quiet = (prev == LINK_BACKOFF && next == LINK_CONNECT) ||
	    (prev == LINK_CONNECT && next == LINK_BACKOFF &&
	    l->prev_state == LINK_BACKOFF);
	l->prev_state = prev;
	l->state = next;
	mono_now(&l->since);
	if (why != NULL && next != LINK_UP)
		snprintf(l->last_error, sizeof(l->last_error), "%s", why);

	if (quiet || l->quiet)
		log_link_debug(l, "%s -> %s (%s)%s%s",
		    link_state_names[prev], link_state_names[next],
		    link_event_names[ev], why ? ": " : "", why ? why : "");
	else if (l->lst != NULL)	/* a session: its role emits events */
		log_link_info(l, "%s -> %s (%s)%s%s%s%s",
		    link_state_names[prev], link_state_names[next],
		    link_event_names[ev], prev == LINK_IDLE ? ": from " : "",
		    prev == LINK_IDLE ? l->peer_addr : "", why ? ": " : "",
		    why ? why : "");
	else {
		json_t *f = json_pack("{s:s, s:s, s:s, s:s, s:s}",
		    "link", l->name, "peer", l->peer_node,
		    "from", link_state_names[prev],
		    "to", link_state_names[next],
		    "cause", link_event_names[ev]);

		if (why != NULL)
			json_object_set_new(f, "reason", json_string(why));
		if (l->peer_addr[0] != '\0')
			json_object_set_new(f, "address",
			    json_string(l->peer_addr));
		evt_emit(RULE_NONE, "link_state", f, "link %s: %s -> %s (%s)%s%s",
		    l->name, link_state_names[prev], link_state_names[next],
		    link_event_names[ev], why ? ": " : "", why ? why : "");
	}

	switch (next) {
	case LINK_IDLE:
	case LINK_ADMIN_DOWN:
		link_close(l);
		event_del(l->ev_retry);
		event_del(l->ev_stable);
		break;
	case LINK_CONNECT:
		event_del(l->ev_retry);
		l->stats.connects++;
		if (link_connect(l, err, sizeof(err)) == -1) {
			link_fsm(l, LEV_TCP_FAIL, err);
			return;
		}
		break;
	case LINK_HELLO:
		link_start_hold(l);
		if (l->client && l->proto->hello != NULL)
			l->proto->hello(l);
		break;
	case LINK_UP:
		l->frozen = 0;
		l->refusals = 0;
		if (prev != LINK_FROZEN) {
			l->bye_text[0] = '\0';
			l->bye_reason = 0;
			link_start_hold(l);
		}
		if (l->backoff_stable_ms > 0)
			link_timer_start(l->ev_stable, l->backoff_stable_ms);
		else
			l->backoff_ms = l->backoff_min_ms;
		break;
	case LINK_BACKOFF:
		link_close(l);
		event_del(l->ev_stable);
		if (!l->left_refused)	/* another end: refusals start anew */
			l->refusals = 0;
		l->left_refused = 0;
		if (l->alt_port != 0)	/* try the other endpoint next */
			l->port = l->port == l->primary_port ? l->alt_port :
			    l->primary_port;
		/* An endpoint lost with another to try: that one at once, as
		   a client of a duplex pair does; failures then back off. */
		if (l->alt_port != 0 && (prev == LINK_UP ||
		    prev == LINK_FROZEN || prev == LINK_FROZEN_LOST))
			l->backoff_ms = 0;
		link_timer_start(l->ev_retry, l->backoff_ms);
		l->backoff_ms *= 2;
		if (l->backoff_ms < l->backoff_min_ms)
			l->backoff_ms = l->backoff_min_ms;
		if (l->backoff_ms > l->backoff_max_ms)
			l->backoff_ms = l->backoff_max_ms;
		break;
	case LINK_FROZEN:
		/* What is sent now waits in the output, as TCP would. */
		event_del(l->ev_hb);
		event_del(l->ev_stable);
		if (l->bev != NULL)
			bufferevent_disable(l->bev, EV_READ | EV_WRITE);
		break;
	case LINK_FROZEN_LOST:
		event_del(l->ev_hold);
		break;
	case LINK_STATE_MAX:
		break;
	}

	if (was_up && next != LINK_UP && next != LINK_FROZEN) {
		l->stats.drops++;
		if (l->ops->down != NULL)
			l->ops->down(l, l->arg, why ? why : "");
	} else if (!was_up && next == LINK_UP) {
		if (l->ops->up != NULL)
			l->ops->up(l, l->arg);
	}
	/* A session that ended is its listener's to free. */
	if (l->lst != NULL && (next == LINK_IDLE || next == LINK_ADMIN_DOWN))
		listener_session_ended(l->lst, l);
}

/* Where a client goes after losing its connection, or a server. */
static enum link_state
link_after_loss(const struct link *l)
{
	return l->client ? LINK_BACKOFF : LINK_IDLE;
}

/*
 * The only entry point of the state machine.  An event a state does not
 * expect is logged at debug and ignored.
 */
void
link_fsm(struct link *l, enum link_event ev, const char *why)
{
	switch (ev) {
	case LEV_START:
		if (l->state == LINK_IDLE && l->client)
			link_change_state(l, LINK_CONNECT, ev, why);
		return;
	case LEV_STOP:
		/* A link down by a fault stays down until fault up. */
		if (l->state != LINK_IDLE && l->state != LINK_ADMIN_DOWN)
			link_change_state(l, LINK_IDLE, ev, why);
		return;
	case LEV_FAULT_DOWN:
		l->admin_down = 1;
		l->frozen = 0;
		link_change_state(l, LINK_ADMIN_DOWN, ev, why);
		return;
	case LEV_FAULT_UP:
		if (l->state != LINK_ADMIN_DOWN)
			break;
		l->admin_down = 0;
		l->backoff_ms = l->backoff_min_ms;
		link_change_state(l, l->client ? LINK_CONNECT : LINK_IDLE, ev,
		    why);
		return;
	case LEV_FAULT_FREEZE:
		l->frozen = 1;
		if (l->state == LINK_UP)
			link_change_state(l, LINK_FROZEN, ev, why);
		return;
	case LEV_FAULT_THAW:
		l->frozen = 0;
		if (l->state == LINK_FROZEN) {
			/* The partition heals in time: what waited goes. */
			link_change_state(l, LINK_UP, ev, why);
			link_start_hold(l);
			if (l->bev != NULL) {
				bufferevent_enable(l->bev, EV_READ | EV_WRITE);
				event_active(l->ev_more, 0, 0);
			}
		} else if (l->state == LINK_FROZEN_LOST) {
			/* Too late: the connection is gone, and what waited. */
			link_close(l);
			l->backoff_ms = l->backoff_min_ms;
			link_change_state(l, l->client ? LINK_CONNECT :
			    LINK_IDLE, ev, why);
		}
		return;
	default:
		break;
	}

	switch (l->state) {
	case LINK_CONNECT:
		if (ev == LEV_TCP_OK) {
			if (l->proto->hello_type == 0)	/* no greeting */
				link_change_state(l, l->frozen ? LINK_FROZEN :
				    LINK_UP, ev, why);
			else
				link_change_state(l, LINK_HELLO, ev, why);
			return;
		}
		if (ev == LEV_TCP_FAIL || ev == LEV_CLOSED ||
		    ev == LEV_PROTO_ERROR) {
			link_change_state(l, LINK_BACKOFF, ev, why);
			return;
		}
		break;
	case LINK_HELLO:
		if (ev == LEV_HELLO) {
			link_change_state(l, l->frozen ? LINK_FROZEN : LINK_UP,
			    ev, why);
			return;
		}
		if (ev == LEV_CLOSED || ev == LEV_HOLD_EXPIRED ||
		    ev == LEV_PROTO_ERROR || ev == LEV_TCP_FAIL) {
			link_change_state(l, link_after_loss(l), ev, why);
			return;
		}
		break;
	case LINK_UP:
		if (ev == LEV_CLOSED || ev == LEV_HOLD_EXPIRED ||
		    ev == LEV_PROTO_ERROR) {
			link_change_state(l, link_after_loss(l), ev, why);
			return;
		}
		break;
	case LINK_FROZEN:
		if (ev == LEV_HOLD_EXPIRED) {
			link_change_state(l, LINK_FROZEN_LOST, ev, why);
			return;
		}
		if (ev == LEV_CLOSED || ev == LEV_PROTO_ERROR) {
			link_change_state(l, LINK_FROZEN_LOST, ev, why);
			return;
		}
		break;
	case LINK_BACKOFF:
		if (ev == LEV_RETRY_TIMER) {
			link_change_state(l, LINK_CONNECT, ev, why);
			return;
		}
		break;
	case LINK_IDLE:
		/* A session that ended stays ended: it has no connection. */
		if (ev == LEV_HELLO && !l->client &&
		    (l->lst == NULL || l->bev != NULL)) {
			link_change_state(l, l->frozen ? LINK_FROZEN : LINK_UP,
			    ev, why);
			return;
		}
		/* A session accepted: it greets before it is up. */
		if (ev == LEV_TCP_OK && l->lst != NULL && l->bev != NULL) {
			link_change_state(l, LINK_HELLO, ev, why);
			return;
		}
		break;
	default:
		break;
	}
	log_link_debug(l, "event %s ignored in state %s",
	    link_event_names[ev], link_state_names[l->state]);
}

/* The largest body this link carries: its protocol's, or the lab's. */
static uint32_t
link_max_body(const struct link *l)
{
	if (l->proto->max_body != 0 &&
	    l->proto->max_body < (uint32_t)l->max_message)
		return l->proto->max_body;
	return (uint32_t)l->max_message;
}

/* A message type's name in the link's protocol. */
const char *
link_type_name(const struct link *l, uint32_t type)
{
	const struct wire_type_info *ti;

	ti = wire_type_find(l->proto->types, type);
	return ti != NULL ? ti->name : "UNKNOWN";
}

static void
link_count_type(struct link *l, uint32_t type, int out)
{
	int	i;

	for (i = 0; i < l->ntypes; i++)
		if (l->types[i].type == type)
			break;
	if (i == l->ntypes) {
		if (l->ntypes == (int)(sizeof(l->types) / sizeof(l->types[0])))
			return;
		l->types[l->ntypes].type = type;
		l->types[l->ntypes].in = l->types[l->ntypes].out = 0;
		l->ntypes++;
	}
	if (out)
		l->types[i].out++;
	else
		l->types[i].in++;
}

/*
 * The messages of this turn of the loop, in one send; what the socket does
 * not take goes to the output, which the loop writes when it can.  Called
 * by hand, it sends them before what the turn still has to do (a grant
 * before the 100,000 logouts of the failover it ends).
 */
void
link_flush(struct link *l)
{
	if (evbuffer_get_length(l->pending) == 0)
		return;
	if (l->bev == NULL) {
		evbuffer_drain(l->pending, evbuffer_get_length(l->pending));
		return;
	}
	if (!l->frozen && l->fd != -1 &&
	    evbuffer_get_length(bufferevent_get_output(l->bev)) == 0)
		evbuffer_write(l->pending, l->fd);
	if (evbuffer_get_length(l->pending) > 0) {
		bufferevent_write_buffer(l->bev, l->pending);
		link_wait_output(l);
	}
}

static void
link_flush_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	link_flush(arg);
}

/* Send and free a message; -1 if the link cannot carry it now. */
/* What a link may owe its peer before the peer is deemed not reading. */
static size_t	link_max_output = 16 * 1024 * 1024;

void
link_set_max_output(size_t n)
{
	link_max_output = n;
}

int
link_send(struct link *l, struct wire_writer *w)
{
	struct wire_msg	 m;
	int		 rc = -1;
	size_t		 owed;

	if (l->bev == NULL || l->state == LINK_CONNECT ||
	    l->state == LINK_FROZEN_LOST) {
		wire_writer_free(w);
		return -1;
	}
	if (wire_end(w, link_max_body(l), &m) == -1) {
		log_link_warnx(l, "message %s too large, not sent",
		    w->len >= WIRE_HDR_LEN ? link_type_name(l,
		    (uint32_t)w->buf[4] << 24 | (uint32_t)w->buf[5] << 16 |
		    (uint32_t)w->buf[6] << 8 | w->buf[7]) : "?");
		wire_writer_free(w);
		return -1;
	}
	/*
	 * A peer that does not read (a hung client, one that only writes)
	 * would make us hold everything for it: past the limit it is cut,
	 * once, and the link goes on as for any lost peer.  A frozen link
	 * is the lab's own fault and holds what it owes.
	 */
	owed = evbuffer_get_length(bufferevent_get_output(l->bev)) +
	    evbuffer_get_length(l->pending) + w->len;
	if (owed > link_max_output && !l->frozen) {
		char	why[200];

		snprintf(why, sizeof(why), "%s does not read: %zu bytes would "
		    "wait for it, over lab.max_output (%zu)", l->peer_addr,
		    owed, link_max_output);
		log_link_warnx(l, "%s", why);
		wire_writer_free(w);
		link_fsm(l, LEV_CLOSED, why);
		return -1;
	}
	/*
	 * Queued: the loop writes the link's output once it is done with
	 * what woke it, every message of that turn in one send (a burst of
	 * 10,000 agent changes is a few writes, not 10,000), before it waits
	 * again (link_flush_cb).  Behind output the socket did not take yet,
	 * or on a frozen link, it waits in the output as TCP would.  A link
	 * closed meanwhile writes it first (link_close).
	 */
	if (l->frozen || evbuffer_get_length(bufferevent_get_output(l->bev))) {
		if ((rc = bufferevent_write(l->bev, w->buf, w->len)) == 0)
			link_wait_output(l);
	} else if ((rc = evbuffer_add(l->pending, w->buf, w->len)) == 0 &&
	    !event_pending(l->ev_flush, EV_TIMEOUT, NULL))
		event_active(l->ev_flush, EV_TIMEOUT, 0);
	if (rc == 0) {
		l->sent_us = mono_us();
		l->stats.msgs_out++;
		l->stats.bytes_out += w->len;
		link_count_type(l, m.type, 1);
		rc = 0;
	}
	wire_writer_free(w);
	return rc;
}

int
link_is_up(const struct link *l)
{
	return l->state == LINK_UP || l->state == LINK_FROZEN;
}

/*
 * The peer has closed (or reset) the connection, and its end waits on the
 * socket unread: the link is up only until the loop reads it.
 */
int
link_peer_gone(const struct link *l)
{
	char	c;
	ssize_t	n;

	if (l->fd == -1 || l->state == LINK_CONNECT)
		return 0;
	n = recv(l->fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
	return n == 0 || (n == -1 && errno != EAGAIN && errno != EWOULDBLOCK &&
	    errno != EINTR);
}

/* Close the connection as a protocol error, logged with the peer. */
void
link_proto_error(struct link *l, const char *what)
{
	char	why[256];

	l->stats.proto_errors++;
	snprintf(why, sizeof(why), "protocol error from %s: %s", l->peer_addr,
	    what);
	log_link_warnx(l, "%s", why);
	link_fsm(l, LEV_PROTO_ERROR, why);
}

/*
 * A whole frame that is bad: the protocol may answer it and keep the
 * link; otherwise (and by default) it is a protocol error.
 */
static void
link_refuse_msg(struct link *l, const struct wire_msg *m, const char *why)
{
	if (l->proto->bad_msg != NULL && l->proto->bad_msg(l, m, why) ==
	    PROTO_KEEP) {
		l->stats.proto_errors++;
		log_link_info(l, "bad message from %s: %s (answered)",
		    l->peer_addr, why);
		return;
	}
	link_proto_error(l, why);
}

/*
 * The peer says it leaves (the protocol decoded its goodbye): keep what it
 * said, and when its endpoint stops for good try the other one at once.
 * A goodbye before the session opened is a refusal (a standby CTI
 * server's FAILURE_CONF): when the other endpoint refused too, the last
 * time, neither serves yet and the next try waits min_ms, or a client
 * would go from one to the other hundreds of times a second until one
 * serves (the CTI servers of a lab that starts).
 */
void
link_peer_left(struct link *l, uint32_t reason, const char *text,
    int endpoint_stops)
{
	char	why[160];
	int	refused = l->state == LINK_HELLO;

	snprintf(l->bye_text, sizeof(l->bye_text), "%s", text);
	l->bye_reason = reason;
	if (endpoint_stops && l->alt_port != 0)
		l->backoff_ms = refused && l->refusals > 0 ?
		    l->backoff_min_ms : 0;
	l->refusals = refused ? l->refusals + 1 : 0;
	l->left_refused = refused;
	snprintf(why, sizeof(why), "peer left: %s", text);
	link_fsm(l, LEV_CLOSED, why);
}

/*
 * One complete frame, already checked against the limits: counted, then
 * the protocol's own, then the owner's once the link is up.
 */
static void
link_dispatch(struct link *l, const struct wire_msg *m)
{
	char	err[160];

	l->stats.msgs_in++;
	l->stats.bytes_in += WIRE_HDR_LEN + m->len;
	link_count_type(l, m->type, 0);
	if ((l->state == LINK_UP || l->state == LINK_HELLO) &&
	    l->proto->hb != PROTO_HB_NONE)
		link_heard(l);

	switch (l->proto->control(l, m)) {
	case PROTO_HEARTBEAT:
		l->stats.hb_in++;
		return;
	case PROTO_TAKEN:
		return;
	case PROTO_PASS:
		break;
	}
	if (l->state != LINK_UP) {
		snprintf(err, sizeof(err), "%s before the link is up",
		    link_type_name(l, m->type));
		link_refuse_msg(l, m, err);
		return;
	}
	if (l->ops->msg != NULL)
		l->ops->msg(l, l->arg, m);
}

/*
 * Woken by the peer: a heartbeat due within half an interval goes now, and
 * those of the duplex's other links with it, rather than on timers of
 * their own a little later.  Peers fall into step: an idle lab wakes once
 * or twice an interval per node, not twice per link.
 */
static void
link_hb_heard(struct link *l)
{
	uint64_t	now = mono_us();

	if (link_sends_hb(l) && link_hb_soon(l, now))
		link_hb_together(l, now);
}

/*
 * Frames off the input buffer: check the header before waiting for the
 * body, take at most MSG_PROCESS_LIMIT per wakeup.
 */
static void
link_read_cb(struct bufferevent *bev, void *arg)
{
	struct link	*l = arg;
	struct evbuffer	*in = bufferevent_get_input(bev);
	int		 n;

	for (n = 0; n < MSG_PROCESS_LIMIT; n++) {
		uint8_t		 hdr[WIRE_HDR_LEN];
		uint32_t	 type, len;
		struct wire_msg	 m;
		char		 err[160];
		int		 rc;

		if (l->bev != bev || l->frozen)
			return;
		if (evbuffer_get_length(in) < WIRE_HDR_LEN)
			break;
		evbuffer_copyout(in, hdr, WIRE_HDR_LEN);
		rc = wire_check_frame(l->proto->types, hdr, link_max_body(l),
		    &type, &len, err, sizeof(err));
		if (rc == WIRE_FRAME_LOST ||
		    (rc == WIRE_FRAME_BAD && l->proto->bad_msg == NULL)) {
			link_proto_error(l, err);
			return;
		}
		if (evbuffer_get_length(in) < WIRE_HDR_LEN + (size_t)len)
			break;
		m.type = type;
		m.len = len;
		m.body = evbuffer_pullup(in, WIRE_HDR_LEN + len) + WIRE_HDR_LEN;
		if (rc == WIRE_FRAME_BAD) {	/* the peer is there */
			l->stats.msgs_in++;
			l->stats.bytes_in += WIRE_HDR_LEN + len;
			if (l->proto->hb != PROTO_HB_NONE)
				link_heard(l);
			link_refuse_msg(l, &m, err);
		} else
			link_dispatch(l, &m);
		if (l->bev == bev)
			evbuffer_drain(in, WIRE_HDR_LEN + len);
	}
	if (l->bev != bev || l->frozen)
		return;
	if (n == MSG_PROCESS_LIMIT && evbuffer_get_length(in) >= WIRE_HDR_LEN)
		event_active(l->ev_more, 0, 0);
	if (n > 0)
		link_hb_heard(l);
}

static void
link_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct link	*l = arg;
	struct linger	 lg = { 1, 0 };
	char		 why[160];

	if (l->bev != bev)
		return;
	if (what & BEV_EVENT_CONNECTED) {
		l->fd = bufferevent_getfd(bev);
		link_setup_bev(l, bev);
		link_fsm(l, LEV_TCP_OK, NULL);
		return;
	}
	if (what & BEV_EVENT_EOF) {
		snprintf(why, sizeof(why), "connection closed by %s",
		    l->peer_addr);
		/*
		 * A server that closed: this client's end goes with a reset,
		 * not a FIN its TIME_WAIT would answer (10,000 desktops of a
		 * desktop server killed: half the kernel's work of closing).
		 */
		if (l->client && l->fd != -1)
			setsockopt(l->fd, SOL_SOCKET, SO_LINGER, &lg,
			    sizeof(lg));
	} else {
		int e = EVUTIL_SOCKET_ERROR();

		snprintf(why, sizeof(why), "%s: %s", l->peer_addr,
		    e ? evutil_socket_error_to_string(e) : "socket error");
	}
	link_fsm(l, l->state == LINK_CONNECT ? LEV_TCP_FAIL : LEV_CLOSED, why);
}

/*
 * A decision that must not rest on a dead peer: if the peer has closed its
 * end and nothing of it waits unread, the link learns it now, as the next
 * turn of the loop would (1: it went down).
 */
int
link_check_gone(struct link *l)
{
	char	why[160];

	if (!link_is_up(l) || (l->bev != NULL &&
	    evbuffer_get_length(bufferevent_get_input(l->bev)) > 0) ||
	    !link_peer_gone(l))
		return 0;
	snprintf(why, sizeof(why), "connection closed by %s", l->peer_addr);
	link_fsm(l, LEV_CLOSED, why);
	return 1;
}

/*
 * A server-side link takes the connection a listener identified by its
 * greeting.  One that still has a connection gives it up for the new one.
 */
void
link_attach(struct link *l, struct bufferevent *bev, const char *peer_addr,
    const char *via)
{
	snprintf(l->via, sizeof(l->via), "%s", via);
	if (link_is_up(l))
		link_fsm(l, LEV_CLOSED, "replaced by a new connection");
	link_close(l);
	snprintf(l->peer_addr, sizeof(l->peer_addr), "%s", peer_addr);
	l->stats.connects++;
	link_setup_bev(l, bev);
	if (l->proto->welcome != NULL)
		l->proto->welcome(l);
	link_fsm(l, LEV_HELLO, NULL);
}

/*
 * A session takes its accepted connection: it greets first if its
 * protocol has a greeting, else it is open at once.
 */
void
link_accept(struct link *l, struct bufferevent *bev, const char *peer_addr,
    const char *via)
{
	snprintf(l->via, sizeof(l->via), "%s", via);
	snprintf(l->peer_addr, sizeof(l->peer_addr), "%s", peer_addr);
	l->stats.connects++;
	link_setup_bev(l, bev);
	link_fsm(l, l->proto->hello_type != 0 ? LEV_TCP_OK : LEV_HELLO, NULL);
}

/*
 * A message that decoded badly: log it with the link, the peer and the
 * type; the protocol answers it, or that one connection is closed as a
 * protocol error.
 */
void
link_bad_msg(struct link *l, const struct wire_msg *m, const char *err)
{
	const char	*name = link_type_name(l, m->type);
	char		 why[256];

	/* The decoders name the type already; others may not. */
	if (strncmp(err, name, strlen(name)) == 0)
		snprintf(why, sizeof(why), "%s", err);
	else
		snprintf(why, sizeof(why), "%s: %s", name, err);
	link_refuse_msg(l, m, why);
}

/* fault LINK down|up|freeze|thaw */
int
link_fault(struct link *l, const char *action, char *err, size_t errlen)
{
	if (strcmp(action, "down") == 0) {
		if (l->state == LINK_ADMIN_DOWN) {
			snprintf(err, errlen, "link %s is already down by a "
			    "fault", l->name);
			return -1;
		}
		link_fsm(l, LEV_FAULT_DOWN, "fault injected: down");
	}
	else if (strcmp(action, "up") == 0) {
		if (l->state != LINK_ADMIN_DOWN) {
			snprintf(err, errlen, "link %s is not down by a fault",
			    l->name);
			return -1;
		}
		link_fsm(l, LEV_FAULT_UP, "fault cleared: up");
	} else if (strcmp(action, "freeze") == 0) {
		if (l->frozen) {
			snprintf(err, errlen, "link %s is already frozen",
			    l->name);
			return -1;
		}
		link_fsm(l, LEV_FAULT_FREEZE, "fault injected: freeze");
	} else if (strcmp(action, "thaw") == 0) {
		if (!l->frozen && l->state != LINK_FROZEN_LOST) {
			snprintf(err, errlen, "link %s is not frozen", l->name);
			return -1;
		}
		link_fsm(l, LEV_FAULT_THAW, "fault cleared: thaw");
	} else {
		snprintf(err, errlen, "unknown fault \"%s\" (down, up, freeze, "
		    "thaw)", action);
		return -1;
	}
	return 0;
}

json_t *
link_json(const struct link *l)
{
	json_t	*types = json_object(), *j;
	int	 i;

	for (i = 0; i < l->ntypes; i++)
		json_object_set_new(types, link_type_name(l, l->types[i].type),
		    json_pack("{s:I, s:I}", "in", (json_int_t)l->types[i].in,
		    "out", (json_int_t)l->types[i].out));
	j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:s, s:f, s:b, s:b,"
	    " s:s, s:s, s:{s:i, s:i}, s:i,"
	    " s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}, s:o}",
	    "name", l->name,
	    "peer", l->peer_node,
	    "kind", link_kind_names[l->kind],
	    "side", l->client ? "client" : "server",
	    "address", l->address,
	    "port", l->port,
	    "state", link_state_names[l->state],
	    "seconds_in_state", mono_since(&l->since),
	    "frozen", l->frozen,
	    "admin_down", l->admin_down,
	    "peer_address", l->peer_addr,
	    "last_error", l->last_error,
	    "heartbeat", "interval_ms", l->hb.interval_ms,
	    "misses", l->hb.misses,
	    "backoff_ms", l->backoff_ms,
	    "counters",
	    "msgs_in", (json_int_t)l->stats.msgs_in,
	    "msgs_out", (json_int_t)l->stats.msgs_out,
	    "bytes_in", (json_int_t)l->stats.bytes_in,
	    "bytes_out", (json_int_t)l->stats.bytes_out,
	    "heartbeats_in", (json_int_t)l->stats.hb_in,
	    "heartbeats_out", (json_int_t)l->stats.hb_out,
	    "connects", (json_int_t)l->stats.connects,
	    "drops", (json_int_t)l->stats.drops,
	    "protocol_errors", (json_int_t)l->stats.proto_errors,
	    "types", types);
	json_object_set_new(j, "protocol", json_pack("{s:s, s:I}", "name",
	    l->proto->name, "version", (json_int_t)l->version));
	if (l->via[0] != '\0')
		json_object_set_new(j, "via", json_string(l->via));
	if (l->alt_port != 0)
		json_object_set_new(j, "alt_port", json_integer(l->alt_port));
	return j;
}
