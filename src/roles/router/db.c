/*
 * The router's history database (SQLite).  Tables use the product's names
 * and columns where they exist; pgemu's own tables are prefixed pgemu_.
 *
 *   Agent_Interval      one row per agent and interval, exactly once
 *   Agent_Logout        one row per login session, with ReasonCode
 *   Agent_Event_Detail  logins (Event 1), logouts (2), not ready (3)
 *   pgemu_discard       every loss of reporting data: what, how much, rule
 *   pgemu_activation    every grant of a PIM activation (epoch, side, why)
 *   pgemu_meta          the highest epoch ever granted, the side that
 *                       holds the PIM, across restarts
 *   pgemu_session       the login sessions open now (a restarted router
 *                       closes them, or keeps them, instead of opening
 *                       new ones on top)
 *
 * Writes go in transactions; SkillTargetID is the agent's peripheral
 * number (the lab has no separate skill target ids).  A write that fails
 * (locked, read-only, full, corrupt) is rolled back and says so: the
 * caller keeps what it could not store and tries again (the router
 * answers "not stored" and the PG side resends; session rows stay
 * queued here).  The busy timeout is short (DB_BUSY_MS): a locked
 * database must not hold the router's loop, since a failed write costs
 * nothing but a retry.
 */
#include "config.h"

#include <sys/queue.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "pgemu.h"
#include "wire.h"

/* A login-session row waiting to be written (write-behind). */
struct db_op {
	int		 logout;	/* Agent_Logout too */
	uint32_t	 peripheral, agent, mrd;
	double		 t, login, duration;
	int		 event, state;
	int32_t		 reason;
	const char	*rule;		/* static strings only */
};

/*
 * A row of the router's own (a loss it records, an activation, a meta
 * value) that could not be written when it happened: kept, and written
 * with the session rows once writes work again, with its own time.
 */
enum db_later_kind { LATER_DISCARD, LATER_ACTIVATION, LATER_META };
struct db_later {
	enum db_later_kind	 kind;
	double			 t;		/* when it happened */
	uint32_t		 peripheral;
	double			 interval;
	uint32_t		 intervals, rows, epoch;
	char			 side;
	char			 rule[8];
	char			 text[200];	/* reason, or the meta key */
	int64_t			 value;
	TAILQ_ENTRY(db_later)	 entry;
};

#define DB_FLUSH_QUIET_MS	20	/* write once the burst is over */
#define DB_FLUSH_MAX_MS		1000	/* ... but never later than this */
#define DB_BUSY_MS		150	/* wait for a lock at most this long */
#define DB_RETRY_MIN_MS		500	/* session rows: first retry */
#define DB_RETRY_MAX_MS		4000	/* ... doubling up to this */

struct db {
	sqlite3		*h;
	struct db_op	*ops;
	size_t		 nops, cap;
	uint64_t	 first_op_ms;
	struct event	*ev_flush;
	int		 retry_ms;	/* session rows wait: next retry */
	TAILQ_HEAD(, db_later) later;	/* rows of the router's own waiting */
	size_t		 nlater;
	sqlite3_stmt	*ins_interval, *ins_logout, *ins_event, *ins_discard,
			*ins_refusal, *ins_activation, *set_meta, *get_meta,
			*set_session, *del_session;
	int		 in_tx;
	int		 tx_failed;	/* roll back at the outer commit */
	uint64_t	 failing;	/* failed writes since the last good */
	uint64_t	 fail_ms;	/* when the last one failed */
	char		 error[160];	/* why the last one failed */
	int		 opening;	/* db_open() runs */
	char		 open_err[200];
};

static void	db_flush_cb(evutil_socket_t, short, void *);
static int	db_write_later(struct db *, const struct db_later *);

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
	" Rule TEXT, PGSide TEXT, Reason TEXT, Epoch INTEGER, Seq INTEGER);"
	"CREATE TABLE IF NOT EXISTS pgemu_activation ("
	" id INTEGER PRIMARY KEY, DateTime TEXT, PeripheralID INTEGER,"
	" PGSide TEXT, Epoch INTEGER, Reason TEXT);"
	"CREATE TABLE IF NOT EXISTS pgemu_meta ("
	" key TEXT PRIMARY KEY, value INTEGER);"
	"CREATE TABLE IF NOT EXISTS pgemu_session ("
	" PeripheralID INTEGER NOT NULL, SkillTargetID INTEGER NOT NULL,"
	" MRDomainID INTEGER NOT NULL DEFAULT 1,"
	" LoginDateTime TEXT, LoginTime REAL,"
	" PRIMARY KEY (PeripheralID, SkillTargetID, MRDomainID));";

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
 * A database made by an older pgemu: pgemu_discard gains the key of a
 * refused record (Epoch, Seq), which makes its loss row unique;
 * pgemu_session gains the MRD of each open session (an agent is logged in
 * per MRD), its rows kept as sessions of the voice MRD 1.
 */
static int
db_upgrade(struct db *db, char **msg)
{
	sqlite3_stmt	*st;

	if (sqlite3_prepare_v2(db->h, "SELECT MRDomainID FROM pgemu_session",
	    -1, &st, NULL) == SQLITE_OK)
		sqlite3_finalize(st);
	else if (sqlite3_exec(db->h, "BEGIN;"
	    " ALTER TABLE pgemu_session RENAME TO pgemu_session_old;"
	    " CREATE TABLE pgemu_session ("
	    " PeripheralID INTEGER NOT NULL, SkillTargetID INTEGER NOT NULL,"
	    " MRDomainID INTEGER NOT NULL DEFAULT 1,"
	    " LoginDateTime TEXT, LoginTime REAL,"
	    " PRIMARY KEY (PeripheralID, SkillTargetID, MRDomainID));"
	    " INSERT INTO pgemu_session (PeripheralID, SkillTargetID,"
	    " LoginDateTime, LoginTime) SELECT PeripheralID, SkillTargetID,"
	    " LoginDateTime, LoginTime FROM pgemu_session_old;"
	    " DROP TABLE pgemu_session_old; COMMIT;", NULL, NULL, msg) !=
	    SQLITE_OK) {
		sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}

	if (sqlite3_prepare_v2(db->h, "SELECT Epoch, Seq FROM pgemu_discard",
	    -1, &st, NULL) == SQLITE_OK)
		sqlite3_finalize(st);
	else if (sqlite3_exec(db->h, "ALTER TABLE pgemu_discard ADD COLUMN"
	    " Epoch INTEGER; ALTER TABLE pgemu_discard ADD COLUMN Seq INTEGER;",
	    NULL, NULL, msg) != SQLITE_OK)
		return -1;
	return sqlite3_exec(db->h, "CREATE UNIQUE INDEX IF NOT EXISTS"
	    " pgemu_discard_record ON pgemu_discard (PGSide, Epoch, Seq);",
	    NULL, NULL, msg) == SQLITE_OK ? 0 : -1;
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
	struct stat	 st;
	char		*msg = NULL;

	db->opening = 1;
	TAILQ_INIT(&db->later);
	db->ev_flush = evtimer_new(base, db_flush_cb, db);
	/*
	 * Never through a link someone planted in place of the file.  Not
	 * SQLITE_OPEN_NOFOLLOW: it refuses a link anywhere in the path, and
	 * under systemd's DynamicUser the state directory itself is a link
	 * into /var/lib/private.
	 */
	if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode)) {
		snprintf(err, errlen, "history database %s: is a symbolic "
		    "link (refused: the database is never opened through a "
		    "link; remove it)", path);
		goto fail;
	}
	if (sqlite3_open_v2(path, &db->h, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
		db_open_error(db, path, sqlite3_errmsg(db->h), err, errlen);
		goto fail;
	}
	sqlite3_busy_timeout(db->h, DB_BUSY_MS);
	if (sqlite3_exec(db->h, db_schema, NULL, NULL, &msg) != SQLITE_OK ||
	    db_upgrade(db, &msg) == -1) {
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
	    " LoginDuration, ReasonCode, Rule, MRDomainID) VALUES"
	    " (?,?,?,?,?,?,?,?)");
	db->ins_event = db_prepare(db, "INSERT INTO Agent_Event_Detail"
	    " (DateTime, SkillTargetID, PeripheralID, LoginDateTime, Event,"
	    " AgentState, ReasonCode, Duration, Rule, MRDomainID) VALUES"
	    " (?,?,?,?,?,?,?,?,?,?)");
	db->ins_discard = db_prepare(db, "INSERT INTO pgemu_discard"
	    " (DateTime, PeripheralID, IntervalDateTime, Intervals, Rows,"
	    " Rule, PGSide, Reason) VALUES (?,?,?,?,?,?,?,?)");
	db->ins_refusal = db_prepare(db, "INSERT OR IGNORE INTO pgemu_discard"
	    " (DateTime, PeripheralID, IntervalDateTime, Intervals, Rows,"
	    " Rule, PGSide, Reason, Epoch, Seq) VALUES"
	    " (?,?,?,1,?,'R1',?,?,?,?)");
	db->ins_activation = db_prepare(db, "INSERT INTO pgemu_activation"
	    " (DateTime, PeripheralID, PGSide, Epoch, Reason) VALUES"
	    " (?,?,?,?,?)");
	db->set_meta = db_prepare(db, "INSERT OR REPLACE INTO pgemu_meta"
	    " (key, value) VALUES (?,?)");
	db->get_meta = db_prepare(db, "SELECT value FROM pgemu_meta WHERE"
	    " key = ?");
	db->set_session = db_prepare(db, "INSERT OR REPLACE INTO pgemu_session"
	    " (PeripheralID, SkillTargetID, LoginDateTime, LoginTime,"
	    " MRDomainID) VALUES (?,?,?,?,?)");
	db->del_session = db_prepare(db, "DELETE FROM pgemu_session WHERE"
	    " PeripheralID = ? AND SkillTargetID = ? AND MRDomainID = ?");
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
	struct db_later	*l;

	if (db == NULL)
		return;
	db->fail_ms = 0;	/* one last real try */
	if (db_flush(db) == -1)
		log_warnx("history database: %zu session rows (Agent_Logout, "
		    "Agent_Event_Detail) and %zu loss, activation or meta rows "
		    "could not be written before exit and are lost: %s",
		    db->nops, db->nlater, db->error);
	while ((l = TAILQ_FIRST(&db->later)) != NULL) {
		TAILQ_REMOVE(&db->later, l, entry);
		free(l);
	}
	event_free(db->ev_flush);
	free(db->ops);
	if (db->in_tx)
		db_commit(db);
	sqlite3_finalize(db->ins_interval);
	sqlite3_finalize(db->ins_logout);
	sqlite3_finalize(db->ins_event);
	sqlite3_finalize(db->ins_discard);
	sqlite3_finalize(db->ins_refusal);
	sqlite3_finalize(db->ins_activation);
	sqlite3_finalize(db->set_meta);
	sqlite3_finalize(db->get_meta);
	sqlite3_finalize(db->set_session);
	sqlite3_finalize(db->del_session);
	sqlite3_close(db->h);
	free(db);
}

/* A write failed: say why once per run of failures, keep the reason. */
static void
db_failed(struct db *db, const char *what)
{
	snprintf(db->error, sizeof(db->error), "%s: %s", what,
	    sqlite3_errmsg(db->h));
	db->fail_ms = mono_ms();
	if (db->failing++ == 0)
		log_warnx("history database: %s; what is not stored stays with "
		    "its sender and is written again later", db->error);
	else
		log_debug("history database: %s (%llu failed writes in a row)",
		    db->error, (unsigned long long)db->failing);
}

static void
db_ok(struct db *db)
{
	if (db->failing == 0)
		return;
	log_info("history database: writing again after %llu failed writes",
	    (unsigned long long)db->failing);
	db->failing = 0;
	db->error[0] = '\0';
}

/* Run a statement; -1 if it failed (or its transaction already has). */
static int
db_step(struct db *db, sqlite3_stmt *st)
{
	int	rc = SQLITE_ABORT;

	if (db->in_tx == 0 || !db->tx_failed)
		rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc == SQLITE_DONE || rc == SQLITE_ROW) {
		if (db->in_tx == 0)
			db_ok(db);
		return 0;
	}
	if (rc != SQLITE_ABORT || !db->tx_failed)
		db_failed(db, "write");
	if (db->in_tx > 0)
		db->tx_failed = 1;
	return -1;
}

/*
 * Open a write transaction (nested calls join it); -1 if it cannot be:
 * the lock was not had within DB_BUSY_MS, or the last write failed less
 * than DB_BUSY_MS ago (a burst of records must not wait that long each).
 * Every db_begin() has its db_commit().
 */
int
db_begin(struct db *db)
{
	if (db->in_tx++ > 0)
		return db->tx_failed ? -1 : 0;
	db->tx_failed = 0;
	if (db->failing > 0 && mono_ms() - db->fail_ms < DB_BUSY_MS) {
		db->tx_failed = 1;
		return -1;
	}
	if (sqlite3_exec(db->h, "BEGIN IMMEDIATE", NULL, NULL, NULL) !=
	    SQLITE_OK) {
		db_failed(db, "begin");
		db->tx_failed = 1;
		return -1;
	}
	return 0;
}

/* Commit, or roll back what failed; 0 once it is on disk. */
int
db_commit(struct db *db)
{
	if (db->in_tx == 0)
		return -1;
	if (--db->in_tx > 0)
		return db->tx_failed ? -1 : 0;
	if (!db->tx_failed &&
	    sqlite3_exec(db->h, "COMMIT", NULL, NULL, NULL) == SQLITE_OK) {
		db_ok(db);
		return 0;
	}
	if (!db->tx_failed)
		db_failed(db, "commit");
	if (!sqlite3_get_autocommit(db->h) &&
	    sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL) != SQLITE_OK)
		log_warnx("history database: rollback: %s",
		    sqlite3_errmsg(db->h));
	db->tx_failed = 0;
	return -1;
}

/* Why the last write failed, for the sender of what was not stored. */
const char *
db_error(const struct db *db)
{
	return db->error[0] != '\0' ? db->error : "not written";
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

/* One interval row; 1 if stored, 0 if it was there already, -1 failed. */
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
	if (db_step(db, st) == -1)
		return -1;
	return sqlite3_changes(db->h) > 0;
}

static int
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
	sqlite3_bind_int64(st, 10, op->mrd);
	return db_step(db, st);
}

static int
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
	sqlite3_bind_int64(st, 8, op->mrd);
	return db_step(db, st);
}

/* The open session of a login, gone with its logout. */
static int
db_write_session(struct db *db, const struct db_op *op)
{
	sqlite3_stmt	*st;

	if (op->logout) {
		st = db->del_session;
		sqlite3_bind_int64(st, 1, op->peripheral);
		sqlite3_bind_int64(st, 2, op->agent);
		sqlite3_bind_int64(st, 3, op->mrd);
	} else if (op->event == DB_EVENT_LOGIN) {
		st = db->set_session;
		sqlite3_bind_int64(st, 1, op->peripheral);
		sqlite3_bind_int64(st, 2, op->agent);
		bind_time(st, 3, op->t);
		sqlite3_bind_double(st, 4, op->t);
		sqlite3_bind_int64(st, 5, op->mrd);
	} else
		return 0;
	return db_step(db, st);
}

/*
 * Write every queued row in one transaction.  If that fails they all stay
 * queued and are tried again, DB_RETRY_MIN_MS later, doubling.
 */
int
db_flush(struct db *db)
{
	struct timeval	tv;
	size_t		i;

	struct db_later	*l, *next;
	int		 rc = 0;

	if (db->nops == 0 && db->nlater == 0)
		return 0;
	event_del(db->ev_flush);
	db_begin(db);
	TAILQ_FOREACH(l, &db->later, entry)
		if ((rc = db_write_later(db, l)) == -1)
			break;
	for (i = 0; i < db->nops && rc == 0; i++)
		if ((db->ops[i].logout &&
		    db_write_logout(db, &db->ops[i]) == -1) ||
		    db_write_event(db, &db->ops[i]) == -1 ||
		    db_write_session(db, &db->ops[i]) == -1)
			break;
	if (db_commit(db) == -1) {
		if (db->retry_ms == 0) {
			db->retry_ms = DB_RETRY_MIN_MS;
			log_warnx("history database: %zu session rows "
			    "(Agent_Logout, Agent_Event_Detail) and %zu rows of "
			    "the router's own not written: %s; they stay queued",
			    db->nops, db->nlater, db_error(db));
		}
		log_debug("history database: %zu session rows and %zu rows of "
		    "the router's own wait, next try in %d ms", db->nops,
		    db->nlater, db->retry_ms);
		ms_to_tv(db->retry_ms, &tv);
		evtimer_add(db->ev_flush, &tv);
		db->retry_ms = db->retry_ms * 2 > DB_RETRY_MAX_MS ?
		    DB_RETRY_MAX_MS : db->retry_ms * 2;
		return -1;
	}
	for (l = TAILQ_FIRST(&db->later); l != NULL; l = next) {
		next = TAILQ_NEXT(l, entry);
		TAILQ_REMOVE(&db->later, l, entry);
		free(l);
	}
	if (db->retry_ms != 0)
		log_info("history database: %zu session rows and %zu rows of "
		    "the router's own that waited are written", db->nops,
		    db->nlater);
	else
		log_debug("history database: %zu session rows written",
		    db->nops);
	db->retry_ms = 0;
	db->nops = 0;
	db->nlater = 0;
	return 0;
}

/* Rows queued, not yet written: sessions, and the router's own. */
size_t
db_pending(const struct db *db)
{
	return db->nops + db->nlater;
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
	if (db->retry_ms != 0)
		return;		/* writes fail: the retry timer runs */
	if (now - db->first_op_ms + (uint64_t)ms > DB_FLUSH_MAX_MS)
		ms = (int)(DB_FLUSH_MAX_MS - (int)(now - db->first_op_ms));
	if (ms < 0)
		ms = 0;
	ms_to_tv(ms, &tv);
	evtimer_add(db->ev_flush, &tv);
}

void
db_logout(struct db *db, const struct db_key *k, double login,
    double logout, int32_t reason, const char *rule)
{
	struct db_op	op;

	memset(&op, 0, sizeof(op));
	op.logout = 1;
	op.peripheral = k->peripheral;
	op.agent = k->agent;
	op.mrd = k->mrd;
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
db_event(struct db *db, const struct db_key *k, double t, double login,
    int event, int state, int32_t reason, double duration, const char *rule)
{
	struct db_op	op;

	memset(&op, 0, sizeof(op));
	op.peripheral = k->peripheral;
	op.agent = k->agent;
	op.mrd = k->mrd;
	op.t = t;
	op.login = login;
	op.duration = duration;
	op.event = event;
	op.state = state;
	op.reason = reason;
	op.rule = rule;
	db_queue(db, &op);
}

/* A loss of reporting data; -1 if the row could not be written. */
/* One row of the router's own, now or again. */
static int
db_write_later(struct db *db, const struct db_later *l)
{
	sqlite3_stmt	*st;
	char		 side[2] = { l->side, '\0' };

	switch (l->kind) {
	case LATER_DISCARD:
		st = db->ins_discard;
		bind_time(st, 1, l->t);
		sqlite3_bind_int64(st, 2, l->peripheral);
		bind_time(st, 3, l->interval);
		sqlite3_bind_int64(st, 4, l->intervals);
		sqlite3_bind_int64(st, 5, l->rows);
		sqlite3_bind_text(st, 6, l->rule, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 7, side, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 8, l->text, -1, SQLITE_TRANSIENT);
		break;
	case LATER_ACTIVATION:
		st = db->ins_activation;
		bind_time(st, 1, l->t);
		sqlite3_bind_int64(st, 2, l->peripheral);
		sqlite3_bind_text(st, 3, side, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, 4, l->epoch);
		sqlite3_bind_text(st, 5, l->text, -1, SQLITE_TRANSIENT);
		break;
	default:
		st = db->set_meta;
		sqlite3_bind_text(st, 1, l->text, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, 2, l->value);
		break;
	}
	return db_step(db, st);
}

/*
 * Write it now; if that fails, keep it and write it with the session
 * rows once writes work again (it is the router's own record: nobody
 * else will send it again).
 */
static void
db_write_or_keep(struct db *db, const struct db_later *l)
{
	struct db_later	*k;
	struct timeval	 tv;

	/*
	 * Behind any that waits (in order: a meta value written now would be
	 * overwritten by an older one later), and not now if the last write
	 * failed a moment ago: the loop must not wait on the lock again.
	 */
	if (db->nlater == 0 && !(db->failing > 0 &&
	    mono_ms() - db->fail_ms < DB_BUSY_MS) && db_write_later(db, l) == 0)
		return;
	k = xmalloc(sizeof(*k));
	*k = *l;
	TAILQ_INSERT_TAIL(&db->later, k, entry);
	db->nlater++;
	if (db->retry_ms == 0) {
		db->retry_ms = DB_RETRY_MIN_MS;
		ms_to_tv(db->retry_ms, &tv);
		evtimer_add(db->ev_flush, &tv);
	}
}

/* A row of the router's own, at this time, of this side, with its text. */
static void
db_later_init(struct db_later *l, enum db_later_kind kind,
    uint32_t peripheral, char side, const char *text)
{
	memset(l, 0, sizeof(*l));
	l->kind = kind;
	l->t = wall_now();
	l->peripheral = peripheral;
	l->side = side;
	snprintf(l->text, sizeof(l->text), "%s", text);
}

/*
 * A loss row.  One the PG side reported (its DISCARD record) gives -1 if
 * it could not be written, and the side sends it again; one the router
 * records itself (own) is written now or kept until it can be.
 */
int
db_discard(struct db *db, uint32_t peripheral, double interval,
    uint32_t intervals, uint32_t rows, const char *rule, char side,
    const char *reason, int own)
{
	struct db_later	l;

	db_later_init(&l, LATER_DISCARD, peripheral, side, reason);
	l.interval = interval;
	l.intervals = intervals;
	l.rows = rows;
	snprintf(l.rule, sizeof(l.rule), "%s", rule);
	if (!own)
		return db_write_later(db, &l);
	db_write_or_keep(db, &l);
	return 0;
}

/*
 * A record the router refused: its rows are lost (R1), recorded once by
 * the record's key (side, epoch, seq).  1 if recorded now, 0 if it was
 * already, -1 if the row could not be written.
 */
int
db_refusal(struct db *db, uint32_t peripheral, const struct msg_interval *iv,
    char side, const char *reason)
{
	sqlite3_stmt	*st = db->ins_refusal;
	char		 s[2] = { side, '\0' };

	bind_time(st, 1, wall_now());
	sqlite3_bind_int64(st, 2, peripheral);
	bind_time(st, 3, iv->start);
	sqlite3_bind_int64(st, 4, iv->count);
	sqlite3_bind_text(st, 5, s, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 6, reason, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 7, iv->epoch);
	sqlite3_bind_int64(st, 8, iv->seq);
	if (db_step(db, st) == -1)
		return -1;
	return sqlite3_changes(db->h) > 0;
}

void
db_activation(struct db *db, uint32_t peripheral, char side, uint32_t epoch,
    const char *reason)
{
	struct db_later	l;

	db_later_init(&l, LATER_ACTIVATION, peripheral, side, reason);
	l.epoch = epoch;
	db_write_or_keep(db, &l);
}

void
db_set_meta(struct db *db, const char *key, int64_t v)
{
	struct db_later	l;

	db_later_init(&l, LATER_META, 0, 0, key);
	l.value = v;
	db_write_or_keep(db, &l);
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

/* The login sessions left open, for a router that starts. */
int
db_open_sessions(struct db *db, uint32_t peripheral,
    void (*cb)(void *, uint32_t, uint32_t, double), void *arg)
{
	sqlite3_stmt	*st;
	int		 n = 0;

	st = db_prepare(db, "SELECT SkillTargetID, MRDomainID, LoginTime FROM"
	    " pgemu_session WHERE PeripheralID = ?");
	sqlite3_bind_int64(st, 1, peripheral);
	while (sqlite3_step(st) == SQLITE_ROW) {
		cb(arg, (uint32_t)sqlite3_column_int64(st, 0),
		    (uint32_t)sqlite3_column_int64(st, 1),
		    sqlite3_column_double(st, 2));
		n++;
	}
	sqlite3_finalize(st);
	return n;
}

/* The start of the newest interval stored, 0 if none. */
uint32_t
db_last_interval(struct db *db, uint32_t peripheral)
{
	sqlite3_stmt	*st;
	uint32_t	 t = 0;

	st = db_prepare(db, "SELECT CAST(strftime('%s', MAX(DateTime)) AS"
	    " INTEGER) FROM Agent_Interval WHERE PeripheralID = ?");
	sqlite3_bind_int64(st, 1, peripheral);
	if (sqlite3_step(st) == SQLITE_ROW &&
	    sqlite3_column_type(st, 0) != SQLITE_NULL)
		t = (uint32_t)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return t;
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
