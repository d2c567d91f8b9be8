/*
 * The rules table, in one place:
 *
 *  - every event a node emits, with the priority it is logged at (notice
 *    for state changes, warning for losses and offline, err for what
 *    needs a person, info for routine records); evt_emit() looks it up;
 *  - every trigger a user can cause (a failure of a component), with the
 *    rules each node applies, as the events it emits, in their order.
 *
 * pgemu-failover(7), pgemud(8) and docs/failover.md print these tables
 * (pgemud --rules-man, --rules-md; tests/t_man.sh keeps them equal), and
 * tests/scenario/t_rule_order.py causes each trigger in a lab and compares
 * what the nodes emit with the table (pgemud --rules-json).  A new rule
 * (R9-R23) or trigger is one more row here (a node that plays in it, the
 * desktop server say, one more enum rule_node), and one more way to cause
 * it in t_rule_order.py's CAUSES.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include "pgemu.h"

/* A link that was up went down, and not because its own node stops. */
static int
link_lost(const json_t *f)
{
	const char	*from, *to, *cause;

	from = json_string_value(json_object_get(f, "from"));
	to = json_string_value(json_object_get(f, "to"));
	cause = json_string_value(json_object_get(f, "cause"));
	if (from == NULL || to == NULL || cause == NULL)
		return 0;
	return (strcmp(from, "UP") == 0 || strcmp(from, "FROZEN") == 0) &&
	    strcmp(to, "UP") != 0 && strcmp(to, "FROZEN") != 0 &&
	    strcmp(cause, "STOP") != 0;
}

/* Some of what it counts were dropped (R22: cti.task_cache). */
static int
some_dropped(const json_t *f)
{
	return json_integer_value(json_object_get(f, "dropped")) > 0;
}

/* Sorted by name. */
const struct rule_event rule_events[] = {
	{ "agent_moved",	LOG_NOTICE, NULL, 0, NULL },
	{ "agents_logged_out",	LOG_WARNING, NULL, 0, NULL },
	{ "agents_relogin",	LOG_NOTICE, NULL, 0, NULL },
	{ "agents_resynced",	LOG_NOTICE, NULL, 0, NULL },
	{ "agents_snapshot",	LOG_NOTICE, NULL, 0, NULL },
	{ "app_assigning",	LOG_NOTICE, NULL, 0, NULL },
	{ "app_path_down",	LOG_WARNING, NULL, 0, NULL },
	{ "app_path_up",	LOG_NOTICE, NULL, 0, NULL },
	{ "config_reloaded",	LOG_NOTICE, NULL, 0, NULL },
	{ "cti_active",		LOG_NOTICE, NULL, 0, NULL },
	{ "cti_client_lost",	LOG_WARNING, NULL, 0, NULL },
	{ "cti_manager_started", LOG_NOTICE, NULL, 0, NULL },
	{ "cti_manager_stopped", LOG_WARNING, NULL, 0, NULL },
	{ "cti_session_lost",	LOG_WARNING, NULL, 0, NULL },
	{ "cti_session_open",	LOG_NOTICE, NULL, 0, NULL },
	{ "cti_standby",	LOG_NOTICE, NULL, 0, NULL },
	{ "cti_started",	LOG_NOTICE, NULL, 0, NULL },
	{ "cti_stopped",	LOG_WARNING, NULL, 0, NULL },
	{ "data_discarded",	LOG_WARNING, NULL, 0, NULL },
	{ "data_refused",	LOG_WARNING, NULL, 0, NULL },
	{ "desktop_lost",	LOG_WARNING, NULL, 0, NULL },
	{ "desktop_relogin",	LOG_NOTICE, NULL, 0, NULL },
	{ "grant_unused",	LOG_NOTICE, NULL, 0, NULL },
	{ "history_lost",	LOG_WARNING, NULL, 0, NULL },
	{ "history_written",	LOG_INFO, NULL, 0, NULL },
	{ "interval_stored",	LOG_INFO, NULL, 0, NULL },
	{ "link_state",		LOG_NOTICE, link_lost, LOG_WARNING,
	    "a link that was up goes down" },
	{ "logout_reason",	LOG_NOTICE, NULL, 0, NULL },
	{ "media_kept",		LOG_NOTICE, NULL, 0, NULL },
	{ "media_released",	LOG_NOTICE, NULL, 0, NULL },
	{ "media_relogin",	LOG_NOTICE, NULL, 0, NULL },
	{ "mr_path_lost",	LOG_WARNING, NULL, 0, NULL },
	{ "new_task_failed",	LOG_INFO, NULL, 0, NULL },
	{ "peer_lost",		LOG_WARNING, NULL, 0, NULL },
	{ "peripheral_offline",	LOG_WARNING, NULL, 0, NULL },
	{ "peripheral_online",	LOG_NOTICE, NULL, 0, NULL },
	{ "pim_accepted",	LOG_NOTICE, NULL, 0, NULL },
	{ "pim_activating",	LOG_NOTICE, NULL, 0, NULL },
	{ "pim_active",		LOG_NOTICE, NULL, 0, NULL },
	{ "pim_adopted",	LOG_NOTICE, NULL, 0, NULL },
	{ "pim_fenced",		LOG_WARNING, NULL, 0, NULL },
	{ "pim_granted",	LOG_NOTICE, NULL, 0, NULL },
	{ "pim_lost",		LOG_WARNING, NULL, 0, NULL },
	{ "pim_recovering",	LOG_NOTICE, NULL, 0, NULL },
	{ "pim_refused",	LOG_WARNING, NULL, 0, NULL },
	{ "pim_released",	LOG_NOTICE, NULL, 0, NULL },
	{ "pim_resigning",	LOG_NOTICE, NULL, 0, NULL },
	{ "router_resettle",	LOG_NOTICE, NULL, 0, NULL },
	{ "router_stalled",	LOG_WARNING, NULL, 0, NULL },
	{ "routing_disabled",	LOG_WARNING, NULL, 0, NULL },
	{ "routing_enabled",	LOG_NOTICE, NULL, 0, NULL },
	{ "task_events_adopted", LOG_NOTICE, NULL, 0, NULL },
	{ "task_events_cached",	LOG_WARNING, NULL, 0, NULL },
	{ "task_events_sent",	LOG_NOTICE, some_dropped, LOG_WARNING,
	    "some were dropped (cti.task_cache)" },
	{ "tasks_discarded",	LOG_WARNING, NULL, 0, NULL },
	{ "tasks_expired",	LOG_WARNING, NULL, 0, NULL },
	{ "tasks_left_out",	LOG_WARNING, NULL, 0, NULL },
	{ "tasks_resent",	LOG_NOTICE, NULL, 0, NULL },
	{ "tasks_resumed",	LOG_NOTICE, NULL, 0, NULL },
	{ "voice_back",		LOG_NOTICE, NULL, 0, NULL },
};
const size_t rule_nevents = sizeof(rule_events) / sizeof(rule_events[0]);
/* A hook's events are a bitmask over this table (struct cfg_hook). */
_Static_assert(sizeof(rule_events) / sizeof(rule_events[0]) <= 64,
    "more events than bits in cfg_hook.events");

/* The PIM lost its ACD (R1-R3), the first side back serves (R5, R4). */
#define STEPS_ACD_LOST {						\
	[RN_ROUTER] = { { 1, "data_discarded" },			\
	    { 2, "peripheral_offline" }, { 3, "agents_logged_out" },	\
	    { 5, "pim_lost" }, { 5, "pim_granted" },			\
	    { 4, "peripheral_online" } },				\
	[RN_OLD] = { { 1, "data_discarded" } },				\
	[RN_NEW] = { { 5, "pim_activating" }, { 5, "pim_active" },	\
	    { 4, "agents_snapshot" } },					\
	[RN_ACD] = { { 5, "pim_accepted" } } }

/*
 * The active side vanished (seen or not by the router): R5 first, the
 * grant, then what died with it (R1) and its agents (R2, R6, R7), R8 on
 * the other side.
 */
#define STEPS_PG_LOST {							\
	[RN_ROUTER] = { { 5, "pim_lost" }, { 5, "pim_granted" },	\
	    { 1, "data_discarded" }, { 2, "peripheral_offline" },	\
	    { 6, "agents_logged_out" }, { 7, "logout_reason" },		\
	    { 8, "peripheral_online" } },				\
	[RN_NEW] = { { 5, "pim_activating" }, { 5, "pim_active" },	\
	    { 8, "agents_relogin" } },					\
	[RN_ACD] = { { 5, "pim_accepted" } } }

/*
 * The MR-active side lost its application (R12): the router discards the
 * requests waiting, grants the MR PIM again and is online again (R14).
 */
#define STEPS_MR_LOST_ROUTER {						\
	{ 5, "pim_lost" }, { 12, "peripheral_offline" },		\
	{ 12, "tasks_discarded" }, { 5, "pim_granted" },		\
	{ 14, "peripheral_online" } }

/*
 * The triggers, in the order the documentation lists them.  Each node's
 * steps are {rule, event} in the order the node emits them; events that
 * apply no rule (link_state, peer_lost, ...) are not listed.  RN_OLD is
 * the PG side that held the PIM before the trigger, RN_NEW the side that
 * holds it after (the voice PIM; the MR PIM for a media-routing trigger,
 * whose text says so); when both are the same side it emits RN_OLD's
 * steps, then RN_NEW's.  RN_CTI is the side whose CTI server is active
 * (once the trigger has moved it, for one that does: its text says so).
 * Measured on a lab, and checked there by t_rule_order.
 */
const struct rule_trigger rule_triggers[] = {
	{ "acd_kill", "ACD killed",
	    "kill -9 of the acd node; Restart= starts it again",
	    REASON_PERIPHERAL_RESTART, STEPS_ACD_LOST },
	{ "acd_link_cut", "The active side's ACD link cut",
	    "pgemuctl pg-a fault acd-link down", REASON_PERIPHERAL_RESTART,
	    STEPS_ACD_LOST },
	{ "pg_kill", "Active PG side killed", "kill -9 of the active side",
	    REASON_CTI_FAILURE, STEPS_PG_LOST },
	{ "pg_kill_router_away", "Active PG side killed while the router is "
	    "down", "kill -9 of the router, then of the active side; the "
	    "router started again", REASON_CTI_FAILURE, STEPS_PG_LOST },
	{ "pg_stop", "Active PG side stopped cleanly",
	    "kill -TERM or systemctl stop of the active side",
	    REASON_CTI_FAILURE, {
	    [RN_ROUTER] = { { 1, "data_discarded" },
		{ 2, "peripheral_offline" }, { 6, "agents_logged_out" },
		{ 7, "logout_reason" }, { 5, "pim_lost" },
		{ 5, "pim_granted" }, { 8, "peripheral_online" } },
	    [RN_OLD] = { { 5, "pim_resigning" }, { 1, "data_discarded" } },
	    [RN_NEW] = { { 5, "pim_activating" }, { 5, "pim_active" },
		{ 8, "agents_relogin" } },
	    [RN_ACD] = { { 5, "pim_accepted" } } } },
	{ "cti_primary", "Primary CTI Manager stopped, with a backup endpoint",
	    "pgemuctl acd stop cti-manager primary", REASON_CTI_FAILURE, {
	    [RN_ROUTER] = { { 2, "peripheral_offline" },
		{ 6, "agents_logged_out" }, { 7, "logout_reason" },
		{ 8, "peripheral_online" } },
	    [RN_NEW] = { { 6, "pim_recovering" }, { 5, "pim_active" },
		{ 8, "agents_relogin" } },
	    [RN_ACD] = { { 6, "cti_manager_stopped" },
		{ 5, "pim_accepted" } } } },
	{ "desk_kill", "Primary desktop server killed",
	    "kill -9 of desk-a; its desktops go to desk-b", REASON_CTI_FAILURE, {
	    [RN_CTI] = { { 9, "cti_client_lost" } },
	    [RN_AGENTS] = { { 9, "desktop_lost" },
		{ 10, "desktop_relogin" } } } },
	{ "desktop_cut", "A desktop's link cut",
	    "pgemuctl agents fault 1001 down, later up", REASON_CTI_FAILURE, {
	    [RN_DESK] = { { 9, "desktop_lost" } },
	    [RN_AGENTS] = { { 9, "desktop_lost" },
		{ 10, "desktop_relogin" } } } },
	{ "pim_stop", "Voice PIM stopped, the other side unable to take "
	    "over", "pgemuctl pg-b fault acd-link down, its CTI server "
	    "active; pgemuctl pg-a stop pim, later start pim",
	    REASON_PG_RESET, {
	    [RN_ROUTER] = { { 1, "data_discarded" },
		{ 2, "peripheral_offline" }, { 3, "agents_logged_out" },
		{ 23, "media_kept" }, { 5, "pim_lost" }, { 5, "pim_granted" },
		{ 4, "peripheral_online" }, { 23, "voice_back" } },
	    [RN_OLD] = { { 1, "data_discarded" } },
	    [RN_NEW] = { { 5, "pim_activating" }, { 5, "pim_active" },
		{ 4, "agents_snapshot" } },
	    [RN_ACD] = { { 5, "pim_accepted" } },
	    [RN_CTI] = { { 23, "media_kept" }, { 23, "media_released" } } } },
	{ "router_kill", "Router killed",
	    "kill -9 of the router; Restart= starts it again; a lab without "
	    "media routing, with it: the last trigger",
	    RULE_NO_REASON, { { { 0, NULL } } } },
	{ "private_cut", "Private link cut",
	    "pgemuctl pg-a fault private-link down, later up",
	    RULE_NO_REASON, { { { 0, NULL } } } },
	{ "app_kill", "Application killed, requests waiting",
	    "kill -9 of the app node with NEW_TASK requests queued at the "
	    "router; Restart= starts it again.  Old and new: the sides of the "
	    "MR PIM", RULE_NO_REASON, {
	    [RN_ROUTER] = STEPS_MR_LOST_ROUTER,
	    [RN_OLD] = { { 12, "mr_path_lost" } },
	    [RN_NEW] = { { 5, "pim_activating" }, { 5, "pim_active" } },
	    [RN_APP] = { { 5, "pim_accepted" }, { 14, "tasks_resent" } } } },
	{ "mr_link_cut", "The MR-active side's MR link cut, requests waiting",
	    "pgemuctl pg-a fault mr-link down on the side whose MR PIM is "
	    "active, NEW_TASK requests queued at the router; later up.  Old "
	    "and new: the sides of the MR PIM", RULE_NO_REASON, {
	    [RN_ROUTER] = STEPS_MR_LOST_ROUTER,
	    [RN_OLD] = { { 12, "mr_path_lost" } },
	    [RN_NEW] = { { 5, "pim_activating" }, { 5, "pim_active" } },
	    [RN_APP] = { { 12, "mr_path_lost" }, { 5, "pim_accepted" },
		{ 17, "routing_enabled" }, { 14, "tasks_resent" } } } },
	{ "mr_router_kill", "Router killed, with media routing",
	    "kill -9 of the router of a lab with an app node, NEW_TASK "
	    "requests queued at it; Restart= starts it again, knowing none of "
	    "them.  Old and new: the sides of the MR PIM",
	    RULE_NO_REASON, {
	    [RN_OLD] = { { 16, "routing_disabled" } },
	    [RN_NEW] = { { 17, "routing_enabled" } },
	    [RN_CTI] = { { 22, "task_events_cached" } },
	    [RN_APP] = { { 16, "routing_disabled" }, { 17, "routing_enabled" },
		{ 17, "tasks_resent" } } } },
	{ "app_cti_cut", "The application's ARM session cut",
	    "pgemuctl app fault cti-link down, later up; the agents in a "
	    "voice and an email MRD, signed in by their desktops",
	    RULE_NO_REASON, {
	    [RN_ROUTER] = { { 21, "app_path_down" }, { 21, "app_path_up" } },
	    [RN_CTI] = { { 18, "app_path_down" }, { 18, "app_path_up" },
		{ 19, "agents_resynced" } },
	    [RN_APP] = { { 19, "agents_resynced" } } } },
	{ "cti_stop", "Active CTI server stopped",
	    "pgemuctl pg-a stop cti-server, later start cti-server; the "
	    "app's ARM session and desk-a's CTI session on it, the agents in "
	    "a voice and an email MRD.  Active CTI server: the other side's, "
	    "which takes over", RULE_NO_REASON, {
	    [RN_ROUTER] = { { 21, "app_path_down" }, { 21, "app_path_up" } },
	    [RN_CTI] = { { 18, "app_path_down" }, { 18, "app_path_up" },
		{ 19, "agents_resynced" } },
	    [RN_DESK] = { { 10, "desktop_relogin" } },
	    [RN_APP] = { { 19, "agents_resynced" } } } },
	{ "cti_router_cut", "The active CTI server's router link cut, with "
	    "media routing", "pgemuctl pg-b fault router-link down on the side "
	    "whose CTI server is active, the voice and MR PIMs on the other "
	    "side; a task made meanwhile; later up", RULE_NO_REASON, {
	    [RN_CTI] = { { 22, "task_events_cached" },
		{ 22, "task_events_sent" } } } },
};
const size_t rule_ntriggers = sizeof(rule_triggers) /
    sizeof(rule_triggers[0]);

const char *const rule_node_names[RN_MAX] = {
	"router", "old", "new", "acd", "cti", "desk", "agents", "app"
};

/* How the documentation names each node of a trigger. */
static const char *const rule_node_labels[RN_MAX] = {
	"router", "side that held the PIM", "side that holds it after", "ACD",
	"active CTI server", "desktop server they were on", "desktops",
	"application"
};

static const struct {
	int		 pri;
	const char	*name;
	const char	*what;
} rule_pris[] = {
	{ LOG_ERR,	"err",		"what needs a person" },
	{ LOG_WARNING,	"warning",	"losses and offline" },
	{ LOG_NOTICE,	"notice",	"state changes" },
	{ LOG_INFO,	"info",		"routine records" },
};
#define RULE_NPRIS	(sizeof(rule_pris) / sizeof(rule_pris[0]))

static const char *const rule_tags[RULE_MAX] = {
	NULL, "R1", "R2", "R3", "R4", "R5", "R6", "R7", "R8", "R9", "R10",
	"R11", "R12", "R13", "R14", "R15", "R16", "R17", "R18", "R19", "R20",
	"R21", "R22", "R23"
};

/* "R5" for RULE_R5; NULL for none, or a number that is no rule. */
const char *
rule_tag(int rule)
{
	return rule > RULE_NONE && rule < RULE_MAX ? rule_tags[rule] : NULL;
}

const struct rule_event *
rule_event(const char *name)
{
	size_t	i;

	for (i = 0; i < rule_nevents; i++)
		if (strcmp(rule_events[i].name, name) == 0)
			return &rule_events[i];
	return NULL;
}

/* The priority an event is logged at; notice for one not in the table. */
int
rule_event_pri(const char *name, const json_t *fields)
{
	const struct rule_event	*re;

	if ((re = rule_event(name)) == NULL)
		return LOG_NOTICE;
	if (re->raise != NULL && fields != NULL && re->raise(fields))
		return re->raised_pri;
	return re->pri;
}

/* "warning" for LOG_WARNING, as syslog.conf(5) names priorities. */
const char *
rule_pri_name(int pri)
{
	size_t	i;

	for (i = 0; i < RULE_NPRIS; i++)
		if (rule_pris[i].pri == pri)
			return rule_pris[i].name;
	return "?";
}

static size_t
rule_nsteps(const struct rule_step *s)
{
	size_t	n = 0;

	while (n < RULE_STEPS_MAX && s[n].event != NULL)
		n++;
	return n;
}

static void
rules_man_triggers(FILE *fp)
{
	const struct rule_trigger	*t;
	const struct rule_step		*s;
	size_t				 i, j, k, n;
	int				 any;

	for (i = 0; i < rule_ntriggers; i++) {
		t = &rule_triggers[i];
		fputs(".TP\n.B ", fp);
		man_text(fp, t->name);
		fputs("\n(", fp);
		man_text(fp, t->how);
		fputs(")\n", fp);
		if (t->reason != RULE_NO_REASON)
			fprintf(fp, ".br\nlogout reason code: %d\n",
			    (int)t->reason);
		any = 0;
		for (j = 0; j < RN_MAX; j++) {
			s = t->steps[j];
			if ((n = rule_nsteps(s)) == 0)
				continue;
			fputs(".br\n", fp);
			any++;
			man_text(fp, rule_node_labels[j]);
			fputs(":\n", fp);
			for (k = 0; k < n; k++)
				fprintf(fp, "R%d \\fB\\%%%s\\fP%s\n", s[k].rule,
				    s[k].event, k + 1 < n ? "," : "");
		}
		if (!any)
			fputs(".br\nnone: no node applies a rule.\n", fp);
	}
}

static void
rules_md_triggers(FILE *fp)
{
	const struct rule_trigger	*t;
	const struct rule_step		*s;
	size_t				 i, j, k, n;

	fputs("| trigger (how) | logout reason code |", fp);
	for (j = 0; j < RN_MAX; j++)
		fprintf(fp, " %s |", rule_node_labels[j]);
	fputs("\n|---|---|", fp);
	for (j = 0; j < RN_MAX; j++)
		fputs("---|", fp);
	fputc('\n', fp);
	for (i = 0; i < rule_ntriggers; i++) {
		t = &rule_triggers[i];
		fprintf(fp, "| %s (%s) |", t->name, t->how);
		if (t->reason != RULE_NO_REASON)
			fprintf(fp, " %d |", (int)t->reason);
		else
			fputs(" - |", fp);
		for (j = 0; j < RN_MAX; j++) {
			s = t->steps[j];
			if ((n = rule_nsteps(s)) == 0)
				fputs(" - |", fp);
			for (k = 0; k < n; k++)
				fprintf(fp, " R%d `%s`%s", s[k].rule,
				    s[k].event, k + 1 < n ? "," : " |");
		}
		fputc('\n', fp);
	}
}

/* The events at priority pri, as one list; 0 when there is none. */
static int
rules_pri_events(FILE *fp, int pri, int man)
{
	const struct rule_event	*re;
	size_t			 i;
	int			 n = 0;

	for (i = 0; i < rule_nevents; i++) {
		re = &rule_events[i];
		if (re->pri != pri && (re->raise == NULL ||
		    re->raised_pri != pri))
			continue;
		if (man)
			fprintf(fp, "%s\\fB\\%%%s\\fP", n ? ",\n" : "",
			    re->name);
		else
			fprintf(fp, "%s`%s`", n ? ", " : "", re->name);
		if (re->raise != NULL && re->raised_pri == pri) {
			fputs(" when ", fp);
			if (man)
				man_text(fp, re->raised_when);
			else
				fputs(re->raised_when, fp);
		} else if (re->raise != NULL)
			fputs(" otherwise", fp);
		n++;
	}
	if (n > 0 && man)
		fputs(".\n", fp);
	return n;
}

static void
rules_man_pris(FILE *fp)
{
	size_t	i;

	for (i = 0; i < RULE_NPRIS; i++) {
		fprintf(fp, ".TP\n.B %s\n", rule_pris[i].name);
		fprintf(fp, "%c%s:\n", rule_pris[i].what[0] - 'a' + 'A',
		    rule_pris[i].what + 1);
		if (rules_pri_events(fp, rule_pris[i].pri, 1) == 0)
			fputs("no event; log lines only.\n", fp);
	}
}

static void
rules_md_pris(FILE *fp)
{
	size_t	i;

	fputs("| priority | for | events |\n|---|---|---|\n", fp);
	for (i = 0; i < RULE_NPRIS; i++) {
		fprintf(fp, "| `%s` | %s | ", rule_pris[i].name,
		    rule_pris[i].what);
		if (rules_pri_events(fp, rule_pris[i].pri, 0) == 0)
			fputs("none (log lines only)", fp);
		fputs(" |\n", fp);
	}
}

/*
 * The documentation's generated parts: what is "triggers" or
 * "priorities", format "man" or "md".  -1 for an unknown one.
 */
int
rules_doc(FILE *fp, const char *what, const char *format)
{
	int	man;

	if (strcmp(format, "man") == 0)
		man = 1;
	else if (strcmp(format, "md") == 0)
		man = 0;
	else
		return -1;
	if (strcmp(what, "triggers") == 0) {
		if (man)
			rules_man_triggers(fp);
		else
			rules_md_triggers(fp);
	} else if (strcmp(what, "priorities") == 0) {
		if (man)
			rules_man_pris(fp);
		else
			rules_md_pris(fp);
	} else
		return -1;
	return 0;
}

/* Both tables as JSON, for the tests. */
json_t *
rules_json(void)
{
	const struct rule_event		*re;
	const struct rule_trigger	*t;
	const struct rule_step		*s;
	json_t				*evs, *trs, *nodes, *a;
	size_t				 i, j, k, n;

	evs = json_array();
	for (i = 0; i < rule_nevents; i++) {
		re = &rule_events[i];
		json_array_append_new(evs, json_pack("{s:s, s:s, s:s*, s:s*}",
		    "event", re->name, "priority", rule_pri_name(re->pri),
		    "raised_priority", re->raise != NULL ?
		    rule_pri_name(re->raised_pri) : NULL, "raised_when",
		    re->raise != NULL ? re->raised_when : NULL));
	}
	trs = json_array();
	for (i = 0; i < rule_ntriggers; i++) {
		t = &rule_triggers[i];
		nodes = json_object();
		for (j = 0; j < RN_MAX; j++) {
			s = t->steps[j];
			n = rule_nsteps(s);
			a = json_array();
			for (k = 0; k < n; k++) {
				char	tag[8];

				snprintf(tag, sizeof(tag), "R%d", s[k].rule);
				json_array_append_new(a, json_pack("{s:s, s:s}",
				    "rule", tag, "event", s[k].event));
			}
			json_object_set_new(nodes, rule_node_names[j], a);
		}
		json_array_append_new(trs, json_pack("{s:s, s:s, s:s, s:o, s:o}",
		    "id", t->id, "name", t->name, "how", t->how, "steps",
		    nodes, "reason_code", t->reason != RULE_NO_REASON ?
		    json_integer(t->reason) : json_null()));
	}
	return json_pack("{s:o, s:o}", "events", evs, "triggers", trs);
}
