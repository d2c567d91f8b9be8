/*
 * libFuzzer harness of the PIM state machine (src/rules/pimfsm.c): each
 * input byte is one event (byte % PEV_MAX) for one PIM, which starts IDLE,
 * through the machine's one entry point, pim_fsm_event(), with callbacks
 * that record what the peripheral is asked to do.  A byte of 0xF8 or more
 * also asks pim_fsm_lookup() for a state out of range.
 *
 * Oracles, from pimfsm.c's comment and diagram, pgemu.h's contract of the
 * callbacks, and tests/check_duplex.c's table:
 *
 *   - the state is always one of PIM_STATE_*, and what pim_fsm_event()
 *     returns is the action of pim_fsm_lookup()'s row (IGNORE: none);
 *   - an event a state does not expect changes nothing and calls nothing;
 *     one it expects calls act() once, in the state it acts in, then
 *     entered() once with (prev, next) and the state already next, the
 *     row's next, both with the event's why;
 *   - a GRANT is never ignored: ACTIVATE, to ACTIVATING, from any state;
 *   - SERVE only on ACCEPTED and only from ACTIVATING, to ACTIVE; ACTIVE
 *     is entered by SERVE alone, and only after an ACTIVATE or a
 *     RECONNECT since the PIM was last IDLE (nothing serves ungranted);
 *   - LOSE never from IDLE, always to IDLE; IDLE is left by GRANT alone;
 *   - RECOVER only from ACTIVE (ENDPOINT_STOPPED), to RECOVERING;
 *     RECONNECT only from RECOVERING (LINK_BACK), to ACTIVATING;
 *   - a state out of range has no row.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_quiet.h"
#include "pgemu.h"
#include "wire.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* What the fake peripheral was asked, for the event under way. */
struct peripheral {
	struct pim_fsm	*fsm;
	int		 acts, entries;
	enum pim_action	 act;
	int		 act_state;	/* the state act() saw */
	int		 prev, next;	/* what entered() was told */
	int		 state_entered;	/* the state entered() saw */
	const char	*why_act, *why_entered;
};

static __dead void
fail(const char *what, int state, enum pim_event ev)
{
	fprintf(fuzz_err, "fuzz_pimfsm: %s (%s in %s)\n", what,
	    pim_event_names[ev], state >= 0 && state < PIM_STATE_MAX ?
	    pim_state_names[state] : "?");
	abort();
}

static void
fake_act(void *arg, enum pim_action act, const char *why)
{
	struct peripheral	*p = arg;

	p->acts++;
	p->act = act;
	p->act_state = p->fsm->state;
	p->why_act = why;
}

static void
fake_entered(void *arg, int prev, int next, const char *why)
{
	struct peripheral	*p = arg;

	p->entries++;
	p->prev = prev;
	p->next = next;
	p->state_entered = p->fsm->state;
	p->why_entered = why;
}

static const struct pim_fsm_ops fake_ops = { fake_act, fake_entered };

/* One event: the machine's answer against the contract. */
static void
step(struct pim_fsm *f, struct peripheral *p, enum pim_event ev,
    int *granted)
{
	static const char		 why[] = "fuzzed";
	const struct pim_fsm_row	*row = pim_fsm_lookup(f->state, ev);
	int				 prev = f->state, next;
	enum pim_action			 act;

	p->acts = p->entries = 0;
	act = pim_fsm_event(f, ev, why);
	next = f->state;
	if (next < 0 || next >= PIM_STATE_MAX)
		fail("state out of range", prev, ev);
	if (act != (row != NULL ? row->act : PACT_IGNORE))
		fail("action is not the row's", prev, ev);
	if (row == NULL) {
		if (next != prev || p->acts != 0 || p->entries != 0)
			fail("an unexpected event changed something", prev, ev);
		if (ev == PEV_GRANT)
			fail("a GRANT ignored", prev, ev);
		return;
	}
	if (p->acts != 1 || p->entries != 1 || p->act != act)
		fail("not one act() and one entered()", prev, ev);
	if (p->act_state != prev || p->prev != prev || p->next != next ||
	    p->state_entered != next || next != row->next)
		fail("act() not in the old state or entered() not in the new",
		    prev, ev);
	if (p->why_act != why || p->why_entered != why)
		fail("the event's why not passed on", prev, ev);

	switch (act) {
	case PACT_ACTIVATE:
		if (ev != PEV_GRANT || next != PIM_STATE_ACTIVATING)
			fail("ACTIVATE other than a GRANT to ACTIVATING",
			    prev, ev);
		break;
	case PACT_SERVE:
		if (ev != PEV_ACCEPTED || prev != PIM_STATE_ACTIVATING ||
		    next != PIM_STATE_ACTIVE)
			fail("SERVE other than ACCEPTED in ACTIVATING", prev,
			    ev);
		if (!*granted)
			fail("SERVE with no activation since IDLE", prev, ev);
		break;
	case PACT_LOSE:
		if (prev == PIM_STATE_IDLE || next != PIM_STATE_IDLE)
			fail("LOSE from IDLE or not to IDLE", prev, ev);
		break;
	case PACT_RECOVER:
		if (ev != PEV_ENDPOINT_STOPPED || prev != PIM_STATE_ACTIVE ||
		    next != PIM_STATE_RECOVERING)
			fail("RECOVER other than ENDPOINT_STOPPED in ACTIVE",
			    prev, ev);
		break;
	case PACT_RECONNECT:
		if (ev != PEV_LINK_BACK || prev != PIM_STATE_RECOVERING ||
		    next != PIM_STATE_ACTIVATING)
			fail("RECONNECT other than LINK_BACK in RECOVERING",
			    prev, ev);
		break;
	default:
		fail("an action no row has", prev, ev);
	}
	if (next == PIM_STATE_ACTIVE && prev != PIM_STATE_ACTIVE &&
	    act != PACT_SERVE)
		fail("ACTIVE entered without SERVE", prev, ev);
	if (prev == PIM_STATE_IDLE && next != PIM_STATE_IDLE &&
	    ev != PEV_GRANT)
		fail("IDLE left other than by a GRANT", prev, ev);
	if (act == PACT_ACTIVATE || act == PACT_RECONNECT)
		*granted = 1;
	if (next == PIM_STATE_IDLE)
		*granted = 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct peripheral	p;
	struct pim_fsm		f = { PIM_STATE_IDLE, 5000, &fake_ops,
				    &p };
	size_t			i;
	int			granted = 0;

	fuzz_quiet();
	memset(&p, 0, sizeof(p));
	p.fsm = &f;
	for (i = 0; i < size; i++) {
		if (data[i] >= 0xF8 && pim_fsm_lookup(data[i] & 1 ?
		    PIM_STATE_MAX + (data[i] & 6) : -1 - (data[i] & 6),
		    (enum pim_event)(data[i] % PEV_MAX)) != NULL)
			fail("a row for a state out of range", -1,
			    (enum pim_event)(data[i] % PEV_MAX));
		step(&f, &p, (enum pim_event)(data[i] % PEV_MAX), &granted);
	}
	return 0;
}
