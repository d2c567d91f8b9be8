/*
 * The PIM's reporting data, on the active PG side: a mirror of every
 * agent's state, the interval accumulation per agent and MRD (time in
 * each state, calls or tasks handled: the voice MRD's from the ACD, each
 * non-voice MRD's from the states the PIM keeps itself and the tasks the
 * CTI server saw end), and reliable delivery of closed intervals to the
 * router:
 * sequence numbers, acknowledgements, a queue in memory and a spool file.
 * While the router is away, intervals wait and go when it returns: none
 * lost, none twice (the router stores each row once, by its key).
 *
 * The router answers each record (wire.h, ACK_*): stored, and the record
 * is forgotten; not stored (its history database failed), and the record
 * stays queued and is sent again, PIM_RETRY_MIN_MS later, doubling up to
 * PIM_RETRY_MAX_MS; or refused (not from the PIM that holds the
 * peripheral), and the record is forgotten, counted as refused: the
 * router has recorded its rows as lost (R1).
 *
 * The other loss is R1's: when the PIM fails, its ACD link goes or the ACD
 * goes, what it has not delivered is deleted, and the deletion itself is
 * queued for the router (pgemu_discard) like any record.  A spool file
 * found at start-up was left by a run that failed: R1 again.
 *
 * A CTI Manager failover (R6) keeps the PIM: from the stop to the
 * acceptance by the backup endpoint the agents are logged out (R6), so
 * that time counts in no state and not as logged on; the interval's
 * totals go on.
 */
#include "config.h"

#include <sys/queue.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pgemu.h"
#include "wire.h"

struct pim_agent {
	uint32_t	 id;
	int		 state;
	int		 before_call;
	uint64_t	 since_ms;	/* monotonic, per the ACD */
	uint64_t	 acc_ms;	/* accounted up to */
	uint32_t	 f[IVL_NFIELDS];
};

/*
 * An agent in a non-voice MRD: the PIM keeps these (the ACD knows only
 * voice); sorted by agent, then MRD.  Its interval row: ACTIVE with a
 * task is talk time, each task that ended one handled.
 */
struct pim_media {
	uint32_t	 agent;
	uint32_t	 mrd;
	int		 state;
	int32_t		 reason;
	int		 known;		/* state told (R19: see pim_media_init) */
	uint64_t	 since_ms;	/* monotonic */
	uint64_t	 acc_ms;	/* accounted up to */
	uint32_t	 f[IVL_NFIELDS];
};

struct pim_entry {
	uint32_t	 seq;
	uint32_t	 type;
	uint32_t	 start;		/* interval start */
	uint32_t	 rows;
	uint8_t		*frame;
	size_t		 len;
	int		 sent;
	TAILQ_ENTRY(pim_entry) entry;
};

#define PIM_RETRY_MIN_MS	500	/* a record not stored: first retry */
#define PIM_RETRY_MAX_MS	4000	/* ... doubling up to this */

struct pim {
	struct node	*node;
	uint32_t	 periph;	/* the peripheral it serves */
	char		 side;
	struct pim_agent *agents;
	int		  nagents;
	size_t		  hint;		/* find_u32_key()'s */
	struct pim_media *media;	/* non-voice MRDs */
	int		  nmedia;
	int		  active;
	int		  suspended;	/* R6: agents out, time not counted */
	uint32_t	  epoch;
	uint32_t	  ivl_start;	/* current interval */
	int		  ivl_incomplete;
	struct event	 *ev_interval;
	TAILQ_HEAD(, pim_entry) queue;	/* oldest first */
	uint32_t	  next_seq;
	char		  spool[PGEMU_PATH_MAX];
	FILE		 *spoolf;
	struct link	 *router;
	uint64_t	  delivered, intervals_closed, rows_discarded;
	uint64_t	  refused, rows_refused, not_stored;
	uint32_t	  queued_rows;
	struct event	 *ev_retry;	/* records not stored: send again */
	int		  retry_ms;	/* 0: the router stores */
};

static void	pim_interval_cb(evutil_socket_t, short, void *);
static void	pim_retry_cb(evutil_socket_t, short, void *);

/*
 * The sequence number after seq: never UINT32_MAX, which a spool's loader
 * skips (the one after it would be 0), nor 0; after UINT32_MAX - 1, 1.
 */
static uint32_t
pim_seq_after(uint32_t seq)
{
	return seq >= UINT32_MAX - 1 ? 1 : seq + 1;
}

/* A record's sequence number. */
static uint32_t
pim_seq(struct pim *p)
{
	uint32_t	seq = p->next_seq;

	p->next_seq = pim_seq_after(seq);
	return seq;
}

static struct pim_agent *
pim_agent(struct pim *p, uint32_t id)
{
	return find_u32_key(id, p->agents, (size_t)p->nagents,
	    sizeof(*p->agents), &p->hint);
}

static int
pim_media_cmp(const void *a, const void *b)
{
	const struct pim_media	*x = a, *y = b;

	if (x->agent != y->agent)
		return x->agent < y->agent ? -1 : 1;
	return x->mrd < y->mrd ? -1 : x->mrd > y->mrd;
}

static struct pim_media *
pim_media_find(const struct pim *p, uint32_t agent, uint32_t mrd)
{
	struct pim_media	key = { .agent = agent, .mrd = mrd };

	return bsearch(&key, p->media, (size_t)p->nmedia, sizeof(*p->media),
	    pim_media_cmp);
}

/*
 * Every agent's non-voice MRDs of the lab file, logged out; those of
 * media email unknown.  An email sign-in outlives the CTI server's path
 * and this process (R19): a PIM that starts knows nothing of it, and
 * the router's, the CTI servers' and the email manager's record of it
 * stands until the states are told (by the other side's PIM, by the
 * application's resync bracket, by a desktop signing in or out).  An
 * unknown state is in no record this PIM sends.
 */
static void
pim_media_init(struct pim *p, const struct cfg_periph *cp)
{
	int	i, j, k, n, ids[CFG_AGENT_MRDS];

	for (i = 0; i < cp->nagents; i++)
		p->nmedia += cfg_agent_media(p->node->cfg, &cp->agents[i], ids);
	p->media = xcalloc(p->nmedia > 0 ? (size_t)p->nmedia : 1,
	    sizeof(*p->media));
	for (i = 0, k = 0; i < cp->nagents; i++) {
		n = cfg_agent_media(p->node->cfg, &cp->agents[i], ids);
		for (j = 0; j < n; j++, k++) {
			p->media[k].agent = (uint32_t)cp->agents[i].id;
			p->media[k].mrd = (uint32_t)ids[j];
			p->media[k].state = AS_LOGOUT;
			p->media[k].known = !cfg_mrd_email(p->node->cfg,
			    ids[j]);
		}
	}
	qsort(p->media, (size_t)p->nmedia, sizeof(*p->media), pim_media_cmp);
}

static void
pim_spool_write(struct pim *p, const uint8_t *frame, size_t len)
{
	if (p->spoolf == NULL)
		return;
	if (fwrite(frame, 1, len, p->spoolf) != len || fflush(p->spoolf) != 0)
		log_warn("spool %s", p->spool);
}

/* An acknowledgement in the spool: a DELIVERY_ACK frame of its own. */
static void
pim_spool_ack(struct pim *p, uint32_t seq)
{
	struct wire_writer	w;
	struct msg_epoch	e;

	memset(&e, 0, sizeof(e));
	e.a = seq;
	msg_epoch_encode(&w, MSG_DELIVERY_ACK, &e);
	if (wire_end(&w, WIRE_MAX_BODY, NULL) == 0)
		pim_spool_write(p, w.buf, w.len);
	wire_writer_free(&w);
}

static void
pim_spool_reset(struct pim *p)
{
	struct pim_entry *e;

	if (p->spoolf == NULL)
		return;
	if (ftruncate(fileno(p->spoolf), 0) == -1)
		log_warn("spool %s: truncate", p->spool);
	rewind(p->spoolf);
	TAILQ_FOREACH(e, &p->queue, entry)
		pim_spool_write(p, e->frame, e->len);
}

static void
pim_send(struct pim *p, struct pim_entry *e)
{
	struct wire_writer	w;

	if (p->router == NULL || !link_is_up(p->router))
		return;
	memset(&w, 0, sizeof(w));
	wire_bytes(&w, e->frame, e->len);
	if (link_send(p->router, &w) == 0)
		e->sent = 1;
}

/* Queue a finished frame for the router (and the spool); it takes w. */
static void
pim_enqueue(struct pim *p, struct wire_writer *w, uint32_t seq, uint32_t
    start, uint32_t rows)
{
	struct pim_entry	*e = xcalloc(1, sizeof(*e));
	struct wire_msg		 m;

	if (wire_end(w, WIRE_MAX_BODY, &m) == -1)
		fatalx("pim: a queued record does not fit a message");
	e->seq = seq;
	e->type = m.type;
	e->start = start;
	e->rows = rows;
	e->frame = w->buf;
	e->len = w->len;
	memset(w, 0, sizeof(*w));
	TAILQ_INSERT_TAIL(&p->queue, e, entry);
	if (e->type == MSG_INTERVAL)
		p->queued_rows += rows;
	pim_spool_write(p, e->frame, e->len);
	pim_send(p, e);
}

/* Time in state up to now goes to the agents' rows. */
static void
pim_account(struct pim *p, struct pim_agent *a, uint64_t now)
{
	if (now > a->acc_ms && !p->suspended)
		ivl_add(a->f, a->state, (uint32_t)(now - a->acc_ms));
	a->acc_ms = now;
}

static void
pim_media_account(struct pim *p, struct pim_media *e, uint64_t now)
{
	if (now > e->acc_ms && !p->suspended)
		ivl_add(e->f, e->state, (uint32_t)(now - e->acc_ms));
	e->acc_ms = now;
}

/* Every row's time up to now. */
static void
pim_account_all(struct pim *p, uint64_t now)
{
	int	i;

	for (i = 0; i < p->nagents; i++)
		pim_account(p, &p->agents[i], now);
	for (i = 0; i < p->nmedia; i++)
		pim_media_account(p, &p->media[i], now);
}

/* Every row emptied, counting from now. */
static void
pim_rows_clear(struct pim *p, uint64_t now)
{
	int	i;

	for (i = 0; i < p->nagents; i++) {
		memset(p->agents[i].f, 0, sizeof(p->agents[i].f));
		p->agents[i].acc_ms = now;
	}
	for (i = 0; i < p->nmedia; i++) {
		memset(p->media[i].f, 0, sizeof(p->media[i].f));
		p->media[i].acc_ms = now;
	}
}

/*
 * The rows of an interval, in order: each agent's voice MRD, then its
 * non-voice ones (both arrays are sorted by agent).  Row k (0 on) into
 * *agent, *mrd, *f; -1 past the last.
 */
static int
pim_row(const struct pim *p, int *vi, int *mi, uint32_t *agent,
    uint32_t *mrd, const uint32_t **f)
{
	const struct pim_media	*e;
	const struct pim_agent	*a;

	for (;;) {
		a = *vi < p->nagents ? &p->agents[*vi] : NULL;
		e = *mi < p->nmedia ? &p->media[*mi] : NULL;
		if (a == NULL && e == NULL)
			return -1;
		if (a != NULL && (e == NULL || a->id <= e->agent)) {
			(*vi)++;
			if (a->f[IVL_LOGGED_ON] == 0)
				continue;
			*agent = a->id;
			*mrd = (uint32_t)p->node->cfg->voice_mrd;
			*f = a->f;
			return 0;
		}
		(*mi)++;
		if (e->f[IVL_LOGGED_ON] == 0)
			continue;
		*agent = e->agent;
		*mrd = e->mrd;
		*f = e->f;
		return 0;
	}
}

static void
pim_arm_interval(struct pim *p)
{
	uint32_t	len = (uint32_t)p->node->cfg->interval_s;
	double		now = wall_now();
	double		next = (double)ivl_start_of((uint32_t)now, len) + len;
	struct timeval	tv;
	int		ms = (int)((next - now) * 1000) + 1;

	ms_to_tv(ms, &tv);
	evtimer_add(p->ev_interval, &tv);
}

/* Rows with logged-on time: one per agent and MRD it was logged on in. */
static int
pim_rows(const struct pim *p)
{
	int	i, rows = 0;

	for (i = 0; i < p->nagents; i++)
		rows += p->agents[i].f[IVL_LOGGED_ON] > 0;
	for (i = 0; i < p->nmedia; i++)
		rows += p->media[i].f[IVL_LOGGED_ON] > 0;
	return rows;
}

/*
 * Close the current interval: one row per agent and MRD it was logged on
 * in, in as many INTERVAL messages as the link's limit needs.
 */
static void
pim_close_interval(struct pim *p, uint32_t end)
{
	uint32_t	 len = (uint32_t)p->node->cfg->interval_s;
	uint64_t	 now = mono_ms();
	int		 per = (p->node->cfg->max_message - 24) / MSG_IVL_ROW_LEN;
	int		 vi = 0, mi = 0, rows, left;
	uint32_t	 agent, mrd;
	const uint32_t	*f;

	if (per > MSG_AGENTS_MAX)
		per = MSG_AGENTS_MAX;
	pim_account_all(p, now);
	rows = pim_rows(p);
	for (left = rows; left > 0; ) {
		struct wire_writer	w;
		struct msg_interval	iv;
		int			n, cnt = left < per ? left : per;

		memset(&iv, 0, sizeof(iv));
		iv.peripheral = p->periph;
		iv.epoch = p->epoch;
		iv.seq = pim_seq(p);
		iv.start = p->ivl_start;
		iv.length = len;
		iv.incomplete = (uint8_t)p->ivl_incomplete;
		iv.side = (uint8_t)p->side;
		iv.count = (uint16_t)cnt;
		msg_interval_begin(&w, &iv);
		for (n = 0; n < cnt && pim_row(p, &vi, &mi, &agent, &mrd,
		    &f) == 0; n++)
			msg_interval_row(&w, agent, mrd, f);
		pim_enqueue(p, &w, iv.seq, iv.start, (uint32_t)cnt);
		left -= cnt;
	}
	pim_rows_clear(p, now);
	p->intervals_closed++;
	log_debug("interval %u closed: %d rows%s", p->ivl_start, rows,
	    p->ivl_incomplete ? " (incomplete)" : "");
	p->ivl_start = end;
	p->ivl_incomplete = 0;
}

static void
pim_interval_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pim	*p = arg;
	uint32_t	 len = (uint32_t)p->node->cfg->interval_s;
	uint32_t	 cur = ivl_start_of((uint32_t)wall_now(), len);

	(void)fd;
	(void)what;
	if (p->active && cur > p->ivl_start)
		pim_close_interval(p, cur);
	pim_arm_interval(p);
}

/*
 * R1: delete what has not been delivered (the interval in progress and
 * every queued interval), and queue the record of the deletion.
 */
void
pim_discard(struct pim *p, const char *why)
{
	struct pim_entry	 *e, *next;
	struct wire_writer	  w;
	struct msg_discard	  d;
	uint32_t		  rows = 0, intervals = 0, last = 0, first = 0;
	int			  i, partial = 0;

	for (i = 0; i < p->nagents; i++)
		partial += p->agents[i].f[IVL_LOGGED_ON] > 0 ||
		    (p->active && agent_logged_in(p->agents[i].state));
	for (i = 0; i < p->nmedia; i++)
		partial += p->media[i].f[IVL_LOGGED_ON] > 0 ||
		    (p->active && agent_logged_in(p->media[i].state));
	for (e = TAILQ_FIRST(&p->queue); e != NULL; e = next) {
		next = TAILQ_NEXT(e, entry);
		if (e->type != MSG_INTERVAL)
			continue;
		rows += e->rows;
		if (e->start != last)
			intervals++;
		if (first == 0 || e->start < first)
			first = e->start;
		last = e->start;
		TAILQ_REMOVE(&p->queue, e, entry);
		free(e->frame);
		free(e);
	}
	p->queued_rows = 0;
	if (partial > 0 && p->active) {
		rows += (uint32_t)partial;
		intervals++;
		if (first == 0)
			first = p->ivl_start;
	}
	pim_rows_clear(p, mono_ms());
	pim_spool_reset(p);
	if (rows == 0)
		return;
	p->rows_discarded += rows;
	evt_emit(RULE_R1, "data_discarded", json_pack("{s:i, s:i, s:i, s:s}",
	    "peripheral", (int)p->periph, "intervals",
	    (int)intervals, "rows", (int)rows, "reason", why),
	    "deleted undelivered reporting data of peripheral %d: %u "
	    "intervals, %u agent rows (%s)", (int)p->periph,
	    intervals, rows, why);
	memset(&d, 0, sizeof(d));
	d.peripheral = p->periph;
	d.seq = pim_seq(p);
	d.rule = RULE_R1;
	d.interval_start = first;
	d.rows = rows;
	d.intervals = intervals;
	d.side = (uint8_t)p->side;
	snprintf(d.text, sizeof(d.text), "%s", why);
	msg_discard_encode(&w, &d);
	pim_enqueue(p, &w, d.seq, first, rows);
}

/*
 * The spool opened for reading ("r") or made anew ("w", mode 0600),
 * never through a symbolic link someone planted in the state directory
 * (errno ELOOP then); NULL if it cannot be.
 */
static FILE *
pim_spool_open(const char *path, const char *mode)
{
	int	 flags = O_NOFOLLOW | O_CLOEXEC, fd;
	FILE	*f;

	flags |= mode[0] == 'w' ? O_WRONLY | O_CREAT | O_TRUNC : O_RDONLY;
	if ((fd = open(path, flags, 0600)) == -1)
		return NULL;
	if ((f = fdopen(fd, mode)) == NULL)
		close(fd);
	return f;
}

/*
 * An INTERVAL of lab protocol 2, whose rows had no MRD, as an older pgemu
 * left its spool: made again in w and m as rows of the voice MRD (said
 * once a spool).  -1 if m is not one.
 */
static int
pim_spool_upgrade(struct pim *p, struct wire_msg *m, struct wire_writer *w,
    long off, int *told)
{
	struct wire_writer	up;
	char			err[160];

	memset(&up, 0, sizeof(up));
	if (msg_interval_upgrade(m, (uint32_t)p->node->cfg->voice_mrd, &up,
	    err, sizeof(err)) == -1 || wire_end(&up, WIRE_MAX_BODY, m) == -1) {
		wire_writer_free(&up);
		return -1;
	}
	wire_writer_free(w);
	*w = up;
	if (!*told)
		log_warnx("spool %s: offset %ld: INTERVAL of lab protocol 2 "
		    "(rows without their MRD, from an older pgemu): read as "
		    "rows of the voice MRD %d", p->spool, off,
		    p->node->cfg->voice_mrd);
	*told = 1;
	return 0;
}

/*
 * Read a spool left behind: what it holds was never delivered.  -1 if
 * there is one that cannot be read.
 */
static int
pim_spool_load(struct pim *p)
{
	FILE		*f = pim_spool_open(p->spool, "r");
	uint8_t		 hdr[WIRE_HDR_LEN], *buf = NULL;
	uint32_t	 type, len, max_seq = 0;
	char		 err[160];
	long		 off = 0;
	size_t		 got;
	int		 told = 0;

	if (f == NULL)
		return errno == ENOENT ? 0 : -1;
	while ((got = fread(hdr, 1, WIRE_HDR_LEN, f)) == WIRE_HDR_LEN) {
		struct wire_msg	    m;
		struct msg_interval iv;
		struct msg_discard  d;
		struct msg_epoch    e;
		struct wire_writer  w;

		if (wire_check_header(hdr, WIRE_MAX_BODY, &type, &len, err,
		    sizeof(err)) == -1) {
			log_warnx("spool %s: %s; the rest is ignored", p->spool,
			    err);
			break;
		}
		buf = xreallocarray(buf, 1, WIRE_HDR_LEN + (size_t)len);
		memcpy(buf, hdr, WIRE_HDR_LEN);
		if (fread(buf + WIRE_HDR_LEN, 1, len, f) != len) {
			log_warnx("spool %s: offset %ld: %s frame truncated; "
			    "the rest is ignored", p->spool, off,
			    wire_type_name(type));
			break;
		}
		m.type = type;
		m.len = len;
		m.body = buf + WIRE_HDR_LEN;
		memset(&w, 0, sizeof(w));
		wire_bytes(&w, buf, WIRE_HDR_LEN + len);
		if (type == MSG_INTERVAL &&
		    msg_interval_decode(&m, &iv, err, sizeof(err)) == -1)
			pim_spool_upgrade(p, &m, &w, off, &told);
		/* The last sequence number would make the next one wrap. */
		if ((type == MSG_INTERVAL &&
		    msg_interval_decode(&m, &iv, err, sizeof(err)) == 0 &&
		    iv.seq == UINT32_MAX) || (type == MSG_DISCARD &&
		    msg_discard_decode(&m, &d, err, sizeof(err)) == 0 &&
		    d.seq == UINT32_MAX)) {
			log_warnx("spool %s: offset %ld: %s with sequence number "
			    "%u, which no PIM gives; skipped", p->spool, off,
			    wire_type_name(type), UINT32_MAX);
			wire_writer_free(&w);
		} else if (type == MSG_INTERVAL &&
		    msg_interval_decode(&m, &iv, err, sizeof(err)) == 0) {
			pim_enqueue(p, &w, iv.seq, iv.start, iv.count);
			max_seq = iv.seq > max_seq ? iv.seq : max_seq;
		} else if (type == MSG_DISCARD &&
		    msg_discard_decode(&m, &d, err, sizeof(err)) == 0) {
			pim_enqueue(p, &w, d.seq, d.interval_start, d.rows);
			max_seq = d.seq > max_seq ? d.seq : max_seq;
		} else if (type == MSG_DELIVERY_ACK &&
		    msg_epoch_decode(&m, &e, err, sizeof(err)) == 0) {
			wire_writer_free(&w);
			pim_ack(p, e.a);
		} else {
			if (type == MSG_INTERVAL || type == MSG_DISCARD ||
			    type == MSG_DELIVERY_ACK)
				log_warnx("spool %s: offset %ld: %s; skipped",
				    p->spool, off, err);
			else
				log_warnx("spool %s: offset %ld: unexpected %s; "
				    "skipped", p->spool, off, wire_type_name(type));
			wire_writer_free(&w);
		}
		off += (long)(WIRE_HDR_LEN + len);
	}
	if (got > 0 && got < WIRE_HDR_LEN)
		log_warnx("spool %s: offset %ld: %zu bytes, not a frame header; "
		    "ignored", p->spool, off, got);
	free(buf);
	fclose(f);
	p->next_seq = pim_seq_after(max_seq);
	return 0;
}

/*
 * The PIM of a PG side for one peripheral; NULL and why if its spool
 * cannot be used.  The first peripheral's spool is NODE.spool, as in a
 * lab of one peripheral; another's NODE.ID.spool.
 */
struct pim *
pim_new(struct node *n, const struct cfg_periph *cp, int first,
    struct link *router, char *err, size_t errlen)
{
	struct pim	*p = xcalloc(1, sizeof(*p));
	int		 i;

	p->node = n;
	p->periph = (uint32_t)cp->id;
	p->side = n->self->side;
	p->router = router;
	TAILQ_INIT(&p->queue);
	p->next_seq = 1;
	p->nagents = cp->nagents;
	p->agents = xcalloc((size_t)p->nagents, sizeof(*p->agents));
	for (i = 0; i < p->nagents; i++) {
		p->agents[i].id = (uint32_t)cp->agents[i].id;
		p->agents[i].state = AS_LOGOUT;
	}
	qsort(p->agents, (size_t)p->nagents, sizeof(*p->agents), cmp_u32_key);
	pim_media_init(p, cp);
	p->ev_interval = evtimer_new(n->base, pim_interval_cb, p);
	p->ev_retry = evtimer_new(n->base, pim_retry_cb, p);
	if (first)
		snprintf(p->spool, sizeof(p->spool), "%s/%s.spool",
		    n->cfg->state_dir, n->self->name);
	else
		snprintf(p->spool, sizeof(p->spool), "%s/%s.%d.spool",
		    n->cfg->state_dir, n->self->name, cp->id);
	if (pim_spool_load(p) == -1 ||
	    (p->spoolf = pim_spool_open(p->spool, "w")) == NULL) {
		if (errno == ELOOP)
			snprintf(err, errlen, "spool %s: is a symbolic link "
			    "(refused: a spool is never opened through a "
			    "link; remove it)", p->spool);
		else
			snprintf(err, errlen, "spool %s: %s", p->spool,
			    strerror(errno));
		pim_free(p);
		return NULL;
	}
	if (!TAILQ_EMPTY(&p->queue)) {
		/* Left by a run that failed: R1. */
		struct pim_entry *e;

		p->active = 0;
		pim_discard(p, "left undelivered by a previous run of this "
		    "side that ended");
		TAILQ_FOREACH(e, &p->queue, entry)
			e->sent = 0;
	}
	pim_spool_reset(p);
	pim_arm_interval(p);
	return p;
}

void
pim_free(struct pim *p)
{
	struct pim_entry *e;

	if (p == NULL)
		return;
	while ((e = TAILQ_FIRST(&p->queue)) != NULL) {
		TAILQ_REMOVE(&p->queue, e, entry);
		free(e->frame);
		free(e);
	}
	if (p->spoolf != NULL)
		fclose(p->spoolf);
	event_free(p->ev_interval);
	event_free(p->ev_retry);
	free(p->agents);
	free(p->media);
	free(p);
}

/*
 * The PIM is accepted by the ACD.  A new activation starts counting: the
 * interval in progress is incomplete unless it starts now.  One that
 * continues (the same PIM again after a CTI Manager failover, or a new
 * epoch for the side that holds the PIM) keeps the interval's totals, its
 * incomplete flag and the queue: only the epoch changes.
 */
void
pim_activate(struct pim *p, uint32_t epoch, int continuing)
{
	uint32_t	len = (uint32_t)p->node->cfg->interval_s;
	double		now = wall_now();
	uint64_t	mono = mono_ms();

	p->epoch = epoch;
	if (continuing && p->active) {
		pim_account_all(p, mono);
		p->suspended = 0;
		return;
	}
	p->active = 1;
	p->suspended = 0;
	p->ivl_start = ivl_start_of((uint32_t)now, len);
	/* Activated after the interval began: it did not see it whole. */
	p->ivl_incomplete = now - p->ivl_start > 0.001;
	pim_rows_clear(p, mono);
}

/*
 * R6: the CTI Manager stopped; the agents are logged out until the PIM is
 * accepted again (pim_activate, continuing).  Their time up to now counts,
 * the time until then does not.
 */
void
pim_suspend(struct pim *p)
{
	pim_account_all(p, mono_ms());
	p->suspended = 1;
}

void
pim_deactivate(struct pim *p)
{
	p->active = 0;
	p->suspended = 0;
}

/* ACD agent records into the mirror; returns how many changed. */
int
pim_update(struct pim *p, const struct msg_agent *recs, int n)
{
	uint64_t	now = mono_ms();
	int		i, changed = 0;

	for (i = 0; i < n; i++) {
		struct pim_agent *a = pim_agent(p, recs[i].id);

		if (a == NULL)
			continue;
		pim_account(p, a, now);
		if (p->active && ivl_call_handled(a->state, recs[i].state))
			a->f[IVL_CALLS]++;
		changed += a->state != recs[i].state;
		a->state = recs[i].state;
		a->before_call = recs[i].before_call;
		a->since_ms = now - recs[i].ms_in_state;
	}
	return changed;
}

/*
 * ACD agent changes into the mirror, in their order; recs keeps only those
 * that changed an agent's state (the ACD's echo of a state the PIM set
 * itself, as the Table 1 states of a relogin, changes nothing): how many.
 * One message may carry several changes of one agent (the ACD sends those
 * of a turn of its loop together: out, in, available): each is judged
 * against the state the one before it left.
 */
int
pim_changes(struct pim *p, struct msg_agent *recs, int n)
{
	int	i, kept = 0;

	for (i = 0; i < n; i++) {
		struct pim_agent *a = pim_agent(p, recs[i].id);
		int		  same = a != NULL && a->state == recs[i].state;

		pim_update(p, &recs[i], 1);
		if (!same)
			recs[kept++] = recs[i];
	}
	return kept;
}

/* Every queued record that has not gone out, now the router is there. */
void
pim_flush(struct pim *p, int resend)
{
	struct pim_entry *e;

	TAILQ_FOREACH(e, &p->queue, entry)
		if (resend || !e->sent)
			pim_send(p, e);
}

/* Take the record seq off the queue (the caller frees it), or NULL. */
static struct pim_entry *
pim_unqueue(struct pim *p, uint32_t seq)
{
	struct pim_entry *e;

	TAILQ_FOREACH(e, &p->queue, entry)
		if (e->seq == seq) {
			TAILQ_REMOVE(&p->queue, e, entry);
			if (e->type == MSG_INTERVAL)
				p->queued_rows -= e->rows;
			if (TAILQ_EMPTY(&p->queue))
				pim_spool_reset(p);
			else
				pim_spool_ack(p, seq);
			return e;
		}
	return NULL;
}

static void
pim_free_entry(struct pim_entry *e)
{
	free(e->frame);
	free(e);
}

/* The router stored record seq. */
void
pim_ack(struct pim *p, uint32_t seq)
{
	struct pim_entry	*e;

	if ((e = pim_unqueue(p, seq)) == NULL)
		return;
	pim_free_entry(e);
	p->delivered++;
	if (p->retry_ms != 0) {
		log_info("the router stores records again; %s",
		    !TAILQ_EMPTY(&p->queue) ? "sending those that waited" :
		    "none waits");
		p->retry_ms = 0;
		event_del(p->ev_retry);
		pim_flush(p, 0);
	}
}

/*
 * The router refused record seq: it is not stored and the router has
 * recorded its rows as lost (R1).  Forget it; count it refused.
 */
void
pim_refused(struct pim *p, uint32_t seq, const char *why)
{
	struct pim_entry	*e;

	if ((e = pim_unqueue(p, seq)) == NULL)
		return;
	p->refused++;
	p->rows_refused += e->rows;
	evt_emit(RULE_R1, "data_refused", json_pack("{s:i, s:i, s:i, s:i, s:s}",
	    "peripheral", (int)p->periph, "seq", (int)seq,
	    "start", (int)e->start, "rows", (int)e->rows, "reason", why),
	    "the router refused reporting data of peripheral %d (record %u, "
	    "interval %u, %u agent rows), recorded there as lost: %s",
	    (int)p->periph, seq, e->start, e->rows, why);
	pim_free_entry(e);
}

/*
 * The router could not store record seq: it stays queued and goes again
 * after the back-off (the first record waiting only; the rest follow its
 * acknowledgement).
 */
void
pim_not_stored(struct pim *p, uint32_t seq, const char *why)
{
	struct pim_entry	*e;
	struct timeval		 tv;

	for (e = TAILQ_FIRST(&p->queue); e != NULL && e->seq != seq;
	    e = TAILQ_NEXT(e, entry))
		;
	if (e == NULL)
		return;
	e->sent = 0;
	p->not_stored++;
	if (evtimer_pending(p->ev_retry, NULL))
		return;
	if (p->retry_ms == 0) {
		p->retry_ms = PIM_RETRY_MIN_MS;
		log_warnx("the router did not store record %u (%s of interval "
		    "%u, %u agent rows): %s; it stays queued and goes again in "
		    "%d ms", seq, e->type == MSG_INTERVAL ? "rows" : "loss",
		    e->start, e->rows, why, p->retry_ms);
	} else
		log_debug("record %u not stored (%s); next try in %d ms", seq,
		    why, p->retry_ms);
	ms_to_tv(p->retry_ms, &tv);
	evtimer_add(p->ev_retry, &tv);
	p->retry_ms = p->retry_ms * 2 > PIM_RETRY_MAX_MS ? PIM_RETRY_MAX_MS :
	    p->retry_ms * 2;
}

static void
pim_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pim		*p = arg;
	struct pim_entry	*e;

	(void)fd;
	(void)what;
	for (e = TAILQ_FIRST(&p->queue); e != NULL && e->sent;
	    e = TAILQ_NEXT(e, entry))
		;
	if (e != NULL)
		pim_send(p, e);
}

json_t *
pim_json(const struct pim *p)
{
	const struct pim_entry	*e;
	int			 n = 0;

	TAILQ_FOREACH(e, &p->queue, entry)
		n++;
	return json_pack("{s:b, s:i, s:i, s:b, s:i, s:i, s:I, s:I, s:I, s:I, "
	    "s:I, s:I, s:b, s:s}",
	    "counting", p->active, "interval", (int)p->ivl_start,
	    "interval_length", p->node->cfg->interval_s,
	    "interval_incomplete", p->ivl_incomplete,
	    "queued", n, "queued_rows", (int)p->queued_rows,
	    "delivered", (json_int_t)p->delivered,
	    "intervals_closed", (json_int_t)p->intervals_closed,
	    "rows_discarded", (json_int_t)p->rows_discarded,
	    "refused", (json_int_t)p->refused,
	    "rows_refused", (json_int_t)p->rows_refused,
	    "not_stored", (json_int_t)p->not_stored,
	    "suspended", p->suspended,
	    "spool", p->spool);
}

/* The mirror of one agent, for the relogin of R8. */
int
pim_agent_state(const struct pim *p, int i, struct msg_agent *m)
{
	if (i < 0 || i >= p->nagents)
		return -1;
	m->id = p->agents[i].id;
	m->state = (uint16_t)p->agents[i].state;
	m->before_call = (uint16_t)p->agents[i].before_call;
	m->ms_in_state = (uint32_t)(mono_ms() - p->agents[i].since_ms);
	m->reason = 0;
	m->mrd = (uint32_t)p->node->cfg->voice_mrd;
	return 0;
}

static void
pim_media_rec(const struct pim_media *e, struct msg_agent *m)
{
	memset(m, 0, sizeof(*m));
	m->id = e->agent;
	m->state = (uint16_t)e->state;
	m->ms_in_state = (uint32_t)(mono_ms() - e->since_ms);
	m->reason = e->reason;
	m->mrd = e->mrd;
}

/*
 * An agent's state in a non-voice MRD, asked for by a CTI server: LOGIN
 * signs it in (Not Ready: no task yet), LOGOUT signs it out, NOT_READY
 * and AVAILABLE of one signed in; and handled tasks of it that ended
 * there (for its interval row, whatever the state).  1 and the record of
 * the change in m; 0 when the state does not change (a LOGIN of one
 * signed in, any other of one signed out); -1 when the agent has no such
 * MRD.
 */
int
pim_media_set(struct pim *p, uint32_t agent, uint32_t mrd, int state,
    int32_t reason, uint32_t handled, struct msg_agent *m)
{
	struct pim_media	*e = pim_media_find(p, agent, mrd);
	uint64_t		 now = mono_ms();
	int			 in;

	if (e == NULL)
		return -1;
	pim_media_account(p, e, now);
	if (p->active)
		e->f[IVL_CALLS] += handled;
	in = agent_logged_in(e->state);
	/* Told at last: whatever it is, everyone hears it. */
	if (!e->known) {
		e->known = 1;
		if (state == AS_LOGIN) {
			state = AS_NOT_READY;
			reason = 0;
		}
		goto set;
	}
	if (state == AS_LOGIN) {
		if (in)
			return 0;
		state = AS_NOT_READY;
		reason = 0;
	} else if (!in)
		return 0;
	if (state == AS_AVAILABLE)
		reason = 0;
	if (e->state == state && e->reason == reason)
		return 0;
set:
	e->state = state;
	e->reason = reason;
	e->since_ms = now;
	pim_media_rec(e, m);
	return 1;
}

/*
 * The other side's records of non-voice MRDs (its PIM's, or its CTI
 * server's while no PIM serves the peripheral, R23), kept here as they
 * are: a PIM that takes over goes on with them.  Voice records and MRDs
 * this PIM does not know are skipped.
 */
void
pim_media_mirror(struct pim *p, const struct msg_agent *r, int n)
{
	struct pim_media	*e;
	uint64_t		 now = mono_ms();
	int			 i;

	for (i = 0; i < n; i++) {
		if ((e = pim_media_find(p, r[i].id, r[i].mrd)) == NULL)
			continue;
		e->state = r[i].state;
		e->reason = r[i].reason;
		e->known = 1;
		e->since_ms = now > r[i].ms_in_state ? now - r[i].ms_in_state :
		    0;
	}
}

/*
 * The PIM starts serving after a PG failover (R6, R8): every agent is
 * signed out of its non-voice MRDs, with that reason; no record (the
 * router has logged every MRD out itself).  Not of its email MRDs, whose
 * sign-ins outlive the CTI server's path (R19: as the PIM had them, or
 * the other side's told).
 */
void
pim_media_reset(struct pim *p, int32_t reason)
{
	uint64_t	now = mono_ms();
	int		i;

	for (i = 0; i < p->nmedia; i++) {
		if (cfg_mrd_email(p->node->cfg, (int)p->media[i].mrd))
			continue;
		pim_media_account(p, &p->media[i], now);
		p->media[i].state = AS_LOGOUT;
		p->media[i].reason = reason;
		p->media[i].known = 1;
		p->media[i].since_ms = now;
	}
}

/*
 * The first PIM to serve the peripheral in the lab's history (epoch 1):
 * nobody was ever signed in to an email MRD, so every state is known,
 * logged out, and told with the rest (the CTI servers learn that an
 * agent is not signed in there).
 */
void
pim_media_first(struct pim *p)
{
	int	i;

	for (i = 0; i < p->nmedia; i++)
		p->media[i].known = 1;
}

/*
 * An agent's state in a non-voice MRD, since when (monotonic ms); -1 if
 * it has no such MRD.
 */
int
pim_media_state(const struct pim *p, uint32_t agent, uint32_t mrd,
    uint64_t *since_ms)
{
	const struct pim_media	*e;

	if ((e = pim_media_find(p, agent, mrd)) == NULL)
		return -1;
	*since_ms = e->since_ms;
	return e->state;
}

int
pim_media_count(const struct pim *p)
{
	return p->nmedia;
}

/*
 * The non-voice MRD states known as records, into m (room for
 * pim_media_count()); how many.
 */
int
pim_media_states(const struct pim *p, struct msg_agent *m)
{
	int	i, n = 0;

	for (i = 0; i < p->nmedia; i++)
		if (p->media[i].known)
			pim_media_rec(&p->media[i], &m[n++]);
	return n;
}
