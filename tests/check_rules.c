/*
 * Check tests of the pure rules: the agent state numbering, the state
 * after a failover (R8 Table 1, R11 Table 2) row by row, the interval
 * accounting, and the internal messages' codecs with their malformed
 * inputs.
 */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "pgemu.h"
#include "check_run.h"
#include "wire.h"
#include "ged188.h"

/* R8, Table 1, and the rows pgemu decides where the table is silent. */
static const struct {
	int	 state, before, after;
} table1[] = {
	{ AS_AVAILABLE,		AS_AVAILABLE,	AS_AVAILABLE },
	{ AS_AVAILABLE,		AS_NOT_READY,	AS_AVAILABLE },
	{ AS_NOT_READY,		AS_AVAILABLE,	AS_NOT_READY },
	{ AS_NOT_READY,		AS_NOT_READY,	AS_NOT_READY },
	{ AS_WORK_READY,	AS_AVAILABLE,	AS_AVAILABLE },
	{ AS_WORK_READY,	AS_NOT_READY,	AS_NOT_READY },
	{ AS_WORK_NOT_READY,	AS_AVAILABLE,	AS_AVAILABLE },
	{ AS_WORK_NOT_READY,	AS_NOT_READY,	AS_NOT_READY },
	{ AS_WORK_READY,	AS_LOGIN,	AS_NOT_READY },
	{ AS_TALKING,		AS_AVAILABLE,	AS_TALKING },
	{ AS_HOLD,		AS_NOT_READY,	AS_HOLD },
	{ AS_RESERVED,		AS_AVAILABLE,	AS_AVAILABLE },
	{ AS_LOGOUT,		AS_LOGOUT,	AS_LOGOUT },
	{ AS_LOGIN,		AS_LOGIN,	AS_NOT_READY },
	{ AS_BUSY_OTHER,	AS_AVAILABLE,	AS_NOT_READY },
};

START_TEST(test_table1_row)
{
	ck_assert_int_eq(agent_after_pg_failover(table1[_i].state,
	    table1[_i].before), table1[_i].after);
}
END_TEST

START_TEST(test_table2)
{
	/* Table 2 adds Reserved -> Available; the rest is Table 1. */
	ck_assert_int_eq(agent_after_desktop_failover(AS_RESERVED,
	    AS_NOT_READY), AS_AVAILABLE);
	ck_assert_int_eq(agent_after_desktop_failover(AS_WORK_READY,
	    AS_NOT_READY), AS_NOT_READY);
	ck_assert_int_eq(agent_after_desktop_failover(AS_WORK_NOT_READY,
	    AS_AVAILABLE), AS_AVAILABLE);
	ck_assert_int_eq(agent_after_desktop_failover(AS_AVAILABLE,
	    AS_AVAILABLE), AS_AVAILABLE);
	ck_assert_int_eq(agent_after_desktop_failover(AS_NOT_READY,
	    AS_AVAILABLE), AS_NOT_READY);
	/* Where it is silent: a call the desktop's logout ended, as wrap-up. */
	ck_assert_int_eq(agent_after_desktop_failover(AS_TALKING,
	    AS_AVAILABLE), AS_AVAILABLE);
	ck_assert_int_eq(agent_after_desktop_failover(AS_HOLD,
	    AS_NOT_READY), AS_NOT_READY);
	ck_assert_int_eq(agent_after_desktop_failover(AS_LOGOUT,
	    AS_AVAILABLE), AS_LOGOUT);
	ck_assert_int_eq(agent_after_desktop_failover(AS_BUSY_OTHER,
	    AS_AVAILABLE), AS_NOT_READY);
}
END_TEST

/* A desktop logs in Available, Not Ready, or stays out: nothing else. */
START_TEST(test_table2_loginable)
{
	int	s, b, r;

	for (s = 0; s < AGENT_NSTATES; s++)
		for (b = 0; b < AGENT_NSTATES; b++) {
			r = agent_after_desktop_failover(s, b);
			ck_assert_msg(r == AS_AVAILABLE || r == AS_NOT_READY ||
			    r == AS_LOGOUT, "%s after %s: %s",
			    agent_state_name(s), agent_state_name(b),
			    agent_state_name(r));
		}
}
END_TEST

START_TEST(test_state_names)
{
	int	i;

	/* The CTI numbering: LOGIN 0, LOGOUT 1 (not the database's). */
	ck_assert_str_eq(agent_state_name(0), "login");
	ck_assert_str_eq(agent_state_name(1), "logout");
	ck_assert_str_eq(agent_state_name(3), "available");
	ck_assert_str_eq(agent_state_name(8), "reserved");
	ck_assert_str_eq(agent_state_name(14), "not_active");
	ck_assert_str_eq(agent_state_name(15), "invalid");
	ck_assert_str_eq(agent_state_name(-1), "invalid");
	for (i = 0; i < AGENT_NSTATES; i++)
		ck_assert_int_eq(agent_state_parse(agent_state_name(i)), i);
	ck_assert_int_eq(agent_state_parse("ready"), -1);
	ck_assert_int_eq(agent_state_parse(""), -1);
}
END_TEST

START_TEST(test_state_db)
{
	ck_assert_int_eq(agent_state_db(AS_LOGOUT), 0);
	ck_assert_int_eq(agent_state_db(AS_LOGIN), 1);
	ck_assert_int_eq(agent_state_db(AS_NOT_READY), 2);
	ck_assert_int_eq(agent_state_db(AS_AVAILABLE), 3);
	ck_assert_int_eq(agent_state_db(AS_RESERVED), 8);
	ck_assert(agent_logged_in(AS_NOT_READY));
	ck_assert(!agent_logged_in(AS_LOGOUT));
	ck_assert(agent_in_call(AS_WORK_READY));
	ck_assert(agent_in_call(AS_RESERVED));
	ck_assert(!agent_in_call(AS_AVAILABLE));
	ck_assert(!agent_in_call(AS_NOT_READY));
}
END_TEST

START_TEST(test_ivl_accounting)
{
	uint32_t	f[IVL_NFIELDS];

	memset(f, 0, sizeof(f));
	ivl_add(f, AS_AVAILABLE, 1000);
	ivl_add(f, AS_NOT_READY, 200);
	ivl_add(f, AS_RESERVED, 30);
	ivl_add(f, AS_TALKING, 4000);
	ivl_add(f, AS_HOLD, 500);
	ivl_add(f, AS_WORK_READY, 60);
	ivl_add(f, AS_WORK_NOT_READY, 70);
	ivl_add(f, AS_LOGOUT, 99999);
	ivl_add(f, AS_LOGIN, 5);
	ck_assert_uint_eq(f[IVL_AVAIL], 1000);
	ck_assert_uint_eq(f[IVL_NOT_READY], 200);
	ck_assert_uint_eq(f[IVL_RESERVED], 30);
	ck_assert_uint_eq(f[IVL_TALK], 4500);
	ck_assert_uint_eq(f[IVL_WORK_READY], 60);
	ck_assert_uint_eq(f[IVL_WORK_NOT_READY], 70);
	/* Logged-on time is every logged-in state; logged out is none. */
	ck_assert_uint_eq(f[IVL_LOGGED_ON], 1000 + 200 + 30 + 4500 + 60 +
	    70 + 5);
	ck_assert_uint_eq(f[IVL_CALLS], 0);
	ck_assert_int_eq(ivl_field_of(AS_LOGIN), -1);
	/* A non-voice MRD: ACTIVE with a task is talk time. */
	ck_assert_int_eq(ivl_field_of(AS_ACTIVE), IVL_TALK);
	ck_assert(ivl_call_handled(AS_TALKING, AS_WORK_READY));
	ck_assert(ivl_call_handled(AS_HOLD, AS_AVAILABLE));
	ck_assert(!ivl_call_handled(AS_TALKING, AS_HOLD));
	ck_assert(!ivl_call_handled(AS_RESERVED, AS_TALKING));
	ck_assert_uint_eq(ivl_start_of(1800 * 3 + 17, 1800), 1800 * 3);
	ck_assert_uint_eq(ivl_start_of(900, 900), 900);
}
END_TEST

static void
msg_of(struct wire_writer *w, struct wire_msg *m)
{
	ck_assert_int_eq(wire_end(w, WIRE_MAX_BODY, m), 0);
}

START_TEST(test_msg_agents)
{
	struct wire_writer	w;
	struct wire_msg		m;
	struct msg_agents	a;
	struct msg_agent	in = { 1001, AS_WORK_READY, AS_AVAILABLE, 1234,
	    -1, 3 }, out;
	char			err[160];

	msg_agents_begin(&w, MSG_AGENT_STATES, 5000, 7, AGENTS_RELOGIN, 1, 2);
	msg_agent_put(&w, &in);
	in.id = 1002;
	in.reason = 50002;
	msg_agent_put(&w, &in);
	msg_of(&w, &m);
	ck_assert_int_eq(msg_agents_decode(&m, &a, err, sizeof(err)), 0);
	ck_assert_uint_eq(a.peripheral, 5000);
	ck_assert_uint_eq(a.epoch, 7);
	ck_assert_uint_eq(a.kind, AGENTS_RELOGIN);
	ck_assert_uint_eq(a.last, 1);
	ck_assert_uint_eq(a.count, 2);
	msg_agent_get(a.recs + MSG_AGENT_LEN, &out);
	ck_assert_uint_eq(out.id, 1002);
	ck_assert_uint_eq(out.state, AS_WORK_READY);
	ck_assert_uint_eq(out.before_call, AS_AVAILABLE);
	ck_assert_uint_eq(out.ms_in_state, 1234);
	ck_assert_int_eq(out.reason, 50002);
	ck_assert_uint_eq(out.mrd, 3);
	msg_agent_get(a.recs, &out);
	ck_assert_int_eq(out.reason, -1);

	/* Count and length disagree. */
	m.len -= 1;
	ck_assert_int_eq(msg_agents_decode(&m, &a, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "do not fit"));
	m.len = 10;
	ck_assert_int_eq(msg_agents_decode(&m, &a, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "truncated"));
	wire_writer_free(&w);

	/* A bad kind and a bad state. */
	msg_agents_begin(&w, MSG_ACD_AGENTS, 5000, 7, 9, 1, 0);
	msg_of(&w, &m);
	ck_assert_int_eq(msg_agents_decode(&m, &a, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "unknown kind 9"));
	wire_writer_free(&w);
	msg_agents_begin(&w, MSG_ACD_AGENTS, 5000, 7, AGENTS_CHANGE, 1, 1);
	in.state = 15;
	msg_agent_put(&w, &in);
	msg_of(&w, &m);
	ck_assert_int_eq(msg_agents_decode(&m, &a, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "bad state"));
	wire_writer_free(&w);
}
END_TEST

/*
 * An INTERVAL of lab protocol 2 (rows of the agent and the fields, no
 * MRD), as an older pgemu's spool holds: made again with rows of the MRD
 * given, the header and every time as they were; one of protocol 3, or
 * cut short, is not one.
 */
START_TEST(test_msg_interval_upgrade)
{
	struct wire_writer	w, up, w2;
	struct wire_msg		m, m2;
	struct msg_interval	iv, got;
	uint32_t		f[IVL_NFIELDS], g[IVL_NFIELDS], agent, mrd;
	char			err[160];
	int			i, k;

	memset(&iv, 0, sizeof(iv));
	iv.peripheral = 5000;
	iv.epoch = 3;
	iv.seq = 9;
	iv.start = 3600;
	iv.length = 1800;
	iv.side = 'A';
	iv.count = 2;
	msg_interval_begin(&w, &iv);
	for (i = 0; i < 2; i++) {
		wire_u32(&w, 1001 + (uint32_t)i);
		for (k = 0; k < IVL_NFIELDS; k++)
			wire_u32(&w, (uint32_t)(100 * i + k));
	}
	msg_of(&w, &m);
	ck_assert_uint_eq(m.len, 24 + 2 * MSG_IVL_ROW_LEN_V2);
	ck_assert_int_eq(msg_interval_decode(&m, &got, err, sizeof(err)), -1);
	memset(&up, 0, sizeof(up));
	ck_assert_int_eq(msg_interval_upgrade(&m, 7, &up, err, sizeof(err)),
	    0);
	msg_of(&up, &m2);
	ck_assert_int_eq(msg_interval_decode(&m2, &got, err, sizeof(err)), 0);
	ck_assert_uint_eq(got.peripheral, 5000);
	ck_assert_uint_eq(got.seq, 9);
	ck_assert_uint_eq(got.start, 3600);
	ck_assert_uint_eq(got.side, 'A');
	ck_assert_uint_eq(got.count, 2);
	for (i = 0; i < 2; i++) {
		msg_interval_row_get(got.rows + i * MSG_IVL_ROW_LEN, &agent,
		    &mrd, g);
		for (k = 0; k < IVL_NFIELDS; k++)
			f[k] = (uint32_t)(100 * i + k);
		ck_assert_uint_eq(agent, 1001 + (uint32_t)i);
		ck_assert_uint_eq(mrd, 7);
		ck_assert_mem_eq(f, g, sizeof(f));
	}
	/* Protocol 3's own layout is not protocol 2's. */
	memset(&w2, 0, sizeof(w2));
	ck_assert_int_eq(msg_interval_upgrade(&m2, 7, &w2, err, sizeof(err)),
	    -1);
	m.len -= 4;
	ck_assert_int_eq(msg_interval_upgrade(&m, 7, &w2, err, sizeof(err)),
	    -1);
	ck_assert_ptr_nonnull(strstr(err, "rows do not fit"));
	wire_writer_free(&w2);
	wire_writer_free(&w);
	wire_writer_free(&up);
}
END_TEST

START_TEST(test_msg_interval)
{
	struct wire_writer	w;
	struct wire_msg		m;
	struct msg_interval	iv, got;
	uint32_t		f[IVL_NFIELDS], g[IVL_NFIELDS], agent, mrd;
	char			err[160];
	int			i;

	memset(&iv, 0, sizeof(iv));
	iv.peripheral = 5000;
	iv.epoch = 3;
	iv.seq = 42;
	iv.start = 1800;
	iv.length = 1800;
	iv.incomplete = 1;
	iv.side = 'B';
	iv.count = 1;
	for (i = 0; i < IVL_NFIELDS; i++)
		f[i] = (uint32_t)(i * 1000 + 7);
	msg_interval_begin(&w, &iv);
	msg_interval_row(&w, 1001, 2, f);
	msg_of(&w, &m);
	ck_assert_uint_eq(m.len, 24 + MSG_IVL_ROW_LEN);
	ck_assert_uint_eq(MSG_IVL_ROW_LEN, 40);
	ck_assert_int_eq(msg_interval_decode(&m, &got, err, sizeof(err)), 0);
	ck_assert_uint_eq(got.seq, 42);
	ck_assert_uint_eq(got.start, 1800);
	ck_assert_uint_eq(got.incomplete, 1);
	ck_assert_uint_eq(got.side, 'B');
	msg_interval_row_get(got.rows, &agent, &mrd, g);
	ck_assert_uint_eq(agent, 1001);
	ck_assert_uint_eq(mrd, 2);
	ck_assert_mem_eq(f, g, sizeof(f));
	m.len -= 4;
	ck_assert_int_eq(msg_interval_decode(&m, &got, err, sizeof(err)), -1);
	wire_writer_free(&w);

	iv.count = 0;
	iv.length = 0;
	msg_interval_begin(&w, &iv);
	msg_of(&w, &m);
	ck_assert_int_eq(msg_interval_decode(&m, &got, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "bad length"));
	wire_writer_free(&w);
}
END_TEST

START_TEST(test_msg_small)
{
	struct wire_writer	 w;
	struct wire_msg		 m;
	struct msg_pg_status	 st, st2;
	struct msg_grant	 g, g2;
	struct msg_periph_offline o, o2;
	struct msg_discard	 d, d2;
	struct msg_epoch	 e, e2;
	struct msg_set_agent	 s = { 4, 1003, AS_AVAILABLE, 50002, 0, 0, 0 },
				 s2;
	char			 err[160];

	/* Whole structures compared: padding zeroed too. */
	memset(&st, 0, sizeof(st));
	memset(&st2, 0, sizeof(st2));
	st.peripheral = 5000;
	st.side = 'A';
	st.acd_up = 1;
	st.pim_active = PIM_STATE_ACTIVE;
	st.epoch = 9;
	st.peer_epoch = 4;
	st.peer_up = 1;
	msg_pg_status_encode(&w, &st);
	msg_of(&w, &m);
	ck_assert_int_eq(msg_pg_status_decode(&m, &st2, err, sizeof(err)), 0);
	ck_assert_mem_eq(&st, &st2, sizeof(st));
	w.buf[WIRE_HDR_LEN + 4] = 'C';
	ck_assert_int_eq(msg_pg_status_decode(&m, &st2, err, sizeof(err)), -1);
	wire_writer_free(&w);

	memset(&g, 0, sizeof(g));
	g.peripheral = 5000;
	g.epoch = 12;
	g.reason = GRANT_PEER_LOST;
	snprintf(g.text, sizeof(g.text), "side A's router link went");
	msg_grant_encode(&w, &g);
	msg_of(&w, &m);
	ck_assert_int_eq(msg_grant_decode(&m, &g2, err, sizeof(err)), 0);
	ck_assert_uint_eq(g2.epoch, 12);
	ck_assert_str_eq(g2.text, g.text);
	/* A text field that runs past the end. */
	m.len -= 3;
	ck_assert_int_eq(msg_grant_decode(&m, &g2, err, sizeof(err)), -1);
	wire_writer_free(&w);

	memset(&o, 0, sizeof(o));
	o.peripheral = 5000;
	o.epoch = 2;
	o.rule = 6;
	o.reason_code = -1;
	snprintf(o.text, sizeof(o.text), "x");
	msg_offline_encode(&w, &o);
	msg_of(&w, &m);
	ck_assert_int_eq(msg_offline_decode(&m, &o2, err, sizeof(err)), 0);
	ck_assert_int_eq(o2.reason_code, -1);
	ck_assert_uint_eq(o2.rule, 6);
	wire_writer_free(&w);

	memset(&d, 0, sizeof(d));
	d.peripheral = 5000;
	d.seq = 8;
	d.rule = 1;
	d.rows = 20;
	d.intervals = 2;
	d.side = 'A';
	snprintf(d.text, sizeof(d.text), "link to the ACD went");
	msg_discard_encode(&w, &d);
	msg_of(&w, &m);
	ck_assert_int_eq(msg_discard_decode(&m, &d2, err, sizeof(err)), 0);
	ck_assert_uint_eq(d2.rows, 20);
	ck_assert_uint_eq(d2.intervals, 2);
	ck_assert_str_eq(d2.text, d.text);
	m.len = 20;
	ck_assert_int_eq(msg_discard_decode(&m, &d2, err, sizeof(err)), -1);
	wire_writer_free(&w);

	memset(&e, 0, sizeof(e));
	e.a = 5;
	e.b = 5000;
	msg_epoch_encode(&w, MSG_PIM_ACTIVATE, &e);
	msg_of(&w, &m);
	ck_assert_int_eq(msg_epoch_decode(&m, &e2, err, sizeof(err)), 0);
	ck_assert_uint_eq(e2.a, 5);
	ck_assert_str_eq(e2.text, "");
	ck_assert_uint_eq(e2.peripheral, 0);
	wire_writer_free(&w);

	/* PEER_STATE and DELIVERY_ACK name their peripheral, beside a text. */
	e.peripheral = 5001;
	snprintf(e.text, sizeof(e.text), "refused");
	msg_epoch_encode(&w, MSG_DELIVERY_ACK, &e);
	msg_of(&w, &m);
	ck_assert_int_eq(msg_epoch_decode(&m, &e2, err, sizeof(err)), 0);
	ck_assert_uint_eq(e2.peripheral, 5001);
	ck_assert_str_eq(e2.text, "refused");
	/* A peripheral field of another size is refused. */
	w.buf[WIRE_HDR_LEN + 9 + 3] = 3;
	ck_assert_int_eq(msg_epoch_decode(&m, &e2, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "peripheral field of 3 bytes"));
	wire_writer_free(&w);

	msg_set_agent_encode(&w, &s);
	msg_of(&w, &m);
	ck_assert_int_eq(msg_set_agent_decode(&m, &s2, err, sizeof(err)), 0);
	ck_assert_uint_eq(s2.id, 1003);
	ck_assert_int_eq(s2.reason, 50002);
	w.buf[WIRE_HDR_LEN + 9] = 99;
	ck_assert_int_eq(msg_set_agent_decode(&m, &s2, err, sizeof(err)), -1);
	wire_writer_free(&w);

	/* PEER_SET_AGENT carries its peripheral; PEER_STATE the CTI flags. */
	s.peripheral = 5001;
	msg_peer_set_agent_encode(&w, &s);
	msg_of(&w, &m);
	ck_assert_uint_eq(m.type, MSG_PEER_SET_AGENT);
	ck_assert_int_eq(msg_set_agent_decode(&m, &s2, err, sizeof(err)), 0);
	ck_assert_uint_eq(s2.peripheral, 5001);
	ck_assert_int_eq(s2.reason, 50002);
	ck_assert_uint_eq(s2.mrd, 0);
	ck_assert_uint_eq(s2.handled, 0);
	wire_writer_free(&w);
	/* ... and a non-voice MRD, when it names one (4 bytes, or refused). */
	s.mrd = 2;
	msg_peer_set_agent_encode(&w, &s);
	msg_of(&w, &m);
	ck_assert_int_eq(msg_set_agent_decode(&m, &s2, err, sizeof(err)), 0);
	ck_assert_uint_eq(s2.mrd, 2);
	ck_assert_uint_eq(s2.peripheral, 5001);
	w.buf[w.len - 5] = 3;	/* the MRD field's length: 4 -> 3 */
	ck_assert_int_eq(msg_set_agent_decode(&m, &s2, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "MRD field of 3 bytes"));
	wire_writer_free(&w);
	/* ... and the tasks that ended there (4 bytes, or refused). */
	s.handled = 1;
	msg_peer_set_agent_encode(&w, &s);
	msg_of(&w, &m);
	ck_assert_int_eq(msg_set_agent_decode(&m, &s2, err, sizeof(err)), 0);
	ck_assert_uint_eq(s2.mrd, 2);
	ck_assert_uint_eq(s2.handled, 1);
	w.buf[w.len - 5] = 2;	/* the field's length: 4 -> 2 */
	ck_assert_int_eq(msg_set_agent_decode(&m, &s2, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "tasks handled field of 2 bytes"));
	wire_writer_free(&w);
	s.handled = 0;
	s.mrd = 0;
	memset(&e, 0, sizeof(e));
	e.peripheral = 5000;
	e.cti = PEER_CTI_RUNNING | PEER_CTI_ACTIVE;
	msg_epoch_encode(&w, MSG_PEER_STATE, &e);
	msg_of(&w, &m);
	ck_assert_int_eq(msg_epoch_decode(&m, &e2, err, sizeof(err)), 0);
	ck_assert_uint_eq(e2.cti, PEER_CTI_RUNNING | PEER_CTI_ACTIVE);
	wire_writer_free(&w);
	/* An old peer's PEER_STATE: no flags, nothing running. */
	e.cti = 0;
	msg_epoch_encode(&w, MSG_PEER_STATE, &e);
	msg_of(&w, &m);
	ck_assert_int_eq(msg_epoch_decode(&m, &e2, err, sizeof(err)), 0);
	ck_assert_uint_eq(e2.cti, 0);
	ck_assert_uint_eq(m.len, 9 + 8);
	wire_writer_free(&w);
}
END_TEST

/*
 * The service bits an OPEN_REQ may ask for (protocol-facts 1.6): the CTI
 * server refuses any other with E_CTI_INVALID_SERVICE_MASK.
 */
START_TEST(test_cti_service_known)
{
	const uint32_t	bits[] = {
		CTI_SERVICE_CLIENT_EVENTS, CTI_SERVICE_CALL_DATA_UPDATE,
		CTI_SERVICE_CLIENT_CONTROL, CTI_SERVICE_CONNECTION_MONITOR,
		CTI_SERVICE_ALL_EVENTS, CTI_SERVICE_PERIPHERAL_MONITOR,
		CTI_SERVICE_CLIENT_MONITOR, CTI_SERVICE_SUPERVISOR,
		CTI_SERVICE_SERVER, CTI_SERVICE_AGENT_REPORTING,
		CTI_SERVICE_ALL_TASK_EVENTS, CTI_SERVICE_TASK_MONITOR,
		CTI_AGENT_STATE_CONTROL_ONLY, CTI_DEVICE_STATE_CONTROL,
		CTI_SERVICE_UPDATE_EVENTS,
		CTI_SERVICE_IGNORE_DUPLICATE_AGENT_EVENTS,
		CTI_SERVICE_IGNORE_CONF, CTI_SERVICE_ACD_LINE_ONLY,
		CTI_SERVICE_ACTIVE_STANDBY, CTI_SERVICE_DEBUG
	};
	uint32_t	all = 0;
	size_t		i;

	for (i = 0; i < sizeof(bits) / sizeof(bits[0]); i++)
		all |= bits[i];
	ck_assert_uint_eq(CTI_SERVICE_KNOWN, all);
	ck_assert_uint_eq(CTI_SERVICE_KNOWN & 0x00074200, 0);
}
END_TEST

/*
 * Which side's CTI server is active: every input of ctiact_decide(), each
 * row with the answer and the rule that gives it.
 */
static const struct {
	int			running, active, peer_up, peer_active;
	int			holds, peer_holds;
	char			side;
	int			want;
	enum ctiact_why		why;
} ctiact_rows[] = {
	/* 1: stopped, whatever else */
	{ 0, 1, 1, 0, 1, 0, 'A', 0, CTIACT_STOPPED },
	{ 0, 0, 0, 0, 1, 0, 'B', 0, CTIACT_STOPPED },
	/* 2: private link down: the PIM decides */
	{ 1, 0, 0, 0, 1, 0, 'B', 1, CTIACT_ALONE_HOLDS },
	{ 1, 1, 0, 1, 0, 1, 'A', 0, CTIACT_ALONE_NOT_HOLDS },
	{ 1, 1, 0, 0, 0, 0, 'A', 0, CTIACT_ALONE_NOT_HOLDS },
	/* 3: the peer's not active: claim it */
	{ 1, 0, 1, 0, 0, 1, 'B', 1, CTIACT_PEER_NOT_ACTIVE },
	{ 1, 1, 1, 0, 0, 0, 'B', 1, CTIACT_PEER_NOT_ACTIVE },
	/* 3: the peer's active, this one not: no fail-back */
	{ 1, 0, 1, 1, 1, 0, 'A', 0, CTIACT_PEER_ACTIVE },
	{ 1, 0, 1, 1, 0, 0, 'A', 0, CTIACT_PEER_ACTIVE },
	/* 4: both active */
	{ 1, 1, 1, 1, 1, 0, 'B', 1, CTIACT_BOTH_HOLDS },
	{ 1, 1, 1, 1, 0, 1, 'A', 0, CTIACT_BOTH_PEER_HOLDS },
	{ 1, 1, 1, 1, 0, 0, 'A', 1, CTIACT_BOTH_SIDE_A },
	{ 1, 1, 1, 1, 0, 0, 'B', 0, CTIACT_BOTH_SIDE_A },
};

START_TEST(test_ctiact_row)
{
	struct ctiact_in	in;
	enum ctiact_why		why = CTIACT_MAX;

	memset(&in, 0, sizeof(in));
	in.running = ctiact_rows[_i].running;
	in.active = ctiact_rows[_i].active;
	in.peer_up = ctiact_rows[_i].peer_up;
	in.peer_active = ctiact_rows[_i].peer_active;
	in.holds = ctiact_rows[_i].holds;
	in.peer_holds = ctiact_rows[_i].peer_holds;
	in.side = ctiact_rows[_i].side;
	ck_assert_int_eq(ctiact_decide(&in, &why), ctiact_rows[_i].want);
	ck_assert_int_eq(why, ctiact_rows[_i].why);
	ck_assert_ptr_nonnull(ctiact_why_names[why]);
}
END_TEST

/* Two sides that see each other never both stay active. */
START_TEST(test_ctiact_settles)
{
	struct ctiact_in	a, b;
	enum ctiact_why		why;
	int			ra, rb, i, mask;

	for (mask = 0; mask < 16; mask++) {
		memset(&a, 0, sizeof(a));
		memset(&b, 0, sizeof(b));
		a.side = 'A';
		b.side = 'B';
		a.running = b.running = 1;
		a.peer_up = b.peer_up = 1;
		a.active = mask & 1;
		b.active = (mask >> 1) & 1;
		a.holds = b.peer_holds = (mask >> 2) & 1;
		b.holds = a.peer_holds = !a.holds && ((mask >> 3) & 1);
		/* Each decides on what the other last said, in turns. */
		for (i = 0; i < 4; i++) {
			a.peer_active = b.active;
			ra = ctiact_decide(&a, &why);
			a.active = ra;
			b.peer_active = a.active;
			rb = ctiact_decide(&b, &why);
			b.active = rb;
		}
		ck_assert_msg(a.active + b.active == 1, "mask %d: A %d B %d",
		    mask, a.active, b.active);
	}
}
END_TEST

/* Every private message type has a header-level minimum that matches. */
START_TEST(test_type_minimums)
{
	static const uint32_t types[] = { MSG_PG_STATUS, MSG_GRANT,
	    MSG_AGENT_STATES, MSG_PERIPH_OFFLINE, MSG_INTERVAL,
	    MSG_DELIVERY_ACK, MSG_DISCARD, MSG_PEER_STATE, MSG_PIM_ACTIVATE,
	    MSG_PIM_ACCEPT, MSG_PIM_REJECT, MSG_PIM_FENCED,
	    MSG_PIM_DEACTIVATE, MSG_ACD_AGENTS, MSG_ACD_SET_AGENT };
	size_t	i;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		const struct wire_type_info *ti = wire_type_info(types[i]);
		uint8_t	 hdr[8] = { 0, 0, 0, 0, (uint8_t)(types[i] >> 24),
		    (uint8_t)(types[i] >> 16), (uint8_t)(types[i] >> 8),
		    (uint8_t)types[i] };
		uint32_t type, len;
		char	 err[160];

		ck_assert_ptr_nonnull(ti);
		ck_assert_int_gt(ti->min_len, 0);
		/* An empty body is under every minimum. */
		ck_assert_int_eq(wire_check_header(hdr, 65536, &type, &len,
		    err, sizeof(err)), -1);
		ck_assert_ptr_nonnull(strstr(err, ti->name));
	}
}
END_TEST

static Suite *
rules_suite(void)
{
	Suite	*s = suite_create("rules");
	TCase	*tc;

	tc = tcase_create("agent");
	tcase_add_loop_test(tc, test_table1_row, 0,
	    (int)(sizeof(table1) / sizeof(table1[0])));
	tcase_add_test(tc, test_table2);
	tcase_add_test(tc, test_table2_loginable);
	tcase_add_test(tc, test_state_names);
	tcase_add_test(tc, test_state_db);
	tcase_add_test(tc, test_ivl_accounting);
	suite_add_tcase(s, tc);
	tc = tcase_create("messages");
	tcase_add_test(tc, test_msg_agents);
	tcase_add_test(tc, test_msg_interval);
	tcase_add_test(tc, test_msg_interval_upgrade);
	tcase_add_test(tc, test_msg_small);
	tcase_add_test(tc, test_type_minimums);
	tcase_add_loop_test(tc, test_ctiact_row, 0,
	    sizeof(ctiact_rows) / sizeof(ctiact_rows[0]));
	tcase_add_test(tc, test_ctiact_settles);
	tcase_add_test(tc, test_cti_service_known);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return check_run(rules_suite(), CK_NORMAL);
}
