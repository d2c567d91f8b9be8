/*
 * Simulated traffic: a Poisson stream of arrivals at a rate (the ACD's
 * calls, the application's tasks), turned on and off and changed live
 * (`traffic on|off`, `traffic rate N` of both roles).  The same seed
 * gives the same stream, and the same random numbers to the role
 * (pace_uniform) for what it draws besides.
 */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pgemu.h"

#define PACE_MIN_MS	1	/* arrivals due come at most this often */

/* A number in (0, 1) of the stream's generator. */
double
pace_uniform(struct pace *p)
{
	return ((double)rand_r(&p->seed) + 1.0) / ((double)RAND_MAX + 2.0);
}

/* The gap to the next arrival: exponential, of mean 1 / rate. */
static uint64_t
pace_gap_us(struct pace *p)
{
	double	gap = -log(pace_uniform(p)) / p->rate;

	return gap > 3600 ? 3600000000ULL : (uint64_t)(gap * 1e6);
}

/* The timer: when the next arrival is due, at most every 1 ms. */
static void
pace_schedule(struct pace *p)
{
	struct timeval	tv;
	uint64_t	now = mono_us(), us;

	if (!p->on || p->rate <= 0)
		return;
	us = p->next_us > now ? p->next_us - now : 0;
	if (us < PACE_MIN_MS * 1000)
		us = PACE_MIN_MS * 1000;
	tv.tv_sec = (time_t)(us / 1000000);
	tv.tv_usec = (suseconds_t)(us % 1000000);
	evtimer_add(p->ev, &tv);
}

/*
 * Every arrival due since the last run arrives now: arrivals a second
 * are what was asked, however late the timer, up to what the role and
 * the machine carry; a run that fell more than a second behind drops
 * the backlog rather than bursting.  The role's arrive() may say -1: no
 * more this run.
 */
static void
pace_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pace	*p = arg;
	uint64_t	 now = mono_us();

	(void)fd;
	(void)what;
	if (p->next_us + 1000000 < now)
		p->next_us = now;
	while (p->next_us <= now) {
		p->next_us += pace_gap_us(p);
		if (p->arrive(p->arg) == -1)
			break;
	}
	pace_schedule(p);
}

void
pace_init(struct pace *p, struct event_base *base, unsigned int seed,
    int (*arrive)(void *), void *arg)
{
	memset(p, 0, sizeof(*p));
	p->seed = seed;
	p->arrive = arrive;
	p->arg = arg;
	p->ev = evtimer_new(base, pace_cb, p);
}

void
pace_free(struct pace *p)
{
	if (p->ev != NULL)
		event_free(p->ev);
	p->ev = NULL;
}

/* On or off, at a rate (< 0: the one it has). */
void
pace_set(struct pace *p, int on, double rate)
{
	p->on = on;
	if (rate >= 0)
		p->rate = rate;
	event_del(p->ev);
	if (on && p->rate > 0) {
		p->next_us = mono_us() + pace_gap_us(p);
		pace_schedule(p);
	}
}

/*
 * The command "traffic on|off" or "traffic rate N" (N at most max, what
 * arrives: "calls"); the reply {traffic, KEY: rate}.
 */
int
pace_cmd(struct pace *p, int argc, const char **argv, double max,
    const char *what, const char *key, struct ctl_cmd_result *res)
{
	char	*end;
	double	 rate;

	if (argc == 3 && strcmp(argv[1], "rate") == 0) {
		rate = strtod(argv[2], &end);
		if (end == argv[2] || *end != '\0' || !(rate >= 0) ||
		    rate > max) {
			snprintf(res->err, sizeof(res->err), "bad rate \"%s\" "
			    "(%s a second, 0 to %.0f)", argv[2], what, max);
			return -1;
		}
		pace_set(p, p->on, rate);
	} else if (argc == 2 && choice_ok("on|off", argv[1]))
		pace_set(p, strcmp(argv[1], "on") == 0, -1);
	else
		return CMD_USAGE;
	res->data = json_pack("{s:b, s:f}", "traffic", p->on, key, p->rate);
	return 0;
}
