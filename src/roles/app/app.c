/*
 * The app node: an application instance of media routing (an email or
 * chat manager, docs/media-routing.md).
 *
 *   MR PIM of pg-a / pg-b --PIM_ACTIVATE, ROUTING_ENABLED/DISABLED,
 *        (the app's MR port)  DO_THIS_WITH_TASK, NEW_TASK_FAILURE--> app
 *   app --NEW_TASK (its tasks; TASKF_RESEND again)-----------> MR PIM
 *   app --task messages (app_arm.c)------> CTI server of the agent PG
 *
 * Both PG sides' MR PIMs connect to the app's port; the app fences them
 * as the ACD fences voice PIMs (fencer.c) and routes only through the one
 * it accepted, once that PIM said ROUTING_ENABLED.  Each new task (its
 * traffic, or `pgemuctl app new-task`) gets a new DialogueID and goes out
 * as NEW_TASK; it waits in the pending table until DO_THIS_WITH_TASK
 * (the task lives: offered, started, ended on the ARM session) or
 * NEW_TASK_FAILURE.  When routing stops (R12: the PIM's link or the PIM
 * lost; R16: ROUTING_DISABLED) the pending requests stay, and new tasks
 * go to agents the app itself finds available (R13, R16); when routing
 * comes back every pending request is sent again (R14, R17).
 *
 * The pending table is a file, state_dir/NODE.pending, written whole and
 * atomically once per turn of the loop that changed it, with the ledger
 * and the DialogueIDs reserved, so that neither a request nor an id is
 * lost or reused across a restart (kill -9 too).
 */
#include "config.h"

#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pgemu.h"
#include "wire.h"
#include "ged188.h"

#define APP_DONE_MAX		1000	/* finished tasks `tasks` still shows */
#define APP_DIALOGUE_BLOCK	1024	/* DialogueIDs reserved per write */
#define APP_NEW_TASK_MAX	100000	/* new-task COUNT */
#define APP_TRAFFIC_MAX_RATE	100000	/* tasks a second, asked live */
#define APP_SAVE_RETRY_MS	1000	/* after a write of the table failed */
#define APP_FILE_MAGIC		"pgemu-app-pending"
#define APP_FILE_VERSION	1
#define APP_LINE_MAX		256

/*
 * The NEW_TASK -> DO_THIS_WITH_TASK times, in microseconds: a histogram
 * of APP_LAT_SUB buckets an octave (within 6 %), values below
 * 2 * APP_LAT_SUB exact, up to 2^32 us (71 minutes).
 */
#define APP_LAT_SUB		16
#define APP_LAT_BUCKETS		(2 * APP_LAT_SUB + 27 * APP_LAT_SUB)

enum app_state {
	TS_NEW,		/* neither sent nor assigned yet */
	TS_PENDING,	/* NEW_TASK sent, no answer yet */
	TS_OFFERING,	/* the app's own: OFFER_APPLICATION_TASK_REQ sent */
	TS_OFFERED,	/* offered to its agent, its start due */
	TS_STARTING,	/* the app's own: START_APPLICATION_TASK_REQ sent */
	TS_STARTED,	/* started, its end due */
	TS_ENDED,	/* END_TASK_IND sent */
	TS_FAILED,	/* NEW_TASK_FAILURE and no agent to take it */
	TS_REFUSED,	/* the CTI server refused the app's assignment */
	TS_UNASSIGNED,	/* routing off and no agent available */
	TS_MAX
};
static const char *const app_state_names[TS_MAX] = {
	"new", "pending", "offering", "offered", "starting", "started", "ended",
	"failed", "refused", "unassigned"
};
#define TS_DONE(s)	((s) >= TS_ENDED)

/*
 * What the CTI server knows of the task, as the app sees its ARM session
 * (R18, R20, R21): nothing yet; its messages wait for the session, which
 * was down when it began; the CTI server has it; its end reported; its
 * task life ran out while the session was down (ended with 42 there);
 * its report resumed after that; it began and ended while the session
 * was down (left out of reports).
 */
enum app_rep {
	REP_NONE, REP_QUEUED, REP_KNOWN, REP_ENDED, REP_INTERRUPTED,
	REP_RESUMED, REP_LEFT_OUT, REP_MAX
};
static const char *const app_rep_names[REP_MAX] = {
	"none", "queued", "reported", "ended", "interrupted", "resumed",
	"left_out"
};

/* Who gave the task its agent. */
enum app_by { BY_NONE, BY_ROUTER, BY_APP };
static const char *const app_by_names[] = { "none", "router", "app" };

/* Why routing is off: the rule of the resend when it comes back. */
enum app_cause {
	CAUSE_NONE,		/* not off since it was last on */
	CAUSE_MR_LINK,		/* the accepted MR PIM's link went (R14) */
	CAUSE_PIM,		/* that PIM fenced, released, activated anew */
	CAUSE_RESTART,		/* the app's own restart, requests pending */
	CAUSE_DISABLED,		/* ROUTING_DISABLED: the router path (R17) */
	CAUSE_MAX
};
static const char *const app_cause_names[CAUSE_MAX] = {
	"none", "mr_link", "pim", "restart", "routing_disabled"
};

struct app;

struct app_task {
	uint32_t	 dialogue;
	uint32_t	 mrd;
	char		 selector[33];
	enum app_state	 state;
	enum app_by	 by;
	int		 sends;		/* NEW_TASKs sent for it */
	uint32_t	 fail_code;	/* of its NEW_TASK_FAILURE, or 0 */
	uint32_t	 agent, agent_periph;
	uint32_t	 task[3];	/* TaskID */
	uint32_t	 flags;		/* TASKF_* of its ARM messages */
	int		 start_down;	/* routing was off at its start */
	uint64_t	 start_gen;	/* and came on this many times */
	enum app_rep	 rep;		/* what the CTI server knows of it */
	uint64_t	 queued_open;	/* sessions opened as it began, down */
	int		 nqueued;	/* its messages waiting for one */
	double		 created;	/* wall clock */
	uint64_t	 sent_us;	/* its last NEW_TASK (monotonic) */
	uint64_t	 offered_ms;	/* monotonic */
	uint64_t	 started_ms;	/* monotonic: its start (asked) */
	int		 resyncing;	/* its TASK_INIT_REQ waits (R19) */
	struct event	*ev;		/* its next step */
	struct app	*app;
	LIST_ENTRY(app_task) hash;
	TAILQ_ENTRY(app_task) entry;	/* in live or done, oldest first */
};
TAILQ_HEAD(app_tasks, app_task);
LIST_HEAD(app_bucket, app_task);

/* What became of the NEW_TASKs, and of the tasks the app assigned. */
struct app_ledger {
	uint64_t	 sent;		/* NEW_TASKs sent, resends included */
	uint64_t	 routed;	/* answered DO_THIS_WITH_TASK */
	uint64_t	 failed;	/* answered NEW_TASK_FAILURE */
	uint64_t	 resent;	/* sent again (TASKF_RESEND) */
	uint64_t	 self_assigned;	/* offered to an agent by the app */
	uint64_t	 unassigned;	/* routing off and no agent for it */
};

struct app {
	struct node	*node;
	struct fencer	 f;		/* the MR PIMs of both sides */
	int		 routing;	/* NEW_TASKs go to the accepted PIM */
	int		 disabled;	/* it said ROUTING_DISABLED last */
	enum app_cause	 cause;		/* of this outage */
	uint64_t	 gen;		/* times routing came on */
	int		 assigning;	/* app_assigning told this outage */
	uint64_t	 outage_assigned;	/* tasks it assigned in it */

	struct app_tasks live;		/* pending or on their way */
	struct app_tasks done;		/* the last APP_DONE_MAX finished */
	int		 nlive, ndone, npending;
	struct app_bucket *buckets;	/* by dialogue */
	size_t		 nbuckets;	/* a power of two */

	struct app_ledger ledger;
	uint64_t	 latency[APP_LAT_BUCKETS];	/* routed: us */
	uint64_t	 latency_n, latency_max_us;
	uint64_t	 unknown_answers, stale_answers;
	uint32_t	 next_dialogue;
	uint32_t	 reserved;	/* ids below it may have been used */

	char		 path[PGEMU_PATH_MAX];	/* the pending table */
	char		 tmp[PGEMU_PATH_MAX + 8];
	int		 dirfd;
	struct event	*ev_save;
	int		 save_failing;
	uint64_t	 saves, save_us;	/* its writes, their time */

	struct pace	 pace;		/* the new tasks */
	int		 next_route;

	struct app_arm	*arm;
};

static void	app_task_cb(evutil_socket_t, short, void *);

/* "s" for a count other than one, in the text of an event. */
#define PL(n)	((n) == 1 ? "" : "s")
static void	app_assign(struct app *, struct app_task *, int);

/* The table by dialogue ---------------------------------------------- */

static struct app_bucket *
app_bucket(struct app *a, uint32_t dialogue)
{
	return &a->buckets[(dialogue * 2654435761U) & (a->nbuckets - 1)];
}

static struct app_task *
app_find(struct app *a, uint32_t dialogue)
{
	struct app_task	*t;

	LIST_FOREACH(t, app_bucket(a, dialogue), hash)
		if (t->dialogue == dialogue)
			return t;
	return NULL;
}

/* Twice the buckets when the tasks outnumber them twice. */
static void
app_grow(struct app *a)
{
	struct app_bucket	*old = a->buckets;
	size_t			 i, n = a->nbuckets;
	struct app_task		*t;

	if ((size_t)(a->nlive + a->ndone) < 2 * n)
		return;
	a->nbuckets = 2 * n;
	a->buckets = xcalloc(a->nbuckets, sizeof(*a->buckets));
	for (i = 0; i < n; i++)
		while ((t = LIST_FIRST(&old[i])) != NULL) {
			LIST_REMOVE(t, hash);
			LIST_INSERT_HEAD(app_bucket(a, t->dialogue), t, hash);
		}
	free(old);
}

static struct app_task *
app_task_new(struct app *a, uint32_t dialogue, const char *selector,
    uint32_t mrd)
{
	struct app_task	*t = xcalloc(1, sizeof(*t));

	t->dialogue = dialogue;
	t->mrd = mrd;
	snprintf(t->selector, sizeof(t->selector), "%s", selector);
	t->created = wall_now();
	t->app = a;
	t->ev = evtimer_new(a->node->base, app_task_cb, t);
	TAILQ_INSERT_TAIL(&a->live, t, entry);
	a->nlive++;
	LIST_INSERT_HEAD(app_bucket(a, dialogue), t, hash);
	app_grow(a);
	return t;
}

static void
app_task_free(struct app *a, struct app_task *t)
{
	LIST_REMOVE(t, hash);
	TAILQ_REMOVE(TS_DONE(t->state) ? &a->done : &a->live, t, entry);
	if (TS_DONE(t->state))
		a->ndone--;
	else
		a->nlive--;
	event_free(t->ev);
	free(t);
}

/* The pending table (a file) ----------------------------------------- */

/* The table changed: written once this turn of the loop is done. */
static void
app_dirty(struct app *a)
{
	if (!a->save_failing && !event_pending(a->ev_save, EV_TIMEOUT, NULL))
		event_active(a->ev_save, EV_TIMEOUT, 0);
}

static int
app_write(struct app *a, FILE *f)
{
	const struct app_ledger	*l = &a->ledger;
	struct app_task		*t;
	int			 n = 0;

	fprintf(f, "%s %d %s\n", APP_FILE_MAGIC, APP_FILE_VERSION,
	    a->node->self->name);
	fprintf(f, "dialogue %u\n", a->reserved);
	fprintf(f, "ledger %llu %llu %llu %llu %llu %llu\n",
	    (unsigned long long)l->sent, (unsigned long long)l->routed,
	    (unsigned long long)l->failed, (unsigned long long)l->resent,
	    (unsigned long long)l->self_assigned,
	    (unsigned long long)l->unassigned);
	TAILQ_FOREACH(t, &a->live, entry)
		if (t->state == TS_PENDING) {
			fprintf(f, "pending %u %u %d %s\n", t->dialogue, t->mrd,
			    t->sends, t->selector);
			n++;
		}
	fprintf(f, "end %d\n", n);
	return fflush(f) == 0 && !ferror(f) && fsync(fileno(f)) == 0 ? 0 : -1;
}

/*
 * The whole table to a new file (never through a link, mode 0600),
 * synced, renamed over the old one.  -1, logged once, if it could not be.
 */
static int
app_save(struct app *a)
{
	FILE		*f = NULL;
	int		 fd = -1, rc = -1;
	uint64_t	 t0 = mono_us();

	if (unlink(a->tmp) == -1 && errno != ENOENT)
		goto out;
	if ((fd = open(a->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600)) == -1 || (f = fdopen(fd, "w")) == NULL)
		goto out;
	fd = -1;
	if (app_write(a, f) == -1)
		goto out;
	if (fclose(f) != 0) {
		f = NULL;
		goto out;
	}
	f = NULL;
	if (rename(a->tmp, a->path) == -1)
		goto out;
	fsync(a->dirfd);
	rc = 0;
 out:
	if (rc == -1) {
		if (!a->save_failing)
			log_warn("pending table %s: cannot write it (tried "
			    "again every %d ms)", a->path, APP_SAVE_RETRY_MS);
		unlink(a->tmp);
	} else if (a->save_failing)
		log_info("pending table %s written again", a->path);
	if (f != NULL)
		fclose(f);
	if (fd != -1)
		close(fd);
	a->saves++;
	a->save_us += mono_us() - t0;
	return rc;
}

static void
app_save_cb(evutil_socket_t fd, short what, void *arg)
{
	struct app	*a = arg;
	struct timeval	 tv;

	(void)fd;
	(void)what;
	a->save_failing = app_save(a) == -1;
	if (a->save_failing) {
		ms_to_tv(APP_SAVE_RETRY_MS, &tv);
		evtimer_add(a->ev_save, &tv);
	}
}

/* Words of a line of the table: at most max, the last one the rest. */
static int
app_words(char *line, char **w, int max)
{
	int	n = 0;

	while (n < max && *line != '\0') {
		w[n++] = line;
		if (n == max)
			break;
		line += strcspn(line, " ");
		if (*line == ' ')
			*line++ = '\0';
	}
	return n;
}

static int
app_u64(const char *s, uint64_t *v)
{
	char	*end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	*v = strtoull(s, &end, 10);
	return *end != '\0' || errno != 0 ? -1 : 0;
}

/*
 * Line ln (2 and on) of the table: the DialogueIDs reserved, the ledger,
 * then the requests and the end.  -1 with why in err.
 */
static int
app_load_line(struct app *a, int ln, char *line, int *ended, int *npend,
    char *err, size_t errlen)
{
	char		*w[7];
	uint64_t	 v[6];
	int		 n, i;
	struct app_task	*t;

	/* A script selector may hold blanks: the rest of its line. */
	n = app_words(line, w, strncmp(line, "pending ", 8) == 0 ? 5 : 7);
	if (*ended) {
		snprintf(err, errlen, "a line after \"end\"");
		return -1;
	}
	if ((ln == 2) != (n > 0 && strcmp(w[0], "dialogue") == 0) ||
	    (ln == 3) != (n > 0 && strcmp(w[0], "ledger") == 0)) {
		snprintf(err, errlen, "expected the %s line", ln == 2 ?
		    "\"dialogue\"" : ln == 3 ? "\"ledger\"" : "\"pending\" or "
		    "\"end\"");
		return -1;
	}
	if (n == 2 && strcmp(w[0], "dialogue") == 0) {
		if (app_u64(w[1], &v[0]) == -1 || v[0] == 0 ||
		    v[0] > UINT32_MAX) {
			snprintf(err, errlen, "bad DialogueID \"%s\"", w[1]);
			return -1;
		}
		a->reserved = a->next_dialogue = (uint32_t)v[0];
		return 0;
	}
	if (n == 7 && strcmp(w[0], "ledger") == 0) {
		for (i = 0; i < 6; i++)
			if (app_u64(w[i + 1], &v[i]) == -1) {
				snprintf(err, errlen, "bad ledger count \"%s\"",
				    w[i + 1]);
				return -1;
			}
		a->ledger = (struct app_ledger){ v[0], v[1], v[2], v[3], v[4],
		    v[5] };
		return 0;
	}
	if (n == 5 && strcmp(w[0], "pending") == 0) {
		if (app_u64(w[1], &v[0]) == -1 || v[0] == 0 ||
		    v[0] >= a->reserved) {
			snprintf(err, errlen, "bad DialogueID \"%s\" (the "
			    "reserved ones are below %u)", w[1], a->reserved);
			return -1;
		}
		if (app_u64(w[2], &v[1]) == -1 || v[1] == 0 ||
		    v[1] > INT32_MAX || app_u64(w[3], &v[2]) == -1 ||
		    v[2] == 0 || v[2] > INT32_MAX || strlen(w[4]) > 32) {
			snprintf(err, errlen, "bad request of dialogue %s",
			    w[1]);
			return -1;
		}
		if (app_find(a, (uint32_t)v[0]) != NULL) {
			snprintf(err, errlen, "dialogue %s twice", w[1]);
			return -1;
		}
		t = app_task_new(a, (uint32_t)v[0], w[4], (uint32_t)v[1]);
		t->sends = (int)v[2];
		t->state = TS_PENDING;
		a->npending++;
		(*npend)++;
		return 0;
	}
	if (n == 2 && strcmp(w[0], "end") == 0) {
		if (app_u64(w[1], &v[0]) == -1 || v[0] != (uint64_t)*npend) {
			snprintf(err, errlen, "\"end %s\" after %d requests: "
			    "cut short or altered", w[1], *npend);
			return -1;
		}
		*ended = 1;
		return 0;
	}
	snprintf(err, errlen, "unknown line \"%.40s\"", w[0] ? w[0] : "");
	return -1;
}

/*
 * The table left by the last run: its requests pending again, the
 * ledger, the first DialogueID not reserved.  None: a first start.  -1,
 * with why in err, for one that cannot be read or is not the app's:
 * refused (the node does not start, rather than reuse ids).
 */
static int
app_load(struct app *a, char *err, size_t errlen)
{
	struct stat	 st;
	FILE		*f;
	char		*line = NULL, why[160], magic[64];
	size_t		 cap = 0;
	ssize_t		 len;
	int		 fd, ln = 0, ended = 0, npend = 0, rc = 0, version;

	if ((fd = open(a->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1) {
		if (errno == ENOENT)
			return 0;
		if (errno == ELOOP)
			snprintf(err, errlen, "pending table %s: is a symbolic "
			    "link (refused: the table is never read or "
			    "written through a link)", a->path);
		else
			snprintf(err, errlen, "pending table %s: %s", a->path,
			    strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "pending table %s: not a regular file "
		    "(refused)", a->path);
		close(fd);
		return -1;
	}
	if ((f = fdopen(fd, "r")) == NULL)
		fatal("fdopen");
	why[0] = '\0';
	while ((len = getline(&line, &cap, f)) != -1) {
		ln++;
		if (len > APP_LINE_MAX || line[len - 1] != '\n' ||
		    strlen(line) != (size_t)len) {
			snprintf(why, sizeof(why), "line too long, cut short "
			    "or not text");
			break;
		}
		line[len - 1] = '\0';
		if (ln == 1) {
			if (sscanf(line, "%63s %d", magic, &version) != 2 ||
			    strcmp(magic, APP_FILE_MAGIC) != 0 ||
			    version != APP_FILE_VERSION) {
				snprintf(why, sizeof(why), "not a pending "
				    "table of version %d (\"%s %d NODE\")",
				    APP_FILE_VERSION, APP_FILE_MAGIC,
				    APP_FILE_VERSION);
				break;
			}
			continue;
		}
		if (app_load_line(a, ln, line, &ended, &npend, why,
		    sizeof(why)) == -1)
			break;
	}
	if (why[0] == '\0' && ferror(f))
		snprintf(why, sizeof(why), "%s", strerror(errno));
	else if (why[0] == '\0' && !ended) {
		snprintf(why, sizeof(why), "no \"end\" line: cut short");
		ln++;
	}
	if (why[0] != '\0') {
		snprintf(err, errlen, "pending table %s: line %d: %s (move it "
		    "away to start with none, knowing its requests and "
		    "DialogueIDs are lost)", a->path, ln, why);
		rc = -1;
	}
	free(line);
	fclose(f);
	return rc;
}

/* A DialogueID never used: 0 if none could be reserved (logged). */
static uint32_t
app_dialogue_new(struct app *a)
{
	if (a->next_dialogue >= a->reserved) {
		if (a->next_dialogue > UINT32_MAX - APP_DIALOGUE_BLOCK) {
			log_warnx("DialogueIDs used up: no new task");
			return 0;
		}
		a->reserved = a->next_dialogue + APP_DIALOGUE_BLOCK;
		if (app_save(a) == -1) {
			a->reserved = a->next_dialogue;
			return 0;
		}
	}
	return a->next_dialogue++;
}

/* Routing latency ---------------------------------------------------- */

static int
app_lat_bucket(uint64_t us)
{
	int	e;

	if (us < 2 * APP_LAT_SUB)
		return (int)us;
	if (us > UINT32_MAX)
		us = UINT32_MAX;
	for (e = 5; (us >> (e + 1)) != 0; e++)
		;
	return 2 * APP_LAT_SUB + (e - 5) * APP_LAT_SUB +
	    (int)(us >> (e - 4)) - APP_LAT_SUB;
}

/* The lowest value of bucket i, and its width, in us. */
static uint64_t
app_lat_low(int i, uint64_t *width)
{
	int	e;

	if (i < 2 * APP_LAT_SUB) {
		*width = 1;
		return (uint64_t)i;
	}
	e = 5 + (i - 2 * APP_LAT_SUB) / APP_LAT_SUB;
	*width = 1ULL << (e - 4);
	return (uint64_t)(APP_LAT_SUB + (i - 2 * APP_LAT_SUB) % APP_LAT_SUB) <<
	    (e - 4);
}

/* A DO_THIS_WITH_TASK came us after its NEW_TASK went. */
static void
app_lat_add(struct app *a, uint64_t us)
{
	a->latency[app_lat_bucket(us)]++;
	a->latency_n++;
	if (us > a->latency_max_us)
		a->latency_max_us = us;
}

/* The q quantile in ms: the middle of its bucket (0 if none). */
static double
app_lat_quantile(const struct app *a, double q)
{
	uint64_t	want = (uint64_t)ceil(q * (double)a->latency_n), n = 0;
	uint64_t	low, width;
	int		i;

	if (want == 0)
		want = 1;
	for (i = 0; i < APP_LAT_BUCKETS; i++)
		if ((n += a->latency[i]) >= want) {
			low = app_lat_low(i, &width);
			return ((double)low + (double)(width - 1) / 2) / 1000;
		}
	return 0;
}

/*
 * The histogram in status: count, quantiles, the largest, and the
 * buckets that are not empty ([from us, below us, count]), so that a
 * reader can take the difference of two readings for a window of its
 * own.
 */
static json_t *
app_lat_json(const struct app *a)
{
	json_t		*b = json_array();
	uint64_t	 low, width;
	int		 i;

	for (i = 0; i < APP_LAT_BUCKETS; i++)
		if (a->latency[i] != 0) {
			low = app_lat_low(i, &width);
			json_array_append_new(b, json_pack("[I, I, I]",
			    (json_int_t)low, (json_int_t)(low + width),
			    (json_int_t)a->latency[i]));
		}
	return json_pack("{s:I, s:f, s:f, s:f, s:f, s:o}",
	    "count", (json_int_t)a->latency_n,
	    "p50_ms", app_lat_quantile(a, 0.50),
	    "p90_ms", app_lat_quantile(a, 0.90),
	    "p99_ms", app_lat_quantile(a, 0.99),
	    "max_ms", (double)a->latency_max_us / 1000,
	    "buckets", b);
}

/* Tasks --------------------------------------------------------------- */

/* A task's new state: the pending count, the finished ones kept. */
static void
app_set_state(struct app *a, struct app_task *t, enum app_state st)
{
	struct app_task	*old;

	if (t->state == TS_PENDING && st != TS_PENDING) {
		a->npending--;
		app_dirty(a);
	} else if (t->state != TS_PENDING && st == TS_PENDING) {
		a->npending++;
		app_dirty(a);
	}
	if (TS_DONE(st) && !TS_DONE(t->state)) {
		TAILQ_REMOVE(&a->live, t, entry);
		a->nlive--;
		TAILQ_INSERT_TAIL(&a->done, t, entry);
		a->ndone++;
		event_del(t->ev);
	}
	t->state = st;
	while (a->ndone > APP_DONE_MAX) {
		old = TAILQ_FIRST(&a->done);
		app_task_free(a, old);
	}
}

static void
app_task_timer(struct app_task *t, int ms)
{
	struct timeval	tv;

	ms_to_tv(ms < 0 ? 0 : ms, &tv);
	evtimer_add(t->ev, &tv);
}

/* One of its task messages to the ARM session (or its queue). */
static int
app_task_arm(struct app *a, struct app_task *t, uint32_t type,
    uint32_t flags)
{
	struct app_arm_msg	m;
	int			rc;

	memset(&m, 0, sizeof(m));
	m.type = type;
	m.periph = t->agent_periph;
	m.mrd = t->mrd;
	m.agent = t->agent;
	memcpy(m.task, t->task, sizeof(m.task));
	m.dialogue = t->dialogue;
	m.flags = flags;
	if ((rc = app_arm_send(a->arm, &m)) == -1)
		return -1;
	if (rc == 0) {
		/* Queued: the session is down. */
		if (t->rep == REP_NONE) {
			t->rep = REP_QUEUED;
			t->queued_open = app_arm_opens(a->arm);
		}
		t->nqueued++;
		return 0;
	}
	if (t->rep == REP_NONE || t->rep == REP_QUEUED)
		t->rep = REP_KNOWN;
	else if (t->rep == REP_INTERRUPTED)
		t->rep = REP_RESUMED;
	if (type == MSG_END_TASK_IND && t->rep == REP_KNOWN)
		t->rep = REP_ENDED;
	return 0;
}

/* The task life of the task's MRD, in seconds. */
static double
app_task_life(const struct app *a, const struct app_task *t)
{
	const struct cfg_mrd	*m = cfg_mrd(a->node->cfg, (int)t->mrd);

	return m != NULL ? (double)m->task_life : 1200.0;
}

/*
 * The ARM session is back after it was down since; what waited goes next.
 * A task the CTI server had, whose task life ran out meanwhile, was ended
 * there with 42 (R18): its report resumes with its next message (R20).
 */
static void
app_back_task(struct app *a, struct app_task *t, double since, double now)
{
	if (t->rep == REP_KNOWN && since + app_task_life(a, t) <= now)
		t->rep = REP_INTERRUPTED;
	if (t->nqueued == 0)
		return;
	t->nqueued = 0;
	if (t->rep == REP_QUEUED)
		t->rep = REP_KNOWN;
	else if (t->rep == REP_INTERRUPTED)
		t->rep = REP_RESUMED;
	if (t->rep == REP_KNOWN && t->state == TS_ENDED)
		t->rep = REP_ENDED;
}

void
app_arm_back(struct node *n, double since)
{
	struct app	*a = n->role_data;
	struct app_task	*t;
	double		 now = wall_now();

	TAILQ_FOREACH(t, &a->done, entry)
		app_back_task(a, t, since, now);
	TAILQ_FOREACH(t, &a->live, entry)
		app_back_task(a, t, since, now);
}

/* The agent lets go of the task: it is done, in state st. */
static void
app_task_finish(struct app *a, struct app_task *t, enum app_state st)
{
	if (t->state == TS_STARTED)
		app_arm_started(a->arm, t->agent, t->mrd, -1);
	app_arm_hold(a->arm, t->agent, t->mrd, -1);
	app_set_state(a, t, st);
}

/* The task started: its agent's record, its end due (from its start). */
static void
app_task_started(struct app *a, struct app_task *t)
{
	uint64_t	since = mono_ms() - t->started_ms;

	t->start_down = !a->routing;
	t->start_gen = a->gen;
	app_set_state(a, t, TS_STARTED);
	app_arm_started(a->arm, t->agent, t->mrd, 1);
	app_task_timer(t, a->node->cfg->mr.traffic.handle_time_ms -
	    (int)(since > INT32_MAX ? INT32_MAX : since));
}

/*
 * The next step of a task that lives: started after offer_ms, ended
 * after handle_time_ms (the app's own: asked for, START_APPLICATION_
 * TASK_REQ; its end says TASKF_ENDED_DOWN if routing did not come back
 * since its start).
 */
static void
app_task_cb(evutil_socket_t fd, short what, void *arg)
{
	struct app_task		*t = arg;
	struct app		*a = t->app;
	uint32_t		 flags = t->flags;

	(void)fd;
	(void)what;
	switch (t->state) {
	case TS_OFFERED:
		t->started_ms = mono_ms();
		if (t->by == BY_APP) {
			if (app_task_arm(a, t, MSG_START_APPLICATION_TASK_REQ,
			    t->flags) == -1)
				app_task_finish(a, t, TS_REFUSED);
			else
				app_set_state(a, t, TS_STARTING);
			break;
		}
		app_task_arm(a, t, MSG_START_TASK_IND, t->flags);
		app_task_started(a, t);
		break;
	case TS_STARTED:
		if (t->by == BY_APP && t->start_down &&
		    t->start_gen == a->gen && !a->routing)
			flags |= TASKF_ENDED_DOWN;
		/* Began and ended while the ARM session was down: every
		   message of it says so (R21). */
		if (t->rep == REP_QUEUED && !app_arm_up(a->arm) &&
		    t->queued_open == app_arm_opens(a->arm)) {
			flags |= TASKF_CTI_DOWN;
			app_arm_mark(a->arm, t->dialogue, TASKF_CTI_DOWN);
			t->rep = REP_LEFT_OUT;
		}
		app_task_arm(a, t, MSG_END_TASK_IND, flags);
		t->flags = flags;
		log_debug("task of dialogue %u ended (agent %u)", t->dialogue,
		    t->agent);
		app_task_finish(a, t, TS_ENDED);
		break;
	default:
		break;
	}
}

/* What the ARM session answers a request of the app's for a task. */
void
app_task_answer(struct node *n, uint32_t type, uint32_t dialogue,
    uint32_t status, const uint32_t *task)
{
	struct app	*a = n->role_data;
	struct app_task	*t = app_find(a, dialogue);
	enum app_state	 want = type == MSG_START_APPLICATION_TASK_RESP ?
	    TS_STARTING : TS_OFFERING;
	uint64_t	 since;

	if (t == NULL || (t->state != want && (type != MSG_FAILURE_RESP ||
	    (t->state != TS_OFFERING && t->state != TS_STARTING)))) {
		log_warnx("%s for dialogue %u: no request of it waits for "
		    "one (ignored)", ged_type_name(type), dialogue);
		return;
	}
	if (type == MSG_FAILURE_RESP || status != E_ARM_STAT_OK) {
		log_warnx("the CTI server refused the assignment of dialogue "
		    "%u to agent %u: %s, status %u", dialogue, t->agent,
		    ged_type_name(type), status);
		app_task_finish(a, t, TS_REFUSED);
		return;
	}
	if (t->state == TS_OFFERING) {
		memcpy(t->task, task, sizeof(t->task));
		app_set_state(a, t, TS_OFFERED);
		since = mono_ms() - t->offered_ms;
		app_task_timer(t, a->node->cfg->mr.traffic.offer_ms -
		    (int)(since > INT32_MAX ? INT32_MAX : since));
		return;
	}
	t->started_ms = mono_ms();
	app_task_started(a, t);
}

/*
 * R19: a task the resync bracket tells: live, its agent's in an email
 * MRD of the agent peripheral (offered or started; one whose offer the
 * app asked for and got no TaskID: begun while the session was down).
 */
static int
app_resyncs(const struct app *a, const struct app_task *t)
{
	const struct cfg	*cf = a->node->cfg;

	return (t->state == TS_OFFERING || t->state == TS_OFFERED ||
	    t->state == TS_STARTING || t->state == TS_STARTED) &&
	    t->agent != 0 && t->agent_periph == (uint32_t)cf->mr.agent_periph &&
	    cfg_mrd_email(cf, (int)t->mrd);
}

int
app_task_in_resync(struct node *n, uint32_t dialogue)
{
	struct app	*a = n->role_data;
	struct app_task	*t = app_find(a, dialogue);

	return t != NULL && app_resyncs(a, t);
}

/* A monotonic time as a unix second. */
static uint32_t
app_wall_of(uint64_t ms)
{
	uint64_t	now = mono_ms();

	return (uint32_t)(wall_now() - (double)(now > ms ? now - ms : 0) /
	    1000.0);
}

/*
 * R19: every task the bracket tells, oldest first: TASK_INIT_IND of one
 * with a TaskID (a start the app asked for counts as done: it goes on to
 * its end), TASK_INIT_REQ of one without (its answer gives the TaskID).
 */
void
app_resync_tasks(struct node *n)
{
	struct app		*a = n->role_data;
	struct app_task		*t;
	struct app_arm_msg	 m;
	int			 started;

	TAILQ_FOREACH(t, &a->live, entry) {
		if (!app_resyncs(a, t))
			continue;
		started = t->state == TS_STARTING || t->state == TS_STARTED;
		memset(&m, 0, sizeof(m));
		m.periph = t->agent_periph;
		m.mrd = t->mrd;
		m.agent = t->agent;
		memcpy(m.task, t->task, sizeof(m.task));
		m.dialogue = t->dialogue;
		m.flags = t->flags;
		app_arm_task_init(a->arm, &m, started,
		    app_wall_of(t->offered_ms), started ?
		    app_wall_of(t->started_ms) : 0);
		if (t->state == TS_OFFERING)
			t->resyncing = 1;
		else if (t->state == TS_STARTING)
			app_task_started(a, t);
	}
}

/*
 * The answer to a TASK_INIT_REQ (R19): its TaskID, and the task goes on
 * (its start due offer_ms after its offer); refused, it is.  0 when the
 * task of dialogue waits for no such answer.
 */
int
app_task_resynced(struct node *n, uint32_t type, uint32_t dialogue,
    uint32_t status, const uint32_t *task)
{
	struct app	*a = n->role_data;
	struct app_task	*t = app_find(a, dialogue);
	uint64_t	 since;

	if (t == NULL || !t->resyncing || (type != MSG_TASK_INIT_RESP &&
	    type != MSG_FAILURE_RESP))
		return 0;
	t->resyncing = 0;
	if (type == MSG_FAILURE_RESP || status != E_ARM_STAT_OK) {
		log_warnx("[%s] the CTI server refused the TASK_INIT_REQ of "
		    "dialogue %u (agent %u): status %u", rule_tag(RULE_R19),
		    dialogue, t->agent, status);
		app_task_finish(a, t, TS_REFUSED);
		return 1;
	}
	memcpy(t->task, task, sizeof(t->task));
	app_set_state(a, t, TS_OFFERED);
	since = mono_ms() - t->offered_ms;
	app_task_timer(t, a->node->cfg->mr.traffic.offer_ms -
	    (int)(since > INT32_MAX ? INT32_MAX : since));
	log_debug("dialogue %u resynced: task %u.%u.%u", dialogue, task[0],
	    task[1], task[2]);
	return 1;
}

/* The route of a selector: its skill group, 0 (any) if none now. */
static int
app_skill_group(struct app *a, const char *selector)
{
	const struct cfg_route	*r = cfg_route(a->node->cfg, selector);

	return r != NULL ? r->skill_group : 0;
}

/*
 * Is the outage the PIM's (it disabled routing: R16), not the MR path's
 * (lost, or none since the start: R13)?
 */
static int
app_outage_disabled(const struct app *a)
{
	return a->disabled || a->cause == CAUSE_DISABLED;
}

/*
 * The app assigns the task itself (routing off: R13, R16; or its
 * NEW_TASK failed) to an agent it knows is available in its MRD:
 * OFFER_APPLICATION_TASK_REQ now, START_APPLICATION_TASK_REQ after
 * offer_ms once the CTI server gave it its TaskID.  None available: the
 * task is failed (its NEW_TASK failed) or unassigned.
 */
static void
app_assign(struct app *a, struct app_task *t, int down)
{
	const struct cfg_mrd	*m = cfg_mrd(a->node->cfg, (int)t->mrd);
	int			 dis = app_outage_disabled(a);
	uint32_t		 agent;

	if (!a->routing && !a->assigning) {
		a->assigning = 1;
		evt_emit(dis ? RULE_R16 : RULE_R13, "app_assigning",
		    json_pack("{s:s, s:i, s:i}", "cause", dis ?
		    "routing_disabled" : "mr_path", "pending", a->npending,
		    "dialogue", (int)t->dialogue), "routing is off (%s): the "
		    "app assigns new tasks itself to the agents it knows are "
		    "available (%d request%s pending)", dis ? "disabled by the "
		    "MR PIM" : "no MR PIM routes", a->npending,
		    PL(a->npending));
	}
	/* Without an ARM session the app knows only its email MRDs (R19). */
	agent = app_arm_pick(a->arm, t->mrd, app_skill_group(a, t->selector),
	    m != NULL ? m->max_tasks : 1);
	if (agent == 0) {
		if (t->fail_code != 0)
			app_set_state(a, t, TS_FAILED);
		else {
			a->ledger.unassigned++;
			app_set_state(a, t, TS_UNASSIGNED);
			app_dirty(a);
		}
		log_debug("task of dialogue %u (MRD %u): no agent available",
		    t->dialogue, t->mrd);
		return;
	}
	t->by = BY_APP;
	t->agent = agent;
	t->agent_periph = (uint32_t)a->node->cfg->mr.agent_periph;
	t->flags = TASKF_APP_ROUTED | (down ? TASKF_ROUTING_DOWN : 0);
	t->offered_ms = mono_ms();
	app_arm_hold(a->arm, agent, t->mrd, 1);
	app_set_state(a, t, TS_OFFERING);
	if (app_task_arm(a, t, MSG_OFFER_APPLICATION_TASK_REQ,
	    t->flags) == -1) {
		app_task_finish(a, t, TS_REFUSED);
		return;
	}
	a->ledger.self_assigned++;
	app_dirty(a);
	log_debug("task of dialogue %u (MRD %u) assigned by the app to agent "
	    "%u", t->dialogue, t->mrd, agent);
	if (!a->routing)
		a->outage_assigned++;
}

/* NEW_TASK for the task to the accepted MR PIM; it is pending. */
static void
app_send_new_task(struct app *a, struct app_task *t, int resend)
{
	struct fencer_pim	*p = fencer_accepted(&a->f);
	struct wire_writer	 w;
	struct msg_task		 m;
	double			 now = wall_now();

	memset(&m, 0, sizeof(m));
	m.peripheral = (uint32_t)a->node->cfg->mr.peripheral;
	m.dialogue = t->dialogue;
	m.mrd = t->mrd;
	m.flags = resend ? TASKF_RESEND : 0;
	m.path = (uint32_t)a->node->cfg->mr.path;
	m.when = (uint32_t)now;
	m.when_ms = (uint32_t)((now - floor(now)) * 1000) % 1000;
	snprintf(m.selector, sizeof(m.selector), "%s", t->selector);
	msg_task_encode(&w, MSG_MR_NEW_TASK, &m);
	t->sent_us = mono_us();
	link_send(p->link, &w);
	t->sends++;
	a->ledger.sent++;
	if (resend)
		a->ledger.resent++;
	app_set_state(a, t, TS_PENDING);
	app_dirty(a);
}

/* A new task: routed if routing is on, else assigned by the app. */
static int
app_new_task(struct app *a, const struct cfg_route *r)
{
	struct app_task	*t;
	uint32_t	 dialogue;

	if ((dialogue = app_dialogue_new(a)) == 0)
		return -1;
	t = app_task_new(a, dialogue, r->selector, (uint32_t)r->mrd);
	if (a->routing)
		app_send_new_task(a, t, 0);
	else
		app_assign(a, t, 1);
	return 0;
}

/* A task of the traffic arrives (pace.c), of the routes in turn. */
static int
app_arrive(void *arg)
{
	struct app		*a = arg;
	const struct cfg_mr	*mr = &a->node->cfg->mr;

	if (mr->nroutes == 0)
		return -1;
	return app_new_task(a, &mr->routes[a->next_route++ % mr->nroutes]);
}

/* Routing ------------------------------------------------------------- */

/* Routing stops (if it was on) for cause: an outage begins. */
static int
app_routing_off(struct app *a, enum app_cause cause)
{
	if (!a->routing)
		return 0;
	a->routing = 0;
	a->cause = cause;
	a->assigning = 0;
	a->outage_assigned = 0;
	node_update_summary(a->node);
	return 1;
}

/*
 * A task message of the MR PIM: 1 to take it; 0 to ignore it (logged,
 * counted): not from the PIM the app obeys, with its epoch; -1, why in
 * err, if bad: of another peripheral, DO_THIS_WITH_TASK with no agent,
 * NEW_TASK_FAILURE with no failure code.
 */
static int
app_check_task(struct role_msg_in *in, const struct msg_task *m)
{
	struct app		*a = in->node->role_data;
	struct fencer_pim	*p = fencer_pim(&a->f, in->link);
	uint32_t		 type = in->msg->type;

	if (type == MSG_MR_DO_THIS_WITH_TASK && m->agent == 0) {
		snprintf(in->err, sizeof(in->err), "DO_THIS_WITH_TASK of "
		    "dialogue %u names no agent", m->dialogue);
		return -1;
	}
	if (type == MSG_MR_NEW_TASK_FAILURE && (m->code == TASK_ROUTED ||
	    m->code >= TASK_FAIL_MAX)) {
		snprintf(in->err, sizeof(in->err), "NEW_TASK_FAILURE of "
		    "dialogue %u: unknown failure code %u", m->dialogue,
		    m->code);
		return -1;
	}
	if (m->peripheral != (uint32_t)in->node->cfg->mr.peripheral) {
		snprintf(in->err, sizeof(in->err), "%s: peripheral %u is not "
		    "the MR peripheral %d", wire_type_name(in->msg->type),
		    m->peripheral, in->node->cfg->mr.peripheral);
		return -1;
	}
	if (p == NULL || !p->accepted || p->epoch != m->epoch) {
		a->stale_answers++;
		log_link_warnx(in->link, "%s of dialogue %u with epoch %u "
		    "ignored: %s", wire_type_name(in->msg->type), m->dialogue,
		    m->epoch, p == NULL || !p->accepted ? "not the accepted "
		    "MR PIM" : "not the accepted epoch");
		return 0;
	}
	return 1;
}

/*
 * An answer to a NEW_TASK: as app_check_task(), and 0 (logged, counted)
 * when its dialogue is not pending; 1 with the request in *tp.
 */
static int
app_answered(struct role_msg_in *in, const struct msg_task *m,
    struct app_task **tp)
{
	struct app	*a = in->node->role_data;
	struct app_task	*t;
	int		 rc;

	if ((rc = app_check_task(in, m)) != 1)
		return rc;
	if ((t = app_find(a, m->dialogue)) != NULL && t->state == TS_PENDING) {
		*tp = t;
		return 1;
	}
	a->unknown_answers++;
	if (t != NULL && t->sends > 1)
		log_link_info(in->link, "%s for dialogue %u: answered already "
		    "(it was sent %d times; ignored)",
		    wire_type_name(in->msg->type), m->dialogue, t->sends);
	else
		log_link_warnx(in->link, "%s for dialogue %u: no such pending "
		    "request (ignored, %llu so far)",
		    wire_type_name(in->msg->type), m->dialogue,
		    (unsigned long long)a->unknown_answers);
	return 0;
}

static int
app_msg_activate(struct role_msg_in *in, const union msg_body *b)
{
	struct app		*a = in->node->role_data;
	struct fencer_pim	*p;

	if ((p = fencer_activate(&a->f, in->link, &b->epoch,
	    (uint32_t)a->npending)) == NULL)
		return 0;
	app_routing_off(a, CAUSE_PIM);
	a->disabled = 0;
	evt_emit(RULE_R5, "pim_accepted", json_pack("{s:s, s:i, s:i}", "pim",
	    p->link->peer_node, "epoch", (int)p->epoch, "pending",
	    a->npending), "MR PIM of %s accepted (epoch %u), %d request%s "
	    "pending until it enables routing", p->link->peer_node, p->epoch,
	    a->npending, PL(a->npending));
	node_update_summary(in->node);
	return 0;
}

/* The accepted PIM is gone (R12): routing stops, requests stay. */
static void
app_path_lost(struct app *a, struct fencer_pim *p, enum app_cause cause,
    const char *why)
{
	int	was = app_routing_off(a, cause);

	a->disabled = 0;
	evt_emit(RULE_R12, "mr_path_lost", json_pack("{s:s, s:i, s:s, s:i, "
	    "s:b}", "pim", p->link->peer_node, "epoch", (int)p->epoch,
	    "reason", why, "pending", a->npending, "routing", was),
	    "MR PIM of %s (epoch %u) lost: %s; %d request%s pending, new "
	    "tasks assigned by the app", p->link->peer_node, p->epoch, why,
	    a->npending, PL(a->npending));
	node_update_summary(a->node);
}

static int
app_msg_deactivate(struct role_msg_in *in, const union msg_body *b)
{
	struct app		*a = in->node->role_data;
	struct fencer_pim	*p = fencer_pim(&a->f, in->link);

	if (fencer_release(&a->f, in->link, b->epoch.a))
		app_path_lost(a, p, CAUSE_PIM, "it released its epoch");
	return 0;
}

static void
app_link_down(struct node *n, struct link *l, const char *why)
{
	struct app		*a = n->role_data;
	struct fencer_pim	*p;

	if ((p = fencer_lost(&a->f, l)) != NULL)
		app_path_lost(a, p, CAUSE_MR_LINK, why);
}

/*
 * ROUTING_ENABLED: routing again; every pending request is sent again
 * (R14 after the MR path or the app's restart, R17 after the PIM had
 * disabled routing).
 */
static int
app_msg_enabled(struct role_msg_in *in, const union msg_body *b)
{
	struct app		*a = in->node->role_data;
	const struct msg_task	*m = &b->task;
	struct app_task		*t;
	enum app_cause		 cause = a->cause;
	int			 rc, n = 0;

	if ((rc = app_check_task(in, m)) != 1)
		return rc;
	if (a->routing) {
		log_link_debug(in->link, "ROUTING_ENABLED: routing is on");
		return 0;
	}
	a->routing = 1;
	a->disabled = 0;
	a->gen++;
	evt_emit(cause == CAUSE_NONE || cause == CAUSE_RESTART ? RULE_NONE :
	    RULE_R17, "routing_enabled", json_pack("{s:s, s:i, s:i, s:s, "
	    "s:I}", "pim", in->link->peer_node, "epoch", (int)m->epoch,
	    "pending", a->npending, "cause", app_cause_names[cause],
	    "app_assigned", (json_int_t)a->outage_assigned),
	    "routing enabled by the MR PIM of %s (epoch %u): %d request%s to "
	    "send again, %llu task%s assigned by the app meanwhile",
	    in->link->peer_node, m->epoch, a->npending, PL(a->npending),
	    (unsigned long long)a->outage_assigned, PL(a->outage_assigned));
	TAILQ_FOREACH(t, &a->live, entry)
		if (t->state == TS_PENDING) {
			app_send_new_task(a, t, 1);
			n++;
		}
	if (n > 0)
		evt_emit(cause == CAUSE_DISABLED ? RULE_R17 : RULE_R14,
		    "tasks_resent", json_pack("{s:i, s:s, s:s}", "count", n,
		    "cause", app_cause_names[cause], "pim",
		    in->link->peer_node), "%d pending NEW_TASK request%s sent "
		    "again to the MR PIM of %s (%s)", n, PL(n),
		    in->link->peer_node,
		    cause == CAUSE_DISABLED ? "routing was disabled" :
		    cause == CAUSE_RESTART ? "the app restarted" :
		    cause == CAUSE_MR_LINK ? "the MR link was lost" :
		    "the MR PIM changed");
	a->cause = CAUSE_NONE;
	node_update_summary(in->node);
	return 0;
}

/* ROUTING_DISABLED (R16): routing stops, requests stay. */
static int
app_msg_disabled(struct role_msg_in *in, const union msg_body *b)
{
	struct app		*a = in->node->role_data;
	const struct msg_task	*m = &b->task;
	int			 rc, was;

	if ((rc = app_check_task(in, m)) != 1)
		return rc;
	if (a->disabled) {
		log_link_debug(in->link, "ROUTING_DISABLED: disabled already");
		return 0;
	}
	a->disabled = 1;
	was = app_routing_off(a, CAUSE_DISABLED);
	evt_emit(RULE_R16, "routing_disabled", json_pack("{s:s, s:i, s:i, "
	    "s:b, s:s?}", "pim", in->link->peer_node, "epoch", (int)m->epoch,
	    "pending", a->npending, "routing", was, "reason",
	    m->text[0] != '\0' ? m->text : NULL), "routing disabled by the MR "
	    "PIM of %s (epoch %u)%s%s: %d request%s pending, new tasks "
	    "assigned by the app", in->link->peer_node, m->epoch,
	    m->text[0] != '\0' ? ": " : "", m->text, a->npending,
	    PL(a->npending));
	return 0;
}

/* DO_THIS_WITH_TASK: routed; the task lives on the ARM session. */
static int
app_msg_do_this(struct role_msg_in *in, const union msg_body *b)
{
	struct app		*a = in->node->role_data;
	const struct msg_task	*m = &b->task;
	struct app_task		*t;
	int			 rc;

	if ((rc = app_answered(in, m, &t)) != 1)
		return rc;
	a->ledger.routed++;
	app_lat_add(a, mono_us() - t->sent_us);
	t->by = BY_ROUTER;
	t->agent = m->agent;
	t->agent_periph = m->agent_periph;
	memcpy(t->task, m->task, sizeof(t->task));
	t->flags = 0;
	t->offered_ms = mono_ms();
	app_arm_hold(a->arm, t->agent, t->mrd, 1);
	app_set_state(a, t, TS_OFFERED);
	app_task_arm(a, t, MSG_OFFER_TASK_IND, 0);
	app_task_timer(t, a->node->cfg->mr.traffic.offer_ms);
	log_link_debug(in->link, "dialogue %u routed to agent %u (task "
	    "%u.%u.%u)", t->dialogue, t->agent, t->task[0], t->task[1],
	    t->task[2]);
	return 0;
}

/*
 * NEW_TASK_FAILURE: not routed.  The app assigns the task itself if an
 * agent is available, else it fails for good.
 */
static int
app_msg_failure(struct role_msg_in *in, const union msg_body *b)
{
	struct app		*a = in->node->role_data;
	const struct msg_task	*m = &b->task;
	struct app_task		*t;
	int			 rc, down;

	if ((rc = app_answered(in, m, &t)) != 1)
		return rc;
	a->ledger.failed++;
	t->fail_code = m->code;
	down = m->code == TASK_FAIL_ROUTING_DOWN;
	app_set_state(a, t, TS_NEW);
	evt_emit(down ? RULE_R16 : RULE_NONE, "new_task_failed",
	    json_pack("{s:i, s:s, s:i, s:s}", "dialogue", (int)m->dialogue,
	    "selector", t->selector, "code", (int)m->code, "reason", m->text),
	    "NEW_TASK of dialogue %u failed: code %u%s%s", m->dialogue,
	    m->code, m->text[0] != '\0' ? ", " : "", m->text);
	app_assign(a, t, down || !a->routing);
	return 0;
}

/* Commands ------------------------------------------------------------ */

/*
 * What becomes of the task's report (R18, R20, R21): "reporting", its
 * task life left while the session is down, and in words.
 */
static void
app_rep_json(const struct app *a, const struct app_task *t, json_t *j)
{
	double		 since = app_arm_down_since(a->arm), left = 0;
	enum app_rep	 rep = t->rep;
	const char	*what;
	char		 buf[200];

	if (rep == REP_KNOWN && since != 0) {
		left = since + app_task_life(a, t) - wall_now();
		if (left <= 0)
			rep = REP_INTERRUPTED;
	}
	switch (rep) {
	case REP_QUEUED:
		what = "began while the ARM session is down: reported when it "
		    "is back, left out of reports (R21) if it ends first";
		break;
	case REP_KNOWN:
		if (since == 0)
			what = "reported; should the ARM session go, the CTI "
			    "server keeps it for its MRD's task life (R18)";
		else {
			snprintf(buf, sizeof(buf), "the ARM session is down: "
			    "the CTI server keeps it %.1f s more, then ends it "
			    "with disposition 42 (R18)", left);
			what = buf;
		}
		break;
	case REP_ENDED:
		what = "its end reported: Termination_Call_Detail";
		break;
	case REP_INTERRUPTED:
		what = "its task life ran out while the ARM session was down: "
		    "ended with disposition 42 (R18); its report resumes with "
		    "its next message (R20)";
		break;
	case REP_RESUMED:
		what = "its report resumed (R20): a Termination_Call_Detail "
		    "row of its second segment besides the first's 42";
		break;
	case REP_LEFT_OUT:
		what = "began and ended while the ARM session was down: left "
		    "out of reports (R21)";
		break;
	default:
		what = "not on the ARM session";
		break;
	}
	json_object_set_new(j, "reporting", json_string(app_rep_names[rep]));
	json_object_set_new(j, "life_left_s", t->rep == REP_KNOWN &&
	    since != 0 ? json_real(left > 0 ? left : 0) : json_null());
	json_object_set_new(j, "reporting_fate", json_string(what));
}

static json_t *
app_task_json(const struct app *a, const struct app_task *t)
{
	const char	*fate;
	json_t		*j;

	if (t->by == BY_ROUTER)
		fate = "routed";
	else if (t->fail_code != 0)
		fate = "failed";
	else if (t->state == TS_PENDING)
		fate = "pending";
	else
		fate = "not_sent";
	j = json_pack("{s:i, s:s, s:i, s:s, s:s, s:o, s:o, s:i, s:s, "
	    "s:o, s:i, s:f}",
	    "dialogue", (int)t->dialogue,
	    "selector", t->selector,
	    "mrd", (int)t->mrd,
	    "state", app_state_names[t->state],
	    "assigned", app_by_names[t->by],
	    "agent", t->agent != 0 ? json_integer(t->agent) : json_null(),
	    "task", t->by != BY_NONE && t->state != TS_OFFERING ?
	    json_pack("[i, i, i]", (int)t->task[0], (int)t->task[1],
	    (int)t->task[2]) : json_null(),
	    "sends", t->sends,
	    "fate", fate,
	    "failure", t->fail_code != 0 ? json_integer(t->fail_code) :
	    json_null(),
	    "flags", (int)t->flags,
	    "age", wall_now() - t->created);
	app_rep_json(a, t, j);
	return j;
}

/* tasks: every task; pending: the requests of the pending table. */
static int
app_cmd_tasks(struct node *n, int argc, const char **argv,
    struct ctl_cmd_result *res)
{
	struct app	*a = n->role_data;
	struct app_task	*t;
	int		 pending = strcmp(argv[0], "pending") == 0;

	(void)argc;
	res->data = json_array();
	TAILQ_FOREACH(t, &a->done, entry)
		if (!pending)
			json_array_append_new(res->data, app_task_json(a, t));
	TAILQ_FOREACH(t, &a->live, entry)
		if (!pending)
			json_array_append_new(res->data, app_task_json(a, t));
		else if (t->state == TS_PENDING)
			json_array_append_new(res->data, json_pack("{s:i, s:s, "
			    "s:i, s:i, s:f}", "dialogue", (int)t->dialogue,
			    "selector", t->selector, "mrd", (int)t->mrd,
			    "sends", t->sends, "age",
			    wall_now() - t->created));
	return 0;
}

/* traffic on|off, traffic rate N */
static int
app_cmd_traffic(struct node *n, int argc, const char **argv,
    struct ctl_cmd_result *res)
{
	struct app	*a = n->role_data;

	return pace_cmd(&a->pace, argc, argv, APP_TRAFFIC_MAX_RATE, "tasks",
	    "tasks_per_second", res);
}

/* new-task SELECTOR [COUNT] */
static int
app_cmd_new_task(struct node *n, int argc, const char **argv,
    struct ctl_cmd_result *res)
{
	struct app		*a = n->role_data;
	const struct cfg_mr	*mr = &n->cfg->mr;
	const struct cfg_route	*r;
	uint32_t		 first = 0;
	long			 count = 1, i;
	size_t			 o;
	int			 k;

	if ((r = cfg_route(n->cfg, argv[1])) == NULL) {
		o = (size_t)snprintf(res->err, sizeof(res->err), "no route "
		    "for selector \"%s\"; selectors:", argv[1]);
		for (k = 0; k < mr->nroutes && o < sizeof(res->err); k++)
			o += (size_t)snprintf(res->err + o, sizeof(res->err) -
			    o, " %s", mr->routes[k].selector);
		return -1;
	}
	if (argc == 3 && parse_int(argv[2], 1, APP_NEW_TASK_MAX,
	    &count) == -1) {
		snprintf(res->err, sizeof(res->err), "bad count \"%s\" (1 to "
		    "%d)", argv[2], APP_NEW_TASK_MAX);
		return -1;
	}
	for (i = 0; i < count; i++) {
		if (app_new_task(a, r) == -1) {
			snprintf(res->err, sizeof(res->err), "%ld of %ld tasks "
			    "made: no DialogueID (the pending table cannot be "
			    "written, see the log)", i, count);
			return -1;
		}
		if (i == 0)
			first = a->next_dialogue - 1;
	}
	res->data = json_pack("{s:s, s:i, s:i, s:i, s:b}", "selector",
	    r->selector, "mrd", r->mrd, "count", (int)count, "first_dialogue",
	    (int)first, "routing", a->routing);
	return 0;
}

static json_t *
app_ledger_json(const struct app *a)
{
	const struct app_ledger	*l = &a->ledger;

	return json_pack("{s:I, s:I, s:I, s:I, s:i, s:I, s:I, s:b}",
	    "sent", (json_int_t)l->sent,
	    "routed", (json_int_t)l->routed,
	    "failed", (json_int_t)l->failed,
	    "resent", (json_int_t)l->resent,
	    "pending", a->npending,
	    "self_assigned", (json_int_t)l->self_assigned,
	    "unassigned", (json_int_t)l->unassigned,
	    "balanced", l->sent == l->routed + l->failed + l->resent +
	    (uint64_t)a->npending);
}

static void
app_status(struct node *n, json_t *j)
{
	struct app	*a = n->role_data;
	json_t		*o;

	o = json_pack("{s:i, s:b, s:b, s:s, s:o, s:o, s:o, s:{s:b, s:f}, "
	    "s:i, s:i, s:I, s:I, s:i, s:s, s:I, s:f}",
	    "mr_peripheral", n->cfg->mr.peripheral,
	    "routing", a->routing,
	    "disabled", a->disabled,
	    "outage_cause", app_cause_names[a->cause],
	    "ledger", app_ledger_json(a),
	    "latency", app_lat_json(a),
	    "arm", app_arm_json(a->arm),
	    "traffic", "on", a->pace.on, "tasks_per_second", a->pace.rate,
	    "tasks_live", a->nlive,
	    "tasks_done", a->ndone,
	    "unknown_answers", (json_int_t)a->unknown_answers,
	    "stale_answers", (json_int_t)a->stale_answers,
	    "next_dialogue", (int)a->next_dialogue,
	    "pending_table", a->path,
	    "table_writes", (json_int_t)a->saves,
	    "table_write_ms", (double)a->save_us / 1000);
	fencer_json(&a->f, o);
	json_object_set_new(j, "app", o);
}

static void
app_summary(struct node *n, char *buf, size_t len)
{
	struct app		*a = n->role_data;
	struct fencer_pim	*p;
	const char		*s;

	if (a == NULL)
		return;
	p = fencer_accepted(&a->f);
	s = a->arm != NULL ? app_arm_server(a->arm) : NULL;
	snprintf(buf, len, "app: %s%s, routing %s, %d pending, ARM %s%s",
	    p != NULL ? "MR PIM of " : "no MR PIM",
	    p != NULL ? p->link->peer_node : "", a->routing ? "on" : "off",
	    a->npending,
	    s != NULL ? "session with " : "session down", s != NULL ? s : "");
}

/* Start and stop ------------------------------------------------------ */

static int
app_init(struct node *n, char *err, size_t errlen)
{
	struct app		*a = xcalloc(1, sizeof(*a));
	const struct cfg	*cf = n->cfg;
	const struct cfg_node	*side;
	int			 i;

	a->node = n;
	n->role_data = a;
	a->dirfd = -1;
	TAILQ_INIT(&a->live);
	TAILQ_INIT(&a->done);
	a->nbuckets = 64;
	a->buckets = xcalloc(a->nbuckets, sizeof(*a->buckets));
	a->next_dialogue = a->reserved = 1;
	a->f.fence.peripheral = (uint32_t)cf->mr.peripheral;
	pace_init(&a->pace, n->base, cf->mr.traffic.seed, app_arrive, a);
	a->ev_save = event_new(n->base, -1, 0, app_save_cb, a);
	snprintf(a->path, sizeof(a->path), "%s/%s.pending", cf->state_dir,
	    n->self->name);
	snprintf(a->tmp, sizeof(a->tmp), "%s.new", a->path);
	if ((a->dirfd = open(cf->state_dir, O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "state directory %s: %s", cf->state_dir,
		    strerror(errno));
		return -1;
	}
	if (app_load(a, err, errlen) == -1)
		return -1;
	if (a->npending > 0) {
		a->cause = CAUSE_RESTART;
		log_info("pending table %s: %d request%s pending, sent again "
		    "once an MR PIM enables routing (R14)", a->path,
		    a->npending, PL(a->npending));
	}
	if (a->ledger.sent != a->ledger.routed + a->ledger.failed +
	    a->ledger.resent + (uint64_t)a->npending)
		log_warnx("pending table %s: its ledger does not balance "
		    "(sent %llu, routed %llu, failed %llu, resent %llu, "
		    "pending %d)", a->path,
		    (unsigned long long)a->ledger.sent,
		    (unsigned long long)a->ledger.routed,
		    (unsigned long long)a->ledger.failed,
		    (unsigned long long)a->ledger.resent, a->npending);
	for (i = 0; i < 2; i++) {
		if ((side = cfg_node_role(cf, ROLE_PG, "AB"[i])) == NULL) {
			snprintf(err, errlen, "the lab has no pg node of side "
			    "%c for the MR PIM", "AB"[i]);
			return -1;
		}
		a->f.pims[i].link = node_new_link(n, side->name, side,
		    LINK_KIND_MR, 0);
	}
	a->arm = app_arm_new(n);
	if (node_listen(n, "mr", n->self->port, err, errlen) == -1)
		return -1;
	pace_set(&a->pace, cf->mr.traffic.enabled,
	    cf->mr.traffic.tasks_per_second);
	return 0;
}

/* Also after an init that failed half way: what was not made is NULL. */
static void
app_fini(struct node *n)
{
	struct app	*a = n->role_data;
	struct app_task	*t;

	/* What this last turn changed. */
	if (a->ev_save != NULL && event_pending(a->ev_save, EV_TIMEOUT, NULL))
		app_save(a);
	while ((t = TAILQ_FIRST(&a->live)) != NULL)
		app_task_free(a, t);
	while ((t = TAILQ_FIRST(&a->done)) != NULL)
		app_task_free(a, t);
	free(a->buckets);
	app_arm_free(a->arm);
	if (a->ev_save != NULL)
		event_free(a->ev_save);
	pace_free(&a->pace);
	if (a->dirfd != -1)
		close(a->dirfd);
	free(a);
	n->role_data = NULL;
}

static const struct cmd app_cmds[] = {
	{ "pending", "", 0, 0, app_cmd_tasks,
	  "the pending table: NEW_TASK requests not answered yet" },
	{ "tasks", "", 0, 0, app_cmd_tasks,
	  "every task: dialogue, MRD, agent, state, TaskID, who assigned it, "
	  "what became of its NEW_TASK" },
	{ "traffic", "on|off", 1, 1, app_cmd_traffic,
	  "the simulated tasks" },
	{ "traffic", "rate N", 2, 2, app_cmd_traffic,
	  "new tasks a second of the simulated traffic, live" },
	{ "new-task", "SELECTOR [COUNT]", 1, 2, app_cmd_new_task,
	  "new tasks by hand, routed (or assigned) as the traffic's" },
	{ NULL, NULL, 0, 0, NULL, NULL }
};

static const struct role_msg app_msgs[] = {
	{ MSG_PIM_ACTIVATE, LINK_KIND_MR, msg_epoch_body, app_msg_activate },
	{ MSG_PIM_DEACTIVATE, LINK_KIND_MR, msg_epoch_body,
	  app_msg_deactivate },
	{ MSG_MR_ROUTING_ENABLED, LINK_KIND_MR, msg_task_body,
	  app_msg_enabled },
	{ MSG_MR_ROUTING_DISABLED, LINK_KIND_MR, msg_task_body,
	  app_msg_disabled },
	{ MSG_MR_DO_THIS_WITH_TASK, LINK_KIND_MR, msg_task_body,
	  app_msg_do_this },
	{ MSG_MR_NEW_TASK_FAILURE, LINK_KIND_MR, msg_task_body,
	  app_msg_failure },
	{ 0, 0, NULL, NULL }
};

const struct role_ops app_ops = {
	.init = app_init,
	.fini = app_fini,
	.cmds = app_cmds,
	.msgs = app_msgs,
	.status = app_status,
	.link_down = app_link_down,
	.summary = app_summary,
};
