/*
 * Events: every state change is one event.  It becomes one log line (with
 * the rule it applies, "[R5] ..."), at the priority the rules table gives
 * the event (rules.c), one JSON object for the control socket's
 * subscribers, and it is kept in a ring of recent events.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include "pgemu.h"

#define EVT_RING	512

static void	(*evt_sink)(json_t *, void *);
static void	*evt_sink_arg;
static uint64_t	 evt_seq;
static json_t	*evt_ring[EVT_RING];

void
evt_set_sink(void (*sink)(json_t *, void *), void *arg)
{
	evt_sink = sink;
	evt_sink_arg = arg;
}

uint64_t
evt_count(void)
{
	return evt_seq;
}

void
evt_emit(int rule, const char *name, json_t *fields, const char *fmt, ...)
{
	const char	*rtag = rule_tag(rule);
	char		 msg[1024];
	va_list		 ap;
	json_t		*e;
	int		 pri;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);

	e = fields != NULL ? fields : json_object();
	json_object_set_new(e, "seq", json_integer((json_int_t)++evt_seq));
	json_object_set_new(e, "time", json_real(wall_now()));
	json_object_set_new(e, "node", json_string(log_node()));
	json_object_set_new(e, "event", json_string(name));
	json_object_set_new(e, "rule", rtag != NULL ? json_string(rtag) :
	    json_null());
	json_object_set_new(e, "message", json_string(msg));
	pri = rule_event_pri(name, e);
	if (log_to_journal()) {
		char line[1100];

		snprintf(line, sizeof(line), "%s%s%s%s", rtag ? "[" : "",
		    rtag ? rtag : "", rtag ? "] " : "", msg);
		log_journal_send(pri, line, e);
	} else if (rtag != NULL)
		log_msg(pri, "[%s] %s", rtag, msg);
	else
		log_msg(pri, "%s", msg);
	if (evt_sink != NULL)
		evt_sink(e, evt_sink_arg);
	json_decref(evt_ring[evt_seq % EVT_RING]);
	evt_ring[evt_seq % EVT_RING] = e;
}

/* The most recent events, oldest first, at most max of them. */
json_t *
evt_recent(size_t max)
{
	json_t		*a = json_array();
	uint64_t	 first, i;

	if (max > EVT_RING)
		max = EVT_RING;
	first = evt_seq > max ? evt_seq - max + 1 : 1;
	for (i = first; i <= evt_seq; i++)
		if (evt_ring[i % EVT_RING] != NULL)
			json_array_append(a, evt_ring[i % EVT_RING]);
	return a;
}

void
evt_clear(void)
{
	size_t	i;

	for (i = 0; i < EVT_RING; i++) {
		json_decref(evt_ring[i]);
		evt_ring[i] = NULL;
	}
	evt_sink = NULL;
}
