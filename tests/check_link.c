/*
 * Unit tests of the link state machine (link.c), transition by
 * transition, on a real event base with loopback TCP and ephemeral ports.
 *
 * Both ends of a link live in this process and both say they are node
 * "test" of lab "lab", so every link's peer is "test".  A raw socket plays
 * a peer that misbehaves.  Timers are small (heartbeat 20 ms x 25, so a
 * peer is lost after 500 ms; back-off 10 ms doubling to 40 ms) and every
 * wait runs the loop until a condition holds or WAIT_MS passes: no fixed
 * sleeps except where a test checks that something does not happen.  The
 * hold time is that long, rather than 20 ms x 3, because the handshake
 * runs under it too: under valgrind, on a loaded machine, the first one
 * took over 200 ms while code was translated.
 *
 * Every transition logged as an event is recorded through evt_set_sink()
 * so that tests can check the cause of each one.
 *
 * The "session" cases run a session listener with a protocol of the
 * test's own (t_proto): a greeting OPEN/OPEN_ACK, heartbeats from the
 * client only (HB_REQ answered by HB_CONF), a bad message answered by
 * FAILURE with the session kept, a REFUSED frame past the limit, and a
 * FAILURE saying "hold time" when its hold time runs out.  Its role
 * (s_ops) echoes ECHO requests, answers a value 0 as a bad message,
 * closes the session on the value T_BYE and sets the session's hold time
 * to v - T_HOLD ms on a value from T_HOLD.
 */
#include "config.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <event2/buffer.h>
#include <event2/event.h>

#include "pgemu.h"
#include "wire.h"

#define WAIT_MS		2000	/* longest wait for anything expected */
#define TICK_MS		5	/* the loop wakes this often while waiting */
#define QUIET_MS	150	/* how long nothing must happen */
#define HB_MS		20
#define HB_MISSES	25
#define HOLD_MS		(HB_MS * HB_MISSES)
#define MAXLINKS	16
#define MAXFDS		16
#define MAXTRANS	512

/* What a link's owner was told. */
struct rec {
	int	 up;
	int	 down;
	int	 msgs;
	uint32_t last_type;
	uint32_t last_value;	/* the first word of the last message */
	char	 why[256];
};

/* One transition, as its event says. */
struct trans {
	char	 link[PGEMU_NAME_MAX];
	char	 from[16];
	char	 to[16];
	char	 cause[16];
	char	 reason[160];
};

static struct event_base *base;
static struct cfg	 cf, cf_slow;
static struct listener	*lst;
static int		 lst_port;
static struct link	*srv;		/* what the listener hands out */
static struct link	*links[MAXLINKS];
static int		 nlinks;
static int		 fds[MAXFDS];
static int		 nfds;
static struct trans	 trans[MAXTRANS];
static int		 ntrans;
static struct rec	 rc, rc2, rs;
static struct listener	*slst;		/* a session listener */
static int		 slst_port;

/* What the session listener's role was told, over all its sessions. */
static struct {
	int		 opened, closed, msgs;
	char		 why[256];	/* of the last close */
	struct link	*last;		/* the last session opened */
	uint64_t	 opened_ms, closed_ms;
} srole;

static void
rec_up(struct link *l, void *arg)
{
	struct rec	*r = arg;

	(void)l;
	r->up++;
}

static void
rec_down(struct link *l, void *arg, const char *why)
{
	struct rec	*r = arg;

	(void)l;
	r->down++;
	snprintf(r->why, sizeof(r->why), "%s", why);
}

static void
rec_msg(struct link *l, void *arg, const struct wire_msg *m)
{
	struct rec	*r = arg;

	(void)l;
	r->msgs++;
	r->last_type = m->type;
	if (m->len >= 4)
		r->last_value = (uint32_t)m->body[0] << 24 |
		    (uint32_t)m->body[1] << 16 | (uint32_t)m->body[2] << 8 |
		    m->body[3];
}

static const struct link_ops rec_ops = { rec_up, rec_down, rec_msg };

static void
copy_field(char *out, size_t outlen, json_t *e, const char *key)
{
	const char	*v = json_string_value(json_object_get(e, key));

	snprintf(out, outlen, "%s", v != NULL ? v : "");
}

static void
trans_sink(json_t *e, void *arg)
{
	struct trans	*t;

	(void)arg;
	if (strcmp(json_string_value(json_object_get(e, "event")),
	    "link_state") != 0 || ntrans == MAXTRANS)
		return;
	t = &trans[ntrans++];
	copy_field(t->link, sizeof(t->link), e, "link");
	copy_field(t->from, sizeof(t->from), e, "from");
	copy_field(t->to, sizeof(t->to), e, "to");
	copy_field(t->cause, sizeof(t->cause), e, "cause");
	copy_field(t->reason, sizeof(t->reason), e, "reason");
}

/* The first transition of a link from index start on; -1 if none. */
static int
find_trans(int start, const char *link, const char *from, const char *to,
    const char *cause)
{
	int	i;

	for (i = start; i < ntrans; i++)
		if (strcmp(trans[i].link, link) == 0 &&
		    strcmp(trans[i].from, from) == 0 &&
		    strcmp(trans[i].to, to) == 0 &&
		    strcmp(trans[i].cause, cause) == 0)
			return i;
	return -1;
}

static void
dump_trans(void)
{
	int	i;

	for (i = 0; i < ntrans; i++)
		fprintf(stderr, "  transition %d: %s %s -> %s (%s) %s\n", i,
		    trans[i].link, trans[i].from, trans[i].to, trans[i].cause,
		    trans[i].reason);
}

/* The transition must have happened; its index. */
#define assert_trans(start, link, from, to, cause)			\
	assert_trans_((start), (link), (from), (to), (cause), __LINE__)

static int
assert_trans_(int start, const char *link, const char *from, const char *to,
    const char *cause, int line)
{
	int	i = find_trans(start, link, from, to, cause);

	if (i == -1)
		dump_trans();
	ck_assert_msg(i != -1, "line %d: no transition %s: %s -> %s (%s)",
	    line, link, from, to, cause);
	return i;
}

/*
 * Run the loop until pred(arg) holds or ms pass; whether it holds.  A tick
 * wakes the loop so that conditions outside the loop (a raw socket) are
 * seen too.
 */
typedef int (*pred_fn)(const void *);

static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

static int
wait_until(pred_fn pred, const void *arg, int ms)
{
	struct event	*tick;
	struct timeval	 tv;
	uint64_t	 deadline = mono_ms() + (uint64_t)ms;
	int		 ok;

	tick = event_new(base, -1, EV_PERSIST, tick_cb, NULL);
	ms_to_tv(TICK_MS, &tv);
	event_add(tick, &tv);
	while (!(ok = pred(arg)) && mono_ms() < deadline)
		event_base_loop(base, EVLOOP_ONCE);
	event_free(tick);
	return ok;
}

struct state_arg {
	const struct link	*l;
	enum link_state		 s;
};

static int
pred_state(const void *arg)
{
	const struct state_arg	*a = arg;

	return a->l->state == a->s;
}

#define wait_state(l, s)	wait_state_((l), (s), __LINE__)

static void
wait_state_(const struct link *l, enum link_state s, int line)
{
	struct state_arg	a = { l, s };

	if (!wait_until(pred_state, &a, WAIT_MS))
		dump_trans();
	ck_assert_msg(l->state == s, "line %d: link %s is %s after %d ms, "
	    "expected %s", line, l->name, link_state_names[l->state], WAIT_MS,
	    link_state_names[s]);
}

struct int_arg {
	const int	*p;
	int		 v;
};

static int
pred_int_ge(const void *arg)
{
	const struct int_arg	*a = arg;

	return *a->p >= a->v;
}

#define wait_int(p, v)	wait_int_((p), (v), #p, __LINE__)

static void
wait_int_(const int *p, int v, const char *what, int line)
{
	struct int_arg	a = { p, v };

	ck_assert_msg(wait_until(pred_int_ge, &a, WAIT_MS), "line %d: %s is "
	    "%d after %d ms, expected %d", line, what, *p, WAIT_MS, v);
}

struct u64_arg {
	const uint64_t	*p;
	uint64_t	 v;
};

static int
pred_u64_ge(const void *arg)
{
	const struct u64_arg	*a = arg;

	return *a->p >= a->v;
}

#define wait_u64(p, v)	wait_u64_((p), (v), #p, __LINE__)

static void
wait_u64_(const uint64_t *p, uint64_t v, const char *what, int line)
{
	struct u64_arg	a = { p, v };

	ck_assert_msg(wait_until(pred_u64_ge, &a, WAIT_MS), "line %d: %s is "
	    "%ju after %d ms, expected %ju", line, what, (uintmax_t)*p,
	    WAIT_MS, (uintmax_t)v);
}

/* A counter of a listener, from listener_json. */
static json_int_t
counter_of(const struct listener *l, const char *key)
{
	json_t		*j = listener_json(l);
	json_int_t	 v = json_integer_value(json_object_get(j, key));

	json_decref(j);
	return v;
}

static json_int_t
lst_counter(const char *key)
{
	return counter_of(lst, key);
}

static int
pred_refused(const void *arg)
{
	return lst_counter("refused") >= *(const json_int_t *)arg;
}

static void
wait_refused(json_int_t n)
{
	ck_assert_msg(wait_until(pred_refused, &n, WAIT_MS), "refused is %lld "
	    "after %d ms, expected %lld", (long long)lst_counter("refused"),
	    WAIT_MS, (long long)n);
}

static void
assert_last_refusal(const char *want)
{
	json_t		*j = listener_json(lst);
	const char	*s = json_string_value(json_object_get(j,
			    "last_refusal"));

	ck_assert_msg(s != NULL && strstr(s, want) != NULL, "last_refusal "
	    "\"%s\" does not say \"%s\"", s ? s : "(null)", want);
	json_decref(j);
}

static uint64_t
ts_ms(const struct timespec *ts)
{
	return (uint64_t)ts->tv_sec * 1000 + (uint64_t)ts->tv_nsec / 1000000;
}

static int
pred_readable(const void *arg)
{
	struct pollfd	pfd = { *(const int *)arg, POLLIN, 0 };

	return poll(&pfd, 1, 0) > 0;
}

static void
setup(void)
{
	base = event_base_new();
	ck_assert_ptr_nonnull(base);
	memset(&cf, 0, sizeof(cf));
	snprintf(cf.lab_name, sizeof(cf.lab_name), "lab");
	cf.hb_private.interval_ms = HB_MS;
	cf.hb_private.misses = HB_MISSES;
	cf.hb_router = cf.hb_acd = cf.hb_private;
	cf.backoff_min_ms = 10;
	cf.backoff_max_ms = 40;
	cf.backoff_stable_ms = 0;
	cf.max_message = 65536;
	cf_slow = cf;
	cf_slow.backoff_min_ms = cf_slow.backoff_max_ms = 60000;
	lst = slst = NULL;
	lst_port = slst_port = 0;
	memset(&srole, 0, sizeof(srole));
	srv = NULL;
	nlinks = nfds = ntrans = 0;
	memset(&rc, 0, sizeof(rc));
	memset(&rc2, 0, sizeof(rc2));
	memset(&rs, 0, sizeof(rs));
	evt_set_sink(trans_sink, NULL);
}

static void
teardown(void)
{
	int	i;

	for (i = 0; i < nlinks; i++)
		link_free(links[i]);
	for (i = 0; i < nfds; i++)
		close(fds[i]);
	listener_free(lst);
	listener_free(slst);
	event_base_free(base);
	evt_clear();
	base = NULL;
	lst = slst = NULL;
	srv = NULL;
	nlinks = nfds = 0;
}

static int
keep_fd(int fd)
{
	ck_assert_int_ne(fd, -1);
	ck_assert_int_lt(nfds, MAXFDS);
	fds[nfds++] = fd;
	return fd;
}

/* Close a raw socket early. */
static void
drop_fd(int fd)
{
	int	i;

	for (i = 0; i < nfds; i++)
		if (fds[i] == fd) {
			close(fd);
			fds[i] = fds[--nfds];
			return;
		}
}

static void
loopback(struct sockaddr_in *sin, int port)
{
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_port = htons((uint16_t)port);
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
}

/* A socket bound to an ephemeral loopback port; its port. */
static int
bound_socket(int *portp)
{
	struct sockaddr_in	sin;
	socklen_t		len = sizeof(sin);
	int			fd;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ne(fd, -1);
	loopback(&sin, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	*portp = ntohs(sin.sin_port);
	return fd;
}

/*
 * A port nothing listens on: bound and never listening, kept until the
 * end of the test so that no one else takes it.
 */
static int
closed_port(void)
{
	int	port;

	keep_fd(bound_socket(&port));
	return port;
}

static int
raw_listen(int *portp)
{
	int	fd = keep_fd(bound_socket(portp));

	ck_assert_int_eq(listen(fd, 8), 0);
	return fd;
}

static int
raw_accept(int lfd)
{
	int	fd;

	ck_assert_msg(wait_until(pred_readable, &lfd, WAIT_MS),
	    "no connection to accept");
	fd = accept(lfd, NULL, NULL);
	return keep_fd(fd);
}

static int
raw_connect(int port)
{
	struct sockaddr_in	sin;
	int			fd;

	fd = keep_fd(socket(AF_INET, SOCK_STREAM, 0));
	loopback(&sin, port);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sin, sizeof(sin)),
	    0);
	return fd;
}

static void
raw_send(int fd, const void *buf, size_t len)
{
	ck_assert_int_eq(send(fd, buf, len, MSG_NOSIGNAL), (ssize_t)len);
}

static void
raw_send_msg(int fd, struct wire_writer *w)
{
	ck_assert_int_eq(wire_end(w, 65536, NULL), 0);
	raw_send(fd, w->buf, w->len);
	wire_writer_free(w);
}

static void
raw_send_hello(int fd, int ack, const char *node, const char *lab)
{
	struct wire_hello	h;
	struct wire_writer	w;

	memset(&h, 0, sizeof(h));
	h.version = WIRE_PROTO_VERSION;
	h.hb_interval_ms = HB_MS;
	h.side = '-';
	snprintf(h.node, sizeof(h.node), "%s", node);
	snprintf(h.lab, sizeof(h.lab), "%s", lab);
	ck_assert_int_eq(wire_hello_encode(&h, ack, &w), 0);
	raw_send_msg(fd, &w);
}

/* A bare header: a type and a body length, no body. */
static void
raw_send_header(int fd, uint32_t len, uint32_t type)
{
	uint8_t	hdr[WIRE_HDR_LEN];

	hdr[0] = len >> 24;
	hdr[1] = (len >> 16) & 0xff;
	hdr[2] = (len >> 8) & 0xff;
	hdr[3] = len & 0xff;
	hdr[4] = type >> 24;
	hdr[5] = (type >> 16) & 0xff;
	hdr[6] = (type >> 8) & 0xff;
	hdr[7] = type & 0xff;
	raw_send(fd, hdr, sizeof(hdr));
}

static void
raw_read(int fd, void *buf, size_t len)
{
	size_t	got = 0;
	ssize_t	n;

	while (got < len) {
		ck_assert_msg(wait_until(pred_readable, &fd, WAIT_MS),
		    "raw socket: %zu of %zu bytes", got, len);
		n = recv(fd, (char *)buf + got, len - got, MSG_DONTWAIT);
		if (n == -1 && errno == EAGAIN)
			continue;
		ck_assert_msg(n > 0, "raw socket: closed after %zu of %zu "
		    "bytes", got, len);
		got += (size_t)n;
	}
}

/* Read one frame; its type.  The body goes to body. */
static uint32_t
raw_read_msg(int fd, uint8_t *body, size_t bodylen, uint32_t *lenp)
{
	uint8_t		hdr[WIRE_HDR_LEN];
	uint32_t	len, type;

	raw_read(fd, hdr, sizeof(hdr));
	len = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 |
	    (uint32_t)hdr[2] << 8 | hdr[3];
	type = (uint32_t)hdr[4] << 24 | (uint32_t)hdr[5] << 16 |
	    (uint32_t)hdr[6] << 8 | hdr[7];
	ck_assert_uint_le(len, bodylen);
	raw_read(fd, body, len);
	*lenp = len;
	return type;
}

/* Skip what the peer sends (heartbeats) until a frame of this type. */
static void
raw_expect(int fd, uint32_t want, struct wire_hello *h)
{
	uint8_t		body[512];
	uint32_t	type, len;
	struct wire_msg	m;
	char		err[160];
	int		i;

	for (i = 0; i < 100; i++) {
		type = raw_read_msg(fd, body, sizeof(body), &len);
		if (type == want)
			break;
		ck_assert_uint_eq(type, MSG_HEARTBEAT);
	}
	ck_assert_uint_eq(type, want);
	if (h != NULL) {
		m.type = type;
		m.len = len;
		m.body = body;
		ck_assert_msg(wire_hello_decode(&m, h, err, sizeof(err)) == 0,
		    "%s", err);
	}
}

/* The peer closed the connection, after whatever it had sent. */
static void
raw_expect_eof(int fd)
{
	char	buf[512];
	ssize_t	n;

	for (;;) {
		ck_assert_msg(wait_until(pred_readable, &fd, WAIT_MS),
		    "raw socket not closed by the peer");
		n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n == 0 || (n == -1 && errno == ECONNRESET))
			return;
		ck_assert_msg(n > 0 || errno == EAGAIN, "recv: %s",
		    strerror(errno));
	}
}

/* The listener's owner: hand the hello of node "test" to srv. */
static struct link *
match_cb(void *arg, const struct link_peer_id *id, char *err, size_t errlen)
{
	(void)arg;
	if (strcmp(id->lab, "lab") != 0) {
		snprintf(err, errlen, "node %s belongs to lab \"%s\"",
		    id->node, id->lab);
		return NULL;
	}
	if (srv == NULL || strcmp(id->node, srv->peer_node) != 0) {
		snprintf(err, errlen, "node \"%s\" has no link", id->node);
		return NULL;
	}
	if (srv->admin_down || srv->frozen) {
		snprintf(err, errlen, "link %s is %s by a fault", srv->name,
		    srv->admin_down ? "down" : "frozen");
		return NULL;
	}
	return srv;
}

static void
start_listener(void)
{
	char	err[200];
	int	i, fd;

	/* The port is free a moment ago: retry if someone took it. */
	for (i = 0; i < 10 && lst == NULL; i++) {
		fd = bound_socket(&lst_port);
		close(fd);
		lst = listener_new(base, "lst", "127.0.0.1", lst_port,
		    &proto_lab, 65536, match_cb, NULL, err, sizeof(err));
	}
	ck_assert_msg(lst != NULL, "listener_new: %s", err);
	ck_assert_int_eq(listener_port(lst), lst_port);
}

static struct link *
new_link(const char *name, int client, int port, const struct cfg *c,
    struct rec *r)
{
	struct link	*l;

	ck_assert_int_lt(nlinks, MAXLINKS);
	l = link_new(base, name, "test", LINK_KIND_PRIVATE, client,
	    "127.0.0.1", port, c, &proto_lab, &rec_ops, r);
	ck_assert_ptr_nonnull(l);
	links[nlinks++] = l;
	ck_assert_int_eq(l->state, LINK_IDLE);
	return l;
}

/* A listener, its server link srv and a client link up to it. */
static struct link *
bring_up(void)
{
	struct link	*cli;

	start_listener();
	srv = new_link("srv", 0, lst_port, &cf, &rs);
	cli = new_link("cli", 1, lst_port, &cf, &rc);
	link_fsm(cli, LEV_START, NULL);
	wait_state(cli, LINK_UP);
	wait_state(srv, LINK_UP);
	ck_assert_int_eq(rc.up, 1);
	ck_assert_int_eq(rs.up, 1);
	return cli;
}

static const char *
json_str(json_t *j, const char *key)
{
	const char	*s = json_string_value(json_object_get(j, key));

	ck_assert_msg(s != NULL, "no string \"%s\"", key);
	return s;
}

static json_int_t
json_counter(json_t *j, const char *key)
{
	json_t	*c = json_object_get(json_object_get(j, "counters"), key);

	ck_assert_msg(json_is_integer(c), "no counter \"%s\"", key);
	return json_integer_value(c);
}

static json_int_t
json_msgtype(json_t *j, const char *type, const char *dir)
{
	json_t	*t = json_object_get(json_object_get(j, "types"), type);

	return json_integer_value(json_object_get(t, dir));
}

/* link_json's protocol: its name and the version its greeting settled. */
static void
assert_protocol(json_t *j, const char *name, json_int_t version)
{
	json_t	*p = json_object_get(j, "protocol");

	ck_assert_str_eq(json_str(p, "name"), name);
	ck_assert_int_eq(json_integer_value(json_object_get(p, "version")),
	    version);
}

/*
 * A client to a port nothing listens on: IDLE -START-> CONNECT -TCP_FAIL->
 * BACKOFF -RETRY_TIMER-> CONNECT ..., the delay doubling up to max_ms, and
 * the loop logged once.
 */
START_TEST(test_backoff)
{
	struct link	*cli;
	uint64_t	 t0, connects;
	int		 port = closed_port();

	cli = new_link("cli", 1, port, &cf, &rc);
	ck_assert_int_eq(cli->backoff_ms, 10);
	link_fsm(cli, LEV_START, NULL);
	ck_assert_uint_eq(cli->stats.connects, 1);
	assert_trans(0, "cli", "IDLE", "CONNECT", "START");
	wait_state(cli, LINK_BACKOFF);
	t0 = ts_ms(&cli->since);
	assert_trans(1, "cli", "CONNECT", "BACKOFF", "TCP_FAIL");
	ck_assert_int_eq(ntrans, 2);
	ck_assert_int_eq(cli->prev_state, LINK_CONNECT);
	ck_assert_msg(cli->last_error[0] != '\0', "no last_error");
	ck_assert_ptr_null(cli->bev);
	ck_assert(evtimer_pending(cli->ev_retry, NULL));
	ck_assert_int_eq(cli->backoff_ms, 20);	/* 10 now, 20 next */

	/*
	 * RETRY_TIMER after 10 ms: CONNECT again, fails, waits 20 ms.  The
	 * timer counts from the loop's cached time, a little before the
	 * transition under valgrind: check only that it did wait.
	 */
	wait_u64(&cli->stats.connects, 2);
	ck_assert_uint_ge(mono_ms() - t0, 5);
	wait_state(cli, LINK_BACKOFF);
	ck_assert_int_eq(cli->backoff_ms, 40);
	wait_u64(&cli->stats.connects, 3);
	wait_state(cli, LINK_BACKOFF);
	ck_assert_int_eq(cli->backoff_ms, 40);	/* capped at max_ms */
	wait_u64(&cli->stats.connects, 4);
	wait_state(cli, LINK_BACKOFF);
	ck_assert_int_eq(cli->backoff_ms, 40);

	/* The retry loop is logged once, then only at debug. */
	ck_assert_int_eq(ntrans, 2);
	ck_assert_int_eq(rc.up, 0);
	ck_assert_int_eq(rc.down, 0);
	ck_assert_uint_eq(cli->stats.drops, 0);

	/*
	 * The retry timer by hand: BACKOFF -RETRY_TIMER-> CONNECT, quietly,
	 * the refusal comes later from the loop.
	 */
	connects = cli->stats.connects;
	link_fsm(cli, LEV_RETRY_TIMER, NULL);
	ck_assert_int_eq(cli->state, LINK_CONNECT);
	ck_assert_int_eq(cli->prev_state, LINK_BACKOFF);
	ck_assert_uint_eq(cli->stats.connects, connects + 1);
	ck_assert(!evtimer_pending(cli->ev_retry, NULL));
	ck_assert_ptr_nonnull(cli->bev);
	wait_state(cli, LINK_BACKOFF);
	ck_assert_int_eq(ntrans, 2);

	/* STOP: IDLE, and no more attempts. */
	link_fsm(cli, LEV_STOP, "stopped");
	ck_assert_int_eq(cli->state, LINK_IDLE);
	ck_assert(!evtimer_pending(cli->ev_retry, NULL));
	connects = cli->stats.connects;
	ck_assert(!wait_until(pred_u64_ge, &(struct u64_arg){
	    &cli->stats.connects, connects + 1 }, QUIET_MS));
	ck_assert_int_eq(cli->state, LINK_IDLE);
	assert_trans(2, "cli", "BACKOFF", "IDLE", "STOP");
	ck_assert_str_eq(cli->last_error, "stopped");
}
END_TEST

/*
 * Client and server meet through a listener: CONNECT -TCP_OK-> HELLO
 * -HELLO-> UP on the client, IDLE -HELLO-> UP on the server; heartbeats
 * keep both up and messages reach the owner.
 */
START_TEST(test_up)
{
	struct link		*cli = bring_up();
	struct wire_writer	 w;
	json_t			*j;
	int			 i;

	i = assert_trans(0, "cli", "IDLE", "CONNECT", "START");
	i = assert_trans(i, "cli", "CONNECT", "HELLO", "TCP_OK");
	assert_trans(i, "cli", "HELLO", "UP", "HELLO");
	assert_trans(0, "srv", "IDLE", "UP", "HELLO");
	ck_assert(link_is_up(cli));
	ck_assert(link_is_up(srv));
	ck_assert_int_eq(lst_counter("accepted"), 1);
	ck_assert_int_eq(lst_counter("refused"), 0);
	ck_assert_uint_eq(cli->stats.connects, 1);
	ck_assert_uint_eq(srv->stats.connects, 1);
	ck_assert_msg(strncmp(srv->peer_addr, "127.0.0.1:", 10) == 0,
	    "server peer address %s", srv->peer_addr);

	/* Heartbeats both ways keep the hold timers from running out. */
	wait_u64(&cli->stats.hb_in, HB_MISSES + 5);
	wait_u64(&srv->stats.hb_in, HB_MISSES + 5);
	ck_assert_int_eq(cli->state, LINK_UP);
	ck_assert_int_eq(srv->state, LINK_UP);
	ck_assert_int_eq(rc.up, 1);
	ck_assert_int_eq(rs.up, 1);
	ck_assert_int_eq(rc.down, 0);
	ck_assert_int_eq(rs.down, 0);

	/* A message goes through to the owner of the other end. */
	wire_begin(&w, MSG_SYSTEM_EVENT);
	for (i = 0; i < 26; i++)
		wire_u8(&w, 0);
	ck_assert_int_eq(link_send(cli, &w), 0);
	wait_int(&rs.msgs, 1);
	ck_assert_uint_eq(rs.last_type, MSG_SYSTEM_EVENT);
	ck_assert_int_eq(rc.msgs, 0);

	j = link_json(cli);
	ck_assert_ptr_nonnull(j);
	ck_assert_str_eq(json_str(j, "name"), "cli");
	ck_assert_str_eq(json_str(j, "peer"), "test");
	ck_assert_str_eq(json_str(j, "kind"), "private");
	ck_assert_str_eq(json_str(j, "side"), "client");
	ck_assert_str_eq(json_str(j, "state"), "UP");
	ck_assert_int_eq(json_counter(j, "connects"), 1);
	ck_assert_int_eq(json_counter(j, "drops"), 0);
	ck_assert_int_eq(json_counter(j, "protocol_errors"), 0);
	ck_assert_int_ge(json_counter(j, "heartbeats_in"), HB_MISSES + 5);
	ck_assert_int_eq(json_msgtype(j, "HELLO", "out"), 1);
	ck_assert_int_eq(json_msgtype(j, "HELLO_ACK", "in"), 1);
	ck_assert_int_eq(json_msgtype(j, "SYSTEM_EVENT", "out"), 1);
	json_decref(j);
	j = link_json(srv);
	ck_assert_str_eq(json_str(j, "side"), "server");
	ck_assert_str_eq(json_str(j, "state"), "UP");
	ck_assert_int_eq(json_msgtype(j, "HELLO_ACK", "out"), 1);
	ck_assert_int_eq(json_msgtype(j, "SYSTEM_EVENT", "in"), 1);
	json_decref(j);
}
END_TEST

/*
 * Freeze the server: the client hears nothing and drops the link after
 * about interval x misses (UP -HOLD_EXPIRED-> BACKOFF); the frozen side
 * loses it too (FROZEN -HOLD_EXPIRED-> FROZEN_LOST).  Thaw: both up again.
 */
START_TEST(test_hold_timer)
{
	struct link	*cli = bring_up();
	char		 err[160], why[96];
	uint64_t	 t0, dt;

	t0 = mono_ms();
	ck_assert_int_eq(link_fault(srv, "freeze", err, sizeof(err)), 0);
	ck_assert_int_eq(srv->state, LINK_FROZEN);
	ck_assert(srv->frozen);
	ck_assert(link_is_up(srv));
	assert_trans(0, "srv", "UP", "FROZEN", "FAULT_FREEZE");

	wait_state(cli, LINK_BACKOFF);
	dt = mono_ms() - t0;
	/* Last heard at most one interval before the freeze. */
	ck_assert_msg(dt >= HOLD_MS - HB_MS - 10 && dt <= HOLD_MS + 250,
	    "client lost the link after %ju ms, hold time %d ms",
	    (uintmax_t)dt, HOLD_MS);
	assert_trans(0, "cli", "UP", "BACKOFF", "HOLD_EXPIRED");
	snprintf(why, sizeof(why), "nothing heard for %d ms (%d x %d ms)",
	    HOLD_MS, HB_MISSES, HB_MS);
	ck_assert_int_eq(rc.down, 1);
	ck_assert_str_eq(rc.why, why);
	ck_assert_str_eq(cli->last_error, why);
	ck_assert_uint_eq(cli->stats.drops, 1);

	wait_state(srv, LINK_FROZEN_LOST);
	assert_trans(0, "srv", "FROZEN", "FROZEN_LOST", "HOLD_EXPIRED");
	ck_assert_int_eq(rs.down, 1);
	ck_assert_uint_eq(srv->stats.drops, 1);
	ck_assert(!link_is_up(srv));

	/* The client keeps trying; the listener refuses a frozen link. */
	wait_refused(1);
	assert_last_refusal("link srv is frozen by a fault");
	ck_assert_int_eq(srv->state, LINK_FROZEN_LOST);

	ck_assert_int_eq(link_fault(srv, "thaw", err, sizeof(err)), 0);
	ck_assert_int_eq(srv->state, LINK_IDLE);
	ck_assert(!srv->frozen);
	assert_trans(0, "srv", "FROZEN_LOST", "IDLE", "FAULT_THAW");
	wait_state(cli, LINK_UP);
	wait_state(srv, LINK_UP);
	ck_assert_int_eq(rc.up, 2);
	ck_assert_int_eq(rs.up, 2);
	ck_assert_int_eq(rc.down, 1);
	ck_assert_int_eq(rs.down, 1);
	ck_assert_uint_eq(srv->stats.connects, 2);
}
END_TEST

/*
 * A short freeze: FROZEN -THAW-> UP; the peer never notices, and what was
 * sent meanwhile waits, as TCP would hold it, and arrives after the thaw.
 */
START_TEST(test_freeze_thaw)
{
	struct link		*cli = bring_up();
	struct wire_writer	 w;
	char			 err[160];
	uint64_t		 hb, srv_in;

	ck_assert_int_eq(link_fault(cli, "freeze", err, sizeof(err)), 0);
	ck_assert_int_eq(cli->state, LINK_FROZEN);
	ck_assert(!evtimer_pending(cli->ev_hb, NULL));
	srv_in = srv->stats.hb_in;
	wire_begin(&w, MSG_HEARTBEAT);
	wire_u32(&w, 1);
	ck_assert_int_eq(link_send(cli, &w), 0);	/* queued */
	ck_assert_uint_gt(evbuffer_get_length(bufferevent_get_output(
	    cli->bev)), 0);
	ck_assert_uint_eq(srv->stats.hb_in, srv_in);	/* not sent */

	ck_assert_int_eq(link_fault(cli, "thaw", err, sizeof(err)), 0);
	ck_assert_int_eq(cli->state, LINK_UP);
	ck_assert(!cli->frozen);
	assert_trans(0, "cli", "UP", "FROZEN", "FAULT_FREEZE");
	assert_trans(0, "cli", "FROZEN", "UP", "FAULT_THAW");
	ck_assert(evtimer_pending(cli->ev_hb, NULL));
	ck_assert(evtimer_pending(cli->ev_hold, NULL));

	hb = cli->stats.hb_in;
	wait_u64(&cli->stats.hb_in, hb + 3);
	hb = srv->stats.hb_in;
	wait_u64(&srv->stats.hb_in, hb + 3);
	ck_assert_int_eq(cli->state, LINK_UP);
	ck_assert_int_eq(srv->state, LINK_UP);
	/* Frozen is still up: no down, no second up. */
	ck_assert_int_eq(rc.up, 1);
	ck_assert_int_eq(rc.down, 0);
	ck_assert_int_eq(rs.down, 0);
	ck_assert_uint_eq(cli->stats.drops, 0);
}
END_TEST

/*
 * fault down on the client: ADMIN_DOWN, the server sees the connection
 * close, nothing reconnects; fault up: CONNECT -> UP.
 */
START_TEST(test_admin_down)
{
	struct link	*cli = bring_up();
	char		 err[160];
	uint64_t	 connects;

	ck_assert_int_eq(link_fault(cli, "down", err, sizeof(err)), 0);
	ck_assert_int_eq(cli->state, LINK_ADMIN_DOWN);
	ck_assert(cli->admin_down);
	ck_assert(!link_is_up(cli));
	assert_trans(0, "cli", "UP", "ADMIN_DOWN", "FAULT_DOWN");
	ck_assert_int_eq(rc.down, 1);
	ck_assert_str_eq(rc.why, "fault injected: down");
	ck_assert_ptr_null(cli->bev);
	ck_assert(!evtimer_pending(cli->ev_retry, NULL));
	ck_assert(!evtimer_pending(cli->ev_hb, NULL));
	ck_assert(!evtimer_pending(cli->ev_hold, NULL));

	wait_state(srv, LINK_IDLE);
	assert_trans(0, "srv", "UP", "IDLE", "CLOSED");
	ck_assert_int_eq(rs.down, 1);
	ck_assert_msg(strncmp(rs.why, "connection closed by ", 21) == 0,
	    "server down: %s", rs.why);

	/* Down stays down: no attempts, and timer events are ignored. */
	connects = cli->stats.connects;
	ck_assert(!wait_until(pred_u64_ge, &(struct u64_arg){
	    &cli->stats.connects, connects + 1 }, QUIET_MS));
	link_fsm(cli, LEV_RETRY_TIMER, NULL);
	link_fsm(cli, LEV_START, NULL);
	link_fsm(cli, LEV_TCP_OK, NULL);
	ck_assert_int_eq(cli->state, LINK_ADMIN_DOWN);
	ck_assert_uint_eq(cli->stats.connects, connects);

	ck_assert_int_eq(link_fault(cli, "up", err, sizeof(err)), 0);
	ck_assert(!cli->admin_down);
	ck_assert_int_eq(cli->backoff_ms, cf.backoff_min_ms);
	assert_trans(0, "cli", "ADMIN_DOWN", "CONNECT", "FAULT_UP");
	wait_state(cli, LINK_UP);
	wait_state(srv, LINK_UP);
	ck_assert_int_eq(rc.up, 2);
	ck_assert_int_eq(rs.up, 2);
	ck_assert_uint_eq(cli->stats.connects, connects + 1);
}
END_TEST

/*
 * fault down on the server: the client loses the link and the listener
 * refuses it until fault up (ADMIN_DOWN -FAULT_UP-> IDLE for a server).
 */
START_TEST(test_admin_down_server)
{
	struct link	*cli = bring_up();
	char		 err[160];

	ck_assert_int_eq(link_fault(srv, "down", err, sizeof(err)), 0);
	ck_assert_int_eq(srv->state, LINK_ADMIN_DOWN);
	ck_assert_int_eq(rs.down, 1);
	wait_state(cli, LINK_BACKOFF);
	assert_trans(0, "cli", "UP", "BACKOFF", "CLOSED");
	wait_refused(2);
	assert_last_refusal("link srv is down by a fault");
	ck_assert_int_eq(srv->state, LINK_ADMIN_DOWN);

	ck_assert_int_eq(link_fault(srv, "up", err, sizeof(err)), 0);
	assert_trans(0, "srv", "ADMIN_DOWN", "IDLE", "FAULT_UP");
	wait_state(srv, LINK_UP);
	wait_state(cli, LINK_UP);
	ck_assert_int_eq(rc.up, 2);
	ck_assert_int_eq(rs.up, 2);
}
END_TEST

/*
 * A reload that moves the peer stops and starts the link: a link down by a
 * fault stays down until fault up.
 */
START_TEST(test_admin_down_restart)
{
	struct link	*cli = bring_up();
	char		 err[160];
	uint64_t	 connects;

	ck_assert_int_eq(link_fault(cli, "down", err, sizeof(err)), 0);
	connects = cli->stats.connects;
	link_fsm(cli, LEV_STOP, "peer address changed");
	link_fsm(cli, LEV_START, NULL);
	ck_assert_int_eq(cli->state, LINK_ADMIN_DOWN);
	ck_assert(cli->admin_down);
	ck_assert(!wait_until(pred_u64_ge, &(struct u64_arg){
	    &cli->stats.connects, connects + 1 }, QUIET_MS));
	ck_assert_int_eq(cli->state, LINK_ADMIN_DOWN);

	ck_assert_int_eq(link_fault(cli, "up", err, sizeof(err)), 0);
	wait_state(cli, LINK_UP);
	wait_state(srv, LINK_UP);
}
END_TEST

/* Fault commands that make no sense say why and change nothing. */
START_TEST(test_fault_errors)
{
	struct link	*l = new_link("srv", 0, 1, &cf, &rs);
	char		 err[160];

	err[0] = '\0';
	ck_assert_int_eq(link_fault(l, "explode", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "unknown fault \"explode\" (down, up, freeze, "
	    "thaw)");
	ck_assert_int_eq(link_fault(l, "", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "unknown fault \"\" (down, up, freeze, thaw)");
	ck_assert_int_eq(link_fault(l, "up", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "link srv is not down by a fault");
	ck_assert_int_eq(link_fault(l, "thaw", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "link srv is not frozen");
	ck_assert_int_eq(l->state, LINK_IDLE);
	ck_assert_int_eq(ntrans, 0);

	/* Freeze an idle link: nothing to freeze yet, but once is enough. */
	ck_assert_int_eq(link_fault(l, "freeze", err, sizeof(err)), 0);
	ck_assert(l->frozen);
	ck_assert_int_eq(l->state, LINK_IDLE);
	ck_assert_int_eq(link_fault(l, "freeze", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "link srv is already frozen");
	ck_assert_int_eq(link_fault(l, "thaw", err, sizeof(err)), 0);
	ck_assert(!l->frozen);
	ck_assert_int_eq(link_fault(l, "thaw", err, sizeof(err)), -1);

	/* down, down again, up: a server goes back to IDLE. */
	ck_assert_int_eq(link_fault(l, "down", err, sizeof(err)), 0);
	ck_assert_int_eq(l->state, LINK_ADMIN_DOWN);
	ck_assert_int_eq(link_fault(l, "down", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "link srv is already down by a fault");
	ck_assert_int_eq(l->state, LINK_ADMIN_DOWN);
	ck_assert_int_eq(link_fault(l, "thaw", err, sizeof(err)), -1);
	ck_assert_int_eq(link_fault(l, "up", err, sizeof(err)), 0);
	ck_assert_int_eq(l->state, LINK_IDLE);
	ck_assert(!l->admin_down);
	ck_assert_int_eq(link_fault(l, "up", err, sizeof(err)), -1);
	ck_assert_int_eq(rs.up, 0);
	ck_assert_int_eq(rs.down, 0);
}
END_TEST

/*
 * A server link that gets a second connection gives up the first one
 * (UP -CLOSED-> IDLE, "replaced by a new connection"), then IDLE -HELLO->
 * UP on the new one.
 */
START_TEST(test_replace)
{
	struct link	*c1, *c2;
	int		 i;

	start_listener();
	srv = new_link("srv", 0, lst_port, &cf, &rs);
	/* c1 waits a minute before retrying, so it does not fight back. */
	c1 = new_link("c1", 1, lst_port, &cf_slow, &rc);
	c2 = new_link("c2", 1, lst_port, &cf, &rc2);
	link_fsm(c1, LEV_START, NULL);
	wait_state(c1, LINK_UP);
	wait_state(srv, LINK_UP);

	link_fsm(c2, LEV_START, NULL);
	wait_int(&rs.down, 1);
	ck_assert_str_eq(rs.why, "replaced by a new connection");
	wait_state(c2, LINK_UP);
	wait_state(c1, LINK_BACKOFF);
	ck_assert_int_eq(srv->state, LINK_UP);
	i = assert_trans(0, "srv", "IDLE", "UP", "HELLO");
	i = assert_trans(i + 1, "srv", "UP", "IDLE", "CLOSED");
	ck_assert_str_eq(trans[i].reason, "replaced by a new connection");
	assert_trans(i + 1, "srv", "IDLE", "UP", "HELLO");
	assert_trans(0, "c1", "UP", "BACKOFF", "CLOSED");
	ck_assert_int_eq(rs.up, 2);
	ck_assert_int_eq(rs.down, 1);
	ck_assert_uint_eq(srv->stats.connects, 2);
	ck_assert_uint_eq(srv->stats.drops, 1);
	ck_assert_int_eq(rc.up, 1);
	ck_assert_int_eq(rc.down, 1);
	ck_assert_int_eq(rc2.up, 1);
	ck_assert_int_eq(rc2.down, 0);
	ck_assert_int_eq(lst_counter("accepted"), 2);

	/* The new connection works: heartbeats keep both up. */
	wait_u64(&c2->stats.hb_in, 3);
	ck_assert_int_eq(c2->state, LINK_UP);
	ck_assert_int_eq(srv->state, LINK_UP);
}
END_TEST

/* Events a state does not expect change nothing. */
START_TEST(test_ignored)
{
	struct link	*cli = bring_up(), *idle, *idle_cli;
	int		 n;

	n = ntrans;
	link_fsm(cli, LEV_RETRY_TIMER, NULL);
	link_fsm(cli, LEV_TCP_OK, NULL);
	link_fsm(cli, LEV_TCP_FAIL, "no");
	link_fsm(cli, LEV_START, NULL);
	link_fsm(cli, LEV_HELLO, NULL);
	link_fsm(cli, LEV_FAULT_UP, NULL);
	link_fsm(cli, LEV_FAULT_THAW, NULL);
	link_fsm(srv, LEV_START, NULL);
	link_fsm(srv, LEV_RETRY_TIMER, NULL);
	link_fsm(srv, LEV_HELLO, NULL);
	ck_assert_int_eq(cli->state, LINK_UP);
	ck_assert_int_eq(srv->state, LINK_UP);
	ck_assert_int_eq(ntrans, n);
	ck_assert_int_eq(rc.up, 1);
	ck_assert_int_eq(rs.up, 1);
	ck_assert_uint_eq(cli->stats.connects, 1);

	idle = new_link("idle", 0, 1, &cf, &rc2);
	idle_cli = new_link("idle-cli", 1, 1, &cf, &rc2);
	link_fsm(idle, LEV_START, NULL);		/* servers wait */
	link_fsm(idle, LEV_TCP_OK, NULL);
	link_fsm(idle, LEV_TCP_FAIL, NULL);
	link_fsm(idle, LEV_CLOSED, NULL);
	link_fsm(idle, LEV_HOLD_EXPIRED, NULL);
	link_fsm(idle, LEV_PROTO_ERROR, NULL);
	link_fsm(idle, LEV_RETRY_TIMER, NULL);
	link_fsm(idle, LEV_STOP, NULL);
	link_fsm(idle_cli, LEV_HELLO, NULL);		/* clients connect */
	link_fsm(idle_cli, LEV_RETRY_TIMER, NULL);
	link_fsm(idle_cli, LEV_CLOSED, NULL);
	ck_assert_int_eq(idle->state, LINK_IDLE);
	ck_assert_int_eq(idle_cli->state, LINK_IDLE);
	ck_assert_uint_eq(idle_cli->stats.connects, 0);
	ck_assert_int_eq(ntrans, n);

	/* Still up and well after all that. */
	wait_u64(&cli->stats.hb_in, cli->stats.hb_in + 2);
	ck_assert_int_eq(cli->state, LINK_UP);
	ck_assert_int_eq(srv->state, LINK_UP);
}
END_TEST

/* What the listener refuses before a link is matched, and counts. */
START_TEST(test_listener_refuses)
{
	int	fd;

	start_listener();
	srv = new_link("srv", 0, lst_port, &cf, &rs);

	fd = raw_connect(lst_port);
	raw_send(fd, "GARBAGE!", 8);
	wait_refused(1);
	assert_last_refusal("protocol error: unknown message type");
	raw_expect_eof(fd);

	fd = raw_connect(lst_port);
	raw_send_header(fd, 4, MSG_HEARTBEAT);
	wait_refused(2);
	assert_last_refusal("protocol error: expected HELLO, got HEARTBEAT");
	raw_expect_eof(fd);

	fd = raw_connect(lst_port);
	raw_send_header(fd, 70000, MSG_HELLO);
	wait_refused(3);
	assert_last_refusal("protocol error: HELLO: length 70000 over the "
	    "maximum");
	raw_expect_eof(fd);

	fd = raw_connect(lst_port);
	raw_send_hello(fd, 0, "test", "other-lab");
	wait_refused(4);
	assert_last_refusal("node test belongs to lab \"other-lab\"");
	raw_expect_eof(fd);

	fd = raw_connect(lst_port);
	raw_send_hello(fd, 0, "stranger", "lab");
	wait_refused(5);
	assert_last_refusal("node \"stranger\" has no link");
	raw_expect_eof(fd);

	fd = raw_connect(lst_port);
	drop_fd(fd);
	wait_refused(6);
	assert_last_refusal("closed before HELLO");

	ck_assert_int_eq(lst_counter("accepted"), 0);
	ck_assert_int_eq(srv->state, LINK_IDLE);
	ck_assert_int_eq(rs.up, 0);
	ck_assert_int_eq(ntrans, 0);
}
END_TEST

/*
 * A peer that did its HELLO, then sends a message of an unknown type: the
 * server link goes UP -PROTO_ERROR-> IDLE and closes the connection.
 */
START_TEST(test_proto_error_server)
{
	struct wire_hello	h;
	int			fd;

	start_listener();
	srv = new_link("srv", 0, lst_port, &cf, &rs);
	fd = raw_connect(lst_port);
	raw_send_hello(fd, 0, "test", "lab");
	wait_state(srv, LINK_UP);
	raw_expect(fd, MSG_HELLO_ACK, &h);
	ck_assert_str_eq(h.node, "test");
	ck_assert_str_eq(h.lab, "lab");
	ck_assert_int_eq(h.hb_interval_ms, HB_MS);
	ck_assert_int_eq(lst_counter("accepted"), 1);

	/* A heartbeat is fine, then type 0x7777 is not. */
	raw_send_header(fd, 4, MSG_HEARTBEAT);
	raw_send(fd, "\0\0\0\1", 4);
	wait_u64(&srv->stats.hb_in, 1);
	raw_send_header(fd, 0, 0x7777);
	wait_state(srv, LINK_IDLE);
	assert_trans(0, "srv", "UP", "IDLE", "PROTO_ERROR");
	ck_assert_uint_eq(srv->stats.proto_errors, 1);
	ck_assert_int_eq(rs.up, 1);
	ck_assert_int_eq(rs.down, 1);
	ck_assert_msg(strstr(rs.why, "unknown message type 30583") != NULL,
	    "down: %s", rs.why);
	ck_assert_msg(strncmp(srv->last_error, "protocol error from "
	    "127.0.0.1:", 30) == 0, "last_error: %s", srv->last_error);
	raw_expect_eof(fd);
}
END_TEST

/*
 * A raw server against a client link: a BYE, an unknown type, a HELLO_ACK
 * from the wrong node and no HELLO_ACK at all each send the client to
 * BACKOFF, and it comes back each time.
 */
START_TEST(test_proto_error_client)
{
	struct link		*cli;
	struct wire_hello	 h;
	struct wire_writer	 w;
	char			 err[160];
	int			 lfd, fd, port, i;

	lfd = raw_listen(&port);
	cli = new_link("cli", 1, port, &cf, &rc);
	link_fsm(cli, LEV_START, NULL);
	fd = raw_accept(lfd);
	raw_expect(fd, MSG_HELLO, &h);
	ck_assert_int_eq(cli->state, LINK_HELLO);
	ck_assert_str_eq(h.node, "test");
	ck_assert_str_eq(h.lab, "lab");
	ck_assert_int_eq(h.side, '-');
	ck_assert_int_eq(h.hb_interval_ms, HB_MS);

	/* A message other than HELLO_ACK before the link is up. */
	raw_send_header(fd, 4, MSG_CLOSE_CONF);
	raw_send(fd, "\0\0\0\0", 4);
	wait_state(cli, LINK_BACKOFF);
	i = assert_trans(0, "cli", "HELLO", "BACKOFF", "PROTO_ERROR");
	ck_assert_str_eq(trans[i].reason + strlen(trans[i].reason) -
	    strlen("CLOSE_CONF before the link is up"),
	    "CLOSE_CONF before the link is up");
	ck_assert_uint_eq(cli->stats.proto_errors, 1);
	ck_assert_int_eq(rc.down, 0);		/* it was never up */
	raw_expect_eof(fd);
	drop_fd(fd);

	/* Up, then the peer leaves with a BYE: CLOSED. */
	fd = raw_accept(lfd);
	raw_expect(fd, MSG_HELLO, NULL);
	raw_send_hello(fd, 1, "test", "lab");
	wait_state(cli, LINK_UP);
	ck_assert_int_eq(rc.up, 1);
	wire_begin(&w, MSG_BYE);
	wire_u32(&w, 0);
	wire_flt_str(&w, TAG_TEXT, "maintenance");
	raw_send_msg(fd, &w);
	wait_state(cli, LINK_BACKOFF);
	assert_trans(0, "cli", "UP", "BACKOFF", "CLOSED");
	ck_assert_str_eq(cli->bye_text, "maintenance");
	ck_assert_str_eq(rc.why, "peer left: maintenance");
	ck_assert_int_eq(rc.down, 1);
	drop_fd(fd);

	/* Up again, then an unknown type: PROTO_ERROR. */
	fd = raw_accept(lfd);
	raw_expect(fd, MSG_HELLO, NULL);
	raw_send_hello(fd, 1, "test", "lab");
	wait_state(cli, LINK_UP);
	ck_assert_int_eq(rc.up, 2);
	ck_assert_str_eq(cli->bye_text, "");
	raw_send_header(fd, 0, 0x7777);
	wait_state(cli, LINK_BACKOFF);
	assert_trans(0, "cli", "UP", "BACKOFF", "PROTO_ERROR");
	ck_assert_uint_eq(cli->stats.proto_errors, 2);
	ck_assert_int_eq(rc.down, 2);
	ck_assert_msg(strstr(rc.why, "unknown message type 30583") != NULL,
	    "down: %s", rc.why);
	raw_expect_eof(fd);
	drop_fd(fd);

	/* A HELLO_ACK from another node. */
	fd = raw_accept(lfd);
	raw_expect(fd, MSG_HELLO, NULL);
	raw_send_hello(fd, 1, "other", "lab");
	wait_u64(&cli->stats.proto_errors, 3);
	wait_state(cli, LINK_BACKOFF);
	ck_assert_msg(strstr(cli->last_error, "HELLO_ACK from node \"other\", "
	    "expected \"test\"") != NULL, "last_error: %s", cli->last_error);
	ck_assert_int_eq(rc.up, 2);
	raw_expect_eof(fd);
	drop_fd(fd);

	/* No HELLO_ACK at all: HELLO -HOLD_EXPIRED-> BACKOFF. */
	fd = raw_accept(lfd);
	raw_expect(fd, MSG_HELLO, NULL);
	ck_assert_int_eq(cli->state, LINK_HELLO);
	wait_state(cli, LINK_BACKOFF);
	assert_trans(0, "cli", "HELLO", "BACKOFF", "HOLD_EXPIRED");
	ck_assert_msg(strncmp(cli->last_error, "nothing heard for", 17) == 0,
	    "last_error: %s", cli->last_error);
	ck_assert_int_eq(rc.up, 2);
	ck_assert_int_eq(rc.down, 2);

	/* Down before the retry: no more connections to accept. */
	ck_assert_int_eq(link_fault(cli, "down", err, sizeof(err)), 0);
	ck_assert_int_eq(cli->state, LINK_ADMIN_DOWN);
	raw_expect_eof(fd);
	drop_fd(fd);
	ck_assert(!wait_until(pred_readable, &lfd, QUIET_MS));
}
END_TEST

/*
 * Sessions: a protocol of the test's own over a session listener.
 */
#define T_OPEN		0x7001
#define T_OPEN_ACK	0x7002
#define T_HB_REQ	0x7003
#define T_HB_CONF	0x7004
#define T_ECHO		0x7005
#define T_FAILURE	0x7006
#define T_REFUSED	0x7007
#define T_VERSION	2
#define T_BYE		99	/* ECHO of this value: the role closes */
#define T_HOLD		1000000	/* ECHO of T_HOLD + ms: the hold time */

static const struct wire_type_info t_types[] = {
	{ T_OPEN,	"OPEN",		4, 4 },
	{ T_OPEN_ACK,	"OPEN_ACK",	4, 4 },
	{ T_HB_REQ,	"HB_REQ",	4, 4 },
	{ T_HB_CONF,	"HB_CONF",	4, 4 },
	{ T_ECHO,	"ECHO",		4, 64 },
	{ T_FAILURE,	"FAILURE",	4, 512 },
	{ T_REFUSED,	"REFUSED",	0, 512 },
	{ 0,		NULL,		0, 0 }
};

static uint32_t
t_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static void
t_send_u32(struct link *l, uint32_t type, uint32_t v)
{
	struct wire_writer	w;

	wire_begin(&w, type);
	wire_u32(&w, v);
	link_send(l, &w);
}

static void
t_hello(struct link *l)
{
	t_send_u32(l, T_OPEN, T_VERSION);
}

static void
t_heartbeat(struct link *l, uint32_t seq, struct wire_writer *w)
{
	(void)l;
	wire_begin(w, T_HB_REQ);
	wire_u32(w, seq);
}

/* The greeting and the heartbeats; the rest is the role's. */
static enum proto_verdict
t_control(struct link *l, const struct wire_msg *m)
{
	char	err[64];

	switch (m->type) {
	case T_HB_REQ:
		if (l->client) {
			link_proto_error(l, "HB_REQ from the server");
			return PROTO_TAKEN;
		}
		t_send_u32(l, T_HB_CONF, t_u32(m->body));
		return PROTO_HEARTBEAT;
	case T_HB_CONF:
		return PROTO_HEARTBEAT;
	case T_OPEN:
		if (l->client || l->state != LINK_HELLO) {
			link_bad_msg(l, m, "the session is open already");
			return PROTO_TAKEN;
		}
		if (t_u32(m->body) != T_VERSION) {
			snprintf(err, sizeof(err), "version %u, expected %u",
			    t_u32(m->body), T_VERSION);
			link_bad_msg(l, m, err);
			return PROTO_TAKEN;
		}
		l->version = T_VERSION;
		t_send_u32(l, T_OPEN_ACK, T_VERSION);
		link_fsm(l, LEV_HELLO, NULL);
		return PROTO_TAKEN;
	case T_OPEN_ACK:
		if (!l->client || l->state != LINK_HELLO) {
			link_proto_error(l, "unexpected OPEN_ACK");
			return PROTO_TAKEN;
		}
		l->version = t_u32(m->body);
		link_fsm(l, LEV_HELLO, NULL);
		return PROTO_TAKEN;
	default:
		return PROTO_PASS;
	}
}

/* A bad message gets FAILURE (its type, why) and the session stays. */
static int
t_bad_msg(struct link *l, const struct wire_msg *m, const char *why)
{
	struct wire_writer	w;

	wire_begin(&w, T_FAILURE);
	wire_u32(&w, m->type);
	wire_flt_str(&w, TAG_TEXT, why);
	link_send(l, &w);
	return PROTO_KEEP;
}

static void
t_refuse(struct wire_writer *w, const char *why)
{
	wire_begin(w, T_REFUSED);
	wire_flt_str(w, TAG_TEXT, why);
}

/* The hold time ran out: FAILURE, before the close. */
static void
t_hold_expired(struct link *l)
{
	struct wire_writer	w;

	wire_begin(&w, T_FAILURE);
	wire_u32(&w, 0);
	wire_flt_str(&w, TAG_TEXT, "hold time");
	link_send(l, &w);
}

static const struct link_proto t_proto = {
	.name = "test",
	.types = t_types,
	.hb = PROTO_HB_CLIENT,
	.heartbeat = t_heartbeat,
	.hello_type = T_OPEN,
	.hello = t_hello,
	.control = t_control,
	.bad_msg = t_bad_msg,
	.refuse = t_refuse,
	.hold_expired = t_hold_expired,
};

/* The same without a greeting: a session is open once connected. */
static const struct link_proto t_proto_open = {
	.name = "test-open",
	.types = t_types,
	.hb = PROTO_HB_CLIENT,
	.heartbeat = t_heartbeat,
	.control = t_control,
	.bad_msg = t_bad_msg,
};

static void
s_opened(struct link *l, void *arg)
{
	(void)arg;
	srole.opened++;
	srole.last = l;
	srole.opened_ms = mono_ms();
}

static void
s_closed(struct link *l, void *arg, const char *why)
{
	(void)arg;
	srole.closed++;
	srole.closed_ms = mono_ms();
	snprintf(srole.why, sizeof(srole.why), "%s", why);
	if (srole.last == l)
		srole.last = NULL;
}

/* The role: ECHO back, a value 0 is a bad request, T_BYE closes. */
static void
s_msg(struct link *l, void *arg, const struct wire_msg *m)
{
	struct wire_writer	w;
	uint32_t		v;

	(void)arg;
	srole.msgs++;
	if (m->type != T_ECHO) {
		link_bad_msg(l, m, "not a request");
		return;
	}
	v = t_u32(m->body);
	if (v == 0) {
		link_bad_msg(l, m, "value 0");
		return;
	}
	if (v >= T_HOLD)
		link_set_hold(l, (int)(v - T_HOLD));
	if (v == T_BYE) {
		link_fsm(l, LEV_STOP, "the client said bye");
		return;
	}
	wire_begin(&w, T_ECHO);
	wire_bytes(&w, m->body, m->len);
	link_send(l, &w);
}

static const struct link_ops s_ops = { s_opened, s_closed, s_msg };

/*
 * The session listener, its sessions held for misses heartbeat intervals
 * (HB_MISSES, or more where a test's raw clients stay silent on purpose).
 */
static void
start_sessions(const struct link_proto *proto, int limit, int misses)
{
	struct session_conf	sc;
	char			err[200];
	int			i, fd;

	memset(&sc, 0, sizeof(sc));
	sc.proto = proto;
	sc.limit = limit;
	sc.max_message = 1024;
	sc.hb.interval_ms = HB_MS;
	sc.hb.misses = misses;
	sc.ops = &s_ops;
	for (i = 0; i < 10 && slst == NULL; i++) {
		fd = bound_socket(&slst_port);
		close(fd);
		slst = listener_new_sessions(base, "sess", "127.0.0.1",
		    slst_port, &sc, err, sizeof(err));
	}
	ck_assert_msg(slst != NULL, "listener_new_sessions: %s", err);
}

/* A client link of the test protocol to the session listener. */
static struct link *
t_client(const char *name, const struct link_proto *proto, struct rec *r)
{
	struct link	*l;

	ck_assert_int_lt(nlinks, MAXLINKS);
	l = link_new(base, name, "sess", LINK_KIND_PRIVATE, 1, "127.0.0.1",
	    slst_port, &cf, proto, &rec_ops, r);
	links[nlinks++] = l;
	link_fsm(l, LEV_START, NULL);
	return l;
}

static int
pred_nsessions(const void *arg)
{
	return listener_nsessions(slst) == *(const int *)arg;
}

#define wait_nsessions(n)	wait_nsessions_((n), __LINE__)

static void
wait_nsessions_(int n, int line)
{
	ck_assert_msg(wait_until(pred_nsessions, &n, WAIT_MS), "line %d: %d "
	    "sessions after %d ms, expected %d", line,
	    listener_nsessions(slst), WAIT_MS, n);
}

static void
raw_send_u32(int fd, uint32_t type, uint32_t v)
{
	struct wire_writer	w;

	wire_begin(&w, type);
	wire_u32(&w, v);
	raw_send_msg(fd, &w);
}

/* The next frame must be type, its first word v. */
static void
raw_expect_u32(int fd, uint32_t type, uint32_t v)
{
	uint8_t		body[512];
	uint32_t	len;

	ck_assert_uint_eq(raw_read_msg(fd, body, sizeof(body), &len), type);
	ck_assert_uint_eq(len, 4);
	ck_assert_uint_eq(t_u32(body), v);
}

/* A raw client that opened its session: OPEN answered by OPEN_ACK. */
static int
raw_open(void)
{
	int	fd = raw_connect(slst_port);

	raw_send_u32(fd, T_OPEN, T_VERSION);
	raw_expect_u32(fd, T_OPEN_ACK, T_VERSION);
	return fd;
}

/* The next frame must be FAILURE for type, its text saying want. */
static void
raw_expect_failure(int fd, uint32_t type, const char *want)
{
	uint8_t		 body[512];
	uint32_t	 len;
	struct wire_msg	 m;
	struct wire_reader r;
	const uint8_t	*data;
	uint16_t	 tag, flen;
	uint32_t	 t;
	char		 text[256] = "";

	ck_assert_uint_eq(raw_read_msg(fd, body, sizeof(body), &len),
	    T_FAILURE);
	m.type = T_FAILURE;
	m.len = len;
	m.body = body;
	wire_reader_init(&r, &m);
	ck_assert_int_eq(wire_get_u32(&r, &t), 0);
	ck_assert_uint_eq(t, type);
	ck_assert_int_eq(wire_next_flt(&r, &tag, &data, &flen), 1);
	ck_assert_uint_eq(tag, TAG_TEXT);
	ck_assert_int_eq(wire_flt_string(data, flen, text, sizeof(text)), 0);
	ck_assert_msg(strstr(text, want) != NULL, "FAILURE says \"%s\", not "
	    "\"%s\"", text, want);
}

/* An ECHO of v must come back as it went. */
static void
raw_echo(int fd, uint32_t v)
{
	raw_send_u32(fd, T_ECHO, v);
	raw_expect_u32(fd, T_ECHO, v);
}

/* A client link's ECHO of v comes back to it, and to no other. */
static void
link_echo(struct link *l, struct rec *r, uint32_t v)
{
	struct wire_writer	w;
	int			msgs = r->msgs;

	wire_begin(&w, T_ECHO);
	wire_u32(&w, v);
	ck_assert_int_eq(link_send(l, &w), 0);
	wait_int(&r->msgs, msgs + 1);
	ck_assert_uint_eq(r->last_type, T_ECHO);
	ck_assert_uint_eq(r->last_value, v);
}

/* No session's transition is an event: the role emits its own. */
static void
assert_no_session_events(void)
{
	int	i;

	for (i = 0; i < ntrans; i++)
		ck_assert_msg(strncmp(trans[i].link, "sess#", 5) != 0,
		    "session transition as an event: %s %s -> %s",
		    trans[i].link, trans[i].from, trans[i].to);
}

/*
 * Many clients at once, each its own session: they greet (CONNECT
 * -TCP_OK-> HELLO -HELLO-> UP), only the clients heartbeat and the server
 * answers, past the hold time everyone is still up, and each request is
 * answered to its own client.
 */
START_TEST(test_sessions_many)
{
	struct rec	 cr[6];
	struct link	*cl[6];
	struct link	*s;
	json_t		*j;
	char		 name[16];
	int		 i, n = 6;

	memset(cr, 0, sizeof(cr));
	start_sessions(&t_proto, 8, HB_MISSES);
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "c%d", i);
		cl[i] = t_client(name, &t_proto, &cr[i]);
	}
	for (i = 0; i < n; i++) {
		wait_state(cl[i], LINK_UP);
		snprintf(name, sizeof(name), "c%d", i);
		assert_trans(assert_trans(0, name, "CONNECT", "HELLO",
		    "TCP_OK"), name, "HELLO", "UP", "HELLO");
	}
	wait_int(&srole.opened, n);
	ck_assert_int_eq(listener_nsessions(slst), n);
	s = srole.last;
	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(s->state, LINK_UP);
	ck_assert_int_eq(s->kind, LINK_KIND_SESSION);
	ck_assert_int_eq(s->client, 0);
	ck_assert_str_eq(s->via, "sess");
	ck_assert_msg(strncmp(s->name, "sess#", 5) == 0, "session %s",
	    s->name);
	ck_assert_msg(strncmp(s->peer_addr, "127.0.0.1:", 10) == 0,
	    "session peer %s", s->peer_addr);

	/* Past the hold time: the clients ask, the server only answers. */
	wait_u64(&s->stats.hb_in, HB_MISSES + 5);
	for (i = 0; i < n; i++) {
		wait_u64(&cl[i]->stats.hb_in, HB_MISSES + 5);
		ck_assert_int_eq(cl[i]->state, LINK_UP);
		ck_assert_uint_ge(cl[i]->stats.hb_out, HB_MISSES + 5);
	}
	ck_assert_uint_eq(s->stats.hb_out, 0);
	ck_assert(!evtimer_pending(s->ev_hb, NULL));
	ck_assert(evtimer_pending(s->ev_hold, NULL));
	ck_assert_int_eq(s->state, LINK_UP);
	ck_assert_int_eq(srole.closed, 0);

	for (i = 0; i < n; i++)
		link_echo(cl[i], &cr[i], 1000 + (uint32_t)i);
	ck_assert_int_eq(srole.msgs, n);

	j = listener_json(slst);
	ck_assert_str_eq(json_str(j, "protocol"), "test");
	ck_assert_int_eq(json_integer_value(json_object_get(j, "sessions")),
	    n);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "limit")), 8);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "accepted")),
	    n);
	json_decref(j);
	j = link_json(s);
	ck_assert_str_eq(json_str(j, "kind"), "session");
	ck_assert_str_eq(json_str(j, "side"), "server");
	ck_assert_int_eq(json_msgtype(j, "OPEN", "in"), 1);
	ck_assert_int_eq(json_msgtype(j, "OPEN_ACK", "out"), 1);
	assert_protocol(j, "test", T_VERSION);
	ck_assert_uint_eq(cl[0]->version, T_VERSION);
	ck_assert_int_ge(json_msgtype(j, "HB_CONF", "out"), HB_MISSES + 5);
	json_decref(j);
	assert_no_session_events();
}
END_TEST

/*
 * A bad message is answered with FAILURE and the session stays: a request
 * before the greeting, an unknown type, a type's wrong length, a request
 * the role cannot take, a second greeting.  A frame over the maximum
 * loses the stream: that one closes the session as a protocol error.
 */
START_TEST(test_session_bad_msg)
{
	struct rec	 cr;
	struct link	*cl;
	int		 fd;

	memset(&cr, 0, sizeof(cr));
	start_sessions(&t_proto, 4, 10 * HB_MISSES);
	cl = t_client("good", &t_proto, &cr);
	wait_state(cl, LINK_UP);

	fd = raw_connect(slst_port);
	raw_send_u32(fd, T_ECHO, 5);
	raw_expect_failure(fd, T_ECHO, "ECHO before the link is up");
	raw_send_u32(fd, T_OPEN, 1);
	raw_expect_failure(fd, T_OPEN, "OPEN: version 1, expected 2");
	raw_send_u32(fd, T_OPEN, T_VERSION);
	raw_expect_u32(fd, T_OPEN_ACK, T_VERSION);
	wait_int(&srole.opened, 2);

	raw_send_header(fd, 4, 0x7777);
	raw_send(fd, "abcd", 4);
	raw_expect_failure(fd, 0x7777, "unknown message type 30583");
	raw_send_header(fd, 8, T_HB_REQ);
	raw_send(fd, "\0\0\0\1\0\0\0\2", 8);
	raw_expect_failure(fd, T_HB_REQ, "HB_REQ: length 8 over the maximum "
	    "4 for this type");
	raw_send_u32(fd, T_ECHO, 0);
	raw_expect_failure(fd, T_ECHO, "ECHO: value 0");
	raw_send_u32(fd, T_OPEN, T_VERSION);
	raw_expect_failure(fd, T_OPEN, "OPEN: the session is open already");

	/* Still open, and still served, as the other client is. */
	raw_echo(fd, 7);
	link_echo(cl, &cr, 8);
	ck_assert_ptr_nonnull(srole.last);
	ck_assert_int_eq(srole.last->state, LINK_UP);
	ck_assert_uint_eq(srole.last->stats.proto_errors, 6);
	ck_assert_int_eq(srole.closed, 0);
	ck_assert_int_eq(listener_nsessions(slst), 2);

	/* Over the maximum: the stream is lost, the session closed. */
	raw_send_header(fd, 70000, T_ECHO);
	wait_int(&srole.closed, 1);
	ck_assert_msg(strstr(srole.why, "protocol error from 127.0.0.1:") !=
	    NULL && strstr(srole.why, "ECHO: length 70000 over the maximum "
	    "1024") != NULL, "closed: %s", srole.why);
	raw_expect_eof(fd);
	wait_nsessions(1);
	link_echo(cl, &cr, 9);
	assert_no_session_events();
}
END_TEST

/* Read what stderr got since capture_start(). */
static int	cap_saved = -1;
static FILE	*cap_file;

static void
capture_start(void)
{
	fflush(stderr);
	cap_file = tmpfile();
	ck_assert_ptr_nonnull(cap_file);
	cap_saved = dup(STDERR_FILENO);
	ck_assert_int_ne(cap_saved, -1);
	ck_assert_int_ne(dup2(fileno(cap_file), STDERR_FILENO), -1);
}

static void
capture_end(char *buf, size_t len)
{
	size_t	n;

	fflush(stderr);
	dup2(cap_saved, STDERR_FILENO);
	close(cap_saved);
	rewind(cap_file);
	n = fread(buf, 1, len - 1, cap_file);
	buf[n] = '\0';
	fclose(cap_file);
	fprintf(stderr, "%s", buf);
}

/*
 * The limit: one more connection is refused with the protocol's REFUSED
 * frame and a log line naming its address and the limit; the open
 * sessions go on, and once one closes a new client is taken.
 */
START_TEST(test_session_limit)
{
	struct sockaddr_in	 sin;
	socklen_t		 slen = sizeof(sin);
	uint8_t			 body[512];
	uint32_t		 len;
	char			 log[8192], want[160], text[160];
	struct wire_msg		 m;
	struct wire_reader	 r;
	const uint8_t		*data;
	uint16_t		 tag, flen;
	int			 fd[3], extra;

	start_sessions(&t_proto, 3, 10 * HB_MISSES);
	fd[0] = raw_open();
	fd[1] = raw_open();
	fd[2] = raw_open();
	wait_int(&srole.opened, 3);

	capture_start();
	extra = raw_connect(slst_port);
	ck_assert_int_eq(getsockname(extra, (struct sockaddr *)&sin, &slen),
	    0);
	ck_assert_uint_eq(raw_read_msg(extra, body, sizeof(body), &len),
	    T_REFUSED);
	raw_expect_eof(extra);
	capture_end(log, sizeof(log));

	m.type = T_REFUSED;
	m.len = len;
	m.body = body;
	wire_reader_init(&r, &m);
	ck_assert_int_eq(wire_next_flt(&r, &tag, &data, &flen), 1);
	ck_assert_int_eq(wire_flt_string(data, flen, text, sizeof(text)), 0);
	ck_assert_str_eq(text, "the limit of 3 sessions is reached");
	snprintf(want, sizeof(want), "warning: listener sess: connection from "
	    "127.0.0.1:%d refused: the limit of 3 sessions is reached",
	    ntohs(sin.sin_port));
	ck_assert_msg(strstr(log, want) != NULL, "no \"%s\" in the log:\n%s",
	    want, log);
	ck_assert_int_eq(counter_of(slst, "refused"), 1);
	ck_assert_int_eq(counter_of(slst, "accepted"), 3);
	ck_assert_int_eq(listener_nsessions(slst), 3);
	ck_assert_int_eq(srole.opened, 3);

	/* The three are still served. */
	raw_echo(fd[0], 1);
	raw_echo(fd[1], 2);
	raw_echo(fd[2], 3);

	/* One leaves: there is room for one more. */
	drop_fd(fd[1]);
	wait_int(&srole.closed, 1);
	wait_nsessions(2);
	fd[1] = raw_open();
	raw_echo(fd[1], 4);
	ck_assert_int_eq(srole.opened, 4);
	ck_assert_int_eq(counter_of(slst, "refused"), 1);
}
END_TEST

/*
 * A client that goes silent is found by the server's hold time (HB_REQ
 * stops, nothing else comes) while a heartbeating client is served as
 * before; a client that closes, and one the role closes, end their
 * sessions at once.
 */
START_TEST(test_session_silent)
{
	struct rec	 cr;
	struct link	*cl;
	char		 why[96];
	uint64_t	 dt;
	int		 fd;

	memset(&cr, 0, sizeof(cr));
	start_sessions(&t_proto, 4, HB_MISSES);
	cl = t_client("good", &t_proto, &cr);
	wait_state(cl, LINK_UP);
	wait_int(&srole.opened, 1);

	fd = raw_open();		/* and then says nothing */
	wait_int(&srole.opened, 2);
	wait_int(&srole.closed, 1);
	dt = srole.closed_ms - srole.opened_ms;
	ck_assert_msg(dt >= HOLD_MS - 10 && dt <= HOLD_MS + 250,
	    "silent client lost after %ju ms, hold time %d ms", (uintmax_t)dt,
	    HOLD_MS);
	snprintf(why, sizeof(why), "nothing heard for %d ms (%d x %d ms)",
	    HOLD_MS, HB_MISSES, HB_MS);
	ck_assert_str_eq(srole.why, why);
	raw_expect_eof(fd);
	drop_fd(fd);
	wait_nsessions(1);
	ck_assert_int_eq(cl->state, LINK_UP);
	link_echo(cl, &cr, 11);

	/* A client that closes. */
	fd = raw_open();
	wait_int(&srole.opened, 3);
	drop_fd(fd);
	wait_int(&srole.closed, 2);
	ck_assert_msg(strncmp(srole.why, "connection closed by 127.0.0.1:",
	    31) == 0, "closed: %s", srole.why);
	wait_nsessions(1);

	/* One the role closes, from its own message callback. */
	fd = raw_open();
	wait_int(&srole.opened, 4);
	raw_send_u32(fd, T_ECHO, T_BYE);
	wait_int(&srole.closed, 3);
	ck_assert_str_eq(srole.why, "the client said bye");
	raw_expect_eof(fd);
	wait_nsessions(1);

	link_echo(cl, &cr, 12);
	ck_assert_int_eq(cl->state, LINK_UP);
	ck_assert_int_eq(cr.down, 0);
	assert_no_session_events();
}
END_TEST

/*
 * A session's hold time set after its greeting (link_set_hold): 0, none
 * (a silent client stays); then 150 ms, and the protocol's last word
 * (hold_expired) goes before the close.
 */
static int
pred_closed(const void *arg)
{
	(void)arg;
	return srole.closed > 0;
}

START_TEST(test_session_set_hold)
{
	uint64_t	t0;
	int		fd;

	start_sessions(&t_proto, 4, HB_MISSES);
	fd = raw_open();
	wait_int(&srole.opened, 1);
	raw_echo(fd, T_HOLD);
	t0 = mono_ms();
	ck_assert(!wait_until(pred_closed, NULL, 3 * HOLD_MS));
	raw_echo(fd, T_HOLD + 150);
	wait_int(&srole.closed, 1);
	ck_assert_msg(srole.closed_ms - t0 >= 3 * HOLD_MS + 140, "closed "
	    "%ju ms after the hold time was set", (uintmax_t)(srole.closed_ms -
	    t0 - 3 * HOLD_MS));
	ck_assert_str_eq(srole.why, "nothing heard for 150 ms (1 x 150 ms)");
	raw_expect_failure(fd, 0, "hold time");
	raw_expect_eof(fd);
	drop_fd(fd);
	wait_nsessions(0);
}
END_TEST

/*
 * A protocol with no greeting: the client is up once connected (CONNECT
 * -TCP_OK-> UP) and the session open at accept.  A named-peer listener
 * cannot take such a protocol: nothing would name the peer.
 */
START_TEST(test_session_no_greeting)
{
	struct rec	 cr;
	struct link	*cl;
	json_t		*j;
	char		 err[200];

	memset(&cr, 0, sizeof(cr));
	start_sessions(&t_proto_open, 2, HB_MISSES);
	cl = t_client("c", &t_proto_open, &cr);
	wait_state(cl, LINK_UP);
	assert_trans(0, "c", "CONNECT", "UP", "TCP_OK");
	wait_int(&srole.opened, 1);
	link_echo(cl, &cr, 21);
	j = link_json(cl);
	assert_protocol(j, "test-open", 0);
	ck_assert_int_eq(json_msgtype(j, "OPEN", "out"), 0);
	ck_assert_int_eq(json_msgtype(j, "ECHO", "out"), 1);
	json_decref(j);

	ck_assert_ptr_null(listener_new(base, "named", "127.0.0.1", 0,
	    &t_proto_open, 1024, match_cb, NULL, err, sizeof(err)));
	ck_assert_str_eq(err, "listener named: protocol test-open does not "
	    "name its peers");
}
END_TEST

/*
 * The lab's protocol settles its version in the greeting, on both ends;
 * a link that lost its connection has none until it greets again.
 */
START_TEST(test_lab_version)
{
	struct link	*cli = bring_up();
	json_t		*j;
	char		 err[160];

	ck_assert_uint_eq(cli->version, WIRE_PROTO_VERSION);
	ck_assert_uint_eq(srv->version, WIRE_PROTO_VERSION);
	j = link_json(srv);
	assert_protocol(j, "lab", WIRE_PROTO_VERSION);
	json_decref(j);
	ck_assert_int_eq(link_fault(cli, "down", err, sizeof(err)), 0);
	ck_assert_uint_eq(cli->version, 0);
	j = link_json(cli);
	assert_protocol(j, "lab", 0);
	json_decref(j);
	ck_assert_int_eq(link_fault(cli, "up", err, sizeof(err)), 0);
	wait_state(cli, LINK_UP);
	ck_assert_uint_eq(cli->version, WIRE_PROTO_VERSION);
}
END_TEST

static Suite *
link_suite(void)
{
	Suite	*s = suite_create("link");
	TCase	*tc;

	tc = tcase_create("fsm");
	tcase_set_timeout(tc, 20);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_backoff);
	tcase_add_test(tc, test_up);
	tcase_add_test(tc, test_hold_timer);
	tcase_add_test(tc, test_freeze_thaw);
	tcase_add_test(tc, test_admin_down);
	tcase_add_test(tc, test_admin_down_server);
	tcase_add_test(tc, test_admin_down_restart);
	tcase_add_test(tc, test_fault_errors);
	tcase_add_test(tc, test_replace);
	tcase_add_test(tc, test_ignored);
	tcase_add_test(tc, test_listener_refuses);
	tcase_add_test(tc, test_proto_error_server);
	tcase_add_test(tc, test_proto_error_client);
	tcase_add_test(tc, test_lab_version);
	suite_add_tcase(s, tc);

	tc = tcase_create("session");
	tcase_set_timeout(tc, 20);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_sessions_many);
	tcase_add_test(tc, test_session_bad_msg);
	tcase_add_test(tc, test_session_limit);
	tcase_add_test(tc, test_session_silent);
	tcase_add_test(tc, test_session_set_hold);
	tcase_add_test(tc, test_session_no_greeting);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr;
	int	 nfailed;

	signal(SIGPIPE, SIG_IGN);
	log_init(1, 0);
	log_set_node("check_link");
	proto_lab_set_identity("test", "lab", '-');

	sr = srunner_create(link_suite());
	srunner_run_all(sr, CK_ENV);
	nfailed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nfailed == 0 ? 0 : 1;
}
