/*
 * The failover report.  From every node's events (each carries the wall
 * clock with microseconds, evt.c: the nodes of a lab run on one host, so
 * their times compare), each failover of a peripheral: from its trigger
 * (the action of a scenario, else the first sign of the failure) to the
 * peripheral online again and its history written, each step with its
 * offset in ms, its node and its rule.  The report is JSON; it prints as
 * text, and draws as SVG with cairo, one lane per node, the rules marked.
 *
 * A failover opens at the router's first pim_lost or peripheral_offline of
 * a peripheral that was online, and closes at its peripheral_online; the
 * start-up online closes nothing.
 */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include <cairo.h>
#include <cairo-svg.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include "pgemu.h"
#include "scenario.h"

#define REPORT_LOOKBACK_S	30.0	/* first sign: at most this early */
#define REPORT_HISTORY_S	10.0	/* history written: at most this late */

/* The step of a failover each event is. */
static const struct {
	const char	*event;
	const char	*step;
	double		 rgb[3];
} report_kinds[] = {
	{ "trigger",		"trigger",	{ 0.0, 0.0, 0.0 } },
	{ "link_state",		"detection",	{ 0.8, 0.1, 0.1 } },
	{ "peer_lost",		"detection",	{ 0.8, 0.1, 0.1 } },
	{ "pim_lost",		"detection",	{ 0.8, 0.1, 0.1 } },
	{ "cti_manager_stopped", "detection",	{ 0.8, 0.1, 0.1 } },
	{ "pim_fenced",		"detection",	{ 0.8, 0.1, 0.1 } },
	{ "pim_resigning",	"detection",	{ 0.8, 0.1, 0.1 } },
	{ "router_stalled",	"detection",	{ 0.8, 0.1, 0.1 } },
	{ "data_discarded",	"discard",	{ 0.9, 0.5, 0.0 } },
	{ "data_refused",	"discard",	{ 0.9, 0.5, 0.0 } },
	{ "history_lost",	"discard",	{ 0.9, 0.5, 0.0 } },
	{ "peripheral_offline",	"offline",	{ 0.9, 0.5, 0.0 } },
	{ "agents_logged_out",	"logout",	{ 0.9, 0.5, 0.0 } },
	{ "logout_reason",	"logout",	{ 0.9, 0.5, 0.0 } },
	{ "pim_granted",	"grant",	{ 0.1, 0.3, 0.9 } },
	{ "pim_activating",	"activation",	{ 0.5, 0.2, 0.7 } },
	{ "pim_active",		"activation",	{ 0.5, 0.2, 0.7 } },
	{ "pim_accepted",	"activation",	{ 0.5, 0.2, 0.7 } },
	{ "pim_recovering",	"activation",	{ 0.5, 0.2, 0.7 } },
	{ "pim_adopted",	"activation",	{ 0.5, 0.2, 0.7 } },
	{ "agents_snapshot",	"snapshot",	{ 0.1, 0.6, 0.2 } },
	{ "agents_relogin",	"relogin",	{ 0.1, 0.6, 0.2 } },
	{ "peripheral_online",	"online",	{ 0.0, 0.4, 0.1 } },
	{ "history_written",	"history",	{ 0.4, 0.4, 0.4 } },
};
#define REPORT_NKINDS	(sizeof(report_kinds) / sizeof(report_kinds[0]))

/* The summary: the first step of each kind, in the order of a failover. */
static const char *const report_milestones[] = {
	"detection", "grant", "activation", "snapshot", "relogin", "online",
	"history"
};
#define REPORT_NMILESTONES \
	(sizeof(report_milestones) / sizeof(report_milestones[0]))

static int
report_kind(const char *event)
{
	size_t	i;

	for (i = 0; event != NULL && i < REPORT_NKINDS; i++)
		if (strcmp(report_kinds[i].event, event) == 0)
			return (int)i;
	return -1;
}

static double
ev_time(const json_t *e)
{
	return json_number_value(json_object_get(e, "time"));
}

static const char *
ev_str(const json_t *e, const char *key)
{
	const char	*s = json_string_value(json_object_get(e, key));

	return s != NULL ? s : "";
}

/* The event's peripheral, -1 if it names none. */
static long
ev_periph(const json_t *e)
{
	json_t	*p = json_object_get(e, "peripheral");

	return json_is_integer(p) ? (long)json_integer_value(p) : -1;
}

/* A sign of a failure: a lost link (as rules.c raises it), a lost peer. */
static int
ev_sign(const json_t *e)
{
	const char	*name = ev_str(e, "event");
	int		 k = report_kind(name);

	if (k < 0 || strcmp(report_kinds[k].step, "detection") != 0)
		return 0;
	if (strcmp(name, "link_state") == 0)
		return rule_event_pri(name, e) == LOG_WARNING;
	return 1;
}

/* Does the event concern peripheral id (its nodes, or it names it)? */
static int
ev_relevant(const json_t *e, const struct cfg *cf, long id)
{
	const struct cfg_periph	*p;
	const struct cfg_node	*n;
	const char		*node = ev_str(e, "node");

	if (ev_periph(e) != -1)
		return ev_periph(e) == id;
	if (cf == NULL || (p = cfg_periph(cf, (uint32_t)id)) == NULL)
		return 1;
	if ((n = cfg_node(cf, node)) != NULL && n->role == ROLE_ROUTER)
		return 1;
	return strcmp(node, p->acd) == 0 || strcmp(node, p->sides[0]) == 0 ||
	    strcmp(node, p->sides[1]) == 0;
}

struct report_ev {
	json_t	*e;
	size_t	 idx;
};

/* By time, then as they came. */
int
report_event_cmp(const void *a, const void *b)
{
	const struct report_ev	*x = a, *y = b;
	double			 tx = ev_time(x->e), ty = ev_time(y->e);

	if (tx != ty)
		return tx < ty ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* A new array of the events, by time. */
json_t *
report_sorted(json_t *events)
{
	struct report_ev	*v;
	size_t			 i, n = json_array_size(events);
	json_t			*out = json_array();

	v = xcalloc(n ? n : 1, sizeof(*v));
	for (i = 0; i < n; i++) {
		v[i].e = json_array_get(events, i);
		v[i].idx = i;
	}
	qsort(v, n, sizeof(*v), report_event_cmp);
	for (i = 0; i < n; i++)
		json_array_append(out, v[i].e);
	free(v);
	return out;
}

static void
report_step(json_t *steps, const json_t *e, double t0, const char *step)
{
	json_t	*rule = json_object_get(e, "rule");
	int	 k = report_kind(ev_str(e, "event"));

	json_array_append_new(steps, json_pack("{s:s, s:f, s:f, s:s, s:O, "
	    "s:s, s:s}", "step", step ? step : k >= 0 ? report_kinds[k].step :
	    "rule", "offset_ms", (ev_time(e) - t0) * 1000.0, "time",
	    ev_time(e), "node", ev_str(e, "node"), "rule", json_is_string(rule)
	    ? rule : json_null(), "event", ev_str(e, "event"), "message",
	    ev_str(e, "message")));
}

/* Lanes in the lab file's order of nodes, then others as they come. */
static json_t *
report_nodes(const json_t *steps, const struct cfg *cf)
{
	json_t		*nodes = json_array(), *s, *n;
	size_t		 i, j;
	int		 k, seen;

	for (k = 0; cf != NULL && k < cf->nnodes; k++)
		json_array_foreach(steps, i, s)
			if (strcmp(ev_str(s, "node"), cf->nodes[k].name) == 0) {
				json_array_append_new(nodes,
				    json_string(cf->nodes[k].name));
				break;
			}
	json_array_foreach(steps, i, s) {
		seen = 0;
		json_array_foreach(nodes, j, n)
			seen |= strcmp(json_string_value(n),
			    ev_str(s, "node")) == 0;
		if (!seen)
			json_array_append_new(nodes,
			    json_string(ev_str(s, "node")));
	}
	return nodes;
}

/* The rules applied, by number. */
static json_t *
report_rules(const json_t *steps)
{
	json_t		*rules = json_array(), *s;
	const char	*r;
	size_t		 i;
	int		 n, seen[RULE_MAX] = { 0 };

	json_array_foreach(steps, i, s)
		if ((r = json_string_value(json_object_get(s, "rule"))) !=
		    NULL && sscanf(r, "R%d", &n) == 1 && n > 0 && n < RULE_MAX)
			seen[n] = 1;
	for (n = 1; n < RULE_MAX; n++)
		if (seen[n])
			json_array_append_new(rules,
			    json_string(rule_tag(n)));
	return rules;
}

/*
 * One failover of peripheral id: the router's first sign at ev[open],
 * online at ev[close] (close == n: not online again), the previous
 * failover closed at prev.  The trigger is the last of triggers (the
 * actions of a scenario: time, what, node) at or before the detection and
 * after prev; else the first sign of the failure.
 */
static json_t *
report_one(json_t *ev, size_t open, size_t close, double prev,
    const struct cfg *cf, long id, json_t *triggers)
{
	json_t		*steps = json_array(), *trig = NULL, *t, *e, *sum, *s;
	size_t		 i, n = json_array_size(ev), first = open;
	double		 detect = ev_time(json_array_get(ev, open)), t0, end;
	const char	*step;

	json_array_foreach(triggers, i, t)
		if (ev_time(t) <= detect && ev_time(t) > prev)
			trig = t;
	if (trig == NULL) {
		for (i = open + 1; i-- > 0;) {
			e = json_array_get(ev, i);
			if (ev_time(e) <= prev ||
			    ev_time(e) < detect - REPORT_LOOKBACK_S)
				break;
			if (ev_sign(e) && ev_relevant(e, cf, id))
				first = i;
		}
		e = json_array_get(ev, first);
		t0 = ev_time(e);
		trig = json_pack("{s:f, s:s, s:s}", "time", t0, "what",
		    ev_str(e, "message"), "node", ev_str(e, "node"));
	} else {
		t0 = ev_time(trig);
		json_incref(trig);
		json_array_append_new(steps, json_pack("{s:s, s:f, s:f, s:s, "
		    "s:n, s:s, s:s}", "step", "trigger", "offset_ms", 0.0,
		    "time", t0, "node", ev_str(trig, "node"), "rule", "event",
		    "trigger", "message", ev_str(trig, "what")));
	}
	end = close < n ? ev_time(json_array_get(ev, close)) :
	    n ? ev_time(json_array_get(ev, n - 1)) : t0;
	for (i = 0; i < n; i++) {
		e = json_array_get(ev, i);
		if (ev_time(e) < t0 || !ev_relevant(e, cf, id))
			continue;
		if (ev_time(e) > end)
			break;
		step = report_kind(ev_str(e, "event")) >= 0 ? NULL : "rule";
		if (strcmp(ev_str(e, "event"), "link_state") == 0 &&
		    !ev_sign(e))
			continue;
		if (step != NULL && json_is_null(json_object_get(e, "rule")))
			continue;
		if (strcmp(ev_str(e, "event"), "history_written") == 0)
			continue;
		report_step(steps, e, t0, i == first ? "detection" : NULL);
	}
	/* Its history written (before or after the online), before another. */
	for (i = open + 1; i < n; i++) {
		e = json_array_get(ev, i);
		if (ev_time(e) > end + REPORT_HISTORY_S || (i > close &&
		    ev_periph(e) == id && (strcmp(ev_str(e, "event"),
		    "pim_lost") == 0 || strcmp(ev_str(e, "event"),
		    "peripheral_offline") == 0)))
			break;
		if (strcmp(ev_str(e, "event"), "history_written") == 0) {
			report_step(steps, e, t0, NULL);
			break;
		}
	}
	t = report_sorted(steps);
	json_decref(steps);
	steps = t;
	sum = json_object();
	for (i = 0; i < REPORT_NMILESTONES; i++) {
		json_t *first_ms = json_null();
		size_t	j;

		json_array_foreach(steps, j, s)
			if (strcmp(ev_str(s, "step"), report_milestones[i]) ==
			    0) {
				first_ms = json_deep_copy(json_object_get(s,
				    "offset_ms"));
				break;
			}
		json_object_set_new(sum, report_milestones[i], first_ms);
	}
	return json_pack("{s:I, s:b, s:o, s:f, s:o, s:o, s:o, s:o}",
	    "peripheral", (json_int_t)id, "online", close < n, "trigger", trig,
	    "time", t0, "milestones_ms", sum, "nodes", report_nodes(steps,
	    cf), "rules", report_rules(steps), "steps", steps);
}

/* Is the event the router's news of peripheral id: offline, lost, online? */
static int
ev_router(const json_t *e, long id, const char *name)
{
	return ev_periph(e) == id && strcmp(ev_str(e, "event"), name) == 0;
}

/*
 * Every failover in events (any order) of peripheral id (0: of each),
 * from .. to (epoch seconds; 0: no bound), by the time of its trigger.
 * triggers: the actions of a scenario ({time, what, node}), or NULL.
 */
json_t *
report_failovers(json_t *events, const struct cfg *cf, int id, double from,
    double to, json_t *triggers)
{
	json_t		*sorted = report_sorted(events), *ev = json_array();
	json_t		*out = json_array(), *e, *ids = json_array(), *x;
	json_t		*trig = triggers ? report_sorted(triggers) :
			    json_array();
	size_t		 i, j, open;
	double		 prev;
	long		 p;
	int		 dup;

	json_array_foreach(sorted, i, e)
		if ((from == 0 || ev_time(e) >= from) &&
		    (to == 0 || ev_time(e) <= to))
			json_array_append(ev, e);
	json_decref(sorted);
	json_array_foreach(ev, i, e) {
		if ((p = ev_periph(e)) == -1 || (id != 0 && p != id) ||
		    !(ev_router(e, p, "peripheral_online") ||
		    ev_router(e, p, "peripheral_offline")))
			continue;
		dup = 0;
		json_array_foreach(ids, j, x)
			dup |= json_integer_value(x) == p;
		if (!dup)
			json_array_append_new(ids, json_integer(p));
	}
	json_array_foreach(ids, j, x) {
		p = (long)json_integer_value(x);
		open = (size_t)-1;
		prev = 0;
		json_array_foreach(ev, i, e) {
			if (open == (size_t)-1 &&
			    (ev_router(e, p, "pim_lost") ||
			    ev_router(e, p, "peripheral_offline")))
				open = i;
			else if (open != (size_t)-1 &&
			    ev_router(e, p, "peripheral_online")) {
				json_array_append_new(out, report_one(ev, open,
				    i, prev, cf, p, trig));
				prev = ev_time(e);
				open = (size_t)-1;
			}
		}
		if (open != (size_t)-1)
			json_array_append_new(out, report_one(ev, open,
			    json_array_size(ev), prev, cf, p, trig));
	}
	json_decref(ids);
	json_decref(ev);
	json_decref(trig);
	sorted = report_sorted(out);	/* each has "time" in its trigger */
	json_decref(out);
	return sorted;
}

/* "12:34:56.789", local time. */
static void
report_clock(double t, char buf[static 16])
{
	time_t		 s = (time_t)t;
	struct tm	 tm;

	localtime_r(&s, &tm);
	strftime(buf, 16, "%H:%M:%S", &tm);
	snprintf(buf + 8, 8, ".%03d", (int)((t - (double)s) * 1000) % 1000);
}

/* The report as a table, and its milestones. */
void
report_text(FILE *fp, const json_t *r)
{
	const json_t	*trig = json_object_get(r, "trigger"), *s, *m;
	char		 clock[16];
	size_t		 i;
	int		 any = 0;

	report_clock(ev_time(trig), clock);
	fprintf(fp, "failover of peripheral %lld at %s, trigger (%s): %s\n",
	    (long long)json_integer_value(json_object_get(r, "peripheral")),
	    clock, ev_str(trig, "node"), ev_str(trig, "what"));
	fprintf(fp, "%12s  %-10s  %-8s  %-4s  %-19s  %s\n", "OFFSET(ms)",
	    "STEP", "NODE", "RULE", "EVENT", "WHAT");
	json_array_foreach(json_object_get(r, "steps"), i, s)
		fprintf(fp, "%12.3f  %-10s  %-8s  %-4s  %-19s  %.90s\n",
		    json_real_value(json_object_get(s, "offset_ms")),
		    ev_str(s, "step"), ev_str(s, "node"),
		    json_is_string(json_object_get(s, "rule")) ?
		    ev_str(s, "rule") : "-", ev_str(s, "event"),
		    ev_str(s, "message"));
	fputs("milestones (ms after the trigger):", fp);
	for (i = 0; i < REPORT_NMILESTONES; i++) {
		m = json_object_get(json_object_get(r, "milestones_ms"),
		    report_milestones[i]);
		if (json_is_number(m)) {
			fprintf(fp, "%s %s %.3f", any ? "," : "",
			    report_milestones[i], json_number_value(m));
			any = 1;
		}
	}
	fprintf(fp, "%s\n", any ? "" : " none");
	if (!json_is_true(json_object_get(r, "online")))
		fputs("the peripheral is not online again (yet)\n", fp);
}

/* The SVG picture ------------------------------------------------------ */

#define SVG_W		960.0
#define SVG_LEFT	90.0	/* lane names */
#define SVG_RIGHT	30.0
#define SVG_TOP		64.0	/* title, summary, axis */
#define SVG_ROW		13.0	/* a row of labels in a lane */
#define SVG_UNIT_MS	0.1	/* the log scale: x ~ log10(1 + ms / unit) */

struct svg_buf {
	unsigned char	*p;
	size_t		 len, cap;
};

static cairo_status_t
svg_write(void *arg, const unsigned char *data, unsigned int len)
{
	struct svg_buf	*b = arg;

	if (b->len + len > b->cap) {
		b->cap = (b->len + len) * 2;
		b->p = xreallocarray(b->p, b->cap, 1);
	}
	memcpy(b->p + b->len, data, len);
	b->len += len;
	return CAIRO_STATUS_SUCCESS;
}

/* x of an offset (ms), on a log scale: the steps of a failover take from
 * microseconds (a grant) to seconds (a hung side's detection). */
static double
svg_x(double ms, double max_ms)
{
	double	span = log10(1 + max_ms / SVG_UNIT_MS);

	if (ms < 0)
		ms = 0;
	return SVG_LEFT + (SVG_W - SVG_LEFT - SVG_RIGHT) *
	    log10(1 + ms / SVG_UNIT_MS) / (span > 0 ? span : 1);
}

/* The lane of a step: its node's place (at most 64 lanes). */
static size_t
svg_lane(const json_t *nodes, const json_t *s)
{
	const json_t	*n;
	size_t		 j, lane = 0;

	json_array_foreach(nodes, j, n)
		if (strcmp(json_string_value(n), ev_str(s, "node")) == 0)
			lane = j;
	return lane < 64 ? lane : 63;
}

/* The label of a step: its rule and event. */
static void
svg_label(const json_t *s, char *buf, size_t len)
{
	const char	*rule = json_string_value(json_object_get(s, "rule"));

	snprintf(buf, len, "%s%s%s", rule ? rule : "", rule ? " " : "",
	    ev_str(s, "event"));
}

/*
 * Each step's row in its lane (labels must not overlap: steps a few
 * microseconds apart stack), and each lane's number of rows.
 */
static void
svg_layout(cairo_t *cr, const json_t *r, double max_ms, int *row,
    int *lane_rows)
{
	const json_t		*nodes = json_object_get(r, "nodes"), *s;
	double			 ends[64][16];
	cairo_text_extents_t	 ext;
	char			 label[96];
	size_t			 i, lane;
	double			 x;
	int			 k;

	memset(ends, 0, sizeof(ends));
	json_array_foreach(json_object_get(r, "steps"), i, s) {
		lane = svg_lane(nodes, s);
		svg_label(s, label, sizeof(label));
		cairo_text_extents(cr, label, &ext);
		x = svg_x(json_number_value(json_object_get(s, "offset_ms")),
		    max_ms);
		for (k = 0; k < 15 && ends[lane][k] > x - 2; k++)
			;
		ends[lane][k] = x + 6 + ext.x_advance;
		row[i] = k;
		if (k + 1 > lane_rows[lane])
			lane_rows[lane] = k + 1;
	}
}

static void
svg_axis(cairo_t *cr, double max_ms, double y0, double y1)
{
	double	 tick, x;
	char	 label[32];

	cairo_set_font_size(cr, 9);
	for (tick = 0; tick <= max_ms * 1.0001; tick = tick == 0 ? 0.1 :
	    tick * 10) {
		x = svg_x(tick, max_ms);
		cairo_set_source_rgb(cr, 0.85, 0.85, 0.85);
		cairo_set_line_width(cr, 0.5);
		cairo_move_to(cr, x, y0);
		cairo_line_to(cr, x, y1);
		cairo_stroke(cr);
		snprintf(label, sizeof(label), "%g ms", tick);
		cairo_set_source_rgb(cr, 0.3, 0.3, 0.3);
		cairo_move_to(cr, x + 2, y0 - 2);
		cairo_show_text(cr, label);
	}
}

/* The picture's title and description, as text a program can read: the
 * drawing's text is glyph outlines. */
static int
svg_meta(struct svg_buf *b, const json_t *r, const char *title,
    const char *path)
{
	xmlDocPtr	 doc;
	xmlNodePtr	 root, t, d;
	const json_t	*s;
	char		 line[512];
	size_t		 i;
	int		 rc;

	doc = xmlReadMemory((const char *)b->p, (int)b->len, "report.svg",
	    NULL, XML_PARSE_NONET);
	if (doc == NULL || (root = xmlDocGetRootElement(doc)) == NULL) {
		xmlFreeDoc(doc);
		return -1;
	}
	t = xmlNewDocNode(doc, root->ns, BAD_CAST "title", NULL);
	xmlNodeAddContent(t, BAD_CAST title);
	d = xmlNewDocNode(doc, root->ns, BAD_CAST "desc", NULL);
	json_array_foreach(json_object_get(r, "steps"), i, s) {
		snprintf(line, sizeof(line), "%s+%.3f ms %s %s %s %s: %s",
		    i ? "\n" : "", json_number_value(json_object_get(s,
		    "offset_ms")), ev_str(s, "step"), ev_str(s, "node"),
		    json_is_string(json_object_get(s, "rule")) ?
		    ev_str(s, "rule") : "-", ev_str(s, "event"),
		    ev_str(s, "message"));
		xmlNodeAddContent(d, BAD_CAST line);
	}
	if (root->children != NULL)
		xmlAddPrevSibling(root->children, t);
	else
		xmlAddChild(root, t);
	xmlAddNextSibling(t, d);
	rc = xmlSaveFileEnc(path, doc, "UTF-8");
	xmlFreeDoc(doc);
	return rc < 0 ? -1 : 0;
}

/*
 * The report as an SVG picture in path: one lane per node, each step a
 * mark on a log time axis from the trigger, labelled with its rule and
 * event; the trigger and the online drawn across the lanes.
 */
int
report_svg(const char *path, const json_t *r, char *err, size_t errlen)
{
	const json_t	*nodes = json_object_get(r, "nodes");
	const json_t	*steps = json_object_get(r, "steps"), *s, *n, *m;
	struct svg_buf	 b = { NULL, 0, 0 };
	cairo_surface_t	*sf;
	cairo_t		*cr;
	size_t		 i, j, nsteps = json_array_size(steps), lane;
	int		*row, lane_rows[64] = { 0 }, k;
	double		 max_ms = 1, lane_y[64], y, x, h, online;
	char		 title[400], label[96], clock[16];

	json_array_foreach(steps, i, s)
		if (json_number_value(json_object_get(s, "offset_ms")) >
		    max_ms)
			max_ms = json_number_value(json_object_get(s,
			    "offset_ms"));
	row = xcalloc(nsteps ? nsteps : 1, sizeof(*row));

	/* Measure first (labels stack in rows), then draw. */
	sf = cairo_svg_surface_create_for_stream(NULL, NULL, SVG_W, 100);
	cr = cairo_create(sf);
	cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL,
	    CAIRO_FONT_WEIGHT_NORMAL);
	cairo_set_font_size(cr, 9);
	svg_layout(cr, r, max_ms, row, lane_rows);
	cairo_destroy(cr);
	cairo_surface_destroy(sf);
	y = SVG_TOP;
	for (j = 0; j < json_array_size(nodes) && j < 64; j++) {
		lane_y[j] = y;
		y += 14 + SVG_ROW * (lane_rows[j] ? lane_rows[j] : 1);
	}
	h = y + 16;

	sf = cairo_svg_surface_create_for_stream(svg_write, &b, SVG_W, h);
	cr = cairo_create(sf);
	cairo_set_source_rgb(cr, 1, 1, 1);
	cairo_paint(cr);
	cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL,
	    CAIRO_FONT_WEIGHT_BOLD);
	cairo_set_font_size(cr, 12);
	cairo_set_source_rgb(cr, 0, 0, 0);
	report_clock(ev_time(json_object_get(r, "trigger")), clock);
	snprintf(title, sizeof(title), "failover of peripheral %lld at %s: "
	    "%s", (long long)json_integer_value(json_object_get(r,
	    "peripheral")), clock, ev_str(json_object_get(r, "trigger"),
	    "what"));
	cairo_move_to(cr, 8, 16);
	cairo_show_text(cr, title);
	cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL,
	    CAIRO_FONT_WEIGHT_NORMAL);
	cairo_set_font_size(cr, 10);
	m = json_object_get(json_object_get(r, "milestones_ms"), "online");
	online = json_is_number(m) ? json_number_value(m) : -1;
	if (online >= 0)
		snprintf(label, sizeof(label), "online %.3f ms after the "
		    "trigger; time axis logarithmic", online);
	else
		snprintf(label, sizeof(label), "not online again; time axis "
		    "logarithmic");
	cairo_move_to(cr, 8, 31);
	cairo_show_text(cr, label);
	svg_axis(cr, max_ms, SVG_TOP - 8, h - 12);

	/* Lanes. */
	json_array_foreach(nodes, j, n) {
		if (j >= 64)
			break;
		cairo_set_source_rgb(cr, 0, 0, 0);
		cairo_set_font_size(cr, 11);
		cairo_move_to(cr, 8, lane_y[j] + 12);
		cairo_show_text(cr, json_string_value(n));
		cairo_set_source_rgb(cr, 0.6, 0.6, 0.6);
		cairo_set_line_width(cr, 1);
		cairo_move_to(cr, SVG_LEFT, lane_y[j] + 8);
		cairo_line_to(cr, SVG_W - SVG_RIGHT, lane_y[j] + 8);
		cairo_stroke(cr);
	}
	/* The trigger and the online, across the lanes. */
	for (k = 0; k < 2; k++) {
		if (k == 1 && online < 0)
			break;
		x = svg_x(k == 0 ? 0 : online, max_ms);
		cairo_set_source_rgb(cr, k == 0 ? 0 : 0, k == 0 ? 0 : 0.4, 0);
		cairo_set_line_width(cr, 1);
		cairo_set_dash(cr, (double[]){ 3, 3 }, 2, 0);
		cairo_move_to(cr, x, SVG_TOP - 6);
		cairo_line_to(cr, x, h - 12);
		cairo_stroke(cr);
		cairo_set_dash(cr, NULL, 0, 0);
	}
	/* Steps: a mark on the lane, the label in its row. */
	cairo_set_font_size(cr, 9);
	json_array_foreach(steps, i, s) {
		lane = svg_lane(nodes, s);
		k = report_kind(ev_str(s, "event"));
		if (k < 0)
			k = 0;
		x = svg_x(json_number_value(json_object_get(s, "offset_ms")),
		    max_ms);
		cairo_set_source_rgb(cr, report_kinds[k].rgb[0],
		    report_kinds[k].rgb[1], report_kinds[k].rgb[2]);
		cairo_arc(cr, x, lane_y[lane] + 8, 3.5, 0, 2 * M_PI);
		cairo_fill(cr);
		y = lane_y[lane] + 19 + SVG_ROW * row[i];
		cairo_set_line_width(cr, 0.5);
		cairo_move_to(cr, x, lane_y[lane] + 8);
		cairo_line_to(cr, x, y - 3);
		cairo_stroke(cr);
		svg_label(s, label, sizeof(label));
		cairo_move_to(cr, x + 2, y + 3);
		cairo_show_text(cr, label);
	}
	cairo_destroy(cr);
	cairo_surface_finish(sf);
	if (cairo_surface_status(sf) != CAIRO_STATUS_SUCCESS) {
		snprintf(err, errlen, "cairo: %s", cairo_status_to_string(
		    cairo_surface_status(sf)));
		cairo_surface_destroy(sf);
		free(b.p);
		free(row);
		return -1;
	}
	cairo_surface_destroy(sf);
	free(row);
	if (svg_meta(&b, r, title, path) == -1) {
		snprintf(err, errlen, "cannot write %s", path);
		free(b.p);
		return -1;
	}
	free(b.p);
	return 0;
}
