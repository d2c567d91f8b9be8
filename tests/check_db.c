/*
 * Check tests of the router's history database (src/roles/router/db.c),
 * written by its writer thread: a record is answered once committed, a
 * record sent twice is stored once, interval rows waiting for the writer
 * are bounded (past the bound a record is refused at once, "not stored",
 * without waiting for the writer), a locked database answers "not
 * stored", db_close() writes what waits behind and joins the writer,
 * and timestamps keep the product's text ("YYYY-MM-DD HH:MM:SS.mmm",
 * UTC).  The rows of media routing's tasks: a task's end and a task left
 * out of reports told twice are stored once; the segments of a task's
 * report (R20) a row each, also in a database an older pgemu made.
 * Agent_Interval has a row per agent and MRD; an older pgemu's (no
 * MRDomainID) is made again with its rows those of the voice MRD, and a
 * table of that name that is not pgemu's is left for the writer to
 * refuse.  A task and an agent's state a resync rebuilt (R19) are flagged
 * Recreated, the state told twice is one row, and an older database
 * gains the column.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "pgemu.h"
#include "wire.h"
#include "check_run.h"

static char		 dir[64];
static char		 path[128];
static struct event_base *base;

/* What came back for each record (by seq), and how many came back. */
static int		 back_rc[16];
static char		 back_err[16][160];
static int		 nback;

static void
setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/check_db.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/history.db", dir);
	base = event_base_new();
	memset(back_rc, 0, sizeof(back_rc));
	nback = 0;
}

static void
teardown(void)
{
	char	f[160];

	event_base_free(base);
	snprintf(f, sizeof(f), "%s-wal", path);
	unlink(f);
	snprintf(f, sizeof(f), "%s-shm", path);
	unlink(f);
	snprintf(f, sizeof(f), "%s.queued", path);
	unlink(f);
	unlink(path);
	if (rmdir(dir) == -1)
		fprintf(stderr, "check_db: %s left behind: %s\n", dir,
		    strerror(errno));
}

static void
done_cb(void *arg, const struct db_result *r)
{
	(void)arg;
	ck_assert_uint_lt(r->iv->seq, 16);
	back_rc[r->iv->seq] = r->rc;
	snprintf(back_err[r->iv->seq], sizeof(back_err[0]), "%s",
	    r->rc == -1 ? r->error : "");
	nback++;
}

/* Run the loop until n records came back (at most 10 s). */
static void
wait_back(int n)
{
	struct timeval	 tv = { 0, 10000 };
	int		 i;

	for (i = 0; i < 1000 && nback < n; i++) {
		event_base_loopexit(base, &tv);
		event_base_dispatch(base);
	}
	ck_assert_int_eq(nback, n);
}

static void
put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* An interval of n agents (1001 ...) of the voice MRD 1, record seq. */
static void
interval(struct msg_interval *iv, uint8_t *buf, int n, uint32_t seq,
    uint32_t start)
{
	int	i, f;

	memset(iv, 0, sizeof(*iv));
	iv->peripheral = 5000;
	iv->epoch = 1;
	iv->seq = seq;
	iv->start = start;
	iv->length = 1800;
	iv->side = 'A';
	iv->count = (uint16_t)n;
	for (i = 0; i < n; i++) {
		put32(buf + i * MSG_IVL_ROW_LEN, 1001 + (uint32_t)i);
		put32(buf + i * MSG_IVL_ROW_LEN + 4, 1);
		for (f = 0; f < IVL_NFIELDS; f++)
			put32(buf + i * MSG_IVL_ROW_LEN + 8 + 4 * f, 1000);
	}
	iv->rows = buf;
}

/* One value of the database, through a connection of the test's own. */
static void
query(const char *sql, char *out, size_t len)
{
	sqlite3		*h;
	sqlite3_stmt	*st;

	ck_assert_int_eq(sqlite3_open(path, &h), SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	snprintf(out, len, "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	sqlite3_close(h);
}

START_TEST(test_bound)
{
	static uint8_t		 buf[40 * MSG_IVL_ROW_LEN];
	struct msg_interval	 iv;
	struct db		*db;
	const char		*why = NULL;
	char			 err[256], v[64];

	db = db_open(base, path, 100, 1, err, sizeof(err));
	ck_assert_msg(db != NULL, "%s", err);
	/*
	 * Three records of 40 rows, the loop not running in between: the
	 * third is past the bound (100) whatever the writer did meanwhile,
	 * and is answered at once.
	 */
	interval(&iv, buf, 40, 1, 1700000000);
	ck_assert_int_eq(db_put_interval(db, &iv, 1700000100.0, done_cb,
	    NULL, &why), 0);
	interval(&iv, buf, 40, 2, 1700001800);
	ck_assert_int_eq(db_put_interval(db, &iv, 1700001900.0, done_cb,
	    NULL, &why), 0);
	ck_assert_uint_eq(db_queued_rows(db), 80);
	interval(&iv, buf, 40, 3, 1700003600);
	ck_assert_int_eq(db_put_interval(db, &iv, 1700003700.0, done_cb,
	    NULL, &why), -1);
	ck_assert_ptr_nonnull(why);
	ck_assert_int_eq(nback, 0);
	wait_back(2);
	ck_assert_int_eq(back_rc[1], 40);
	ck_assert_int_eq(back_rc[2], 40);
	ck_assert_uint_eq(db_queued_rows(db), 0);
	/* Sent again, taken now; and record 1 again is stored once. */
	ck_assert_int_eq(db_put_interval(db, &iv, 1700003700.0, done_cb,
	    NULL, &why), 0);
	interval(&iv, buf, 40, 1, 1700000000);
	ck_assert_int_eq(db_put_interval(db, &iv, 1700000200.0, done_cb,
	    NULL, &why), 0);
	wait_back(4);
	ck_assert_int_eq(back_rc[3], 40);
	ck_assert_int_eq(back_rc[1], 0);
	db_close(db);
	query("SELECT COUNT(*) FROM Agent_Interval", v, sizeof(v));
	ck_assert_str_eq(v, "120");
	query("SELECT RecordedAt FROM Agent_Interval WHERE Seq = 1 LIMIT 1", v,
	    sizeof(v));
	ck_assert_str_eq(v, "2023-11-14 22:15:00.000");
}
END_TEST

START_TEST(test_locked)
{
	static uint8_t		 buf[5 * MSG_IVL_ROW_LEN];
	struct msg_interval	 iv;
	struct db		*db;
	sqlite3			*h;
	const char		*why;
	char			 err[256], v[64];

	db = db_open(base, path, DB_QUEUE_ROWS, 1, err, sizeof(err));
	ck_assert_msg(db != NULL, "%s", err);
	ck_assert_int_eq(sqlite3_open(path, &h), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(h, "BEGIN EXCLUSIVE", NULL, NULL, NULL),
	    SQLITE_OK);
	interval(&iv, buf, 5, 1, 1700000000);
	ck_assert_int_eq(db_put_interval(db, &iv, 1700000100.0, done_cb,
	    NULL, &why), 0);
	wait_back(1);
	ck_assert_int_eq(back_rc[1], -1);
	ck_assert_msg(strstr(back_err[1], "locked") != NULL, "%s",
	    back_err[1]);
	ck_assert_int_eq(sqlite3_exec(h, "ROLLBACK", NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(h);
	/* The fast failure after a failure is over in 150 ms. */
	usleep(200000);
	interval(&iv, buf, 5, 2, 1700000000);
	ck_assert_int_eq(db_put_interval(db, &iv, 1700000100.0, done_cb,
	    NULL, &why), 0);
	wait_back(2);
	ck_assert_int_eq(back_rc[2], 5);
	db_close(db);
	query("SELECT COUNT(*) FROM Agent_Interval", v, sizeof(v));
	ck_assert_str_eq(v, "5");
}
END_TEST

/* Rows written behind are written by db_close(), with their times. */
START_TEST(test_close_writes_behind)
{
	struct db_key	 k = { 5000, 1001, 1 };
	struct db	*db;
	char		 err[256], v[64];
	int		 i;

	db = db_open(base, path, DB_QUEUE_ROWS, 1, err, sizeof(err));
	ck_assert_msg(db != NULL, "%s", err);
	db_event(db, &k, 1234567890.5, 1700000001.25, DB_EVENT_LOGIN,
	    AS_AVAILABLE, 0, 0, "R8");
	for (i = 0; i < 999; i++) {
		k.agent = 2000 + (uint32_t)i;
		db_logout(db, &k, 1700000000.125, 1700000000.875 + i, 50002,
		    "R6");
	}
	db_set_meta(db, "max_epoch", 7);
	ck_assert_uint_eq(db_pending(db), 1001);
	db_close(db);
	query("SELECT DateTime || '|' || LoginDateTime FROM "
	    "Agent_Event_Detail WHERE SkillTargetID = 1001", v, sizeof(v));
	ck_assert_str_eq(v, "2009-02-13 23:31:30.500|2023-11-14 22:13:21.250");
	query("SELECT LogoutDateTime || '|' || LoginDateTime FROM "
	    "Agent_Logout WHERE SkillTargetID = 2998", v, sizeof(v));
	ck_assert_str_eq(v, "2023-11-14 22:29:58.875|2023-11-14 22:13:20.125");
	query("SELECT COUNT(*) FROM Agent_Logout", v, sizeof(v));
	ck_assert_str_eq(v, "999");
	query("SELECT COUNT(*) FROM pgemu_session", v, sizeof(v));
	ck_assert_str_eq(v, "1");
	query("SELECT value FROM pgemu_meta WHERE key = 'max_epoch'", v,
	    sizeof(v));
	ck_assert_str_eq(v, "7");
}
END_TEST

/* Statements of the test's own connection. */
static void
exec_sql(const char *sql)
{
	sqlite3	*h;
	char	*msg = NULL;

	ck_assert_int_eq(sqlite3_open(path, &h), SQLITE_OK);
	ck_assert_msg(sqlite3_exec(h, sql, NULL, NULL, &msg) == SQLITE_OK,
	    "%s: %s", sql, msg);
	sqlite3_close(h);
}

/*
 * One agent's row in the voice MRD and in MRD 2 of the same interval: two
 * rows (the key has the MRD), each stored once.
 */
START_TEST(test_interval_mrds)
{
	static uint8_t		 buf[2 * MSG_IVL_ROW_LEN];
	struct msg_interval	 iv;
	struct db		*db;
	const char		*why = NULL;
	char			 err[256], v[160];

	db = db_open(base, path, DB_QUEUE_ROWS, 1, err, sizeof(err));
	ck_assert_msg(db != NULL, "%s", err);
	interval(&iv, buf, 2, 1, 1700000000);
	put32(buf + MSG_IVL_ROW_LEN, 1001);
	put32(buf + MSG_IVL_ROW_LEN + 4, 2);
	put32(buf + MSG_IVL_ROW_LEN + 8 + 4 * IVL_TALK, 61400);
	put32(buf + MSG_IVL_ROW_LEN + 8 + 4 * IVL_CALLS, 3);
	ck_assert_int_eq(db_put_interval(db, &iv, 1700000100.0, done_cb,
	    NULL, &why), 0);
	wait_back(1);
	ck_assert_int_eq(back_rc[1], 2);
	iv.seq = 2;
	ck_assert_int_eq(db_put_interval(db, &iv, 1700000100.0, done_cb,
	    NULL, &why), 0);
	wait_back(2);
	ck_assert_int_eq(back_rc[2], 0);
	db_close(db);
	query("SELECT GROUP_CONCAT(MRDomainID || ':' || TalkTime || ':' || "
	    "CallsHandled, ' ') FROM (SELECT * FROM Agent_Interval WHERE "
	    "SkillTargetID = 1001 ORDER BY MRDomainID)", v, sizeof(v));
	ck_assert_str_eq(v, "1:1:1000 2:61:3");
}
END_TEST

/*
 * A database of an older pgemu: Agent_Interval without MRDomainID, with
 * rows.  Opened in a lab whose voice MRD is 7, it is made again: the
 * rows kept as the voice MRD's, the MRD in the key (a row of MRD 2 of the
 * same agent and interval is stored beside), and opened again, nothing
 * more changes.  A table of that name that is not pgemu's is left as it
 * is, and the writer refuses it.
 */
START_TEST(test_upgrade_intervals)
{
	static uint8_t		 buf[MSG_IVL_ROW_LEN];
	struct msg_interval	 iv;
	struct db		*db;
	const char		*why = NULL;
	char			 err[256], v[200];
	int			 i;

	exec_sql("CREATE TABLE Agent_Interval ("
	    " DateTime TEXT NOT NULL, SkillTargetID INTEGER NOT NULL,"
	    " TimeZone INTEGER NOT NULL DEFAULT 0,"
	    " PeripheralID INTEGER NOT NULL,"
	    " LoggedOnTime INTEGER, AvailTime INTEGER, NotReadyTime INTEGER,"
	    " ReservedStateTime INTEGER, TalkTime INTEGER,"
	    " WorkReadyTime INTEGER, WorkNotReadyTime INTEGER,"
	    " CallsHandled INTEGER, IntervalLength INTEGER,"
	    " Incomplete INTEGER NOT NULL DEFAULT 0, PGSide TEXT,"
	    " Epoch INTEGER, Seq INTEGER, RecordedAt TEXT,"
	    " PRIMARY KEY (DateTime, SkillTargetID, TimeZone));"
	    "INSERT INTO Agent_Interval VALUES ('2023-11-14 22:00:00.000',"
	    " 1001, 0, 5000, 1800, 1700, 100, 0, 0, 0, 0, 0, 1800, 0, 'A',"
	    " 3, 1, '2023-11-14 22:30:00.000');"
	    "INSERT INTO Agent_Interval VALUES ('2023-11-14 22:00:00.000',"
	    " 1002, 0, 5000, 900, 0, 900, 0, 0, 0, 0, 0, 1800, 1, 'A',"
	    " 3, 1, '2023-11-14 22:30:00.000');");
	for (i = 0; i < 2; i++) {
		db = db_open(base, path, DB_QUEUE_ROWS, 7, err, sizeof(err));
		ck_assert_msg(db != NULL, "%s", err);
		db_close(db);
		query("SELECT GROUP_CONCAT(SkillTargetID || ':' || MRDomainID "
		    "|| ':' || LoggedOnTime || ':' || Incomplete || ':' || "
		    "RecordedAt, ' ') FROM (SELECT * FROM Agent_Interval ORDER "
		    "BY SkillTargetID)", v, sizeof(v));
		ck_assert_str_eq(v, "1001:7:1800:0:2023-11-14 22:30:00.000 "
		    "1002:7:900:1:2023-11-14 22:30:00.000");
	}
	query("SELECT COUNT(*) FROM sqlite_master WHERE name = "
	    "'Agent_Interval_old'", v, sizeof(v));
	ck_assert_str_eq(v, "0");
	db = db_open(base, path, DB_QUEUE_ROWS, 7, err, sizeof(err));
	ck_assert_msg(db != NULL, "%s", err);
	interval(&iv, buf, 1, 5, 1700000000 - 1700000000 % 1800);
	put32(buf + 4, 2);
	ck_assert_int_eq(db_put_interval(db, &iv, 1700000100.0, done_cb,
	    NULL, &why), 0);
	wait_back(1);
	ck_assert_int_eq(back_rc[5], 1);
	db_close(db);
	query("SELECT COUNT(*) || ':' || GROUP_CONCAT(MRDomainID) FROM "
	    "(SELECT * FROM Agent_Interval WHERE SkillTargetID = 1001 ORDER "
	    "BY MRDomainID)", v, sizeof(v));
	ck_assert_str_eq(v, "2:2,7");

	/* Not pgemu's: left as it is, refused. */
	exec_sql("DROP TABLE Agent_Interval;"
	    "CREATE TABLE Agent_Interval (Who TEXT, Seconds INTEGER);");
	ck_assert_ptr_null(db_open(base, path, DB_QUEUE_ROWS, 7, err,
	    sizeof(err)));
	ck_assert_msg(strstr(err, "table Agent_Interval has no column named")
	    != NULL, "%s", err);
	query("SELECT COUNT(*) FROM sqlite_master WHERE name LIKE "
	    "'Agent_Interval%'", v, sizeof(v));
	ck_assert_str_eq(v, "1");
}
END_TEST

/* Media routing's rows, written behind; the end of a task stored once. */
START_TEST(test_task_rows)
{
	struct db_task	 k;
	struct db	*db;
	char		 err[256], v[160];

	db = db_open(base, path, DB_QUEUE_ROWS, 1, err, sizeof(err));
	ck_assert_msg(db != NULL, "%s", err);
	memset(&k, 0, sizeof(k));
	k.t = 1700000010.5;
	k.peripheral = 5001;
	k.agent_periph = 5000;
	k.dialogue = 7;
	k.mrd = 2;
	k.agent = 1001;
	k.task[0] = 19675;
	k.task[1] = 42;
	k.skill_group = 100;
	k.queue_time = 1.6;
	snprintf(k.selector, sizeof(k.selector), "Email");
	db_route_call(db, &k);
	k.code = TASK_FAIL_DUPLICATE;
	db_route_call(db, &k);
	k.peripheral = 5000;
	k.start = 1700000000.25;
	k.call_type = TCD_CALLTYPE_ROUTED;
	k.disposition = TCD_DISP_HANDLED;
	k.disposition_flag = TCD_FLAG_HANDLED;
	db_task_end(db, &k);
	db_task_end(db, &k);		/* told again: stored once */
	k.task[1] = 44;
	k.dialogue = 10;
	k.flags = TASKF_RECREATED;
	db_task_end(db, &k);		/* rebuilt by a resync (R19) */
	k.task[1] = 43;
	k.dialogue = 8;
	k.flags = TASKF_APP_ROUTED | TASKF_ROUTING_DOWN | TASKF_ENDED_DOWN;
	snprintf(k.rule, sizeof(k.rule), "R17");
	db_left_out(db, &k);
	db_left_out(db, &k);
	k.peripheral = 5001;
	k.dialogue = 9;
	snprintf(k.rule, sizeof(k.rule), "R12");
	snprintf(k.cause, sizeof(k.cause), "side A's PIM went idle");
	db_task_discard(db, &k);
	db_close(db);
	query("SELECT COUNT(*) || '|' || GROUP_CONCAT(RouterErrorCode) || '|' "
	    "|| MIN(RouterQueueTime) || '|' || MIN(DialedNumberString) FROM "
	    "Route_Call_Detail WHERE DialogueID = 7 AND RouterCallKey = 42 AND "
	    "AgentSkillTargetID = 1001 AND SkillGroupSkillTargetID = 100", v,
	    sizeof(v));
	ck_assert_str_eq(v, "2|0,5|2|Email");
	query("SELECT COUNT(*) || '|' || MIN(DateTime) || '|' || "
	    "MIN(StartDateTime) || '|' || MIN(Duration) || '|' || "
	    "MIN(CallDisposition) || '|' || MIN(PeripheralCallType) || '|' || "
	    "MIN(RouterCallKeyDay) || '|' || MIN(Recreated) FROM "
	    "Termination_Call_Detail WHERE DialogueID = 7", v, sizeof(v));
	ck_assert_str_eq(v, "1|2023-11-14 22:13:30.500|2023-11-14 "
	    "22:13:20.250|10|13|25|19675|0");
	query("SELECT COUNT(*) || '|' || MIN(Recreated) FROM "
	    "Termination_Call_Detail WHERE DialogueID = 10", v, sizeof(v));
	ck_assert_str_eq(v, "1|1");
	query("SELECT COUNT(*) || '|' || MIN(Rule) || '|' || MIN(Flags) || '|' "
	    "|| MIN(DialogueID) FROM pgemu_left_out", v, sizeof(v));
	ck_assert_str_eq(v, "1|R17|14|8");
	query("SELECT Rule || '|' || Cause || '|' || PeripheralID FROM "
	    "pgemu_task_discard WHERE DialogueID = 9", v, sizeof(v));
	ck_assert_str_eq(v, "R12|side A's PIM went idle|5001");
}
END_TEST

/* R20: a task's report in two segments, two rows; each stored once. */
START_TEST(test_task_segments)
{
	struct db_task	 k;
	struct db	*db;
	char		 err[256], v[160];

	db = db_open(base, path, DB_QUEUE_ROWS, 1, err, sizeof(err));
	ck_assert_msg(db != NULL, "%s", err);
	memset(&k, 0, sizeof(k));
	k.t = 1700000012.0;
	k.start = 1700000010.0;
	k.peripheral = 5000;
	k.dialogue = 7;
	k.mrd = 2;
	k.agent = 1001;
	k.task[0] = 19675;
	k.task[1] = 42;
	k.call_type = TCD_CALLTYPE_ROUTED;
	k.disposition = TCD_DISP_PATH_DOWN;
	k.disposition_flag = TCD_FLAG_ERROR;
	db_task_end(db, &k);		/* segment 0: the first */
	k.segment = 1;
	db_task_end(db, &k);		/* the same: stored once */
	k.t = 1700000020.0;
	k.start = 1700000015.0;
	k.segment = 2;
	k.disposition = TCD_DISP_HANDLED;
	k.disposition_flag = TCD_FLAG_HANDLED;
	db_task_end(db, &k);
	db_task_end(db, &k);
	db_close(db);
	query("SELECT GROUP_CONCAT(Segment || ':' || CallDisposition || ':' || "
	    "CallDispositionFlag || ':' || Duration, ' ') FROM (SELECT * FROM "
	    "Termination_Call_Detail ORDER BY Segment)", v, sizeof(v));
	ck_assert_str_eq(v, "1:42:4:2 2:13:1:5");
}
END_TEST

/*
 * A database of an older pgemu: Termination_Call_Detail without Segment,
 * its unique index without it.  Opened: its rows are of segment 1, and a
 * second segment of a task is stored beside the first.
 */
START_TEST(test_upgrade_segment)
{
	struct db_task	 k;
	struct db	*db;
	sqlite3		*h;
	char		 err[256], v[160];

	ck_assert_int_eq(sqlite3_open(path, &h), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(h, "CREATE TABLE Termination_Call_Detail"
	    " (DateTime TEXT NOT NULL, PeripheralID INTEGER, MRDomainID"
	    " INTEGER, AgentSkillTargetID INTEGER, RouterCallKeyDay INTEGER,"
	    " RouterCallKey INTEGER, RouterCallKeySequenceNumber INTEGER,"
	    " TimeZone INTEGER NOT NULL DEFAULT 0, PeripheralCallType INTEGER,"
	    " CallDisposition INTEGER, CallDispositionFlag INTEGER,"
	    " StartDateTime TEXT, Duration INTEGER, DialogueID INTEGER);"
	    " CREATE UNIQUE INDEX Termination_Call_Detail_task ON"
	    " Termination_Call_Detail (PeripheralID, RouterCallKeyDay,"
	    " RouterCallKey, RouterCallKeySequenceNumber, DialogueID);"
	    " INSERT INTO Termination_Call_Detail (DateTime, PeripheralID,"
	    " RouterCallKeyDay, RouterCallKey, RouterCallKeySequenceNumber,"
	    " CallDisposition, DialogueID) VALUES ('2023-11-14 22:13:30.000',"
	    " 5000, 19675, 42, 0, 42, 7);", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(h);
	db = db_open(base, path, DB_QUEUE_ROWS, 1, err, sizeof(err));
	ck_assert_msg(db != NULL, "%s", err);
	memset(&k, 0, sizeof(k));
	k.t = 1700000020.0;
	k.peripheral = 5000;
	k.dialogue = 7;
	k.task[0] = 19675;
	k.task[1] = 42;
	k.segment = 2;
	k.disposition = TCD_DISP_HANDLED;
	db_task_end(db, &k);
	db_close(db);
	query("SELECT GROUP_CONCAT(Segment || ':' || CallDisposition, ' ') "
	    "FROM (SELECT * FROM Termination_Call_Detail ORDER BY Segment)", v,
	    sizeof(v));
	ck_assert_str_eq(v, "1:42 2:13");
	query("SELECT COUNT(*) FROM sqlite_master WHERE name = "
	    "'Termination_Call_Detail_task'", v, sizeof(v));
	ck_assert_str_eq(v, "0");
}
END_TEST

/*
 * A database of an older pgemu, whose Agent_Event_Detail and
 * Termination_Call_Detail have no Recreated: the column is added (0 in
 * the rows it had), and a resync's rows say 1 (R19).
 */
START_TEST(test_upgrade_recreated)
{
	struct db_key	 key = { 5000, 1001, 2 };
	struct db	*db;
	sqlite3		*h;
	char		 err[256], v[160];

	ck_assert_int_eq(sqlite3_open(path, &h), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(h, "CREATE TABLE Agent_Event_Detail ("
	    " DateTime TEXT NOT NULL, SkillTargetID INTEGER NOT NULL,"
	    " MRDomainID INTEGER NOT NULL DEFAULT 1,"
	    " TimeZone INTEGER NOT NULL DEFAULT 0, PeripheralID INTEGER,"
	    " LoginDateTime TEXT, Event INTEGER, AgentState INTEGER,"
	    " ReasonCode INTEGER, Duration INTEGER, Rule TEXT);"
	    "INSERT INTO Agent_Event_Detail (DateTime, SkillTargetID, Event)"
	    " VALUES ('2023-11-14 22:13:20.000', 1001, 1);"
	    "CREATE TABLE Termination_Call_Detail ("
	    " DateTime TEXT NOT NULL, PeripheralID INTEGER, MRDomainID INTEGER,"
	    " AgentSkillTargetID INTEGER, RouterCallKeyDay INTEGER,"
	    " RouterCallKey INTEGER, RouterCallKeySequenceNumber INTEGER,"
	    " TimeZone INTEGER NOT NULL DEFAULT 0, PeripheralCallType INTEGER,"
	    " CallDisposition INTEGER, CallDispositionFlag INTEGER,"
	    " StartDateTime TEXT, Duration INTEGER, DialogueID INTEGER);"
	    "INSERT INTO Termination_Call_Detail (DateTime, DialogueID)"
	    " VALUES ('2023-11-14 22:13:20.000', 5);", NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(h);
	db = db_open(base, path, DB_QUEUE_ROWS, 1, err, sizeof(err));
	ck_assert_msg(db != NULL, "%s", err);
	db_resync_event(db, &key, 1700000000.5, 1699999000.0, AS_ACTIVE);
	db_close(db);
	/* Told again to a router started again: one row. */
	db = db_open(base, path, DB_QUEUE_ROWS, 1, err, sizeof(err));
	ck_assert_msg(db != NULL, "%s", err);
	db_resync_event(db, &key, 1700000000.5, 1699999000.0, AS_ACTIVE);
	db_close(db);
	query("SELECT GROUP_CONCAT(Event || ':' || Recreated || ':' || "
	    "COALESCE(Rule, '-'), ' ') FROM Agent_Event_Detail", v, sizeof(v));
	ck_assert_str_eq(v, "1:0:- 4:1:R19");
	query("SELECT Recreated FROM Termination_Call_Detail", v, sizeof(v));
	ck_assert_str_eq(v, "0");
}
END_TEST

static Suite *
db_suite(void)
{
	Suite	*s = suite_create("db");
	TCase	*tc = tcase_create("writer");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_bound);
	tcase_add_test(tc, test_locked);
	tcase_add_test(tc, test_close_writes_behind);
	tcase_add_test(tc, test_task_rows);
	tcase_add_test(tc, test_upgrade_recreated);
	tcase_add_test(tc, test_interval_mrds);
	tcase_add_test(tc, test_upgrade_intervals);
	tcase_add_test(tc, test_task_segments);
	tcase_add_test(tc, test_upgrade_segment);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	log_init(1, 0);
	return check_run(db_suite(), CK_NORMAL);
}
