/*
 * One PIM state machine for every kind of peripheral: the voice PIM now
 * (pg.c, its peripheral an ACD), the MR PIM next (its peripheral an
 * application instance).  A table of {states, event, action, next}; one
 * entry point, pim_fsm_event(); one place that changes the state and logs
 * it.  What an action does is the peripheral's business: callbacks.
 *
 *           GRANT                 ACCEPTED
 *   IDLE ----------> ACTIVATING ------------> ACTIVE
 *    ^                  |  ^                    |
 *    |  REFUSED,        |  | LINK_BACK          | ENDPOINT_STOPPED
 *    |  LINK_LOST,      |  |                    v
 *    `- ENDPOINT_STOPPED+  `--------------- RECOVERING
 *       (from any state but IDLE)
 *
 * A GRANT in any state starts an activation with the new epoch (a side
 * that holds the PIM keeps its counts: the peripheral decides that).
 * Events a state does not expect are ignored, and said so at debug.
 */
#include "config.h"

#include "pgemu.h"
#include "wire.h"

#define M(s)		(1u << (s))
#define NOT_IDLE	(M(PIM_STATE_ACTIVATING) | M(PIM_STATE_ACTIVE) | \
			    M(PIM_STATE_RECOVERING))
#define ANY		(M(PIM_STATE_IDLE) | NOT_IDLE)

const char *const pim_event_names[PEV_MAX] = {
	"GRANT", "ACCEPTED", "REFUSED", "LINK_LOST", "ENDPOINT_STOPPED",
	"LINK_BACK"
};

const char *const pim_action_names[PACT_MAX] = {
	"IGNORE", "ACTIVATE", "SERVE", "LOSE", "RECOVER", "RECONNECT"
};

/* First match wins. */
const struct pim_fsm_row pim_fsm_rows[] = {
	{ ANY,				PEV_GRANT,	PACT_ACTIVATE,
	    PIM_STATE_ACTIVATING },
	{ M(PIM_STATE_ACTIVATING),	PEV_ACCEPTED,	PACT_SERVE,
	    PIM_STATE_ACTIVE },
	{ NOT_IDLE,			PEV_REFUSED,	PACT_LOSE,
	    PIM_STATE_IDLE },
	{ M(PIM_STATE_ACTIVE),		PEV_ENDPOINT_STOPPED, PACT_RECOVER,
	    PIM_STATE_RECOVERING },
	{ NOT_IDLE,			PEV_ENDPOINT_STOPPED, PACT_LOSE,
	    PIM_STATE_IDLE },
	{ NOT_IDLE,			PEV_LINK_LOST,	PACT_LOSE,
	    PIM_STATE_IDLE },
	{ M(PIM_STATE_RECOVERING),	PEV_LINK_BACK,	PACT_RECONNECT,
	    PIM_STATE_ACTIVATING },
};
const size_t pim_fsm_nrows = sizeof(pim_fsm_rows) / sizeof(pim_fsm_rows[0]);

/* The row for this state and event, NULL when it is not expected. */
const struct pim_fsm_row *
pim_fsm_lookup(int state, enum pim_event ev)
{
	size_t	i;

	if (state < 0 || state >= PIM_STATE_MAX)
		return NULL;
	for (i = 0; i < pim_fsm_nrows; i++)
		if ((pim_fsm_rows[i].from & M(state)) &&
		    pim_fsm_rows[i].ev == ev)
			return &pim_fsm_rows[i];
	return NULL;
}

/*
 * The only entry point: the peripheral's action first (it sees the state
 * it acts in), then the state changes, is logged, and the peripheral's
 * entry actions run.  The action taken, PACT_IGNORE if none.
 */
enum pim_action
pim_fsm_event(struct pim_fsm *f, enum pim_event ev, const char *why)
{
	const struct pim_fsm_row	*row = pim_fsm_lookup(f->state, ev);
	int				 prev = f->state;

	if (row == NULL) {
		log_debug("PIM %u: %s ignored in %s", f->peripheral,
		    pim_event_names[ev], pim_state_names[f->state]);
		return PACT_IGNORE;
	}
	f->ops->act(f->arg, row->act, why);
	if (row->next != prev) {
		f->state = row->next;
		log_info("PIM %u: %s -> %s (%s)", f->peripheral,
		    pim_state_names[prev], pim_state_names[row->next], why);
	}
	f->ops->entered(f->arg, prev, row->next, why);
	return row->act;
}
