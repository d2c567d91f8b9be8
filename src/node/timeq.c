/*
 * Many deadlines behind one libevent timer: a min-heap of slots (one per
 * agent of the ACD, say), each with at most one deadline.  A libevent
 * timer is about 140 bytes with its allocation; a slot here is 16 (its
 * deadline, its place in the heap, the heap's entry), and 100,000 agents
 * on simulated calls cost one timer in libevent's own heap.
 *
 * The timer fires for the earliest deadline; every slot due then is
 * taken off and its callback run, in deadline order, and the timer is set
 * again for what is left.  A callback may set or clear any slot's
 * deadline, its own too.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "pgemu.h"

#define TQ_NONE		(-1)

static int
tq_before(const struct timeq *q, int a, int b)
{
	return q->at[q->heap[a]] < q->at[q->heap[b]];
}

static void
tq_swap(struct timeq *q, int a, int b)
{
	int	s = q->heap[a];

	q->heap[a] = q->heap[b];
	q->heap[b] = s;
	q->pos[q->heap[a]] = a;
	q->pos[q->heap[b]] = b;
}

static void
tq_up(struct timeq *q, int i)
{
	while (i > 0 && tq_before(q, i, (i - 1) / 2)) {
		tq_swap(q, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static void
tq_down(struct timeq *q, int i)
{
	int	c;

	for (;;) {
		c = 2 * i + 1;
		if (c >= q->n)
			return;
		if (c + 1 < q->n && tq_before(q, c + 1, c))
			c++;
		if (!tq_before(q, c, i))
			return;
		tq_swap(q, i, c);
		i = c;
	}
}

/* Take a slot out of the heap (it has a place there). */
static void
tq_remove(struct timeq *q, int slot)
{
	int	i = q->pos[slot], moved;

	q->pos[slot] = TQ_NONE;
	if (i == --q->n)
		return;
	moved = q->heap[i] = q->heap[q->n];
	q->pos[moved] = i;
	tq_up(q, i);
	tq_down(q, q->pos[moved]);
}

/* The libevent timer for the earliest deadline, if it is not set so. */
static void
tq_arm(struct timeq *q)
{
	struct timeval	tv;
	uint64_t	now, at;

	if (q->running)
		return;
	if (q->n == 0) {
		if (q->armed != 0)
			evtimer_del(q->ev);
		q->armed = 0;
		return;
	}
	at = q->at[q->heap[0]];
	if (q->armed == at)
		return;
	now = mono_us();
	at = at > now ? at - now : 0;
	tv.tv_sec = (time_t)(at / 1000000);
	tv.tv_usec = (suseconds_t)(at % 1000000);
	evtimer_add(q->ev, &tv);
	q->armed = q->at[q->heap[0]];
}

/* Every slot due, in deadline order; then the timer for the next. */
static void
tq_cb(evutil_socket_t fd, short what, void *arg)
{
	struct timeq	*q = arg;
	uint64_t	 now = mono_us();
	int		 slot;

	(void)fd;
	(void)what;
	q->armed = 0;
	q->running = 1;
	while (q->n > 0 && q->at[q->heap[0]] <= now) {
		slot = q->heap[0];
		tq_remove(q, slot);
		q->cb(q->arg, slot);
	}
	q->running = 0;
	tq_arm(q);
}

void
timeq_init(struct timeq *q, struct event_base *base, int nslots,
    void (*cb)(void *, int), void *arg)
{
	int	i;

	memset(q, 0, sizeof(*q));
	q->nslots = nslots;
	q->at = xcalloc((size_t)nslots + 1, sizeof(*q->at));
	q->pos = xcalloc((size_t)nslots + 1, sizeof(*q->pos));
	q->heap = xcalloc((size_t)nslots + 1, sizeof(*q->heap));
	for (i = 0; i < nslots; i++)
		q->pos[i] = TQ_NONE;
	q->cb = cb;
	q->arg = arg;
	q->ev = evtimer_new(base, tq_cb, q);
}

/* Also of a timeq never initialised (all zero). */
void
timeq_free(struct timeq *q)
{
	if (q->ev != NULL)
		event_free(q->ev);
	free(q->at);
	free(q->pos);
	free(q->heap);
	memset(q, 0, sizeof(*q));
}

/* The slot's deadline, ms from now (the one it had is forgotten). */
void
timeq_add(struct timeq *q, int slot, int ms)
{
	if (q->pos[slot] != TQ_NONE)
		tq_remove(q, slot);
	q->at[slot] = mono_us() + (uint64_t)(ms < 0 ? 0 : ms) * 1000;
	q->heap[q->n] = slot;
	q->pos[slot] = q->n;
	tq_up(q, q->n++);
	tq_arm(q);
}

void
timeq_del(struct timeq *q, int slot)
{
	if (q->pos[slot] == TQ_NONE)
		return;
	tq_remove(q, slot);
	tq_arm(q);
}

int
timeq_pending(const struct timeq *q, int slot)
{
	return q->pos[slot] != TQ_NONE;
}
