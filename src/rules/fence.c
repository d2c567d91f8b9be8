/*
 * Fencing, as pure functions: whose PIM a peripheral obeys.  The ACD (and,
 * next, the application instance for the MR PIM) accepts a PIM only with
 * the highest activation epoch it has seen, or the same epoch again from
 * the PIM that holds it (a reconnection to the backup CTI Manager).  An
 * older epoch is refused; an epoch far above the last one comes from no
 * PIM of this lab (the router grants one at a time) and is refused too,
 * or one message would fence the real PIMs for good.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "pgemu.h"

const char *const fence_verdict_names[FENCE_MAX] = {
	"ACCEPT", "FOREIGN", "IMPLAUSIBLE", "STALE"
};

/* May `who` activate with `epoch`?  The reason in why when not. */
enum fence_verdict
fence_judge(const struct fence *f, uint32_t peripheral, uint32_t epoch,
    const char *who, char *why, size_t len)
{
	if (peripheral != f->peripheral) {
		snprintf(why, len, "peripheral %u is not %u", peripheral,
		    f->peripheral);
		return FENCE_FOREIGN;
	}
	if (f->max_epoch != 0 && epoch > f->max_epoch &&
	    epoch - f->max_epoch > FENCE_MAX_JUMP) {
		snprintf(why, len, "epoch %u is implausible: current %u",
		    epoch, f->max_epoch);
		return FENCE_IMPLAUSIBLE;
	}
	if (epoch > f->max_epoch || (epoch == f->max_epoch && epoch != 0 &&
	    strcmp(f->holder, who) == 0))
		return FENCE_ACCEPT;
	snprintf(why, len, "stale epoch %u, current %u (held by %s)", epoch,
	    f->max_epoch, f->holder[0] != '\0' ? f->holder : "nobody");
	return FENCE_STALE;
}

/* `who` holds the peripheral with `epoch` from now on. */
void
fence_accept(struct fence *f, uint32_t epoch, const char *who)
{
	f->max_epoch = epoch;
	snprintf(f->holder, sizeof(f->holder), "%s", who);
}
