/*
 * Agent rules, as pure functions that the Check tests take row by row:
 * the CTI AgentState numbering and its names, the database numbering, the
 * state after a failover (R8 Table 1, R11 Table 2), and which interval
 * column a state's time goes to.
 */
#include "config.h"

#include <string.h>

#include "pgemu.h"
#include "wire.h"

/* CTI AgentState (GED-188), indexed by value. */
const char *const agent_state_names[AGENT_NSTATES] = {
	"login", "logout", "not_ready", "available", "talking",
	"work_not_ready", "work_ready", "busy_other", "reserved", "unknown",
	"hold", "active", "paused", "interrupted", "not_active"
};

const char *
agent_state_name(int state)
{
	if (state < 0 || state >= AGENT_NSTATES)
		return "invalid";
	return agent_state_names[state];
}

int
agent_state_parse(const char *name)
{
	int	i;

	for (i = 0; i < AGENT_NSTATES; i++)
		if (strcmp(agent_state_names[i], name) == 0)
			return i;
	return -1;
}

/*
 * The database's AgentState (Agent_Real_Time, Agent_Event_Detail) is the
 * CTI one but for the bottom: 0 Logged Off, 1 Logged On.
 */
int
agent_state_db(int cti)
{
	if (cti == AS_LOGIN)
		return 1;
	if (cti == AS_LOGOUT)
		return 0;
	return cti;
}

int
agent_logged_in(int state)
{
	return state != AS_LOGOUT;
}

int
agent_in_call(int state)
{
	return state == AS_RESERVED || state == AS_TALKING ||
	    state == AS_HOLD || state == AS_WORK_READY ||
	    state == AS_WORK_NOT_READY;
}

/*
 * R8, Table 1: the state an agent is logged back in with after a PG side
 * or CTI Manager failover, from its state at the failover.  Available and
 * Not Ready stay; wrap-up goes to Available only if the agent was
 * Available before the call, otherwise Not Ready.
 *
 * Where the table is silent (pgemu's choices, docs/failover.md): a call
 * in progress (talking, hold) survives the failover and keeps its state;
 * a reservation is lost and the agent goes Available; logged out stays
 * logged out; anything else is Not Ready.
 */
int
agent_after_pg_failover(int state, int before_call)
{
	switch (state) {
	case AS_AVAILABLE:
		return AS_AVAILABLE;
	case AS_NOT_READY:
		return AS_NOT_READY;
	case AS_WORK_READY:
	case AS_WORK_NOT_READY:
		return before_call == AS_AVAILABLE ? AS_AVAILABLE :
		    AS_NOT_READY;
	case AS_TALKING:
	case AS_HOLD:
		return state;
	case AS_RESERVED:
		return AS_AVAILABLE;
	case AS_LOGOUT:
		return AS_LOGOUT;
	default:
		return AS_NOT_READY;
	}
}

/*
 * R11, Table 2: Table 1, and Reserved -> Available by the table itself.
 * Where it is silent (pgemu's choice, docs/failover.md): the desktop's
 * loss logged the agent out (R9), which ended its part of a call in
 * progress, so talking and hold come back as wrap-up does (Available if
 * Available before the call, else Not Ready).  A desktop logs in only
 * Available, Not Ready or stays logged out: nothing else comes out.
 */
int
agent_after_desktop_failover(int state, int before_call)
{
	switch (state) {
	case AS_RESERVED:
		return AS_AVAILABLE;
	case AS_TALKING:
	case AS_HOLD:
		return agent_after_pg_failover(AS_WORK_READY, before_call);
	default:
		return agent_after_pg_failover(state, before_call);
	}
}

/* The interval column a state's time goes to, or -1. */
int
ivl_field_of(int state)
{
	switch (state) {
	case AS_AVAILABLE:
		return IVL_AVAIL;
	case AS_NOT_READY:
		return IVL_NOT_READY;
	case AS_RESERVED:
		return IVL_RESERVED;
	case AS_TALKING:
	case AS_HOLD:
	case AS_ACTIVE:		/* a non-voice MRD: working on a task */
		return IVL_TALK;
	case AS_WORK_READY:
		return IVL_WORK_READY;
	case AS_WORK_NOT_READY:
		return IVL_WORK_NOT_READY;
	default:
		return -1;
	}
}

/* Add ms spent in state to an interval row. */
void
ivl_add(uint32_t *fields, int state, uint32_t ms)
{
	int	f;

	if (!agent_logged_in(state))
		return;
	fields[IVL_LOGGED_ON] += ms;
	if ((f = ivl_field_of(state)) != -1)
		fields[f] += ms;
}

/* A call is handled when talking ends in wrap-up or back to a state. */
int
ivl_call_handled(int from, int to)
{
	return (from == AS_TALKING || from == AS_HOLD) &&
	    to != AS_TALKING && to != AS_HOLD;
}

/* The start of the interval that holds t. */
uint32_t
ivl_start_of(uint32_t t, uint32_t length)
{
	return t - t % length;
}
