/*
 * Notify hooks, as keepalived's notify scripts: the lab file names
 * programs a node runs on chosen events (cfg.c, hooks), with the event's
 * fields in the environment.  The event loop never waits: the program is
 * started with posix_spawn (no shell, stdin and stdout /dev/null, its own
 * process group), reaped on SIGCHLD, killed past its timeout; at most
 * HOOKS_MAX run at once and the others are dropped.  Failures are logged
 * at warning and counted for status.
 */
#include "config.h"

#include <sys/queue.h>
#include <sys/wait.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "pgemu.h"

#define HOOKS_MAX	16	/* running at once */
#define HOOKS_REAP_MS	100	/* after a kill, until it is reaped */
#define HOOKS_ENV_MAX	64

struct hook_child {
	LIST_ENTRY(hook_child) entry;
	struct hooks	*hooks;
	pid_t		 pid;
	char		 program[PGEMU_PATH_MAX];
	char		 event[PGEMU_NAME_MAX];
	int		 timeout_ms;
	int		 killed;	/* past its timeout */
	struct event	*timer;
};

struct hooks {
	struct event_base *base;
	struct event	*sigchld;	/* added while children run */
	LIST_HEAD(, hook_child) children;
	int		 nrunning;
	uint64_t	 run, failed, dropped;
	int		 burst;		/* dropped since the cap was hit */
};

static void	hooks_sigchld(evutil_socket_t, short, void *);
static void	hooks_timeout(evutil_socket_t, short, void *);

struct hooks *
hooks_new(struct event_base *base)
{
	struct hooks	*h = xcalloc(1, sizeof(*h));

	h->base = base;
	LIST_INIT(&h->children);
	return h;
}

static void
hooks_child_free(struct hook_child *c)
{
	struct hooks	*h = c->hooks;

	LIST_REMOVE(c, entry);
	event_free(c->timer);
	free(c);
	if (--h->nrunning == 0 && h->sigchld != NULL)
		evsignal_del(h->sigchld);
	if (h->burst > 0) {
		log_notice("hooks: %d dropped while %d ran; hooks run again",
		    h->burst, HOOKS_MAX);
		h->burst = 0;
	}
}

/* The children still running are left to run: they are not the node's. */
void
hooks_free(struct hooks *h)
{
	struct hook_child	*c;

	if (h == NULL)
		return;
	while ((c = LIST_FIRST(&h->children)) != NULL)
		hooks_child_free(c);
	if (h->sigchld != NULL)
		event_free(h->sigchld);
	free(h);
}

json_t *
hooks_json(const struct hooks *h)
{
	return json_pack("{s:I, s:I, s:I, s:i}",
	    "run", (json_int_t)h->run,
	    "failed", (json_int_t)h->failed,
	    "dropped", (json_int_t)h->dropped,
	    "running", h->nrunning);
}

/* How a child ended, logged; 1 if it reaped one. */
static int
hooks_reap(struct hook_child *c)
{
	struct hooks	*h = c->hooks;
	pid_t		 pid;
	int		 st;

	if ((pid = waitpid(c->pid, &st, WNOHANG)) == 0)
		return 0;
	if (pid == -1) {
		log_warn("hook %s (event %s, pid %d): waitpid", c->program,
		    c->event, (int)c->pid);
		h->failed++;
	} else if (c->killed)
		;	/* logged and counted when it was killed */
	else if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		log_debug("hook %s (event %s, pid %d) done", c->program,
		    c->event, (int)c->pid);
	else if (WIFEXITED(st)) {
		log_warnx("hook %s (event %s, pid %d) failed: exit status %d",
		    c->program, c->event, (int)c->pid, WEXITSTATUS(st));
		h->failed++;
	} else {
		log_warnx("hook %s (event %s, pid %d) failed: killed by "
		    "signal %d (%s)", c->program, c->event, (int)c->pid,
		    WTERMSIG(st), strsignal(WTERMSIG(st)));
		h->failed++;
	}
	hooks_child_free(c);
	return 1;
}

static void
hooks_sigchld(evutil_socket_t fd, short what, void *arg)
{
	struct hooks		*h = arg;
	struct hook_child	*c, *next;

	(void)fd;
	(void)what;
	for (c = LIST_FIRST(&h->children); c != NULL; c = next) {
		next = LIST_NEXT(c, entry);
		hooks_reap(c);
	}
}

/* Past its timeout: killed, with its process group; then reaped. */
static void
hooks_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct hook_child	*c = arg;
	struct timeval		 tv = { 0, HOOKS_REAP_MS * 1000 };

	(void)fd;
	(void)what;
	if (hooks_reap(c))
		return;
	if (!c->killed) {
		c->killed = 1;
		c->hooks->failed++;
		log_warnx("hook %s (event %s, pid %d) ran longer than %d ms: "
		    "killed", c->program, c->event, (int)c->pid,
		    c->timeout_ms);
		if (kill(-c->pid, SIGKILL) == -1)
			kill(c->pid, SIGKILL);
	}
	evtimer_add(c->timer, &tv);
}

/* "PGEMU_" and the field's name upper-cased, '_' for the rest. */
static char *
hooks_env_var(const char *key, const json_t *v)
{
	char	 name[64], val[64], *s;
	size_t	 i;

	for (i = 0; key[i] != '\0' && i < sizeof(name) - 1; i++)
		name[i] = isalnum((unsigned char)key[i]) ?
		    (char)toupper((unsigned char)key[i]) : '_';
	name[i] = '\0';
	if (json_is_string(v)) {
		if (asprintf(&s, "PGEMU_%s=%s", name, json_string_value(v)) ==
		    -1)
			return NULL;
		return s;
	}
	if (json_is_integer(v))
		snprintf(val, sizeof(val), "%" JSON_INTEGER_FORMAT,
		    json_integer_value(v));
	else if (json_is_real(v))
		snprintf(val, sizeof(val), "%.6f", json_real_value(v));
	else if (json_is_boolean(v))
		snprintf(val, sizeof(val), "%s", json_is_true(v) ? "true" :
		    "false");
	else if (json_is_null(v))
		val[0] = '\0';
	else
		return NULL;	/* objects and arrays */
	if (asprintf(&s, "PGEMU_%s=%s", name, val) == -1)
		return NULL;
	return s;
}

/* Start one hook's program for event e; 0, or the errno. */
static int
hooks_spawn(struct hooks *h, const struct cfg_hook *ch, const char *name,
    json_t *e)
{
	struct hook_child		*c;
	posix_spawn_file_actions_t	 fa;
	posix_spawnattr_t		 attr;
	sigset_t			 none, dfl;
	char				*env[HOOKS_ENV_MAX + 2], *path;
	char				*argv[3];
	const char			*key;
	json_t				*v;
	struct timeval			 tv;
	size_t				 nenv = 0, i;
	pid_t				 pid;
	int				 rc;

	if (asprintf(&path, "PATH=%s", getenv("PATH") != NULL ?
	    getenv("PATH") : "/usr/sbin:/usr/bin:/sbin:/bin") == -1)
		return ENOMEM;
	env[nenv++] = path;
	json_object_foreach(e, key, v)
		if (nenv < HOOKS_ENV_MAX &&
		    (env[nenv] = hooks_env_var(key, v)) != NULL)
			nenv++;
	env[nenv] = NULL;
	argv[0] = (char *)(uintptr_t)ch->program;
	argv[1] = (char *)(uintptr_t)name;
	argv[2] = NULL;

	sigemptyset(&none);
	sigemptyset(&dfl);
	sigaddset(&dfl, SIGPIPE);	/* pgemud ignores it */
	posix_spawnattr_init(&attr);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK |
	    POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &dfl);
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);

	/* Ready for its SIGCHLD before it can end. */
	if (h->sigchld == NULL)
		h->sigchld = evsignal_new(h->base, SIGCHLD, hooks_sigchld, h);
	if (h->nrunning == 0)
		evsignal_add(h->sigchld, NULL);
	rc = posix_spawn(&pid, ch->program, &fa, &attr, argv, env);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	for (i = 0; i < nenv; i++)
		free(env[i]);
	if (rc != 0) {
		if (h->nrunning == 0)
			evsignal_del(h->sigchld);
		return rc;
	}
	c = xcalloc(1, sizeof(*c));
	c->hooks = h;
	c->pid = pid;
	c->timeout_ms = ch->timeout_ms;
	snprintf(c->program, sizeof(c->program), "%s", ch->program);
	snprintf(c->event, sizeof(c->event), "%s", name);
	c->timer = evtimer_new(h->base, hooks_timeout, c);
	tv.tv_sec = ch->timeout_ms / 1000;
	tv.tv_usec = ch->timeout_ms % 1000 * 1000;
	evtimer_add(c->timer, &tv);
	LIST_INSERT_HEAD(&h->children, c, entry);
	h->nrunning++;
	h->run++;
	log_debug("hook %s (event %s) started: pid %d", c->program, name,
	    (int)pid);
	return 0;
}

/* Whether hook ch runs on node for the event at index ev of the table. */
static int
hooks_match(const struct cfg_hook *ch, const char *node, size_t ev)
{
	int	i;

	if (!(ch->events & UINT64_C(1) << ev))
		return 0;
	if (ch->nnodes == 0)
		return 1;
	for (i = 0; i < ch->nnodes; i++)
		if (strcmp(ch->nodes[i], node) == 0)
			return 1;
	return 0;
}

/* Event e was emitted on node: every hook of cf that wants it runs. */
void
hooks_event(struct hooks *h, const struct cfg *cf, const char *node,
    json_t *e)
{
	const struct rule_event	*re;
	const char		*name;
	int			 i, rc;

	if (h == NULL || cf->nhooks == 0 ||
	    (name = json_string_value(json_object_get(e, "event"))) == NULL ||
	    (re = rule_event(name)) == NULL)
		return;
	for (i = 0; i < cf->nhooks; i++) {
		const struct cfg_hook *ch = &cf->hooks[i];

		if (!hooks_match(ch, node, (size_t)(re - rule_events)))
			continue;
		if (h->nrunning >= HOOKS_MAX) {
			h->dropped++;
			if (h->burst++ == 0)
				log_warnx("hooks: %d running, the next ones "
				    "are dropped until one ends (%s for "
				    "event %s not run)", HOOKS_MAX,
				    ch->program, name);
			continue;
		}
		if ((rc = hooks_spawn(h, ch, name, e)) != 0) {
			h->failed++;
			log_warnx("hook %s (event %s) cannot run: %s",
			    ch->program, name, strerror(rc));
		}
	}
}
