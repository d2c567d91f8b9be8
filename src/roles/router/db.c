/*
 * The router's history database (SQLite).  Tables use the product's names
 * and columns where they exist; pgemu's own tables are prefixed pgemu_.
 *
 *   Agent_Interval      one row per agent, MRD and interval, exactly once
 *   Agent_Logout        one row per login session, with ReasonCode
 *   Agent_Event_Detail  logins (Event 1), logouts (2), not ready (3),
 *                       states a resync rebuilt (4, Recreated 1: R19)
 *   pgemu_discard       every loss of reporting data: what, how much, rule
 *   pgemu_activation    every grant of a PIM activation (epoch, side, why)
 *   pgemu_meta          the highest epoch ever granted, the side that
 *                       holds the PIM, across restarts
 *   pgemu_session       the login sessions open now (a restarted router
 *                       closes them, or keeps them, instead of opening
 *                       new ones on top)
 *   Route_Call_Detail   one row per NEW_TASK the router answered
 *   Termination_Call_Detail  one row per task that ended, exactly once
 *                       (a task end told twice is stored once), and per
 *                       segment of its report (R20: interrupted, resumed);
 *                       Recreated 1 for a task a resync rebuilt (R19)
 *   pgemu_task_discard  every pending NEW_TASK discarded (R12, R17)
 *   pgemu_left_out      every task left out of reports (R15, R17), once
 *
 * Every write happens in a writer thread, with its own connection, so
 * that no database work delays the router's loop (its heartbeats, grants
 * and real-time table).  The loop hands the writer jobs through a queue
 * (a mutex and a condition variable) and hears back through an eventfd
 * that libevent watches:
 *
 *   a record of a PG side (an interval, a loss record, a refusal): one
 *       transaction; the caller's function is called back on the loop
 *       once it is committed, or with why it was not (the router answers
 *       "stored" or "not stored" then).  Interval rows waiting at the
 *       writer are bounded (DB_QUEUE_ROWS): past it a new interval is not
 *       queued and the caller answers "not stored" at once;
 *   a batch of the rows written behind: login sessions (Agent_Logout,
 *       Agent_Event_Detail, pgemu_session) once a burst is over, and the
 *       router's own rows (a loss it records, an activation, a meta
 *       value, and the rows of media routing's tasks) at once.  One batch
 *       at the writer at a time; a batch that fails comes back and is
 *       tried again with back-off; never dropped.
 *
 * Reads (the meta values and the open sessions at start, the newest
 * interval stored, `router intervals`) use the loop's own connection: the
 * database is in WAL mode, so they run beside the writer.  A write that
 * fails (locked, read-only, full, corrupt) is rolled back and says so;
 * the busy timeout is short (DB_BUSY_MS) so that what waits behind a
 * locked database is answered soon.  db_close() writes what is queued
 * and joins the writer.
 */
#include "config.h"

#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/queue.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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
	int		 recreated;	/* R19: the resync rebuilt it */
};

/*
 * A row of the router's own (a loss it records, an activation, a meta
 * value), written behind with the session rows, with its own time; also
 * the row of a loss record or a refusal of a PG side.
 */
enum db_later_kind {
	LATER_DISCARD, LATER_ACTIVATION, LATER_META, LATER_ROUTE_CALL,
	LATER_TCD, LATER_TASK_DISCARD, LATER_LEFT_OUT
};
struct db_later {
	enum db_later_kind	 kind;
	struct db_task		 task;		/* the rows of tasks */
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
TAILQ_HEAD(db_later_list, db_later);

/* What the writer does: one record of a side, or a batch written behind. */
enum db_job_kind { JOB_INTERVAL, JOB_REFUSAL, JOB_DISCARD, JOB_BATCH };
struct db_job {
	enum db_job_kind	 kind;
	db_done_fn		*done;
	void			*arg;
	struct msg_interval	 iv;		/* INTERVAL, REFUSAL */
	uint8_t			*rows;		/* INTERVAL: iv's rows, copied */
	double			 now;
	struct db_later		 row;		/* REFUSAL, DISCARD */
	struct db_op		*ops;		/* BATCH */
	size_t			 nops;
	struct db_later_list	 later;		/* BATCH, in order */
	size_t			 nlater;
	int			 last_try;	/* also just after a failure */
	int			 rc;		/* -1: not written */
	char			 error[160];
	TAILQ_ENTRY(db_job)	 entry;
};
TAILQ_HEAD(db_job_list, db_job);

/* tests/fuzz/run.sh builds with the first and third shorter (-D). */
#ifndef DB_FLUSH_QUIET_MS
#define DB_FLUSH_QUIET_MS	20	/* write once the burst is over */
#endif
#define DB_FLUSH_MAX_MS		1000	/* ... but never later than this */
#ifndef DB_BUSY_MS
#define DB_BUSY_MS		150	/* wait for a lock at most this long */
#endif
#define DB_RETRY_MIN_MS		500	/* rows written behind: first retry */
#define DB_RETRY_MAX_MS		4000	/* ... doubling up to this */
#define DB_WRITER_NICE		10	/* the writer's, the loop's being 0 */

/*
 * Rows written behind are counted twice: when queued, in a file beside
 * the database that the router maps (the database's name and this
 * suffix, 8 bytes: a kill -9 leaves the page in the kernel's cache), and
 * when written, in pgemu_meta ("written_behind", with the time of the
 * write, "written_behind_ms"), in the transaction that writes them.  A
 * router that starts and finds more queued than written knows its last
 * run lost the difference (killed, or stopped with a database it could
 * not write) and records it before anything else (db_behind_open).
 */
#define DB_QUEUED_SUFFIX	".queued"

/* A timestamp's seconds, formatted once (see db_time). */
struct db_tcache {
	time_t		 secs;
	char		 text[24];	/* "YYYY-MM-DD HH:MM:SS" */
};
#define DB_TCACHE	8

/* The writer thread's connection and statements: only it uses them. */
struct db_writer {
	sqlite3		*h;
	sqlite3_stmt	*ins_interval, *ins_logout, *ins_event, *ins_discard,
			*ins_refusal, *ins_activation, *set_meta,
			*set_session, *del_session, *ins_rcd, *ins_tcd,
			*ins_task_discard, *ins_left_out;
	int		 in_tx;
	int		 tx_failed;	/* roll back at the commit */
	int		 failed;	/* the last write failed ... */
	uint64_t	 fail_ms;	/* ... then */
	char		 error[160];	/* why */
	uint64_t	 written;	/* rows written behind, ever (meta) */
	struct db_tcache tc[DB_TCACHE];
};

struct db {
	sqlite3		*h;		/* the loop's: reads */
	void		(*busy)(void *, const char *, uint64_t);
	void		*busy_arg;	/* how long db_reap held the loop */
	int		 opening;	/* db_open() runs */
	char		 open_err[200];

	/* On the loop: rows written behind, waiting for a batch. */
	struct db_op	*ops;
	size_t		 nops, cap;
	struct db_later_list later;
	size_t		 nlater;
	uint64_t	 first_op_ms;
	struct event	*ev_flush;
	struct event	*ev_queued;	/* rows came this turn: db_schedule */
	int		 queued;	/* ev_queued is active */
	int		 retry_ms;	/* a batch failed: next retry */
	struct db_job	*batch;		/* at the writer, or NULL */
	size_t		 queued_rows;	/* interval rows at the writer */
	size_t		 max_rows;
	int		 full;		/* said so: rows past the bound */
	uint64_t	 failing;	/* failed writes since the last good */
	char		 error[160];	/* why the last one failed */
	int		 closing;
	volatile uint64_t *queued_total; /* rows written behind, ever
					   queued: DB_QUEUED_SUFFIX */
	uint64_t	 lost_last_run;	/* rows the last run queued, never
					   written */

	/* Between the loop and the writer, under mtx. */
	pthread_mutex_t	 mtx;
	pthread_cond_t	 cond;
	struct db_job_list jobs;	/* for the writer, in order */
	struct db_job_list done;	/* for the loop */
	int		 stop;
	int		 signalled;	/* done_fd written, not read yet */
	int		 done_fd;
	struct event	*ev_done;
	pthread_t	 thread;
	int		 running;

	struct db_writer w;
};

static void	db_flush_cb(evutil_socket_t, short, void *);
static void	db_queued_cb(evutil_socket_t, short, void *);
static void	db_done_cb(evutil_socket_t, short, void *);
static void	db_submit(struct db *, struct db_job *);

/* Agent_Interval, made new or again by db_upgrade(). */
#define DB_AGENT_INTERVAL						\
	"CREATE TABLE IF NOT EXISTS Agent_Interval ("			\
	" DateTime TEXT NOT NULL, SkillTargetID INTEGER NOT NULL,"	\
	" MRDomainID INTEGER NOT NULL DEFAULT 1,"			\
	" TimeZone INTEGER NOT NULL DEFAULT 0,"				\
	" PeripheralID INTEGER NOT NULL,"				\
	" LoggedOnTime INTEGER, AvailTime INTEGER,"			\
	" NotReadyTime INTEGER, ReservedStateTime INTEGER,"		\
	" TalkTime INTEGER, WorkReadyTime INTEGER,"			\
	" WorkNotReadyTime INTEGER, CallsHandled INTEGER,"		\
	" IntervalLength INTEGER,"					\
	" Incomplete INTEGER NOT NULL DEFAULT 0,"			\
	" PGSide TEXT, Epoch INTEGER, Seq INTEGER, RecordedAt TEXT,"	\
	" PRIMARY KEY (DateTime, SkillTargetID, MRDomainID, TimeZone));"

/* Agent_Interval's columns before it had the MRD. */
#define DB_AGENT_INTERVAL_V1						\
	"DateTime, SkillTargetID, TimeZone, PeripheralID,"		\
	" LoggedOnTime, AvailTime, NotReadyTime, ReservedStateTime,"	\
	" TalkTime, WorkReadyTime, WorkNotReadyTime, CallsHandled,"	\
	" IntervalLength, Incomplete, PGSide, Epoch, Seq, RecordedAt"

static const char *const db_schema =
	"PRAGMA journal_mode=WAL;"
	"PRAGMA synchronous=NORMAL;"
	DB_AGENT_INTERVAL
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
	" ReasonCode INTEGER, Duration INTEGER, Rule TEXT,"
	" Recreated INTEGER NOT NULL DEFAULT 0);"
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
	" PRIMARY KEY (PeripheralID, SkillTargetID, MRDomainID));"
	"CREATE TABLE IF NOT EXISTS Route_Call_Detail ("
	" DateTime TEXT NOT NULL, RouterCallKeyDay INTEGER,"
	" RouterCallKey INTEGER, RouterCallKeySequenceNumber INTEGER,"
	" TimeZone INTEGER NOT NULL DEFAULT 0, PeripheralID INTEGER,"
	" DialogueID INTEGER, MRDomainID INTEGER, DialedNumberString TEXT,"
	" SkillGroupSkillTargetID INTEGER, AgentSkillTargetID INTEGER,"
	" AgentPeripheralID INTEGER, RouterErrorCode INTEGER,"
	" RouterQueueTime INTEGER);"
	"CREATE TABLE IF NOT EXISTS Termination_Call_Detail ("
	" DateTime TEXT NOT NULL, PeripheralID INTEGER, MRDomainID INTEGER,"
	" AgentSkillTargetID INTEGER, RouterCallKeyDay INTEGER,"
	" RouterCallKey INTEGER, RouterCallKeySequenceNumber INTEGER,"
	" TimeZone INTEGER NOT NULL DEFAULT 0, PeripheralCallType INTEGER,"
	" CallDisposition INTEGER, CallDispositionFlag INTEGER,"
	" StartDateTime TEXT, Duration INTEGER, DialogueID INTEGER,"
	" Segment INTEGER NOT NULL DEFAULT 1,"
	" Recreated INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE IF NOT EXISTS pgemu_task_discard ("
	" id INTEGER PRIMARY KEY, DateTime TEXT, PeripheralID INTEGER,"
	" DialogueID INTEGER, MRDomainID INTEGER, Selector TEXT, Rule TEXT,"
	" Cause TEXT);"
	"CREATE TABLE IF NOT EXISTS pgemu_left_out ("
	" id INTEGER PRIMARY KEY, DateTime TEXT, PeripheralID INTEGER,"
	" DialogueID INTEGER, MRDomainID INTEGER, AgentSkillTargetID INTEGER,"
	" TaskGroupHigh INTEGER, TaskGroupLow INTEGER, SequenceNumber INTEGER,"
	" StartDateTime TEXT, Flags INTEGER, Rule TEXT);"
	"CREATE UNIQUE INDEX IF NOT EXISTS pgemu_left_out_task ON"
	" pgemu_left_out (PeripheralID, TaskGroupHigh, TaskGroupLow,"
	" SequenceNumber, DialogueID);";

/*
 * Timestamps as the product's reports show them: UTC, milliseconds,
 * "YYYY-MM-DD HH:MM:SS.mmm".  The seconds are formatted once each (a
 * small cache: the rows of a burst share a few seconds, event and login
 * times alternating), the milliseconds appended as digits.
 */
static void
db_time(struct db_writer *w, double t, char buf[static 24])
{
	time_t		 secs = (time_t)t;
	int		 ms = (int)((t - (double)secs) * 1000);
	struct db_tcache *c = &w->tc[(size_t)secs % DB_TCACHE];
	struct tm	 tm;

	if (c->secs != secs || c->text[0] == '\0') {
		gmtime_r(&secs, &tm);
		if (strftime(c->text, sizeof(c->text), "%Y-%m-%d %H:%M:%S",
		    &tm) != 19)
			c->text[0] = '\0';
		c->secs = secs;
	}
	memcpy(buf, c->text, 19);
	buf[19] = '.';
	buf[20] = (char)('0' + ms / 100 % 10);
	buf[21] = (char)('0' + ms / 10 % 10);
	buf[22] = (char)('0' + ms % 10);
	buf[23] = '\0';
}

/* While db_open() runs, a statement that fails is its error, not fatal. */
static sqlite3_stmt *
db_prepare(struct db *db, sqlite3 *h, const char *sql)
{
	sqlite3_stmt	*st;

	if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK) {
		if (!db->opening)
			fatalx("history database: %s: %s", sql,
			    sqlite3_errmsg(h));
		if (db->open_err[0] == '\0')
			snprintf(db->open_err, sizeof(db->open_err), "%s "
			    "(a database of another program or version?)",
			    sqlite3_errmsg(h));
		return NULL;
	}
	return st;
}

/*
 * Agent_Interval of an older pgemu (pgemu's columns, no MRDomainID): made
 * again with the MRD in its key, its rows those of the voice MRD.  A table
 * of that name that is not pgemu's is left as it is (the writer's
 * statements say what it lacks).
 */
static int
db_upgrade_intervals(struct db *db, int voice_mrd, char **msg)
{
	sqlite3_stmt	*st;
	char		 sql[2048];
	int		 n;

	if (sqlite3_prepare_v2(db->h, "SELECT MRDomainID FROM Agent_Interval",
	    -1, &st, NULL) == SQLITE_OK) {
		sqlite3_finalize(st);
		return 0;
	}
	if (sqlite3_prepare_v2(db->h, "SELECT " DB_AGENT_INTERVAL_V1
	    " FROM Agent_Interval", -1, &st, NULL) != SQLITE_OK)
		return 0;
	sqlite3_finalize(st);
	n = snprintf(sql, sizeof(sql), "BEGIN;"
	    " ALTER TABLE Agent_Interval RENAME TO Agent_Interval_old; "
	    DB_AGENT_INTERVAL
	    " INSERT INTO Agent_Interval (" DB_AGENT_INTERVAL_V1 ", MRDomainID)"
	    " SELECT " DB_AGENT_INTERVAL_V1 ", %d FROM Agent_Interval_old;"
	    " DROP TABLE Agent_Interval_old; COMMIT;", voice_mrd);
	if (n < 0 || (size_t)n >= sizeof(sql))
		fatalx("db_upgrade_intervals: statement too long");
	if (sqlite3_exec(db->h, sql, NULL, NULL, msg) != SQLITE_OK) {
		sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	log_info("history database: Agent_Interval of an older pgemu made "
	    "again with MRDomainID in its key, its rows those of the voice "
	    "MRD %d", voice_mrd);
	return 0;
}

/*
 * A table of an older pgemu gains the column Recreated (R19: a row the
 * application's resync rebuilt), 0 in its rows.
 */
static int
db_upgrade_recreated(struct db *db, const char *table, char **msg)
{
	sqlite3_stmt	*st;
	char		 sql[160];

	snprintf(sql, sizeof(sql), "SELECT Recreated FROM %s", table);
	if (sqlite3_prepare_v2(db->h, sql, -1, &st, NULL) == SQLITE_OK) {
		sqlite3_finalize(st);
		return 0;
	}
	snprintf(sql, sizeof(sql), "ALTER TABLE %s ADD COLUMN Recreated"
	    " INTEGER NOT NULL DEFAULT 0", table);
	return sqlite3_exec(db->h, sql, NULL, NULL, msg) == SQLITE_OK ? 0 : -1;
}

/*
 * A database made by an older pgemu: pgemu_discard gains the key of a
 * refused record (Epoch, Seq), which makes its loss row unique;
 * pgemu_session gains the MRD of each open session (an agent is logged in
 * per MRD), its rows kept as sessions of the voice MRD 1; Agent_Interval
 * gains the MRD of each row (db_upgrade_intervals);
 * Termination_Call_Detail gains the Segment of a task's report (R20), its
 * rows the first segment, and its unique index the Segment;
 * Agent_Event_Detail and Termination_Call_Detail gain Recreated (R19).
 */
static int
db_upgrade(struct db *db, int voice_mrd, char **msg)
{
	sqlite3_stmt	*st;

	if (db_upgrade_intervals(db, voice_mrd, msg) == -1)
		return -1;
	if (db_upgrade_recreated(db, "Agent_Event_Detail", msg) == -1 ||
	    db_upgrade_recreated(db, "Termination_Call_Detail", msg) == -1)
		return -1;
	/* A state a resync told is one row, told again or not (R19). */
	if (sqlite3_exec(db->h, "CREATE UNIQUE INDEX IF NOT EXISTS"
	    " Agent_Event_Detail_recreated ON Agent_Event_Detail"
	    " (PeripheralID, SkillTargetID, MRDomainID, DateTime, Event)"
	    " WHERE Recreated = 1;", NULL, NULL, msg) != SQLITE_OK)
		return -1;

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
	if (sqlite3_exec(db->h, "CREATE UNIQUE INDEX IF NOT EXISTS"
	    " pgemu_discard_record ON pgemu_discard (PGSide, Epoch, Seq);",
	    NULL, NULL, msg) != SQLITE_OK)
		return -1;

	if (sqlite3_prepare_v2(db->h, "SELECT Segment FROM"
	    " Termination_Call_Detail", -1, &st, NULL) == SQLITE_OK)
		sqlite3_finalize(st);
	else if (sqlite3_exec(db->h, "ALTER TABLE Termination_Call_Detail"
	    " ADD COLUMN Segment INTEGER NOT NULL DEFAULT 1;", NULL, NULL,
	    msg) != SQLITE_OK)
		return -1;
	return sqlite3_exec(db->h, "DROP INDEX IF EXISTS"
	    " Termination_Call_Detail_task;"
	    " CREATE UNIQUE INDEX IF NOT EXISTS Termination_Call_Detail_segment"
	    " ON Termination_Call_Detail (PeripheralID, RouterCallKeyDay,"
	    " RouterCallKey, RouterCallKeySequenceNumber, DialogueID,"
	    " Segment);",
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

static void	*db_writer_main(void *);

/* The writer's connection and statements; -1 if they cannot be had. */
static int
db_writer_open(struct db *db, const char *path, char *err, size_t errlen)
{
	struct db_writer *w = &db->w;

	if (sqlite3_open_v2(path, &w->h, SQLITE_OPEN_READWRITE, NULL) !=
	    SQLITE_OK) {
		snprintf(err, errlen, "history database %s: %s", path,
		    sqlite3_errmsg(w->h));
		return -1;
	}
	sqlite3_busy_timeout(w->h, DB_BUSY_MS);
	sqlite3_exec(w->h, "PRAGMA synchronous=NORMAL", NULL, NULL, NULL);
	w->ins_interval = db_prepare(db, w->h, "INSERT OR IGNORE INTO"
	    " Agent_Interval (DateTime, SkillTargetID, PeripheralID,"
	    " LoggedOnTime, AvailTime, NotReadyTime, ReservedStateTime,"
	    " TalkTime, WorkReadyTime, WorkNotReadyTime, CallsHandled,"
	    " IntervalLength, Incomplete, PGSide, Epoch, Seq, RecordedAt,"
	    " MRDomainID) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
	w->ins_logout = db_prepare(db, w->h, "INSERT INTO Agent_Logout"
	    " (LogoutDateTime, SkillTargetID, PeripheralID, LoginDateTime,"
	    " LoginDuration, ReasonCode, Rule, MRDomainID) VALUES"
	    " (?,?,?,?,?,?,?,?)");
	w->ins_event = db_prepare(db, w->h, "INSERT OR IGNORE INTO"
	    " Agent_Event_Detail (DateTime, SkillTargetID, PeripheralID,"
	    " LoginDateTime, Event, AgentState, ReasonCode, Duration, Rule,"
	    " MRDomainID, Recreated) VALUES (?,?,?,?,?,?,?,?,?,?,?)");
	w->ins_discard = db_prepare(db, w->h, "INSERT INTO pgemu_discard"
	    " (DateTime, PeripheralID, IntervalDateTime, Intervals, Rows,"
	    " Rule, PGSide, Reason) VALUES (?,?,?,?,?,?,?,?)");
	w->ins_refusal = db_prepare(db, w->h, "INSERT OR IGNORE INTO"
	    " pgemu_discard (DateTime, PeripheralID, IntervalDateTime,"
	    " Intervals, Rows, Rule, PGSide, Reason, Epoch, Seq) VALUES"
	    " (?,?,?,1,?,'R1',?,?,?,?)");
	w->ins_activation = db_prepare(db, w->h, "INSERT INTO pgemu_activation"
	    " (DateTime, PeripheralID, PGSide, Epoch, Reason) VALUES"
	    " (?,?,?,?,?)");
	w->set_meta = db_prepare(db, w->h, "INSERT OR REPLACE INTO pgemu_meta"
	    " (key, value) VALUES (?,?)");
	w->set_session = db_prepare(db, w->h, "INSERT OR REPLACE INTO"
	    " pgemu_session (PeripheralID, SkillTargetID, LoginDateTime,"
	    " LoginTime, MRDomainID) VALUES (?,?,?,?,?)");
	w->del_session = db_prepare(db, w->h, "DELETE FROM pgemu_session WHERE"
	    " PeripheralID = ? AND SkillTargetID = ? AND MRDomainID = ?");
	w->ins_rcd = db_prepare(db, w->h, "INSERT INTO Route_Call_Detail"
	    " (DateTime, RouterCallKeyDay, RouterCallKey,"
	    " RouterCallKeySequenceNumber, PeripheralID, DialogueID,"
	    " MRDomainID, DialedNumberString, SkillGroupSkillTargetID,"
	    " AgentSkillTargetID, AgentPeripheralID, RouterErrorCode,"
	    " RouterQueueTime) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)");
	w->ins_tcd = db_prepare(db, w->h, "INSERT OR IGNORE INTO"
	    " Termination_Call_Detail (DateTime, PeripheralID, MRDomainID,"
	    " AgentSkillTargetID, RouterCallKeyDay, RouterCallKey,"
	    " RouterCallKeySequenceNumber, PeripheralCallType,"
	    " CallDisposition, CallDispositionFlag, StartDateTime, Duration,"
	    " DialogueID, Segment, Recreated) VALUES"
	    " (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
	w->ins_task_discard = db_prepare(db, w->h, "INSERT INTO"
	    " pgemu_task_discard (DateTime, PeripheralID, DialogueID,"
	    " MRDomainID, Selector, Rule, Cause) VALUES (?,?,?,?,?,?,?)");
	w->ins_left_out = db_prepare(db, w->h, "INSERT OR IGNORE INTO"
	    " pgemu_left_out (DateTime, PeripheralID, DialogueID, MRDomainID,"
	    " AgentSkillTargetID, TaskGroupHigh, TaskGroupLow, SequenceNumber,"
	    " StartDateTime, Flags, Rule) VALUES (?,?,?,?,?,?,?,?,?,?,?)");
	if (db->open_err[0] != '\0') {
		snprintf(err, errlen, "history database %s: %s", path,
		    db->open_err);
		return -1;
	}
	return 0;
}

/* A meta value set now, on the loop's connection (db_open only). */
static int
db_meta_now(struct db *db, const char *key, int64_t v)
{
	sqlite3_stmt	*st;
	int		 rc;

	if ((st = db_prepare(db, db->h, "INSERT OR REPLACE INTO pgemu_meta"
	    " (key, value) VALUES (?,?)")) == NULL)
		return -1;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, v);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

/*
 * The count of rows written behind and queued, mapped (DB_QUEUED_SUFFIX),
 * and the loss of the last run recorded if it queued more than it wrote:
 * a pgemu_discard row (Rule "none": a loss of pgemu's own, that no rule
 * of the product names) and the written count brought up to the queued,
 * in one transaction, so that it is recorded once.  A new database
 * starts the count again.  -1 and why if the file cannot be had.
 */
static int
db_behind_open(struct db *db, const char *path, int fresh, char *err,
    size_t errlen)
{
	char		 file[PATH_MAX], now[24], last[24] = "", why[200];
	struct stat	 st;
	sqlite3_stmt	*ins;
	uint64_t	 written, queued;
	void		*m;
	int		 fd;

	if ((size_t)snprintf(file, sizeof(file), "%s%s", path,
	    DB_QUEUED_SUFFIX) >= sizeof(file)) {
		snprintf(err, errlen, "history database %s: path too long",
		    path);
		return -1;
	}
	if ((fd = open(file, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
	    0600)) == -1 || fstat(fd, &st) == -1 ||
	    (st.st_size < (off_t)sizeof(uint64_t) &&
	    ftruncate(fd, sizeof(uint64_t)) == -1) ||
	    (m = mmap(NULL, sizeof(uint64_t), PROT_READ | PROT_WRITE,
	    MAP_SHARED, fd, 0)) == MAP_FAILED) {
		snprintf(err, errlen, "history database: %s: %s%s", file,
		    strerror(errno), errno == ELOOP ? " (a symbolic link: "
		    "refused)" : "");
		if (fd != -1)
			close(fd);
		return -1;
	}
	close(fd);
	db->queued_total = m;
	written = (uint64_t)db_get_meta(db, "written_behind", 0);
	queued = fresh ? written : *db->queued_total;
	db->w.written = queued > written ? queued : written;
	*db->queued_total = db->w.written;
	if (queued <= written)
		return 0;
	db->lost_last_run = queued - written;
	if (written > 0)
		db_time(&db->w, (double)db_get_meta(db, "written_behind_ms",
		    0) / 1000, last);
	snprintf(why, sizeof(why), "the router's last run ended with rows "
	    "written behind not written (killed, or its database not "
	    "writable when it stopped): logins, logouts and state changes "
	    "(Agent_Logout, Agent_Event_Detail, pgemu_session), its own "
	    "rows%s%s", last[0] ? "; the last written at " : "", last);
	db_time(&db->w, wall_now(), now);
	ins = db_prepare(db, db->h, "INSERT INTO pgemu_discard (DateTime,"
	    " Intervals, Rows, Rule, Reason) VALUES (?,0,?,'none',?)");
	if (ins == NULL) {
		snprintf(err, errlen, "history database %s: %s", path,
		    db->open_err);
		return -1;
	}
	sqlite3_bind_text(ins, 1, now, -1, SQLITE_STATIC);
	sqlite3_bind_int64(ins, 2, (sqlite3_int64)db->lost_last_run);
	sqlite3_bind_text(ins, 3, why, -1, SQLITE_STATIC);
	if (sqlite3_exec(db->h, "BEGIN IMMEDIATE", NULL, NULL, NULL) !=
	    SQLITE_OK || sqlite3_step(ins) != SQLITE_DONE ||
	    db_meta_now(db, "written_behind", (int64_t)queued) == -1 ||
	    sqlite3_exec(db->h, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		db_open_error(db, path, sqlite3_errmsg(db->h), err, errlen);
		sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
		sqlite3_finalize(ins);
		return -1;
	}
	sqlite3_finalize(ins);
	return 0;
}

/* How many rows the last run lost (db_behind_open); 0: none. */
uint64_t
db_lost_last_run(const struct db *db)
{
	return db->lost_last_run;
}

/*
 * The history database, made if it is new (an older pgemu's upgraded, its
 * interval rows those of the voice MRD), with its writer thread running;
 * NULL and why if unusable.  At most max_rows interval rows wait for the
 * writer.
 */
struct db *
db_open(struct event_base *base, const char *path, size_t max_rows,
    int voice_mrd, char *err, size_t errlen)
{
	struct db	*db = xcalloc(1, sizeof(*db));
	struct stat	 st;
	char		*msg = NULL;
	int		 e, fresh;

	db->opening = 1;
	db->max_rows = max_rows;
	db->done_fd = -1;
	TAILQ_INIT(&db->later);
	TAILQ_INIT(&db->jobs);
	TAILQ_INIT(&db->done);
	pthread_mutex_init(&db->mtx, NULL);
	pthread_cond_init(&db->cond, NULL);
	db->ev_flush = evtimer_new(base, db_flush_cb, db);
	db->ev_queued = event_new(base, -1, 0, db_queued_cb, db);
	/*
	 * Never through a link someone planted in place of the file.  Not
	 * SQLITE_OPEN_NOFOLLOW: it refuses a link anywhere in the path, and
	 * under systemd's DynamicUser the state directory itself is a link
	 * into /var/lib/private.
	 */
	fresh = lstat(path, &st) == -1;
	if (!fresh && S_ISLNK(st.st_mode)) {
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
	    db_upgrade(db, voice_mrd, &msg) == -1) {
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
	if (db_behind_open(db, path, fresh, err, errlen) == -1)
		goto fail;
	if (db_writer_open(db, path, err, errlen) == -1)
		goto fail;
	if ((db->done_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1) {
		snprintf(err, errlen, "history database: eventfd: %s",
		    strerror(errno));
		goto fail;
	}
	db->ev_done = event_new(base, db->done_fd, EV_READ | EV_PERSIST,
	    db_done_cb, db);
	event_add(db->ev_done, NULL);
	if ((e = pthread_create(&db->thread, NULL, db_writer_main,
	    db)) != 0) {
		snprintf(err, errlen, "history database: its writer thread: "
		    "%s", strerror(e));
		goto fail;
	}
	db->running = 1;
	db->opening = 0;
	return db;

fail:
	db->opening = 0;
	db_close(db);
	return NULL;
}

/* The writer: a write failed; keep why (the loop says it). */
static void
db_failed(struct db_writer *w, const char *what)
{
	snprintf(w->error, sizeof(w->error), "%s: %s", what,
	    sqlite3_errmsg(w->h));
	w->failed = 1;
	w->fail_ms = mono_ms();
}

/* The writer: run a statement; -1 if it failed (or its transaction has). */
static int
db_step(struct db_writer *w, sqlite3_stmt *st)
{
	int	rc = SQLITE_ABORT;

	if (!w->tx_failed)
		rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc == SQLITE_DONE || rc == SQLITE_ROW)
		return 0;
	if (rc != SQLITE_ABORT || !w->tx_failed)
		db_failed(w, "write");
	w->tx_failed = 1;
	return -1;
}

/*
 * The writer: open a write transaction; -1 if it cannot be: the lock was
 * not had within DB_BUSY_MS, or the last write failed less than
 * DB_BUSY_MS ago (what waits behind it is answered at once).  Every
 * db_begin() has its db_commit().
 */
static int
db_begin(struct db_writer *w, int last_try)
{
	w->in_tx = 1;
	w->tx_failed = 0;
	if (w->failed && !last_try && mono_ms() - w->fail_ms < DB_BUSY_MS) {
		w->tx_failed = 1;
		return -1;
	}
	if (sqlite3_exec(w->h, "BEGIN IMMEDIATE", NULL, NULL, NULL) !=
	    SQLITE_OK) {
		db_failed(w, "begin");
		w->tx_failed = 1;
		return -1;
	}
	return 0;
}

/* The writer: commit, or roll back what failed; 0 once it is on disk. */
static int
db_commit(struct db_writer *w)
{
	w->in_tx = 0;
	if (!w->tx_failed &&
	    sqlite3_exec(w->h, "COMMIT", NULL, NULL, NULL) == SQLITE_OK) {
		w->failed = 0;
		return 0;
	}
	if (!w->tx_failed)
		db_failed(w, "commit");
	if (!sqlite3_get_autocommit(w->h))
		sqlite3_exec(w->h, "ROLLBACK", NULL, NULL, NULL);
	w->tx_failed = 0;
	return -1;
}

static void
bind_time(struct db_writer *w, sqlite3_stmt *st, int col, double t)
{
	char	buf[24];

	if (t <= 0) {
		sqlite3_bind_null(st, col);
		return;
	}
	db_time(w, t, buf);
	sqlite3_bind_text(st, col, buf, 23, SQLITE_TRANSIENT);
}

/* The writer: one interval row; 1 if stored, 0 if it was there already. */
static int
db_write_interval(struct db_writer *w, const struct msg_interval *iv,
    uint32_t agent, uint32_t mrd, const uint32_t *f, double now)
{
	sqlite3_stmt	*st = w->ins_interval;
	char		 side[2] = { (char)iv->side, '\0' };
	int		 i;

	bind_time(w, st, 1, iv->start);
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
	bind_time(w, st, 17, now);
	sqlite3_bind_int64(st, 18, mrd);
	if (db_step(w, st) == -1)
		return -1;
	return sqlite3_changes(w->h) > 0;
}

static int
db_write_event(struct db_writer *w, const struct db_op *op)
{
	sqlite3_stmt	*st = w->ins_event;

	bind_time(w, st, 1, op->t);
	sqlite3_bind_int64(st, 2, op->agent);
	sqlite3_bind_int64(st, 3, op->peripheral);
	bind_time(w, st, 4, op->login);
	sqlite3_bind_int(st, 5, op->event);
	sqlite3_bind_int(st, 6, agent_state_db(op->state));
	sqlite3_bind_int(st, 7, op->reason);
	sqlite3_bind_int64(st, 8, (int64_t)op->duration);
	if (op->rule != NULL)
		sqlite3_bind_text(st, 9, op->rule, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 10, op->mrd);
	sqlite3_bind_int(st, 11, op->recreated);
	return db_step(w, st);
}

static int
db_write_logout(struct db_writer *w, const struct db_op *op)
{
	sqlite3_stmt	*st = w->ins_logout;

	bind_time(w, st, 1, op->t);
	sqlite3_bind_int64(st, 2, op->agent);
	sqlite3_bind_int64(st, 3, op->peripheral);
	bind_time(w, st, 4, op->login);
	sqlite3_bind_int64(st, 5, (int64_t)op->duration);
	sqlite3_bind_int(st, 6, op->reason);
	if (op->rule != NULL)
		sqlite3_bind_text(st, 7, op->rule, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 8, op->mrd);
	return db_step(w, st);
}

/* The open session of a login, gone with its logout. */
static int
db_write_session(struct db_writer *w, const struct db_op *op)
{
	sqlite3_stmt	*st;

	if (op->logout) {
		st = w->del_session;
		sqlite3_bind_int64(st, 1, op->peripheral);
		sqlite3_bind_int64(st, 2, op->agent);
		sqlite3_bind_int64(st, 3, op->mrd);
	} else if (op->event == DB_EVENT_LOGIN) {
		st = w->set_session;
		sqlite3_bind_int64(st, 1, op->peripheral);
		sqlite3_bind_int64(st, 2, op->agent);
		bind_time(w, st, 3, op->t);
		sqlite3_bind_double(st, 4, op->t);
		sqlite3_bind_int64(st, 5, op->mrd);
	} else
		return 0;
	return db_step(w, st);
}

/* The writer: the row of a task (struct db_task) of this kind. */
static sqlite3_stmt *
db_bind_task(struct db_writer *w, enum db_later_kind kind,
    const struct db_task *k)
{
	sqlite3_stmt	*st;
	int		 i;

	switch (kind) {
	case LATER_ROUTE_CALL:
		st = w->ins_rcd;
		bind_time(w, st, 1, k->t);
		for (i = 0; i < 3; i++)
			sqlite3_bind_int64(st, 2 + i, k->task[i]);
		sqlite3_bind_int64(st, 5, k->peripheral);
		sqlite3_bind_int64(st, 6, k->dialogue);
		sqlite3_bind_int64(st, 7, k->mrd);
		sqlite3_bind_text(st, 8, k->selector, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int(st, 9, k->skill_group);
		sqlite3_bind_int64(st, 10, k->agent);
		sqlite3_bind_int64(st, 11, k->agent_periph);
		sqlite3_bind_int(st, 12, k->code);
		sqlite3_bind_int64(st, 13, (int64_t)(k->queue_time + 0.5));
		return st;
	case LATER_TCD:
		st = w->ins_tcd;
		bind_time(w, st, 1, k->t);
		sqlite3_bind_int64(st, 2, k->peripheral);
		sqlite3_bind_int64(st, 3, k->mrd);
		sqlite3_bind_int64(st, 4, k->agent);
		for (i = 0; i < 3; i++)
			sqlite3_bind_int64(st, 5 + i, k->task[i]);
		sqlite3_bind_int(st, 8, k->call_type);
		sqlite3_bind_int(st, 9, k->disposition);
		sqlite3_bind_int(st, 10, k->disposition_flag);
		bind_time(w, st, 11, k->start);
		sqlite3_bind_int64(st, 12, k->start > 0 && k->t > k->start ?
		    (int64_t)(k->t - k->start + 0.5) : 0);
		sqlite3_bind_int64(st, 13, k->dialogue);
		sqlite3_bind_int(st, 14, k->segment > 0 ? k->segment : 1);
		sqlite3_bind_int(st, 15, (k->flags & TASKF_RECREATED) != 0);
		return st;
	case LATER_TASK_DISCARD:
		st = w->ins_task_discard;
		bind_time(w, st, 1, k->t);
		sqlite3_bind_int64(st, 2, k->peripheral);
		sqlite3_bind_int64(st, 3, k->dialogue);
		sqlite3_bind_int64(st, 4, k->mrd);
		sqlite3_bind_text(st, 5, k->selector, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 6, k->rule, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 7, k->cause, -1, SQLITE_TRANSIENT);
		return st;
	default:
		st = w->ins_left_out;
		bind_time(w, st, 1, k->t);
		sqlite3_bind_int64(st, 2, k->peripheral);
		sqlite3_bind_int64(st, 3, k->dialogue);
		sqlite3_bind_int64(st, 4, k->mrd);
		sqlite3_bind_int64(st, 5, k->agent);
		for (i = 0; i < 3; i++)
			sqlite3_bind_int64(st, 6 + i, k->task[i]);
		bind_time(w, st, 9, k->start);
		sqlite3_bind_int64(st, 10, k->flags);
		sqlite3_bind_text(st, 11, k->rule, -1, SQLITE_TRANSIENT);
		return st;
	}
}

/* A row of the router's own, or a loss record of a side. */
static int
db_write_later(struct db_writer *w, const struct db_later *l)
{
	sqlite3_stmt	*st;
	char		 side[2] = { l->side, '\0' };

	switch (l->kind) {
	case LATER_DISCARD:
		st = w->ins_discard;
		bind_time(w, st, 1, l->t);
		sqlite3_bind_int64(st, 2, l->peripheral);
		bind_time(w, st, 3, l->interval);
		sqlite3_bind_int64(st, 4, l->intervals);
		sqlite3_bind_int64(st, 5, l->rows);
		sqlite3_bind_text(st, 6, l->rule, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 7, side, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 8, l->text, -1, SQLITE_TRANSIENT);
		break;
	case LATER_ACTIVATION:
		st = w->ins_activation;
		bind_time(w, st, 1, l->t);
		sqlite3_bind_int64(st, 2, l->peripheral);
		sqlite3_bind_text(st, 3, side, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, 4, l->epoch);
		sqlite3_bind_text(st, 5, l->text, -1, SQLITE_TRANSIENT);
		break;
	case LATER_META:
		st = w->set_meta;
		sqlite3_bind_text(st, 1, l->text, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, 2, l->value);
		break;
	default:
		st = db_bind_task(w, l->kind, &l->task);
		break;
	}
	return db_step(w, st);
}

/*
 * The writer: a record the router refused, recorded once by its key
 * (side, epoch, seq); 1 if recorded now, 0 if it was already.
 */
static int
db_write_refusal(struct db_writer *w, const struct db_job *j)
{
	sqlite3_stmt	*st = w->ins_refusal;
	char		 s[2] = { j->row.side, '\0' };

	bind_time(w, st, 1, j->row.t);
	sqlite3_bind_int64(st, 2, j->row.peripheral);
	bind_time(w, st, 3, j->iv.start);
	sqlite3_bind_int64(st, 4, j->iv.count);
	sqlite3_bind_text(st, 5, s, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 6, j->row.text, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 7, j->iv.epoch);
	sqlite3_bind_int64(st, 8, j->iv.seq);
	if (db_step(w, st) == -1)
		return -1;
	return sqlite3_changes(w->h) > 0;
}

/* The writer: how many rows written behind ever were, and when. */
static void
db_write_behind_count(struct db_writer *w, uint64_t written)
{
	sqlite3_bind_text(w->set_meta, 1, "written_behind", -1, SQLITE_STATIC);
	sqlite3_bind_int64(w->set_meta, 2, (sqlite3_int64)written);
	if (db_step(w, w->set_meta) == 0) {
		sqlite3_bind_text(w->set_meta, 1, "written_behind_ms", -1,
		    SQLITE_STATIC);
		sqlite3_bind_int64(w->set_meta, 2,
		    (sqlite3_int64)(wall_now() * 1000));
		db_step(w, w->set_meta);
	}
}

/*
 * The writer: one job in one transaction.  rc: -1 if nothing of it was
 * written (error says why); else, for an interval the rows stored now
 * (the others were there already), for a refusal 1 if recorded now.
 */
static void
db_run(struct db_writer *w, struct db_job *j)
{
	struct db_later	*l;
	uint32_t	 agent, mrd, f[IVL_NFIELDS];
	size_t		 i;
	int		 rc, n = 0;

	if (db_begin(w, j->last_try) == 0)
		switch (j->kind) {
		case JOB_INTERVAL:
			for (i = 0; i < j->iv.count; i++) {
				msg_interval_row_get(j->rows + i *
				    MSG_IVL_ROW_LEN, &agent, &mrd, f);
				if ((rc = db_write_interval(w, &j->iv, agent,
				    mrd, f, j->now)) == -1)
					break;
				n += rc;
			}
			break;
		case JOB_REFUSAL:
			n = db_write_refusal(w, j);
			break;
		case JOB_DISCARD:
			db_write_later(w, &j->row);
			break;
		case JOB_BATCH:
			TAILQ_FOREACH(l, &j->later, entry)
				if (db_write_later(w, l) == -1)
					break;
			for (i = 0; i < j->nops && !w->tx_failed; i++)
				if ((j->ops[i].logout &&
				    db_write_logout(w, &j->ops[i]) == -1) ||
				    db_write_event(w, &j->ops[i]) == -1 ||
				    db_write_session(w, &j->ops[i]) == -1)
					break;
			if (!w->tx_failed)
				db_write_behind_count(w, w->written +
				    j->nops + j->nlater);
			break;
		}
	if (db_commit(w) == -1) {
		j->rc = -1;
		snprintf(j->error, sizeof(j->error), "%s", w->error);
	} else {
		j->rc = n;
		if (j->kind == JOB_BATCH)
			w->written += j->nops + j->nlater;
	}
}

/*
 * The writer thread: jobs in order until told to stop, the queue empty.
 * It yields the CPU to the loop (Linux gives a thread its own nice
 * value): a failover's 100,000 logout rows are written while the agents
 * log back in, and the router's real-time state must not wait for them.
 * (Raising one's own nice value is always allowed.)
 */
static void *
db_writer_main(void *arg)
{
	struct db	*db = arg;
	struct db_job	*j;
	uint64_t	 one = 1;

	(void)setpriority(PRIO_PROCESS, (id_t)gettid(), DB_WRITER_NICE);
	pthread_mutex_lock(&db->mtx);
	for (;;) {
		while (TAILQ_EMPTY(&db->jobs) && !db->stop)
			pthread_cond_wait(&db->cond, &db->mtx);
		if ((j = TAILQ_FIRST(&db->jobs)) == NULL)
			break;
		TAILQ_REMOVE(&db->jobs, j, entry);
		pthread_mutex_unlock(&db->mtx);
		db_run(&db->w, j);
		pthread_mutex_lock(&db->mtx);
		TAILQ_INSERT_TAIL(&db->done, j, entry);
		if (!db->signalled) {
			db->signalled = 1;
			if (write(db->done_fd, &one, sizeof(one)) == -1 &&
			    errno != EAGAIN)
				fatal("history database: eventfd");
		}
	}
	pthread_mutex_unlock(&db->mtx);
	return NULL;
}

/* Hand the writer a job. */
static void
db_submit(struct db *db, struct db_job *j)
{
	pthread_mutex_lock(&db->mtx);
	TAILQ_INSERT_TAIL(&db->jobs, j, entry);
	pthread_cond_signal(&db->cond);
	pthread_mutex_unlock(&db->mtx);
}

static void
db_later_free(struct db_later_list *list)
{
	struct db_later	*l;

	while ((l = TAILQ_FIRST(list)) != NULL) {
		TAILQ_REMOVE(list, l, entry);
		free(l);
	}
}

static void
db_job_free(struct db_job *j)
{
	if (j->kind == JOB_BATCH)
		db_later_free(&j->later);
	free(j->ops);
	free(j->rows);
	free(j);
}

/* The loop: a write failed, or one worked after some failed; say so. */
static void
db_result(struct db *db, const struct db_job *j)
{
	if (j->rc == -1) {
		snprintf(db->error, sizeof(db->error), "%s", j->error);
		if (db->failing++ == 0)
			log_warnx("history database: %s; what is not stored "
			    "stays with its sender and is written again later",
			    db->error);
		else
			log_debug("history database: %s (%llu failed writes "
			    "in a row)", db->error,
			    (unsigned long long)db->failing);
	} else if (db->failing > 0) {
		log_info("history database: writing again after %llu failed "
		    "writes", (unsigned long long)db->failing);
		db->failing = 0;
		db->error[0] = '\0';
	}
}

/* When the rows written behind go to the writer next (none waits now). */
static void
db_schedule(struct db *db, int now)
{
	struct timeval	tv;
	uint64_t	since = mono_ms() - db->first_op_ms;
	int		ms = now ? 0 : DB_FLUSH_QUIET_MS;

	if (db->batch != NULL || db->retry_ms != 0 || db->closing ||
	    (db->nops == 0 && db->nlater == 0))
		return;		/* the batch, or the retry timer, calls */
	if (db->nops > 0 && since + (uint64_t)ms > DB_FLUSH_MAX_MS)
		ms = since >= DB_FLUSH_MAX_MS ? 0 :
		    (int)(DB_FLUSH_MAX_MS - since);
	ms_to_tv(ms, &tv);
	evtimer_add(db->ev_flush, &tv);
}

/*
 * A batch with logout rows is written: the history of a failover (or of
 * an agent's logout) is in the database, which the event says, with the
 * rows and the rules they record.  Batches of state changes alone are
 * routine and say nothing.
 */
static void
db_told_written(const struct db_job *j)
{
	const char	*rules[8];
	char		 text[64] = "";
	size_t		 i, k, nrules = 0, logouts = 0, len;

	for (i = 0; i < j->nops; i++) {
		logouts += j->ops[i].logout;
		if (j->ops[i].rule == NULL)
			continue;
		for (k = 0; k < nrules; k++)
			if (strcmp(rules[k], j->ops[i].rule) == 0)
				break;
		if (k == nrules && nrules < sizeof(rules) / sizeof(rules[0]))
			rules[nrules++] = j->ops[i].rule;
	}
	if (logouts == 0)
		return;
	for (k = 0; k < nrules; k++) {
		len = strlen(text);
		snprintf(text + len, sizeof(text) - len, "%s%s", k ? "," : "",
		    rules[k]);
	}
	evt_emit(RULE_NONE, "history_written", json_pack("{s:I, s:I, s:I, "
	    "s:s}", "logout_rows", (json_int_t)logouts, "event_rows",
	    (json_int_t)j->nops, "own_rows", (json_int_t)j->nlater, "rules",
	    text), "history database: %zu Agent_Logout and %zu "
	    "Agent_Event_Detail rows written%s%s", logouts, j->nops,
	    nrules ? ", rules " : "", text);
}

/* A batch came back: written, or back in front of what queued since. */
static void
db_batch_done(struct db *db, struct db_job *j)
{
	struct timeval	 tv;
	struct db_later	*l;
	size_t		 n;

	db->batch = NULL;
	if (j->rc != -1) {
		db_told_written(j);
		if (db->retry_ms != 0)
			log_info("history database: %zu session rows and %zu "
			    "rows of the router's own that waited are written",
			    j->nops, j->nlater);
		else
			log_debug("history database: %zu session rows "
			    "written", j->nops);
		db->retry_ms = 0;
		db_job_free(j);
		db_schedule(db, db->nlater > 0);
		return;
	}
	/* Its rows first, in order, then those that came meanwhile. */
	if (db->nops > 0) {
		n = j->nops + db->nops;
		j->ops = xreallocarray(j->ops, n, sizeof(*j->ops));
		memcpy(j->ops + j->nops, db->ops, db->nops * sizeof(*db->ops));
		free(db->ops);
		j->nops = n;
	} else
		free(db->ops);
	db->ops = j->ops;
	db->nops = db->cap = j->nops;
	j->ops = NULL;
	while ((l = TAILQ_LAST(&j->later, db_later_list)) != NULL) {
		TAILQ_REMOVE(&j->later, l, entry);
		TAILQ_INSERT_HEAD(&db->later, l, entry);
	}
	db->nlater += j->nlater;
	if (db->retry_ms == 0) {
		db->retry_ms = DB_RETRY_MIN_MS;
		log_warnx("history database: %zu session rows (Agent_Logout, "
		    "Agent_Event_Detail) and %zu rows of the router's own not "
		    "written: %s; they stay queued", db->nops, db->nlater,
		    j->error);
	}
	log_debug("history database: %zu session rows and %zu rows of the "
	    "router's own wait, next try in %d ms", db->nops, db->nlater,
	    db->retry_ms);
	db_job_free(j);
	if (db->closing)
		return;
	ms_to_tv(db->retry_ms, &tv);
	evtimer_add(db->ev_flush, &tv);
	db->retry_ms = db->retry_ms * 2 > DB_RETRY_MAX_MS ? DB_RETRY_MAX_MS :
	    db->retry_ms * 2;
}

/* The loop: what the writer finished, in order. */
static void
db_reap(struct db *db)
{
	struct db_job_list	 list;
	struct db_job		*j;
	struct db_result	 r;
	uint64_t		 v;

	TAILQ_INIT(&list);
	pthread_mutex_lock(&db->mtx);
	TAILQ_CONCAT(&list, &db->done, entry);
	if (db->signalled) {
		db->signalled = 0;
		while (read(db->done_fd, &v, sizeof(v)) == -1 &&
		    errno == EINTR)
			;
	}
	pthread_mutex_unlock(&db->mtx);
	while ((j = TAILQ_FIRST(&list)) != NULL) {
		TAILQ_REMOVE(&list, j, entry);
		db_result(db, j);
		if (j->kind == JOB_BATCH) {
			db_batch_done(db, j);
			continue;
		}
		if (j->kind == JOB_INTERVAL)
			db->queued_rows -= j->iv.count;
		if (db->full && db->queued_rows <= db->max_rows / 2) {
			db->full = 0;
			log_info("history database: %zu interval rows wait "
			    "now; records are taken again", db->queued_rows);
		}
		memset(&r, 0, sizeof(r));
		r.rc = j->rc;
		r.error = j->error;
		r.iv = &j->iv;
		r.closing = db->closing;
		j->done(j->arg, &r);
		db_job_free(j);
	}
}

static void
db_done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct db	*db = arg;
	uint64_t	 t0 = mono_us();

	(void)fd;
	(void)what;
	db_reap(db);
	if (db->busy != NULL)
		db->busy(db->busy_arg, "history written", t0);
}

/* Hand the rows written behind to the writer, as one batch. */
static void
db_flush(struct db *db, int last_try)
{
	struct db_job	*j;

	if (db->batch != NULL || (db->nops == 0 && db->nlater == 0))
		return;
	event_del(db->ev_flush);
	j = xcalloc(1, sizeof(*j));
	j->kind = JOB_BATCH;
	j->last_try = last_try;
	j->ops = db->ops;
	j->nops = db->nops;
	TAILQ_INIT(&j->later);
	TAILQ_CONCAT(&j->later, &db->later, entry);
	j->nlater = db->nlater;
	db->ops = NULL;
	db->nops = db->cap = 0;
	db->nlater = 0;
	db->batch = j;
	db_submit(db, j);
}

static void
db_flush_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	db_flush(arg, 0);
}

/* Told how long each turn of what the writer finished held the loop. */
void
db_on_busy(struct db *db, void (*busy)(void *, const char *, uint64_t),
    void *arg)
{
	db->busy = busy;
	db->busy_arg = arg;
}

/* Rows written behind, not yet written: sessions, and the router's own. */
size_t
db_pending(const struct db *db)
{
	return db->nops + db->nlater + (db->batch != NULL ?
	    db->batch->nops + db->batch->nlater : 0);
}

/* Interval rows handed to the writer, not yet answered. */
size_t
db_queued_rows(const struct db *db)
{
	return db->queued_rows;
}

/*
 * Write what is queued (one last try), let the writer finish and join
 * it; what could not be written is lost, and said so.
 */
void
db_close(struct db *db)
{
	struct db_job	*j;

	if (db == NULL)
		return;
	if (db->running) {
		db_flush(db, 1);
		pthread_mutex_lock(&db->mtx);
		db->stop = 1;
		pthread_cond_signal(&db->cond);
		pthread_mutex_unlock(&db->mtx);
		pthread_join(db->thread, NULL);
		db->running = 0;
		db->closing = 1;
		db_reap(db);
		/* A batch that failed came back: one last try, here. */
		if (db->nops > 0 || db->nlater > 0) {
			db_flush(db, 1);
			j = db->batch;
			db->batch = NULL;
			/* Run here, not by the writer, gone: off its queue. */
			pthread_mutex_lock(&db->mtx);
			TAILQ_REMOVE(&db->jobs, j, entry);
			pthread_mutex_unlock(&db->mtx);
			db_run(&db->w, j);
			if (j->rc == -1)
				log_warnx("history database: %zu session rows "
				    "(Agent_Logout, Agent_Event_Detail) and %zu "
				    "rows of the router's own (losses, "
				    "activations, meta, tasks) could not be "
				    "written before exit and are lost: %s",
				    j->nops, j->nlater, j->error);
			db_job_free(j);
		}
	}
	while ((j = TAILQ_FIRST(&db->jobs)) != NULL) {
		TAILQ_REMOVE(&db->jobs, j, entry);
		db_job_free(j);
	}
	if (db->ev_done != NULL)
		event_free(db->ev_done);
	if (db->done_fd != -1)
		close(db->done_fd);
	event_free(db->ev_flush);
	event_free(db->ev_queued);
	free(db->ops);
	db_later_free(&db->later);
	sqlite3_finalize(db->w.ins_interval);
	sqlite3_finalize(db->w.ins_logout);
	sqlite3_finalize(db->w.ins_event);
	sqlite3_finalize(db->w.ins_discard);
	sqlite3_finalize(db->w.ins_refusal);
	sqlite3_finalize(db->w.ins_activation);
	sqlite3_finalize(db->w.set_meta);
	sqlite3_finalize(db->w.set_session);
	sqlite3_finalize(db->w.del_session);
	sqlite3_finalize(db->w.ins_rcd);
	sqlite3_finalize(db->w.ins_tcd);
	sqlite3_finalize(db->w.ins_task_discard);
	sqlite3_finalize(db->w.ins_left_out);
	sqlite3_close(db->w.h);
	sqlite3_close(db->h);
	if (db->queued_total != NULL)
		munmap((void *)db->queued_total, sizeof(uint64_t));
	pthread_cond_destroy(&db->cond);
	pthread_mutex_destroy(&db->mtx);
	free(db);
}

/*
 * Store an interval's rows, all or none, at the writer; done(arg, result)
 * once committed or not.  -1 if the writer has DB_QUEUE_ROWS interval
 * rows waiting already: not queued, why in *why (answer "not stored").
 */
int
db_put_interval(struct db *db, const struct msg_interval *iv, double now,
    db_done_fn *done, void *arg, const char **why)
{
	struct db_job	*j;

	if (db->queued_rows + iv->count > db->max_rows && db->queued_rows > 0) {
		if (!db->full) {
			db->full = 1;
			log_warnx("history database: %zu interval rows wait "
			    "to be written (at most %zu): records are "
			    "answered \"not stored\" until they are written, "
			    "and their sides send them again", db->queued_rows,
			    db->max_rows);
		}
		*why = "the writer is behind (too many rows wait)";
		return -1;
	}
	j = xcalloc(1, sizeof(*j));
	j->kind = JOB_INTERVAL;
	j->iv = *iv;
	j->rows = xreallocarray(NULL, iv->count + 1, MSG_IVL_ROW_LEN);
	memcpy(j->rows, iv->rows, (size_t)iv->count * MSG_IVL_ROW_LEN);
	j->iv.rows = NULL;
	j->now = now;
	j->done = done;
	j->arg = arg;
	db->queued_rows += iv->count;
	db_submit(db, j);
	return 0;
}

/* A record the router refused, recorded once (R1); done as above. */
void
db_put_refusal(struct db *db, uint32_t peripheral,
    const struct msg_interval *iv, char side, const char *reason,
    db_done_fn *done, void *arg)
{
	struct db_job	*j = xcalloc(1, sizeof(*j));

	j->kind = JOB_REFUSAL;
	j->iv = *iv;
	j->iv.rows = NULL;
	j->row.t = wall_now();
	j->row.peripheral = peripheral;
	j->row.side = side;
	snprintf(j->row.text, sizeof(j->row.text), "%s", reason);
	j->done = done;
	j->arg = arg;
	db_submit(db, j);
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

/* A loss a PG side reported (its DISCARD record); done as above. */
void
db_put_discard(struct db *db, const struct msg_discard *d, const char *rule,
    db_done_fn *done, void *arg)
{
	struct db_job	*j = xcalloc(1, sizeof(*j));

	j->kind = JOB_DISCARD;
	db_later_init(&j->row, LATER_DISCARD, d->peripheral, (char)d->side,
	    d->text);
	j->row.interval = d->interval_start;
	j->row.intervals = d->intervals;
	j->row.rows = d->rows;
	snprintf(j->row.rule, sizeof(j->row.rule), "%s", rule);
	j->done = done;
	j->arg = arg;
	db_submit(db, j);
}

/*
 * Queue a session row.  Rows are written once a burst is over (a failover
 * logs out and back in every agent at once), and never on the loop: the
 * product's Logger, too, writes behind the CallRouter.  When is decided
 * once the loop is done with what queued them (db_queued_cb), not for
 * each of a failover's 100,000 rows.
 */
static void
db_queue(struct db *db, const struct db_op *op)
{
	if (db->nops == db->cap) {
		db->cap = db->cap ? db->cap * 2 : 1024;
		db->ops = xreallocarray(db->ops, db->cap, sizeof(*db->ops));
	}
	if (db->nops == 0)
		db->first_op_ms = mono_ms();
	db->ops[db->nops++] = *op;
	(*db->queued_total)++;
	if (!db->queued) {
		db->queued = 1;
		event_active(db->ev_queued, EV_TIMEOUT, 0);
	}
}

/* The rows of this turn are queued: the burst goes on until quiet. */
static void
db_queued_cb(evutil_socket_t fd, short what, void *arg)
{
	struct db	*db = arg;

	(void)fd;
	(void)what;
	db->queued = 0;
	db_schedule(db, 0);
}

/* An agent's row at time t (logged in since login), in a blank *op. */
static void
db_op_agent(struct db_op *op, const struct db_key *k, double t,
    double login, int event, int state)
{
	memset(op, 0, sizeof(*op));
	op->peripheral = k->peripheral;
	op->agent = k->agent;
	op->mrd = k->mrd;
	op->t = t;
	op->login = login;
	op->event = event;
	op->state = state;
}

void
db_logout(struct db *db, const struct db_key *k, double login,
    double logout, int32_t reason, const char *rule)
{
	struct db_op	op;

	db_op_agent(&op, k, logout, login, DB_EVENT_LOGOUT, AS_LOGOUT);
	op.logout = 1;
	op.duration = login > 0 ? logout - login : 0;
	op.reason = reason;
	op.rule = rule;
	db_queue(db, &op);
}

void
db_event(struct db *db, const struct db_key *k, double t, double login,
    int event, int state, int32_t reason, double duration, const char *rule)
{
	struct db_op	op;

	db_op_agent(&op, k, t, login, event, state);
	op.duration = duration;
	op.reason = reason;
	op.rule = rule;
	db_queue(db, &op);
}

/*
 * R19: an agent's state in an email MRD as the application's resync
 * bracket told it: an Agent_Event_Detail row of DB_EVENT_STATE at the
 * time the state began, flagged Recreated; once, even told again to a
 * restarted router (a unique index over the recreated rows).
 */
void
db_resync_event(struct db *db, const struct db_key *k, double t,
    double login, int state)
{
	struct db_op	op;

	db_op_agent(&op, k, t, login, DB_EVENT_STATE, state);
	op.rule = rule_tag(RULE_R19);
	op.recreated = 1;
	db_queue(db, &op);
}

/*
 * A row of the router's own (nobody else will send it again): written
 * behind, at once, in order with the others (a meta value must not be
 * overwritten by an older one), kept and tried again while writes fail.
 */
static void
db_keep(struct db *db, const struct db_later *l)
{
	struct db_later	*k = xmalloc(sizeof(*k));

	*k = *l;
	TAILQ_INSERT_TAIL(&db->later, k, entry);
	db->nlater++;
	(*db->queued_total)++;
	db_schedule(db, 1);
}

/* A loss the router records itself (a side that vanished). */
void
db_discard(struct db *db, uint32_t peripheral, double interval,
    uint32_t intervals, uint32_t rows, const char *rule, char side,
    const char *reason)
{
	struct db_later	l;

	db_later_init(&l, LATER_DISCARD, peripheral, side, reason);
	l.interval = interval;
	l.intervals = intervals;
	l.rows = rows;
	snprintf(l.rule, sizeof(l.rule), "%s", rule);
	db_keep(db, &l);
}

void
db_activation(struct db *db, uint32_t peripheral, char side, uint32_t epoch,
    const char *reason)
{
	struct db_later	l;

	db_later_init(&l, LATER_ACTIVATION, peripheral, side, reason);
	l.epoch = epoch;
	db_keep(db, &l);
}

void
db_set_meta(struct db *db, const char *key, int64_t v)
{
	struct db_later	l;

	db_later_init(&l, LATER_META, 0, 0, key);
	l.value = v;
	db_keep(db, &l);
}

/* The row of a task, written behind with the router's own. */
static void
db_keep_task(struct db *db, enum db_later_kind kind, const struct db_task *k)
{
	struct db_later	l;

	db_later_init(&l, kind, k->peripheral, 0, "");
	l.task = *k;
	db_keep(db, &l);
}

/* A NEW_TASK answered: routed (code 0) or failed. */
void
db_route_call(struct db *db, const struct db_task *k)
{
	db_keep_task(db, LATER_ROUTE_CALL, k);
}

/* A task ended; the same task told twice is stored once. */
void
db_task_end(struct db *db, const struct db_task *k)
{
	db_keep_task(db, LATER_TCD, k);
}

/* A pending NEW_TASK discarded (R12, R17). */
void
db_task_discard(struct db *db, const struct db_task *k)
{
	db_keep_task(db, LATER_TASK_DISCARD, k);
}

/* A task left out of reports (R15, R17), stored once. */
void
db_left_out(struct db *db, const struct db_task *k)
{
	db_keep_task(db, LATER_LEFT_OUT, k);
}

int64_t
db_get_meta(struct db *db, const char *key, int64_t def)
{
	sqlite3_stmt	*st;
	int64_t		 v = def;

	st = db_prepare(db, db->h, "SELECT value FROM pgemu_meta WHERE"
	    " key = ?");
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* The login sessions left open, for a router that starts. */
int
db_open_sessions(struct db *db, uint32_t peripheral,
    void (*cb)(void *, uint32_t, uint32_t, double), void *arg)
{
	sqlite3_stmt	*st;
	int		 n = 0;

	st = db_prepare(db, db->h, "SELECT SkillTargetID, MRDomainID,"
	    " LoginTime FROM pgemu_session WHERE PeripheralID = ?");
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

	st = db_prepare(db, db->h, "SELECT CAST(strftime('%s', MAX(DateTime))"
	    " AS INTEGER) FROM Agent_Interval WHERE PeripheralID = ?");
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

	st = db_prepare(db, db->h, "SELECT DateTime, SkillTargetID,"
	    " PeripheralID,"
	    " LoggedOnTime, AvailTime, NotReadyTime, ReservedStateTime,"
	    " TalkTime, WorkReadyTime, WorkNotReadyTime, CallsHandled,"
	    " IntervalLength, Incomplete, PGSide, Epoch, MRDomainID"
	    " FROM Agent_Interval"
	    " ORDER BY DateTime DESC, SkillTargetID, MRDomainID LIMIT ?");
	sqlite3_bind_int(st, 1, limit);
	while (sqlite3_step(st) == SQLITE_ROW)
		json_array_append_new(a, json_pack("{s:s?, s:I, s:I, s:I, s:I,"
		    " s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:b, s:s?, s:I}",
		    "DateTime", (const char *)sqlite3_column_text(st, 0),
		    "SkillTargetID", (json_int_t)sqlite3_column_int64(st, 1),
		    "MRDomainID", (json_int_t)sqlite3_column_int64(st, 15),
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
