/*
 * libFuzzer harness of the router's answers to the PIMs' records: the real
 * router role (src/roles/router/router.c, its history database and writer
 * thread in db.c) of a lab of one peripheral, node_new() as pgemud makes
 * it, the router links of pg-a and pg-b attached to socket pairs whose far
 * ends the harness writes and reads.  Its history database is fresh for
 * each input, in a scratch directory.  The input's first byte is the
 * highest epoch ever granted (% 4), set in the database before the router
 * starts (the router grants nothing here: no side reports); then a
 * sequence of events, each an opcode byte and its operands:
 *
 *   0 f q t r   side f&1 sends INTERVAL seq q: epoch f>>1 & 3, of
 *               peripheral 5001 (f&8) instead of 5000, naming the other
 *               side (f&0x10), incomplete (f&0x20); start t % 8 intervals
 *               after a fixed time; r % 4 rows of agents and MRDs from r
 *   1 f q       side f&1 sends DISCARD seq q, of rule R1 (or R2 if f&2:
 *               a bad message, the router closes the link), f>>2 rows
 *   2 s, 3 s    side s&1's link closes (the PG side's end), comes back
 *   4           the router restarts (node_free, node_new: what its
 *               database holds is kept; a lock taken by 5 goes before
 *               the new router opens it)
 *   5           the next event runs with the database locked by another
 *               connection (the writer cannot begin: "not stored")
 *
 * After each event the harness runs the loop until every record sent on a
 * link that is still up has its answer (DELIVERY_ACK).  The design (db.c,
 * router.c, wire.h): a record is answered only once its writer's
 * transaction committed, or with why not; an interval not from the PIM
 * that holds the peripheral is refused, and its loss recorded first.  The
 * oracles, checked against the database itself as each answer arrives:
 *
 *   - no acknowledgement without a stored row: ACK_STORED of an interval
 *     only when every row it carried is in Agent_Interval, committed
 *     (read on a connection of the harness's own); of a loss record only
 *     when its pgemu_discard row is there;
 *   - no loss without a record: ACK_REFUSED (the side forgets the rows)
 *     only of an interval the router does not take (another peripheral,
 *     the other side's, an epoch above the highest granted) and only when
 *     pgemu_discard holds its loss by side, epoch and seq (recorded once
 *     by that key: the first interval's row counts, which is the same
 *     interval when a PIM sends it again); never of a loss record;
 *   - an interval the router takes is never refused; every answer is to a
 *     record the side sent and that was not answered yet; a record sent
 *     on a link that stays up is answered (ACK_NOT_STORED: the side keeps
 *     it), within a few seconds.
 */
#include "config.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "fuzz_quiet.h"
#include "pgemu.h"
#include "wire.h"
#include "roles/router/router.h"

#define FUZZ_PERIPH	5000
#define FUZZ_T0		1700000400u	/* a half hour's start */
#define FUZZ_MAX_RECS	1024
#define FUZZ_MAX_ROWS	3
#define FUZZ_WAIT_MS	5000		/* an answer comes within this */

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* A record a side sent: an interval or a loss record, and its answer. */
struct rec {
	int		 side;
	uint32_t	 conn;		/* the side's connection it went on */
	int		 discard;
	uint32_t	 seq, epoch, start;
	int		 takes;		/* the router should store it */
	int		 nrows;
	uint32_t	 agent[FUZZ_MAX_ROWS], mrd[FUZZ_MAX_ROWS];
	uint32_t	 rows;		/* DISCARD: rows it says are lost */
	int		 answered;
};

/* The PG side's end of its router link. */
struct end {
	int		 fd;		/* -1: the link is down */
	uint32_t	 conn;		/* bumped when a connection ends */
	uint8_t		 buf[65536];
	size_t		 len;
};

static struct event_base *base;
static struct cfg	*cf;
static struct node	*node;
static sqlite3		*rdb;		/* the harness's own connection */
static char		 dir[PGEMU_PATH_MAX], lab[PGEMU_PATH_MAX + 16];
static struct end	 ends[2];
static struct rec	 recs[FUZZ_MAX_RECS];
static int		 nrecs;
static uint32_t		 max_epoch;

/* Stop the run with a reason: libFuzzer saves the input. */
static __dead void
fail(const char *what, const struct rec *r)
{
	fprintf(fuzz_err, "fuzz_router: %s", what);
	if (r != NULL)
		fprintf(fuzz_err, " (side %c, %s seq %u, epoch %u, start %u, "
		    "%d rows)", r->side ? 'B' : 'A', r->discard ? "DISCARD" :
		    "INTERVAL", r->seq, r->epoch, r->start, r->nrows);
	fprintf(fuzz_err, "\n");
	abort();
}

/* The history database's files, gone. */
static void
remove_db(void)
{
	char	path[PGEMU_PATH_MAX + 8];

	unlink(cf->history_db);
	snprintf(path, sizeof(path), "%s-wal", cf->history_db);
	unlink(path);
	snprintf(path, sizeof(path), "%s-shm", cf->history_db);
	unlink(path);
	snprintf(path, sizeof(path), "%s.queued", cf->history_db);
	unlink(path);
}

static void
cleanup(void)
{
	char	path[PGEMU_PATH_MAX + 16];

	if (cf != NULL)
		remove_db();
	unlink(lab);
	snprintf(path, sizeof(path), "%s/router.sock", dir);
	unlink(path);
	rmdir(dir);
}

/* A loopback port nobody listens on now, for the router's listener. */
static int
free_port(void)
{
	struct sockaddr_in	sin;
	socklen_t		len = sizeof(sin);
	int			fd, port;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) == -1)
		abort();
	port = ntohs(sin.sin_port);
	close(fd);
	return port;
}

/*
 * The lab: a router, an ACD, the two sides, one peripheral of three
 * agents; heartbeats slow enough that no hold time runs out and the
 * router's settle time never ends within a run (it grants nothing).
 */
static void
setup(void)
{
	const char	*tmp = getenv("TMPDIR");
	FILE		*f;
	int		 nerrs;

	fuzz_quiet();
	if (access("/dev/shm", W_OK | X_OK) == 0)
		tmp = "/dev/shm";
	snprintf(dir, sizeof(dir), "%s/pgemu-fuzz-router.XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	if (mkdtemp(dir) == NULL || (base = event_base_new()) == NULL)
		abort();
	snprintf(lab, sizeof(lab), "%s/lab.conf", dir);
	atexit(cleanup);
	if ((f = fopen(lab, "w")) == NULL)
		abort();
	fprintf(f, "lab: { name = \"fuzz\"; control_dir = \"%s\";\n"
	    "  state_dir = \"%s\"; };\n"
	    "heartbeat: { router: { interval_ms = 60000; misses = 5; }; };\n"
	    "nodes: {\n"
	    "  router: { role = \"router\"; port = %d; };\n"
	    "  acd: { role = \"acd\"; port = 1; };\n"
	    "  pg-a: { role = \"pg\"; side = \"A\"; port = 2; };\n"
	    "  pg-b: { role = \"pg\"; side = \"B\"; port = 3; };\n"
	    "};\n"
	    "peripheral: { id = %d; agents: { count = 3; first_id = 1001; "
	    "}; };\n", dir, dir, free_port(), FUZZ_PERIPH);
	if (fclose(f) != 0 || (cf = cfg_load(lab, fuzz_err, &nerrs)) == NULL)
		fail("the harness's lab file does not load", NULL);
}

/* The router as pgemud starts it; NULL, or a failure, aborts. */
static void
router_start(void)
{
	char	err[256];

	if ((node = node_new(base, cf, "router", err, sizeof(err))) == NULL) {
		fprintf(fuzz_err, "fuzz_router: %s\n", err);
		abort();
	}
}

static struct router *
router(void)
{
	return node->role_data;
}

/* Side s's link comes up: a socket pair, one end the router's link. */
static void
end_connect(int s)
{
	struct bufferevent	*bev;
	int			 fds[2];

	if (ends[s].fd != -1)
		return;
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == -1 ||
	    evutil_make_socket_nonblocking(fds[0]) == -1 ||
	    evutil_make_socket_nonblocking(fds[1]) == -1 ||
	    (bev = bufferevent_socket_new(base, fds[0],
	    BEV_OPT_CLOSE_ON_FREE)) == NULL)
		abort();
	ends[s].fd = fds[1];
	ends[s].len = 0;
	link_attach(router()->links[s], bev, "fuzz", "router");
	if (!link_is_up(router()->links[s]))
		fail("a link attached is not up", NULL);
}

/* Side s's connection ends; what it sent may still be answered later. */
static void
end_close(int s)
{
	if (ends[s].fd == -1)
		return;
	close(ends[s].fd);
	ends[s].fd = -1;
	ends[s].conn++;
}

static void
end_write(int s, struct wire_writer *w)
{
	if (wire_end(w, WIRE_MAX_BODY, NULL) == -1)
		fail("a frame of the harness does not end", NULL);
	if (write(ends[s].fd, w->buf, w->len) != (ssize_t)w->len)
		fail("the link's socket does not take a frame", NULL);
	wire_writer_free(w);
}

/* One query on the harness's connection: 1 if it finds a row. */
static int
db_has(const char *sql, const char *text, int64_t a, int64_t b, int64_t c)
{
	sqlite3_stmt	*st;
	int		 rc;

	if (sqlite3_prepare_v2(rdb, sql, -1, &st, NULL) != SQLITE_OK)
		fail(sqlite3_errmsg(rdb), NULL);
	sqlite3_bind_text(st, 1, text, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, a);
	sqlite3_bind_int64(st, 3, b);
	sqlite3_bind_int64(st, 4, c);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		fail("the harness cannot read the history database", NULL);
	return rc == SQLITE_ROW;
}

/* Every row of an interval is committed in Agent_Interval. */
static int
rows_stored(const struct rec *r)
{
	time_t		 t = (time_t)r->start;
	struct tm	 tm;
	char		 when[32];
	int		 i;

	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S.000", &tm);
	for (i = 0; i < r->nrows; i++)
		if (!db_has("SELECT 1 FROM Agent_Interval WHERE DateTime = ?1 "
		    "AND SkillTargetID = ?2 AND MRDomainID = ?3 AND "
		    "TimeZone = 0 AND ?4 = ?4", when, r->agent[i], r->mrd[i],
		    0))
			return 0;
	return 1;
}

/* The loss of a record is in pgemu_discard. */
static int
loss_recorded(const struct rec *r)
{
	const char	*side = r->side ? "B" : "A";

	if (r->discard)
		return db_has("SELECT 1 FROM pgemu_discard WHERE PGSide = ?1 "
		    "AND Rows = ?2 AND Rule = 'R1' AND PeripheralID = ?3 AND "
		    "?4 = ?4", side, r->rows, FUZZ_PERIPH, 0);
	/*
	 * A refusal is recorded once by its key (db.c): a PIM sends a
	 * record again only as it was, so the first one's row counts.
	 */
	return db_has("SELECT 1 FROM pgemu_discard WHERE PGSide = ?1 AND "
	    "Epoch = ?2 AND Seq = ?3 AND ?4 = ?4", side, r->epoch, r->seq, 0);
}

/* Whether an answer of this kind may be this record's. */
static int
answer_fits(const struct rec *r, int flags)
{
	switch (flags) {
	case ACK_STORED:
		if (r->discard)
			return loss_recorded(r);
		return r->takes && rows_stored(r);
	case ACK_REFUSED:
		return !r->discard && !r->takes && loss_recorded(r);
	case ACK_NOT_STORED:
		return 1;
	}
	return 0;
}

/* A DELIVERY_ACK on side s: the oldest record of its seq it fits. */
static void
answer(int s, const struct msg_epoch *e)
{
	struct rec	*r, *mine = NULL;
	int		 i, pass;

	/*
	 * Those sent on this connection first, oldest first (the writer
	 * answers in order); then those of an earlier one, which the
	 * router may answer on this one if it came back meanwhile.
	 */
	for (pass = 0; pass < 2; pass++)
		for (i = 0; i < nrecs; i++) {
			r = &recs[i];
			if (r->side != s || r->answered || r->seq != e->a ||
			    (r->conn == ends[s].conn) != (pass == 0))
				continue;
			if (mine == NULL)
				mine = r;
			if (answer_fits(r, e->flags)) {
				r->answered = 1;
				return;
			}
		}
	if (mine == NULL)
		fail("an answer to no record sent", NULL);
	if (e->flags == ACK_STORED)
		fail("acknowledged without a stored row", mine);
	if (e->flags == ACK_REFUSED)
		fail(mine->takes ? "an interval the router takes refused" :
		    "refused without a record of the loss", mine);
	fail("an answer of no known kind", mine);
}

/* The frames side s's end has read: answers checked, others skipped. */
static void
end_frames(int s)
{
	struct end	*en = &ends[s];
	struct wire_msg	 m;
	struct msg_epoch e;
	uint32_t	 type, len;
	size_t		 off = 0;
	char		 err[256];

	while (en->len - off >= WIRE_HDR_LEN) {
		if (wire_check_header(en->buf + off, WIRE_MAX_BODY, &type, &len,
		    err, sizeof(err)) == -1)
			fail("the router sent a bad frame header", NULL);
		if (len > en->len - off - WIRE_HDR_LEN)
			break;
		m.type = type;
		m.len = len;
		m.body = en->buf + off + WIRE_HDR_LEN;
		if (type == MSG_DELIVERY_ACK) {
			if (msg_epoch_decode(&m, &e, err, sizeof(err)) == -1)
				fail("the router sent a bad DELIVERY_ACK", NULL);
			answer(s, &e);
		}
		off += WIRE_HDR_LEN + len;
	}
	memmove(en->buf, en->buf + off, en->len - off);
	en->len -= off;
}

/* Read what the router sent side s; its close ends the connection. */
static void
end_read(int s)
{
	struct end	*en = &ends[s];
	ssize_t		 n;

	while (en->fd != -1) {
		if (en->len == sizeof(en->buf))
			fail("a frame larger than the harness reads", NULL);
		n = read(en->fd, en->buf + en->len, sizeof(en->buf) - en->len);
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			break;
		if (n > 0) {
			en->len += (size_t)n;
			end_frames(s);
			continue;
		}
		end_close(s);		/* closed by the router, or failed */
	}
}

/* Records sent on a connection still up and not answered yet. */
static int
waiting(void)
{
	int	i, n = 0;

	for (i = 0; i < nrecs; i++)
		if (!recs[i].answered && ends[recs[i].side].fd != -1 &&
		    recs[i].conn == ends[recs[i].side].conn)
			n++;
	return n;
}

static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

/*
 * Run the loop until every record on a live link is answered, and a few
 * turns more (what a turn queued is sent at its end).  While answers are
 * due it waits for the loop's events, a millisecond at most each time.
 */
static void
pump(void)
{
	struct timeval	 tv = { 0, 1000 };
	struct event	*tick;
	uint64_t	 deadline = mono_ms() + FUZZ_WAIT_MS;
	int		 calm = 0;

	tick = evtimer_new(base, tick_cb, NULL);
	while (calm < 3) {
		if (waiting() > 0) {
			evtimer_add(tick, &tv);
			event_base_loop(base, EVLOOP_ONCE);
		} else
			event_base_loop(base, EVLOOP_NONBLOCK);
		end_read(0);
		end_read(1);
		calm = waiting() == 0 ? calm + 1 : 0;
		if (mono_ms() > deadline)
			fail("a record on a link that stayed up has no answer",
			    NULL);
	}
	event_free(tick);
}

static struct rec *
rec_new(int s)
{
	struct rec	*r;

	if (nrecs == FUZZ_MAX_RECS)
		fail("more records than the harness keeps", NULL);
	r = &recs[nrecs++];
	memset(r, 0, sizeof(*r));
	r->side = s;
	r->conn = ends[s].conn;
	return r;
}

/* Event 0: an interval of side f&1. */
static void
send_interval(uint8_t f, uint8_t q, uint8_t t, uint8_t rb)
{
	struct msg_interval	 iv;
	struct wire_writer	 w;
	struct rec		*r;
	uint32_t		 fields[IVL_NFIELDS];
	int			 s = f & 1, i;

	if (ends[s].fd == -1)
		return;
	memset(&iv, 0, sizeof(iv));
	memset(fields, 0, sizeof(fields));
	iv.peripheral = f & 0x08 ? FUZZ_PERIPH + 1 : FUZZ_PERIPH;
	iv.epoch = (uint32_t)(f >> 1 & 3);
	iv.seq = q;
	iv.start = FUZZ_T0 + (uint32_t)(t % 8) * 1800;
	iv.length = 1800;
	iv.incomplete = (f & 0x20) != 0;
	iv.side = (uint8_t)((s ^ (f >> 4 & 1)) ? 'B' : 'A');
	iv.count = (uint16_t)(rb % 4);
	r = rec_new(s);
	r->seq = iv.seq;
	r->epoch = iv.epoch;
	r->start = iv.start;
	r->nrows = iv.count;
	r->takes = iv.peripheral == FUZZ_PERIPH &&
	    iv.side == (s ? 'B' : 'A') && iv.epoch <= max_epoch;
	msg_interval_begin(&w, &iv);
	for (i = 0; i < iv.count; i++) {
		r->agent[i] = 1001 + (uint32_t)((rb >> 2) + i) % 3;
		r->mrd[i] = 1 + (uint32_t)((rb >> 4) + i * 3) % 2;
		fields[IVL_CALLS] = (uint32_t)i + t;
		msg_interval_row(&w, r->agent[i], r->mrd[i], fields);
	}
	end_write(s, &w);
}

/* Event 1: a loss record of side f&1 (of rule R2: a bad message). */
static void
send_discard(uint8_t f, uint8_t q)
{
	struct msg_discard	 d;
	struct wire_writer	 w;
	struct rec		*r;
	int			 s = f & 1;

	if (ends[s].fd == -1)
		return;
	memset(&d, 0, sizeof(d));
	d.peripheral = FUZZ_PERIPH;
	d.seq = q;
	d.rule = f & 2 ? RULE_R2 : RULE_R1;
	d.interval_start = FUZZ_T0;
	d.rows = (uint32_t)(f >> 2);
	d.intervals = 1;
	d.side = s ? 'B' : 'A';
	snprintf(d.text, sizeof(d.text), "fuzz");
	if (d.rule == RULE_R1) {
		r = rec_new(s);
		r->discard = 1;
		r->seq = d.seq;
		r->rows = d.rows;
	}
	msg_discard_encode(&w, &d);
	end_write(s, &w);
}

/* The highest epoch granted, as the router's database keeps it. */
static void
seed_db(uint32_t epoch)
{
	sqlite3	*h;
	char	 sql[200];

	snprintf(sql, sizeof(sql), "CREATE TABLE pgemu_meta (key TEXT "
	    "PRIMARY KEY, value INTEGER); INSERT INTO pgemu_meta VALUES "
	    "('max_epoch', %u);", epoch);
	if (sqlite3_open(cf->history_db, &h) != SQLITE_OK ||
	    sqlite3_exec(h, sql, NULL, NULL, NULL) != SQLITE_OK)
		fail("cannot seed the history database", NULL);
	sqlite3_close(h);
}

/* The database locked by another connection; 0 when it could not be. */
static int
lock_db(void)
{
	return sqlite3_exec(rdb, "BEGIN IMMEDIATE", NULL, NULL, NULL) ==
	    SQLITE_OK;
}

static void
unlock_db(void)
{
	if (!sqlite3_get_autocommit(rdb))
		sqlite3_exec(rdb, "ROLLBACK", NULL, NULL, NULL);
}

/* One event at data[*off]; its operands missing end the input. */
static int
event(const uint8_t *d, size_t size, size_t *off)
{
	uint8_t	op = d[(*off)++] % 6;
	size_t	need[] = { 4, 2, 1, 1, 0, 0 };

	if (size - *off < need[op])
		return -1;
	switch (op) {
	case 0:
		send_interval(d[*off], d[*off + 1], d[*off + 2], d[*off + 3]);
		break;
	case 1:
		send_discard(d[*off], d[*off + 1]);
		break;
	case 2:
		end_close(d[*off] & 1);
		break;
	case 3:
		end_connect(d[*off] & 1);
		break;
	case 4:
		end_close(0);
		end_close(1);
		node_free(node);
		unlock_db();		/* the new router creates its tables */
		router_start();
		end_connect(0);
		end_connect(1);
		break;
	}
	*off += need[op];
	pump();
	return op;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t	off = 1;
	int	locked = 0, op;

	if (base == NULL)
		setup();
	if (size < 1)
		return 0;
	remove_db();
	max_epoch = data[0] % 4;
	seed_db(max_epoch);
	nrecs = 0;
	ends[0].fd = ends[1].fd = -1;
	router_start();
	if (sqlite3_open(cf->history_db, &rdb) != SQLITE_OK)
		fail("the harness cannot open the history database", NULL);
	sqlite3_busy_timeout(rdb, 2000);
	end_connect(0);
	end_connect(1);
	pump();
	while (off < size && (op = event(data, size, &off)) != -1) {
		if (locked) {
			unlock_db();
			locked = 0;
		}
		if (op == 5)
			locked = lock_db();
	}
	if (locked)
		unlock_db();
	end_close(0);
	end_close(1);
	node_free(node);
	node = NULL;
	sqlite3_close(rdb);
	rdb = NULL;
	return 0;
}
