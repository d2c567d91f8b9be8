/*
 * Which side's CTI server is active, as a pure function (docs/failover.md,
 * "The CTI server"): one side's at a time, the other standby.
 *
 *  1. A CTI server not running (pgemuctl stop cti-server) is standby.
 *  2. Private link down: active iff this side holds the PIM of the PG's
 *     first peripheral (the router never lets both hold it).
 *  3. Private link up: the peer's CTI server not active -> active (both
 *     may claim it at once: 4 settles it); the peer's active and this one
 *     not -> standby (no fail-back while the active one runs).
 *  4. Both active: the side holding the PIM keeps it; neither holding it,
 *     side A.
 */
#include "config.h"

#include "pgemu.h"

const char *const ctiact_why_names[CTIACT_MAX] = {
	"the CTI server is stopped",
	"private link down, this side holds the PIM",
	"private link down, this side does not hold the PIM",
	"the peer's CTI server is not active",
	"the peer's CTI server is active (no fail-back)",
	"both active: this side holds the PIM",
	"both active: the peer holds the PIM",
	"both active, neither holds the PIM: side A keeps it"
};

/* Active (1) or standby (0); why says which rule decided. */
int
ctiact_decide(const struct ctiact_in *in, enum ctiact_why *why)
{
	if (!in->running) {
		*why = CTIACT_STOPPED;
		return 0;
	}
	if (!in->peer_up) {
		*why = in->holds ? CTIACT_ALONE_HOLDS : CTIACT_ALONE_NOT_HOLDS;
		return in->holds;
	}
	if (!in->peer_active) {
		*why = CTIACT_PEER_NOT_ACTIVE;
		return 1;
	}
	if (!in->active) {
		*why = CTIACT_PEER_ACTIVE;
		return 0;
	}
	if (in->holds) {
		*why = CTIACT_BOTH_HOLDS;
		return 1;
	}
	if (in->peer_holds) {
		*why = CTIACT_BOTH_PEER_HOLDS;
		return 0;
	}
	*why = CTIACT_BOTH_SIDE_A;
	return in->side == 'A';
}
