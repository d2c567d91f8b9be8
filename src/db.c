/*
 * The router's history database (SQLite).  Tables use the product's names
 * and columns where they exist; pgemu's own tables are prefixed pgemu_.
 *
 *   Agent_Interval      one row per agent and interval, exactly once
 *   Agent_Logout        one row per login session, with ReasonCode
 *   Agent_Event_Detail  logins (Event 1), logouts (2), not ready (3)
 *   pgemu_discard       every loss of reporting data: what, how much, rule
 *   pgemu_activation    every grant of a PIM activation (epoch, side, why)
 *   pgemu_meta          the highest epoch ever granted, across restarts
 *
 * Writes go in transactions; SkillTargetID is the agent's peripheral
 * number (the lab has no separate skill target ids).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "pgemu.h"
#include "wire.h"

/* A login-session row waiting to be written (write-behind). */
struct db_op {
	int		 logout;	/* Agent_Logout too */
	uint32_t	 peripheral, agent;
	double		 t, login, duration;
	int		 event, state;
	int32_t		 reason;
	const char	*rule;		/* static strings only */
};

#define DB_FLUSH_QUIET_MS	20	/* write once the burst is over */
#define DB_FLUSH_MAX_MS		1000	/* ... but never later than this */

struct db {
	sqlite3		*h;
	struct db_op	*ops;
	size_t		 nops, cap;
	uint64_t	 first_op_ms;
	struct event	*ev_flush;
	sqlite3_stmt	*ins_interval, *ins_logout, *ins_event, *ins_discard,
			*ins_activation, *set_meta, *get_meta;
	int		 in_tx;
	int		 opening;	/* db_open() runs */
	char		 open_err[200];
};

static void	db_flush_cb(evutil_socket_t, short, void *);

static const char *const db_schema =
	"PRAGMA journal_mode=WAL;"
	"PRAGMA synchronous=NORMAL;"
	"CREATE TABLE IF NOT EXISTS Agent_Interval ("
	" DateTime TEXT NOT NULL, SkillTargetID INTEGER NOT NULL,"
	" TimeZone INTEGER NOT NULL DEFAULT 0, PeripheralID INTEGER NOT NULL,"
	" LoggedOnTime INTEGER, AvailTime INTEGER, NotReadyTime INTEGER,"
	" ReservedStateTime INTEGER, TalkTime INTEGER, WorkReadyTime INTEGER,"
	" WorkNotReadyTime INTEGER, CallsHandled INTEGER,"
	" IntervalLength INTEGER, Incomplete INTEGER NOT NULL DEFAULT 0,"
	" PGSide TEXT, Epoch INTEGER, Seq INTEGER, RecordedAt TEXT,"
	" PRIMARY KEY (DateTime, SkillTargetID, TimeZone));"
	"CREATE TABLE IF NOT EXISTS Agent_Logout ("
	" LogoutDateTime TEXT NOT NULL, SkillTargetID INTEGER NOT NULL,"
	" MRDomainID INTEGER NOT NULL DEFAULT 1,"
	" TimeZone INTEGER NOT NULL DEFAULT 0, PeripheralID INTEGER,"
	" LoginDateTime TEXT, LoginDuration INTEGER, ReasonCode INTEGER,"
	" Rule TEXT);"
	"CREATE TABLE IF NOT EXISTS Agent_Event_Detail ("
	" DateTime TEXT NOT NULL, SkillTargetID INTEGER NOT NULL,"
	" MRDomainID INTEGER NOT NULL DEFAULT 1,"
	" TimeZone INTEGER NOT NULL DEFAULT 0, PeripheralID INTEGER,"
	" LoginDateTime TEXT, Event INTEGER, AgentState INTEGER,"
	" ReasonCode INTEGER, Duration INTEGER, Rule TEXT);"
	"CREATE TABLE IF NOT EXISTS pgemu_discard ("
	" id INTEGER PRIMARY KEY, DateTime TEXT, PeripheralID INTEGER,"
	" IntervalDateTime TEXT, Intervals INTEGER, Rows INTEGER,"
	" Rule TEXT, PGSide TEXT, Reason TEXT);"
	"CREATE TABLE IF NOT EXISTS pgemu_activation ("
	" id INTEGER PRIMARY KEY, DateTime TEXT, PeripheralID INTEGER,"
	" PGSide TEXT, Epoch INTEGER, Reason TEXT);"
	"CREATE TABLE IF NOT EXISTS pgemu_meta ("
	" key TEXT PRIMARY KEY, value INTEGER);";

/* Timestamps as the product's reports show them: UTC, milliseconds. */
static void
db_time(double t, char *buf, size_t len)
{
	static double	last = -1;
	static char	cached[40];
	time_t		secs = (time_t)t;
	struct tm	tm;
	char		b[32];

	if (t != last) {	/* a batch of rows shares one time */
		gmtime_r(&secs, &tm);
		strftime(b, sizeof(b), "%Y-%m-%d %H:%M:%S", &tm);
		snprintf(cached, sizeof(cached), "%s.%03d", b,
		    (int)((t - (double)secs) * 1000));
		last = t;
	}
	snprintf(buf, len, "%s", cached);
}

/* While db_open() runs, a statement that fails is its error, not fatal. */
static sqlite3_stmt *
db_prepare(struct db *db, const char *sql)
{
	sqlite3_stmt	*st;

	if (sqlite3_prepare_v2(db->h, sql, -1, &st, NULL) != SQLITE_OK) {
		if (!db->opening)
			fatalx("history database: %s: %s", sql,
			    sqlite3_errmsg(db->h));
		if (db->open_err[0] == '\0')
			snprintf(db->open_err, sizeof(db->open_err), "%s "
			    "(a database of another program or version?)",
			    sqlite3_errmsg(db->h));
		return NULL;
	}
	return st;
}

/*
 * Why the database cannot be used, in words: SQLite's message, the
 * system's when there is one, and what to do about a file that is not
 * a database.
 */
static void
db_open_error(struct db *db, const char *path, const char *what, char *err,
    size_t errlen)
{
	int	rc = sqlite3_extended_errcode(db->h);
	int	sys = sqlite3_system_errno(db->h);

	if ((rc & 0xff) == SQLITE_NOTADB || (rc & 0xff) == SQLITE_CORRUPT)
		snprintf(err, errlen, "history database %s: %s (damaged, or "
		    "not SQLite: move it aside and the router starts a new "
		    "one)", path, what);
	else if ((rc & 0xff) == SQLITE_READONLY)
		snprintf(err, errlen, "history database %s: %s (the file is "
		    "not writable by this process)", path, what);
	else if (sys != 0 && (rc & 0xff) != SQLITE_BUSY)
		snprintf(err, errlen, "history database %s: %s: %s", path,
		    what, strerror(sys));
	else
		snprintf(err, errlen, "history database %s: %s", path, what);
}

/* The history database, made if it is new; NULL and why if unusable. */
struct db *
db_open(struct event_base *base, const char *path, char *err, size_t errlen)
{
	struct db	*db = xcalloc(1, sizeof(*db));
	char		*msg = NULL;

	db->opening = 1;
	db->ev_flush = evtimer_new(base, db_flush_cb, db);
	if (sqlite3_open(path, &db->h) != SQLITE_OK) {
		db_open_error(db, path, sqlite3_errmsg(db->h), err, errlen);
		goto fail;
	}
	sqlite3_busy_timeout(db->h, 5000);
	if (sqlite3_exec(db->h, db_schema, NULL, NULL, &msg) != SQLITE_OK) {
		db_open_error(db, path, msg ? msg : sqlite3_errmsg(db->h), err,
		    errlen);
		sqlite3_free(msg);
		goto fail;
	}
	/* SQLite opens a file it may not write read-only, in silence. */
	if (sqlite3_db_readonly(db->h, "main") == 1) {
		snprintf(err, errlen, "history database %s: the file is "
		    "read-only to this process", path);
		goto fail;
	}
	if (sqlite3_exec(db->h, "BEGIN IMMEDIATE; COMMIT;", NULL, NULL,
	    &msg) != SQLITE_OK) {
		db_open_error(db, path, msg ? msg : sqlite3_errmsg(db->h), err,
		    errlen);
		sqlite3_free(msg);
		goto fail;
	}
	db->ins_interval = db_prepare(db, "INSERT OR IGNORE INTO Agent_Interval"
	    " (DateTime, SkillTargetID, PeripheralID, LoggedOnTime, AvailTime,"
	    " NotReadyTime, ReservedStateTime, TalkTime, WorkReadyTime,"
	    " WorkNotReadyTime, CallsHandled, IntervalLength, Incomplete,"
	    " PGSide, Epoch, Seq, RecordedAt) VALUES"
	    " (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
	db->ins_logout = db_prepare(db, "INSERT INTO Agent_Logout"
	    " (LogoutDateTime, SkillTargetID, PeripheralID, LoginDateTime,"
	    " LoginDuration, ReasonCode, Rule) VALUES (?,?,?,?,?,?,?)");
	db->ins_event = db_prepare(db, "INSERT INTO Agent_Event_Detail"
	    " (DateTime, SkillTargetID, PeripheralID, LoginDateTime, Event,"
	    " AgentState, ReasonCode, Duration, Rule) VALUES"
	    " (?,?,?,?,?,?,?,?,?)");
	db->ins_discard = db_prepare(db, "INSERT INTO pgemu_discard"
	    " (DateTime, PeripheralID, IntervalDateTime, Intervals, Rows,"
	    " Rule, PGSide, Reason) VALUES (?,?,?,?,?,?,?,?)");
	db->ins_activation = db_prepare(db, "INSERT INTO pgemu_activation"
	    " (DateTime, PeripheralID, PGSide, Epoch, Reason) VALUES"
	    " (?,?,?,?,?)");
	db->set_meta = db_prepare(db, "INSERT OR REPLACE INTO pgemu_meta"
	    " (key, value) VALUES (?,?)");
	db->get_meta = db_prepare(db, "SELECT value FROM pgemu_meta WHERE"
	    " key = ?");
	if (db->open_err[0] != '\0') {
		snprintf(err, errlen, "history database %s: %s", path,
		    db->open_err);
		goto fail;
	}
	db->opening = 0;
	return db;

fail:
	db->opening = 0;
	db_close(db);
	return NULL;
}

void
db_close(struct db *db)
{
	if (db == NULL)
		return;
	db_flush(db);
	event_free(db->ev_flush);
	free(db->ops);
	if (db->in_tx)
		db_commit(db);
	sqlite3_finalize(db->ins_interval);
	sqlite3_finalize(db->ins_logout);
	sqlite3_finalize(db->ins_event);
	sqlite3_finalize(db->ins_discard);
	sqlite3_finalize(db->ins_activation);
	sqlite3_finalize(db->set_meta);
	sqlite3_finalize(db->get_meta);
	sqlite3_close(db->h);
	free(db);
}

static void
db_step(struct db *db, sqlite3_stmt *st)
{
	int	rc = sqlite3_step(st);

	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		log_warnx("history database: %s", sqlite3_errmsg(db->h));
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

void
db_begin(struct db *db)
{
	if (db->in_tx++ == 0)
		sqlite3_exec(db->h, "BEGIN", NULL, NULL, NULL);
}

void
db_commit(struct db *db)
{
	if (db->in_tx > 0 && --db->in_tx == 0 &&
	    sqlite3_exec(db->h, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		log_warnx("history database: commit: %s",
		    sqlite3_errmsg(db->h));
}

static void
bind_time(sqlite3_stmt *st, int col, double t)
{
	char	buf[40];

	if (t <= 0) {
		sqlite3_bind_null(st, col);
		return;
	}
	db_time(t, buf, sizeof(buf));
	sqlite3_bind_text(st, col, buf, -1, SQLITE_TRANSIENT);
}

/* One interval row; 1 if stored, 0 if it was there already. */
int
db_interval(struct db *db, const struct msg_interval *iv, uint32_t agent,
    const uint32_t *f, double now)
{
	sqlite3_stmt	*st = db->ins_interval;
	char		 side[2] = { (char)iv->side, '\0' };
	int		 i;

	bind_time(st, 1, iv->start);
	sqlite3_bind_int64(st, 2, agent);
	sqlite3_bind_int64(st, 3, iv->peripheral);
	/* Durations in seconds, as the product stores them. */
	for (i = 0; i < IVL_CALLS; i++)
		sqlite3_bind_int64(st, 4 + i, (f[i] + 500) / 1000);
	sqlite3_bind_int64(st, 4 + IVL_CALLS, f[IVL_CALLS]);
	sqlite3_bind_int64(st, 12, iv->length);
	sqlite3_bind_int(st, 13, iv->incomplete);
	sqlite3_bind_text(st, 14, side, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 15, iv->epoch);
	sqlite3_bind_int64(st, 16, iv->seq);
	bind_time(st, 17, now);
	db_step(db, st);
	return sqlite3_changes(db->h) > 0;
}

static void
db_write_event(struct db *db, const struct db_op *op)
{
	sqlite3_stmt	*st = db->ins_event;

	bind_time(st, 1, op->t);
	sqlite3_bind_int64(st, 2, op->agent);
	sqlite3_bind_int64(st, 3, op->peripheral);
	bind_time(st, 4, op->login);
	sqlite3_bind_int(st, 5, op->event);
	sqlite3_bind_int(st, 6, agent_state_db(op->state));
	sqlite3_bind_int(st, 7, op->reason);
	sqlite3_bind_int64(st, 8, (int64_t)op->duration);
	if (op->rule != NULL)
		sqlite3_bind_text(st, 9, op->rule, -1, SQLITE_STATIC);
	db_step(db, st);
}

static void
db_write_logout(struct db *db, const struct db_op *op)
{
	sqlite3_stmt	*st = db->ins_logout;

	bind_time(st, 1, op->t);
	sqlite3_bind_int64(st, 2, op->agent);
	sqlite3_bind_int64(st, 3, op->peripheral);
	bind_time(st, 4, op->login);
	sqlite3_bind_int64(st, 5, (int64_t)op->duration);
	sqlite3_bind_int(st, 6, op->reason);
	if (op->rule != NULL)
		sqlite3_bind_text(st, 7, op->rule, -1, SQLITE_STATIC);
	db_step(db, st);
}

/* Write every queued row in one transaction. */
void
db_flush(struct db *db)
{
	size_t	i;

	if (db->nops == 0)
		return;
	event_del(db->ev_flush);
	db_begin(db);
	for (i = 0; i < db->nops; i++) {
		if (db->ops[i].logout)
			db_write_logout(db, &db->ops[i]);
		db_write_event(db, &db->ops[i]);
	}
	db_commit(db);
	log_debug("history database: %zu session rows written", db->nops);
	db->nops = 0;
}

static void
db_flush_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	db_flush(arg);
}

/*
 * Queue a row.  Rows are written once a burst is over (a failover logs
 * out and back in every agent at once), so the real-time path never waits
 * for the disk: the product's Logger, too, writes behind the CallRouter.
 */
static void
db_queue(struct db *db, const struct db_op *op)
{
	struct timeval	tv;
	uint64_t	now = mono_ms();
	int		ms = DB_FLUSH_QUIET_MS;

	if (db->nops == db->cap) {
		db->cap = db->cap ? db->cap * 2 : 1024;
		db->ops = xreallocarray(db->ops, db->cap, sizeof(*db->ops));
	}
	if (db->nops == 0)
		db->first_op_ms = now;
	db->ops[db->nops++] = *op;
	if (now - db->first_op_ms + (uint64_t)ms > DB_FLUSH_MAX_MS)
		ms = (int)(DB_FLUSH_MAX_MS - (int)(now - db->first_op_ms));
	if (ms < 0)
		ms = 0;
	ms_to_tv(ms, &tv);
	evtimer_add(db->ev_flush, &tv);
}

void
db_logout(struct db *db, uint32_t peripheral, uint32_t agent, double login,
    double logout, int32_t reason, const char *rule)
{
	struct db_op	op;

	memset(&op, 0, sizeof(op));
	op.logout = 1;
	op.peripheral = peripheral;
	op.agent = agent;
	op.t = logout;
	op.login = login;
	op.duration = login > 0 ? logout - login : 0;
	op.event = DB_EVENT_LOGOUT;
	op.state = AS_LOGOUT;
	op.reason = reason;
	op.rule = rule;
	db_queue(db, &op);
}

void
db_event(struct db *db, uint32_t peripheral, uint32_t agent, double t,
    double login, int event, int state, int32_t reason, double duration,
    const char *rule)
{
	struct db_op	op;

	memset(&op, 0, sizeof(op));
	op.peripheral = peripheral;
	op.agent = agent;
	op.t = t;
	op.login = login;
	op.duration = duration;
	op.event = event;
	op.state = state;
	op.reason = reason;
	op.rule = rule;
	db_queue(db, &op);
}

void
db_discard(struct db *db, uint32_t peripheral, double interval,
    uint32_t intervals, uint32_t rows, const char *rule, char side,
    const char *reason)
{
	sqlite3_stmt	*st = db->ins_discard;
	char		 s[2] = { side, '\0' };

	bind_time(st, 1, wall_now());
	sqlite3_bind_int64(st, 2, peripheral);
	bind_time(st, 3, interval);
	sqlite3_bind_int64(st, 4, intervals);
	sqlite3_bind_int64(st, 5, rows);
	sqlite3_bind_text(st, 6, rule, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 7, s, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 8, reason, -1, SQLITE_TRANSIENT);
	db_step(db, st);
}

void
db_activation(struct db *db, uint32_t peripheral, char side, uint32_t epoch,
    const char *reason)
{
	sqlite3_stmt	*st = db->ins_activation;
	char		 s[2] = { side, '\0' };

	bind_time(st, 1, wall_now());
	sqlite3_bind_int64(st, 2, peripheral);
	sqlite3_bind_text(st, 3, s, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 4, epoch);
	sqlite3_bind_text(st, 5, reason, -1, SQLITE_TRANSIENT);
	db_step(db, st);
}

void
db_set_meta(struct db *db, const char *key, int64_t v)
{
	sqlite3_bind_text(db->set_meta, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(db->set_meta, 2, v);
	db_step(db, db->set_meta);
}

int64_t
db_get_meta(struct db *db, const char *key, int64_t def)
{
	int64_t	v = def;

	sqlite3_bind_text(db->get_meta, 1, key, -1, SQLITE_STATIC);
	if (sqlite3_step(db->get_meta) == SQLITE_ROW)
		v = sqlite3_column_int64(db->get_meta, 0);
	sqlite3_reset(db->get_meta);
	sqlite3_clear_bindings(db->get_meta);
	return v;
}

/* Rows of Agent_Interval, newest first, for `router intervals`. */
json_t *
db_intervals(struct db *db, int limit)
{
	sqlite3_stmt	*st;
	json_t		*a = json_array();

	st = db_prepare(db, "SELECT DateTime, SkillTargetID, PeripheralID,"
	    " LoggedOnTime, AvailTime, NotReadyTime, ReservedStateTime,"
	    " TalkTime, WorkReadyTime, WorkNotReadyTime, CallsHandled,"
	    " IntervalLength, Incomplete, PGSide, Epoch FROM Agent_Interval"
	    " ORDER BY DateTime DESC, SkillTargetID LIMIT ?");
	sqlite3_bind_int(st, 1, limit);
	while (sqlite3_step(st) == SQLITE_ROW)
		json_array_append_new(a, json_pack("{s:s?, s:I, s:I, s:I, s:I,"
		    " s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:b, s:s?, s:I}",
		    "DateTime", (const char *)sqlite3_column_text(st, 0),
		    "SkillTargetID", (json_int_t)sqlite3_column_int64(st, 1),
		    "PeripheralID", (json_int_t)sqlite3_column_int64(st, 2),
		    "LoggedOnTime", (json_int_t)sqlite3_column_int64(st, 3),
		    "AvailTime", (json_int_t)sqlite3_column_int64(st, 4),
		    "NotReadyTime", (json_int_t)sqlite3_column_int64(st, 5),
		    "ReservedStateTime", (json_int_t)sqlite3_column_int64(st,
		    6),
		    "TalkTime", (json_int_t)sqlite3_column_int64(st, 7),
		    "WorkReadyTime", (json_int_t)sqlite3_column_int64(st, 8),
		    "WorkNotReadyTime", (json_int_t)sqlite3_column_int64(st,
		    9),
		    "CallsHandled", (json_int_t)sqlite3_column_int64(st, 10),
		    "IntervalLength", (json_int_t)sqlite3_column_int64(st, 11),
		    "Incomplete", sqlite3_column_int(st, 12),
		    "PGSide", (const char *)sqlite3_column_text(st, 13),
		    "Epoch", (json_int_t)sqlite3_column_int64(st, 14)));
	sqlite3_finalize(st);
	return a;
}
