/*
 * libFuzzer harness of fencing (src/rules/fence.c) as the ACD applies it
 * (src/roles/acd/acd.c: acd_msg_activate, acd_accept, acd_refuse,
 * acd_msg_deactivate, acd_link_down): an ACD of peripheral 5000 with the
 * PIM links of pg-a and pg-b, driven by a sequence of events, each an
 * opcode byte and its operands:
 *
 *   0 s e p     PIM_ACTIVATE from side s (bit 0) with epoch choice e for
 *               peripheral p (5000 unless p's low bits say otherwise)
 *   1 s e       PIM_DEACTIVATE from side s with epoch choice e
 *   2 s         side s's link goes (its PIM is no longer accepted)
 *   3 s         side s's link comes back
 *   4 w e p l   a probe: fence_judge() for name w, epoch e, peripheral p
 *               and a reason buffer of 1 + l % 160 bytes, nothing applied
 *   5           the ACD restarts: it forgets the epochs (kept in memory)
 *
 * An epoch choice is one byte: near the highest accepted (below, equal,
 * above, up to FENCE_MAX_JUMP and past it), the last the side asked with,
 * 0 or UINT32_MAX; 0xFF takes the next four bytes as the epoch.
 *
 * Oracles, from fence.c's contract and the ACD's use of it:
 *
 *   - fence_judge() changes nothing (a refused activation never changes
 *     the holder or the epoch) and answers the same question the same;
 *   - its verdict is the contract's: FOREIGN for another peripheral;
 *     IMPLAUSIBLE for an epoch more than FENCE_MAX_JUMP above a highest
 *     epoch that is not 0; ACCEPT for a higher epoch, or the same one
 *     again from the holder, and never for epoch 0; STALE otherwise; a
 *     refusal says why in a string that ends;
 *   - within one run of the ACD the accepted epoch never goes down, and
 *     the holder changes only by an accepted activation;
 *   - one holder at a time: at most one PIM accepted, and that one is the
 *     fence's holder with its epoch; the other side, with any epoch up to
 *     the holder's, is refused (fenced).
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgemu.h"

#define FUZZ_PERIPH	5000

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* The ACD's view of a PIM link (struct acd_pim). */
struct pim {
	const char	*name;
	int		 link_up;
	int		 accepted;
	uint32_t	 epoch;		/* accepted with */
	uint32_t	 asked;		/* the last it asked with */
};

/* The names a probe asks for: the sides, near misses, the longest. */
static const char *const names[] = {
	"pg-a", "pg-b", "pg-a ", "pg", "PG-A", "", "acd-1",
	"a-name-of-thirty-one-characters"
};

/* The input, read an operand at a time; 0 when it has run out. */
struct input {
	const uint8_t	*p;
	size_t		 n;
};

static int
next(struct input *in, uint8_t *b)
{
	if (in->n == 0)
		return 0;
	*b = *in->p++;
	in->n--;
	return 1;
}

static __dead void
fail(const char *what, const char *who, uint32_t epoch,
    const struct fence *f)
{
	fprintf(stderr, "fuzz_fence: %s (%s, epoch %u; fence %u held by "
	    "\"%s\")\n", what, who, epoch, f->max_epoch, f->holder);
	abort();
}

/* An epoch choice; 0 if the input ran out (its caller stops). */
static int
epoch_of(struct input *in, const struct fence *f, const struct pim *s,
    uint32_t *epoch)
{
	uint8_t		b, x;
	uint32_t	m = f->max_epoch;
	int		i;

	if (!next(in, &b))
		return 0;
	switch (b % 12) {
	case 0:	*epoch = m - 1; break;
	case 1:	*epoch = m; break;
	case 2:	*epoch = m + 1; break;
	case 3:	*epoch = m + 1 + b / 12; break;
	case 4:	*epoch = m + FENCE_MAX_JUMP; break;
	case 5:	*epoch = m + FENCE_MAX_JUMP + 1; break;
	case 6:	*epoch = s->asked; break;
	case 7:	*epoch = 0; break;
	case 8:	*epoch = UINT32_MAX; break;
	case 9:	*epoch = m - 1 - b / 12; break;
	case 10: *epoch = UINT32_MAX - b / 12; break;
	default:
		*epoch = 0;
		for (i = 0; i < 4; i++) {
			if (!next(in, &x))
				return 0;
			*epoch = *epoch << 8 | x;
		}
	}
	return 1;
}

/* The peripheral an activation names: ours mostly. */
static uint32_t
periph_of(uint8_t b)
{
	switch (b % 8) {
	case 0:	return 0;
	case 1:	return FUZZ_PERIPH + 1;
	case 2:	return FUZZ_PERIPH - 1;
	case 3:	return UINT32_MAX;
	default: return FUZZ_PERIPH;
	}
}

/* fence_judge() against the contract; its verdict. */
static enum fence_verdict
judge(const struct fence *f, uint32_t periph, uint32_t epoch,
    const char *who, size_t whylen)
{
	struct fence		before = *f;
	enum fence_verdict	v, v2, want;
	char			why[160], why2[160];

	memset(why, 0xA5, sizeof(why));
	v = fence_judge(f, periph, epoch, who, why, whylen);
	if (memcmp(&before, f, sizeof(*f)) != 0)
		fail("fence_judge() changed the fence", who, epoch, f);
	if (periph != f->peripheral)
		want = FENCE_FOREIGN;
	else if (f->max_epoch != 0 && epoch > f->max_epoch &&
	    epoch - f->max_epoch > FENCE_MAX_JUMP)
		want = FENCE_IMPLAUSIBLE;
	else if (epoch > f->max_epoch || (epoch == f->max_epoch &&
	    epoch != 0 && strcmp(who, f->holder) == 0))
		want = FENCE_ACCEPT;
	else
		want = FENCE_STALE;
	if (v != want) {
		fprintf(stderr, "fuzz_fence: %s, the contract says %s\n",
		    v < FENCE_MAX ? fence_verdict_names[v] : "?",
		    fence_verdict_names[want]);
		fail("verdict is not the contract's", who, epoch, f);
	}
	if (v == FENCE_ACCEPT && epoch == 0)
		fail("epoch 0 accepted", who, epoch, f);
	if (v != FENCE_ACCEPT && (memchr(why, '\0', whylen) == NULL ||
	    (whylen > 1 && why[0] == '\0')))
		fail("a refusal without a reason that ends", who, epoch, f);
	v2 = fence_judge(f, periph, epoch, who, why2, sizeof(why2));
	if (v2 != v)
		fail("the same question, another verdict", who, epoch, f);
	return v;
}

/* One holder at a time, the fence's; the other side fenced. */
static void
check_holder(const struct fence *f, const struct pim *pims)
{
	int	i, n = 0;

	for (i = 0; i < 2; i++) {
		if (!pims[i].accepted)
			continue;
		n++;
		if (strcmp(pims[i].name, f->holder) != 0 ||
		    pims[i].epoch != f->max_epoch)
			fail("the PIM accepted is not the fence's holder",
			    pims[i].name, pims[i].epoch, f);
		/* The other side cannot take it with an epoch up to this. */
		if (judge(f, FUZZ_PERIPH, f->max_epoch, pims[1 - i].name,
		    160) == FENCE_ACCEPT || (f->max_epoch > 1 &&
		    judge(f, FUZZ_PERIPH, f->max_epoch - 1, pims[1 - i].name,
		    160) == FENCE_ACCEPT))
			fail("the other side is not fenced", pims[1 - i].name,
			    f->max_epoch, f);
	}
	if (n > 1)
		fail("two PIMs accepted at once", f->holder, f->max_epoch, f);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input		 in = { data, size };
	struct fence		 f, before;
	struct pim		 pims[2] = { { "pg-a", 1, 0, 0, 0 },
				    { "pg-b", 1, 0, 0, 0 } };
	struct pim		*s;
	uint32_t		 epoch;
	uint8_t			 op, b, w, l;
	int			 i;

	memset(&f, 0, sizeof(f));
	f.peripheral = FUZZ_PERIPH;
	while (next(&in, &op)) {
		before = f;
		switch (op % 6) {
		case 0:		/* acd_msg_activate() */
			if (!next(&in, &b))
				return 0;
			s = &pims[b & 1];
			if (!epoch_of(&in, &f, s, &epoch) || !next(&in, &w))
				return 0;
			if (!s->link_up)
				break;	/* nothing comes on no link */
			s->asked = epoch;
			if (judge(&f, periph_of(w), epoch, s->name,
			    160) != FENCE_ACCEPT) {
				if (memcmp(&before, &f, sizeof(f)) != 0)
					fail("a refusal changed the fence",
					    s->name, epoch, &f);
				break;
			}
			/* acd_accept(): the old one is fenced. */
			for (i = 0; i < 2; i++)
				if (&pims[i] != s)
					pims[i].accepted = 0;
			s->accepted = 1;
			s->epoch = epoch;
			fence_accept(&f, epoch, s->name);
			if (f.max_epoch != epoch || strcmp(f.holder,
			    s->name) != 0)
				fail("fence_accept() did not record it",
				    s->name, epoch, &f);
			break;
		case 1:		/* acd_msg_deactivate() */
			if (!next(&in, &b))
				return 0;
			s = &pims[b & 1];
			if (!epoch_of(&in, &f, s, &epoch))
				return 0;
			if (s->link_up && s->accepted && s->epoch == epoch)
				s->accepted = 0;
			break;
		case 2:		/* acd_link_down() */
		case 3:
			if (!next(&in, &b))
				return 0;
			s = &pims[b & 1];
			s->link_up = op % 6 == 3;
			if (!s->link_up)
				s->accepted = 0;
			break;
		case 4:		/* a question, nothing applied */
			if (!next(&in, &w) || !epoch_of(&in, &f, &pims[w & 1],
			    &epoch) || !next(&in, &b) || !next(&in, &l))
				return 0;
			judge(&f, periph_of(b), epoch,
			    names[w % (sizeof(names) / sizeof(names[0]))],
			    1 + l % 160);
			break;
		default:	/* the ACD restarts */
			memset(&f, 0, sizeof(f));
			f.peripheral = FUZZ_PERIPH;
			before = f;
			for (i = 0; i < 2; i++) {
				pims[i].accepted = 0;
				pims[i].link_up = 0;
			}
			break;
		}
		if (f.max_epoch < before.max_epoch)
			fail("the accepted epoch went down", f.holder,
			    f.max_epoch, &f);
		if (op % 6 != 0 && op % 6 != 5 &&
		    memcmp(&before, &f, sizeof(f)) != 0)
			fail("the fence changed with no activation", f.holder,
			    f.max_epoch, &f);
		check_holder(&f, pims);
	}
	return 0;
}
