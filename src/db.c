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

struct db {
	sqlite3		*h;
	sqlite3_stmt	*ins_interval, *ins_logout, *ins_event, *ins_discard,
			*ins_activation, *set_meta, *get_meta;
	int		 in_tx;
};

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
void
db_time(double t, char *buf, size_t len)
{
	time_t		secs = (time_t)t;
	struct tm	tm;
	char		b[32];

	gmtime_r(&secs, &tm);
	strftime(b, sizeof(b), "%Y-%m-%d %H:%M:%S", &tm);
	snprintf(buf, len, "%s.%03d", b, (int)((t - (double)secs) * 1000));
}

static sqlite3_stmt *
db_prepare(struct db *db, const char *sql)
{
	sqlite3_stmt	*st;

	if (sqlite3_prepare_v2(db->h, sql, -1, &st, NULL) != SQLITE_OK)
		fatalx("history database: %s: %s", sql, sqlite3_errmsg(db->h));
	return st;
}

struct db *
db_open(const char *path, char *err, size_t errlen)
{
	struct db	*db = xcalloc(1, sizeof(*db));
	char		*msg = NULL;

	if (sqlite3_open(path, &db->h) != SQLITE_OK) {
		snprintf(err, errlen, "history database %s: %s", path,
		    sqlite3_errmsg(db->h));
		sqlite3_close(db->h);
		free(db);
		return NULL;
	}
	sqlite3_busy_timeout(db->h, 5000);
	if (sqlite3_exec(db->h, db_schema, NULL, NULL, &msg) != SQLITE_OK) {
		snprintf(err, errlen, "history database %s: %s", path, msg);
		sqlite3_free(msg);
		sqlite3_close(db->h);
		free(db);
		return NULL;
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
	return db;
}

void
db_close(struct db *db)
{
	if (db == NULL)
		return;
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

void
db_logout(struct db *db, uint32_t peripheral, uint32_t agent, double login,
    double logout, int32_t reason, const char *rule)
{
	sqlite3_stmt	*st = db->ins_logout;

	bind_time(st, 1, logout);
	sqlite3_bind_int64(st, 2, agent);
	sqlite3_bind_int64(st, 3, peripheral);
	bind_time(st, 4, login);
	sqlite3_bind_int64(st, 5, login > 0 ? (int64_t)(logout - login) : 0);
	sqlite3_bind_int(st, 6, reason);
	sqlite3_bind_text(st, 7, rule, -1, SQLITE_STATIC);
	db_step(db, st);
	db_event(db, peripheral, agent, logout, login, DB_EVENT_LOGOUT,
	    AS_LOGOUT, reason, login > 0 ? logout - login : 0, rule);
}

void
db_event(struct db *db, uint32_t peripheral, uint32_t agent, double t,
    double login, int event, int state, int32_t reason, double duration,
    const char *rule)
{
	sqlite3_stmt	*st = db->ins_event;

	bind_time(st, 1, t);
	sqlite3_bind_int64(st, 2, agent);
	sqlite3_bind_int64(st, 3, peripheral);
	bind_time(st, 4, login);
	sqlite3_bind_int(st, 5, event);
	sqlite3_bind_int(st, 6, agent_state_db(state));
	sqlite3_bind_int(st, 7, reason);
	sqlite3_bind_int64(st, 8, (int64_t)duration);
	if (rule != NULL)
		sqlite3_bind_text(st, 9, rule, -1, SQLITE_STATIC);
	db_step(db, st);
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
