/*
 * The device end of fencing: a peripheral's device (the ACD for a voice
 * PIM, the application instance for the MR PIM) keeps one link to the
 * PIM of each PG side and obeys only the PIM it accepted with the highest
 * epoch (fence.c judges).  A newer epoch fences the PIM that held the
 * older one (PIM_FENCED); an older or equal epoch from another side is
 * refused (PIM_REJECT), logged and counted; so is an epoch without the
 * router's grant token when the lab has a key (auth.c).  What the device
 * then gives the PIM it accepted (a snapshot, routing) is its own.
 * pims[0] is side A's PIM, pims[1] side B's.
 */
#include "config.h"

#include <string.h>
#include <syslog.h>

#include "pgemu.h"
#include "wire.h"

/* The PIM of link l, NULL if l is not one of the PG sides' links. */
struct fencer_pim *
fencer_pim(struct fencer *f, const struct link *l)
{
	int	i;

	for (i = 0; i < 2; i++)
		if (f->pims[i].link == l)
			return &f->pims[i];
	return NULL;
}

/* The PIM the device obeys, or NULL. */
struct fencer_pim *
fencer_accepted(struct fencer *f)
{
	int	i;

	for (i = 0; i < 2; i++)
		if (f->pims[i].accepted)
			return &f->pims[i];
	return NULL;
}

/* The invariant, checked on every change: never two accepted PIMs. */
static void
fencer_check_invariant(struct fencer *f)
{
	int	i, n = 0;

	for (i = 0; i < 2; i++)
		n += f->pims[i].accepted;
	if (n > f->max_accepted)
		f->max_accepted = n;
	if (n > 1)
		log_msg(LOG_ERR, "SPLIT BRAIN: %d PIMs accepted at once", n);
}

static void
fencer_accept(struct fencer *f, struct fencer_pim *p, uint32_t epoch,
    uint32_t count)
{
	struct fencer_pim	*old = fencer_accepted(f);
	struct wire_writer	 w;
	struct msg_epoch	 e;

	if (old != NULL && old != p) {
		memset(&e, 0, sizeof(e));
		e.a = epoch;
		e.b = old->epoch;
		snprintf(e.text, sizeof(e.text), "PIM of %s accepted with "
		    "epoch %u", p->link->peer_node, epoch);
		msg_epoch_encode(&w, MSG_PIM_FENCED, &e);
		link_send(old->link, &w);
		old->accepted = 0;
		f->fences++;
		evt_emit(RULE_R5, "pim_fenced", json_pack("{s:s, s:i, s:i}",
		    "pim", old->link->peer_node, "epoch", (int)old->epoch,
		    "by", (int)epoch), "PIM of %s (epoch %u) fenced by epoch "
		    "%u of %s", old->link->peer_node, old->epoch, epoch,
		    p->link->peer_node);
	}
	p->accepted = 1;
	p->epoch = epoch;
	fence_accept(&f->fence, epoch, p->link->peer_node);
	f->accepts++;
	fencer_check_invariant(f);
	memset(&e, 0, sizeof(e));
	e.a = epoch;
	e.b = count;
	msg_epoch_encode(&w, MSG_PIM_ACCEPT, &e);
	link_send(p->link, &w);
}

/*
 * Refuse an activation.  The PIM is told the verdict, never the epoch
 * that holds the peripheral (an impostor would come back with the next
 * one); the log says it all.
 */
static void
fencer_refuse(struct fencer *f, struct fencer_pim *p, uint32_t epoch,
    const char *verdict, const char *why)
{
	struct wire_writer	w;
	struct msg_epoch	e;

	f->stale_refused++;
	memset(&e, 0, sizeof(e));
	e.a = epoch;
	snprintf(e.text, sizeof(e.text), "%s", verdict);
	msg_epoch_encode(&w, MSG_PIM_REJECT, &e);
	link_send(p->link, &w);
	log_warnx("refused PIM activation of %s with epoch %u: %s (%llu "
	    "refused so far)", p->link->peer_node, epoch, why,
	    (unsigned long long)f->stale_refused);
	evt_emit(RULE_NONE, "pim_refused", json_pack("{s:s, s:i, s:i, s:s}",
	    "pim", p->link->peer_node, "epoch", (int)epoch, "current",
	    (int)f->fence.max_epoch, "reason", why), "PIM of %s refused: %s",
	    p->link->peer_node, why);
}

/*
 * PIM_ACTIVATE (e: epoch in a, peripheral in b) on link l: accepted, the
 * old holder fenced, and PIM_ACCEPT sent with count (what the device
 * gives the PIM next: its agents, its pending requests); or refused.  The
 * PIM accepted, NULL if refused or l is no PIM's link; the caller says
 * so (pim_accepted) and gives the PIM what it gives.
 */
struct fencer_pim *
fencer_activate(struct fencer *f, struct link *l, const struct msg_epoch *e,
    uint32_t count)
{
	struct fencer_pim	*p = fencer_pim(f, l);
	enum fence_verdict	 v;
	char			 why[160];

	if (p == NULL)
		return NULL;
	/* The router's token of this grant, for this side (pims[0]: A). */
	if (!auth_grant_ok(e->token, e->has_token, e->b, e->a,
	    p == &f->pims[0] ? 'A' : 'B')) {
		fencer_refuse(f, p, e->a, "grant not signed by the router",
		    e->has_token ? "its grant token is not the router's (lab "
		    "key)" : "it shows no grant token");
		return NULL;
	}
	v = fence_judge(&f->fence, e->b, e->a, l->peer_node, why,
	    sizeof(why));
	if (v != FENCE_ACCEPT) {
		fencer_refuse(f, p, e->a, v == FENCE_STALE ? "stale epoch: "
		    "another PIM holds the peripheral" : v == FENCE_FOREIGN ?
		    "not this peripheral" : "implausible epoch", why);
		return NULL;
	}
	fencer_accept(f, p, e->a, count);
	return p;
}

/* PIM_DEACTIVATE of epoch on l: 1 if the accepted PIM let go. */
int
fencer_release(struct fencer *f, struct link *l, uint32_t epoch)
{
	struct fencer_pim	*p = fencer_pim(f, l);

	if (p == NULL || !p->accepted || p->epoch != epoch)
		return 0;
	p->accepted = 0;
	evt_emit(RULE_NONE, "pim_released", json_pack("{s:s, s:i}", "pim",
	    l->peer_node, "epoch", (int)epoch), "PIM of %s released epoch %u",
	    l->peer_node, epoch);
	return 1;
}

/* The link l went: its PIM if it was the accepted one (no longer). */
struct fencer_pim *
fencer_lost(struct fencer *f, const struct link *l)
{
	struct fencer_pim	*p = fencer_pim(f, l);

	if (p == NULL || !p->accepted)
		return NULL;
	p->accepted = 0;
	return p;
}

/* What status shows of it, into o. */
void
fencer_json(struct fencer *f, json_t *o)
{
	struct fencer_pim	*p = fencer_accepted(f);

	json_object_update_new(o, json_pack("{s:s?, s:i, s:s, s:I, s:I, s:I, "
	    "s:I, s:i}",
	    "accepted_pim", p ? p->link->peer_node : NULL,
	    "accepted_epoch", p ? (int)p->epoch : 0,
	    "epoch_holder", f->fence.holder,
	    "max_epoch", (json_int_t)f->fence.max_epoch,
	    "accepts", (json_int_t)f->accepts,
	    "fences", (json_int_t)f->fences,
	    "stale_refused", (json_int_t)f->stale_refused,
	    "max_accepted_at_once", f->max_accepted));
}
