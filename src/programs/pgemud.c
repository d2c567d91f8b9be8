/*
 * pgemud: plays one node of a pgemu lab.
 *
 *   pgemud -c FILE -n NODE [-f] [-v]
 *   pgemud -c FILE --check-config | --dump-config
 *
 * Foreground only (systemd Type=notify): READY=1 once the listeners and
 * the control socket are up, STATUS= on each state change, WATCHDOG=1 when
 * WATCHDOG_USEC is set, STOPPING=1 on SIGTERM, RELOADING=1 on SIGHUP.
 */
#include "config.h"

#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <event2/event.h>
#include <systemd/sd-daemon.h>

#include "ged188.h"
#include "pgemu.h"

#define PGEMU_MMAP_THRESHOLD	(128 * 1024)	/* glibc's first one */

static struct node	*node;
static struct event	*ev_watchdog;

static __dead void
usage(int rc)
{
	fprintf(rc ? stderr : stdout,
	    "usage: pgemud -c FILE -n NODE [-f] [-v]\n"
	    "       pgemud -c FILE --check-config | --dump-config\n"
	    "       pgemud -c FILE --list-nodes\n"
	    "       pgemud --version | --settings-man | --rules-json\n"
	    "       pgemud --protocol-doc\n"
	    "       pgemud --rules-man | --rules-md triggers|priorities\n"
	    "  -c, --config FILE   the lab file (default %s)\n"
	    "  -n, --node NODE     the node this process plays\n"
	    "  -f, --foreground    log to stderr instead of syslog\n"
	    "  -v, --verbose       log debug messages too\n",
	    PGEMU_DEFAULT_CONFIG);
	exit(rc);
}

/*
 * Why the node cannot start: one line at priority err, and on the
 * terminal too when the log goes to syslog (the journal has both
 * already under systemd).
 */
static void __printflike(2, 3)
start_failed(int fg, const char *fmt, ...)
{
	char	buf[600];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	log_msg(LOG_ERR, "cannot start: %s", buf);
	if (!fg && !log_to_journal())
		fprintf(stderr, "pgemud: %s: cannot start: %s\n", log_node(),
		    buf);
}

static void
sig_cb(evutil_socket_t sig, short what, void *arg)
{
	struct event_base	*base = arg;
	char			 err[512];

	(void)what;
	switch (sig) {
	case SIGHUP:
		log_info("SIGHUP: reloading %s", node->cfg->file);
		if (node_reload(node, node->cfg->file, err, sizeof(err)) == -1)
			log_warnx("reload failed: %s", err);
		break;
	case SIGTERM:
	case SIGINT:
		if (node->quitting)
			break;
		log_notice("%s: stopping", sig == SIGTERM ? "SIGTERM" :
		    "SIGINT");
		node_notify("STOPPING=1");
		if (node->role->shutdown != NULL)
			node->role->shutdown(node);
		node->quitting = 1;
		event_base_loopexit(base, NULL);
		break;
	}
}

static void
watchdog_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	node_notify("WATCHDOG=1");
}

static void
libevent_log_cb(int severity, const char *msg)
{
	if (severity >= EVENT_LOG_WARN)
		log_warnx("libevent: %s", msg);
	else
		log_debug("libevent: %s", msg);
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "config",		required_argument, NULL, 'c' },
		{ "node",		required_argument, NULL, 'n' },
		{ "foreground",		no_argument, NULL, 'f' },
		{ "verbose",		no_argument, NULL, 'v' },
		{ "check-config",	no_argument, NULL, 'C' },
		{ "dump-config",	no_argument, NULL, 'D' },
		{ "version",		no_argument, NULL, 'V' },
		{ "settings-man",	no_argument, NULL, 'M' },
		{ "rules-man",		required_argument, NULL, 'R' },
		{ "rules-md",		required_argument, NULL, 'W' },
		{ "rules-json",		no_argument, NULL, 'J' },
		{ "protocol-doc",	no_argument, NULL, 'P' },
		{ "list-nodes",		no_argument, NULL, 'L' },
		{ "help",		no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char		*file = PGEMU_DEFAULT_CONFIG, *name = NULL;
	int			 ch, fg = 0, verbose = 0, check = 0, dump = 0;
	int			 list = 0;
	int			 nerrs, i, nagents;
	struct cfg		*cf;
	struct event_base	*base;
	struct event		*sigs[4];
	const int		 signos[4] = { SIGHUP, SIGTERM, SIGINT, 0 };
	uint64_t		 wd_usec;
	char			 err[512];

	while ((ch = getopt_long(argc, argv, "c:n:fvh", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'c':
			file = optarg;
			break;
		case 'n':
			name = optarg;
			break;
		case 'f':
			fg = 1;
			break;
		case 'v':
			verbose = 1;
			break;
		case 'C':
			check = 1;
			break;
		case 'D':
			dump = 1;
			break;
		case 'V':
			printf("pgemud %s\n", PACKAGE_VERSION);
			return 0;
		case 'M':
			cfg_man_settings(stdout);
			return 0;
		case 'R':
		case 'W':
			if (rules_doc(stdout, optarg, ch == 'R' ? "man" :
			    "md") == -1)
				usage(2);
			return 0;
		case 'J': {
			json_t	*j = rules_json();

			json_dumpf(j, stdout, JSON_INDENT(1) | JSON_SORT_KEYS);
			putchar('\n');
			json_decref(j);
			return 0;
		}
		case 'P':
			return ged_doc(stdout) == -1 ? 1 : 0;
		case 'L':
			list = 1;
			break;
		case 'h':
			usage(0);
		default:
			usage(2);
		}
	}
	if (optind != argc)
		usage(2);

	if (dump)
		return cfg_dump(file, stdout, stderr) ? 1 : 0;
	cf = check ? cfg_check(file, stderr, &nerrs) :
	    cfg_load(file, stderr, &nerrs);
	if (cf == NULL) {
		fprintf(stderr, "%s: %d error%s\n", file, nerrs,
		    nerrs == 1 ? "" : "s");
		return 1;
	}
	if (name != NULL && cfg_node(cf, name) == NULL) {
		fprintf(stderr, "%s: no node \"%s\" in the lab file\n", file,
		    name);
		cfg_free(cf);
		return 1;
	}
	if (list) {
		for (i = 0; i < cf->nnodes; i++)
			printf("%s %s\n", cf->nodes[i].name,
			    roles[cf->nodes[i].role].name);
		cfg_free(cf);
		return 0;
	}
	if (check) {
		for (i = nagents = 0; i < cf->nperiphs; i++)
			nagents += cf->periphs[i].nagents;
		printf("%s: OK: lab %s, %d nodes, ", file, cf->lab_name,
		    cf->nnodes);
		if (cf->nperiphs > 1)
			printf("%d peripherals, ", cf->nperiphs);
		printf("%d agents, %d MRDs\n", nagents, cf->nmrds);
		cfg_free(cf);
		return 0;
	}
	if (name == NULL) {
		fprintf(stderr, "pgemud: which node? (-n NODE)\n");
		cfg_free(cf);
		usage(2);
	}

	log_init(fg, verbose);
	log_set_node(name);
	/*
	 * A burst's big arrays (the router's queued history rows, a
	 * snapshot of every agent) from mmap, given back when freed: glibc
	 * would otherwise raise this threshold to the size of the first one
	 * freed and keep the next ones in a heap it does not shrink.
	 */
	mallopt(M_MMAP_THRESHOLD, PGEMU_MMAP_THRESHOLD);
	signal(SIGPIPE, SIG_IGN);
	event_set_log_callback(libevent_log_cb);
	if ((base = event_base_new()) == NULL)
		fatalx("event_base_new failed");
	if ((node = node_new(base, cf, name, err, sizeof(err))) == NULL) {
		start_failed(fg, "%s", err);
		cfg_free(cf);
		event_base_free(base);
		return 1;
	}
	for (i = 0; signos[i] != 0; i++) {
		sigs[i] = evsignal_new(base, signos[i], sig_cb, base);
		evsignal_add(sigs[i], NULL);
	}
	sigs[i] = NULL;
	if (sd_watchdog_enabled(0, &wd_usec) > 0 && wd_usec > 0) {
		struct timeval tv = { (time_t)(wd_usec / 2000000),
		    (suseconds_t)(wd_usec / 2 % 1000000) };

		ev_watchdog = event_new(base, -1, EV_PERSIST, watchdog_cb,
		    NULL);
		event_add(ev_watchdog, &tv);
	}
	node_update_summary(node);
	log_notice("started pgemud %s: node %s (%s) of lab %s, control %s",
	    PACKAGE_VERSION, name, roles[node->self->role].name,
	    node->cfg->lab_name, ctl_path(node->ctl));
	node_notify("READY=1\nSTATUS=%s\nMAINPID=%lu", node->summary,
	    (unsigned long)getpid());

	event_base_dispatch(base);

	log_notice("stopped");
	cf = node->cfg;
	node_free(node);
	cfg_free(cf);
	for (i = 0; sigs[i] != NULL; i++)
		event_free(sigs[i]);
	if (ev_watchdog != NULL)
		event_free(ev_watchdog);
	evt_clear();
	event_base_free(base);
	libevent_global_shutdown();
	return 0;
}
