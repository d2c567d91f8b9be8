/*
 * pgemuctl: talk to a node's control socket.
 *
 *   pgemuctl [-f text|json|keyvalue | -j] [-t SECONDS] [-s DIR | -c FILE]
 *       NODE COMMAND [ARG...]
 *   pgemuctl [-f text|json|keyvalue | -j] help
 *
 * Text for people by default (lists as tables), JSON with -f json or -j,
 * one "path=value" line per leaf with -f keyvalue.  Exit 0 on success, 1
 * when the lab file cannot be used, the node is not in it, refuses or
 * cannot be reached (-t: how long to wait), 2 on a usage error.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "pgemu.h"

#define CONNECT_TIMEOUT_MS	5000	/* also for sending the request */
#define REPLY_TIMEOUT_MS	10000
#define MAX_TIMEOUT_S		3600	/* -t */
#define MAX_FRAME		(64 * 1024 * 1024)

static volatile sig_atomic_t interrupted;
static int	connect_ms = CONNECT_TIMEOUT_MS, reply_ms = REPLY_TIMEOUT_MS;

static __dead void
usage(int rc)
{
	FILE	*fp = rc ? stderr : stdout;

	fprintf(fp,
	    "usage: pgemuctl [-f FORMAT | -j] [-t SECONDS] [-s DIR | -c FILE] "
	    "NODE\n"
	    "                COMMAND [ARG...]\n"
	    "       pgemuctl [-f FORMAT | -j] help\n"
	    "       pgemuctl -h | --help | --version | --commands-man\n");
	cmd_help(fp);
	fprintf(fp,
	    "options:\n"
	    "  -s DIR       control socket directory (default: the lab "
	    "file's\n"
	    "               lab.control_dir, else %s)\n"
	    "  -c FILE      the lab file: where its nodes' sockets are, and "
	    "which\n"
	    "               nodes it has (default %s)\n"
	    "  -f FORMAT    text (default: lists as tables), json, or keyvalue\n"
	    "               (one path=value line per value)\n"
	    "  -j           JSON output, as -f json\n"
	    "  -t SECONDS   wait that long at most for the connection and for "
	    "the\n"
	    "               reply (default %d and %d s; decimals allowed)\n"
	    "  -h, --help   this text\n"
	    "  --version    pgemuctl's version\n"
	    "  --commands-man\n"
	    "               the command list of pgemuctl(1), in roff\n",
	    PGEMU_DEFAULT_CONTROL_DIR, PGEMU_DEFAULT_CONFIG,
	    CONNECT_TIMEOUT_MS / 1000, REPLY_TIMEOUT_MS / 1000);
	exit(rc);
}

/* A reply as JSON or keyvalue (text has its own printers). */
static void
print_data(json_t *data, int fmt)
{
	char	*s;

	if (fmt == FMT_KEYVALUE) {
		fmt_keyvalue(stdout, NULL, data);
		return;
	}
	s = json_dumps(data, JSON_INDENT(2) | JSON_ENCODE_ANY);
	printf("%s\n", s);
	free(s);
}

/* pgemuctl help: every role's commands, from the tables the nodes use. */
static int
help(int fmt)
{
	json_t	*cmds;

	if (fmt == FMT_TEXT) {
		cmd_help(stdout);
		return 0;
	}
	cmds = cmd_json(-1);
	print_data(cmds, fmt);
	json_decref(cmds);
	return 0;
}

static void
on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

static int
read_full(int fd, void *buf, size_t n, int timeout_ms)
{
	size_t	got = 0;

	while (got < n) {
		struct pollfd	pfd = { fd, POLLIN, 0 };
		ssize_t		r;
		int		pr;

		pr = poll(&pfd, 1, timeout_ms);
		if (pr == -1 && errno == EINTR) {
			if (interrupted)
				return -2;
			continue;
		}
		if (pr == 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		if (pr == -1)
			return -1;
		r = read(fd, (char *)buf + got, n - got);
		if (r == 0) {
			errno = ECONNRESET;
			return -1;
		}
		if (r == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		got += (size_t)r;
	}
	return 0;
}

/* One frame: 0 and the JSON, -1 on error, -2 if interrupted. */
static int
read_frame(int fd, json_t **out, int timeout_ms)
{
	uint8_t		 hdr[4];
	uint32_t	 len;
	char		*buf;
	json_error_t	 jerr;
	int		 rc;

	if ((rc = read_full(fd, hdr, 4, timeout_ms)) != 0)
		return rc;
	len = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 |
	    (uint32_t)hdr[2] << 8 | hdr[3];
	if (len == 0 || len > MAX_FRAME) {
		errno = EPROTO;
		return -1;
	}
	buf = xmalloc(len);
	if ((rc = read_full(fd, buf, len, timeout_ms)) != 0) {
		free(buf);
		return rc;
	}
	*out = json_loadb(buf, len, 0, &jerr);
	free(buf);
	if (*out == NULL) {
		errno = EPROTO;
		return -1;
	}
	return 0;
}

static int
write_frame(int fd, json_t *j)
{
	char	*s = json_dumps(j, JSON_COMPACT);
	size_t	 n = strlen(s), off = 0;
	uint8_t	 hdr[4] = { (uint8_t)(n >> 24), (uint8_t)(n >> 16),
	    (uint8_t)(n >> 8), (uint8_t)n };

	if (write(fd, hdr, 4) != 4) {
		free(s);
		return -1;
	}
	while (off < n) {
		ssize_t w = write(fd, s + off, n - off);

		if (w <= 0) {
			free(s);
			return -1;
		}
		off += (size_t)w;
	}
	free(s);
	return 0;
}

static void
print_status(json_t *d)
{
	json_t	*links = json_object_get(d, "links"), *l;
	size_t	 i;

	printf("node %s (%s%s%s) of lab %s, pid %lld, up %.1f s\n",
	    json_string_value(json_object_get(d, "node")),
	    json_string_value(json_object_get(d, "role")),
	    json_object_get(d, "side") ? " side " : "",
	    json_object_get(d, "side") ?
	    json_string_value(json_object_get(d, "side")) : "",
	    json_string_value(json_object_get(d, "lab")),
	    (long long)json_integer_value(json_object_get(d, "pid")),
	    json_real_value(json_object_get(d, "uptime")));
	printf("status: %s\n", json_string_value(json_object_get(d,
	    "summary")));
	printf("%-14s %-8s %-12s %8s %10s %10s %6s %6s\n", "LINK", "PEER",
	    "STATE", "FOR(s)", "MSGS IN", "MSGS OUT", "DROPS", "ERRS");
	json_array_foreach(links, i, l) {
		json_t *c = json_object_get(l, "counters");

		printf("%-14s %-8s %-12s %8.1f %10lld %10lld %6lld %6lld\n",
		    json_string_value(json_object_get(l, "name")),
		    json_string_value(json_object_get(l, "peer")),
		    json_string_value(json_object_get(l, "state")),
		    json_real_value(json_object_get(l, "seconds_in_state")),
		    json_integer_value(json_object_get(c, "msgs_in")),
		    json_integer_value(json_object_get(c, "msgs_out")),
		    json_integer_value(json_object_get(c, "drops")),
		    json_integer_value(json_object_get(c,
		    "protocol_errors")));
	}
	json_object_del(d, "links");
	json_object_del(d, "node");
	json_object_del(d, "role");
	json_object_del(d, "side");
	json_object_del(d, "lab");
	json_object_del(d, "pid");
	json_object_del(d, "uptime");
	json_object_del(d, "summary");
	fmt_text(stdout, NULL, d, 0);
}

/* An event: a line as the node logs it, a JSON line, or keyvalue lines
 * led by index (its place in what was printed). */
static void
print_event(json_t *e, int fmt, size_t index)
{
	time_t		 t;
	struct tm	 tm;
	char		 tbuf[32];
	double		 ts = json_real_value(json_object_get(e, "time"));
	json_t		*rule = json_object_get(e, "rule");

	if (fmt == FMT_JSON) {
		char *s = json_dumps(e, JSON_COMPACT);

		printf("%s\n", s);
		free(s);
	} else if (fmt == FMT_KEYVALUE) {
		char idx[32];

		snprintf(idx, sizeof(idx), "%zu", index);
		fmt_keyvalue(stdout, idx, e);
	} else {
		t = (time_t)ts;
		localtime_r(&t, &tm);
		strftime(tbuf, sizeof(tbuf), "%H:%M:%S", &tm);
		printf("%s.%03d %s: %s%s%s%s\n", tbuf,
		    (int)((ts - (double)t) * 1000),
		    json_string_value(json_object_get(e, "node")),
		    json_is_string(rule) ? "[" : "",
		    json_is_string(rule) ? json_string_value(rule) : "",
		    json_is_string(rule) ? "] " : "",
		    json_string_value(json_object_get(e, "message")));
	}
	fflush(stdout);
}

/*
 * Why the node on fd did not reply within the timeout: its process is
 * stopped (SIGSTOP), as /proc says of the pid that listens, or busy.
 */
static void
no_reply(int fd, const char *node)
{
	struct ucred	 cr;
	socklen_t	 len = sizeof(cr);
	char		 path[64], buf[512], *p, state = '?';
	FILE		*f;

	fprintf(stderr, "pgemuctl: %s: no reply within %g s", node,
	    reply_ms / 1000.0);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) == -1 ||
	    cr.pid <= 0) {
		fprintf(stderr, " (the node is stopped or too busy?)\n");
		return;
	}
	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)cr.pid);
	if ((f = fopen(path, "r")) != NULL) {
		/* "pid (comm) S ...": the state after the last ')'. */
		if (fgets(buf, sizeof(buf), f) != NULL &&
		    (p = strrchr(buf, ')')) != NULL && p[1] == ' ')
			state = p[2];
		fclose(f);
	}
	if (state == 'T' || state == 't')
		fprintf(stderr, ": its process (pid %ld) is stopped (SIGSTOP? "
		    "SIGCONT resumes it)\n", (long)cr.pid);
	else
		fprintf(stderr, " (pid %ld: the node is stopped or too "
		    "busy?)\n", (long)cr.pid);
}

/*
 * The lab file: it must load, and name node; its control_dir into dir
 * (if dir is not NULL).  -1, said on stderr, if not.
 */
static int
lab_file(const char *file, const char *node, char *dir, size_t dirlen)
{
	struct cfg	*cf;
	FILE		*f;
	int		 nerrs, i;

	if ((f = fopen(file, "r")) == NULL) {
		fprintf(stderr, "pgemuctl: cannot read the lab file %s: %s\n",
		    file, strerror(errno));
		return -1;
	}
	fclose(f);
	if ((cf = cfg_load(file, stderr, &nerrs)) == NULL) {
		fprintf(stderr, "pgemuctl: the lab file %s has %d error%s\n",
		    file, nerrs, nerrs == 1 ? "" : "s");
		return -1;
	}
	if (cfg_node(cf, node) == NULL) {
		fprintf(stderr, "pgemuctl: no node %s in the lab file %s (its "
		    "nodes:", node, file);
		for (i = 0; i < cf->nnodes; i++)
			fprintf(stderr, " %s", cf->nodes[i].name);
		fprintf(stderr, ")\n");
		cfg_free(cf);
		return -1;
	}
	if (dir != NULL)
		snprintf(dir, dirlen, "%s", cf->control_dir);
	cfg_free(cf);
	return 0;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "help",	no_argument, NULL, 'h' },
		{ "version",	no_argument, NULL, 'V' },
		{ "commands-man", no_argument, NULL, 'M' },
		{ NULL, 0, NULL, 0 }
	};
	const char		*dir = NULL, *file = NULL, *node;
	char			 dirbuf[PGEMU_PATH_MAX];
	int			 ch, fmt = FMT_TEXT, fd, i, rc, werr;
	struct sockaddr_un	 sun;
	json_t			*req, *args, *reply, *data;
	size_t			 n;
	double			 secs;
	char			*end;

	while ((ch = getopt_long(argc, argv, "+s:c:f:jt:h", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 's':
			dir = optarg;
			break;
		case 'c':
			file = optarg;
			break;
		case 'f':
			if ((fmt = fmt_parse(optarg)) == -1) {
				fprintf(stderr, "pgemuctl: unknown format "
				    "\"%s\" (text, json or keyvalue)\n",
				    optarg);
				usage(2);
			}
			break;
		case 'j':
			fmt = FMT_JSON;
			break;
		case 't':
			secs = strtod(optarg, &end);
			if (end == optarg || *end != '\0' || !(secs > 0) ||
			    secs > MAX_TIMEOUT_S) {
				fprintf(stderr, "pgemuctl: -t %s: not a number "
				    "of seconds above 0 and at most %d\n",
				    optarg, MAX_TIMEOUT_S);
				usage(2);
			}
			reply_ms = (int)(secs * 1000 + 0.5);
			if (reply_ms == 0)
				reply_ms = 1;
			connect_ms = reply_ms;
			break;
		case 'h':
			usage(0);
		case 'V':
			printf("pgemuctl %s\n", PACKAGE_VERSION);
			return 0;
		case 'M':
			cmd_man(stdout);
			return 0;
		default:
			usage(2);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 1 && strcmp(argv[0], "help") == 0)
		return help(fmt);
	if (argc < 2)
		usage(2);
	node = argv[0];

	if (dir == NULL && getenv("PGEMU_CONTROL_DIR") != NULL)
		dir = getenv("PGEMU_CONTROL_DIR");
	/* The lab file: the one named, else the default one if it is there. */
	if (file == NULL && dir == NULL &&
	    access(PGEMU_DEFAULT_CONFIG, F_OK) == 0)
		file = PGEMU_DEFAULT_CONFIG;
	if (file != NULL && lab_file(file, node, dir ? NULL : dirbuf,
	    sizeof(dirbuf)) == -1)
		return 1;
	if (dir == NULL)
		dir = file ? dirbuf : PGEMU_DEFAULT_CONTROL_DIR;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if ((size_t)snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/%s.sock",
	    dir, node) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "pgemuctl: socket path too long\n");
		return 2;
	}
	/*
	 * A node that does not accept (stopped, or its backlog full) makes
	 * connect() wait: on a UNIX socket, up to SO_SNDTIMEO, then EAGAIN.
	 */
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &(struct timeval){
	    connect_ms / 1000, (connect_ms % 1000) * 1000 },
	    sizeof(struct timeval)) == -1 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			fprintf(stderr, "pgemuctl: cannot reach node %s at %s: "
			    "no connection within %g s (the node does not "
			    "accept: stopped, or too busy?)\n", node,
			    sun.sun_path, connect_ms / 1000.0);
		else if (errno == EACCES || errno == EPERM)
			fprintf(stderr, "pgemuctl: cannot reach node %s at %s: "
			    "%s (the control sockets are for the user and "
			    "group pgemud runs as, mode 0660: run pgemuctl as "
			    "root, or as that user)\n", node, sun.sun_path,
			    strerror(errno));
		else
			fprintf(stderr, "pgemuctl: cannot reach node %s at %s: "
			    "%s (is \"pgemud -n %s\" running?)\n", node,
			    sun.sun_path, strerror(errno), node);
		return 1;
	}

	args = json_array();
	for (i = 1; i < argc; i++)
		json_array_append_new(args, json_string(argv[i]));
	req = json_pack("{s:o}", "argv", args);
	signal(SIGPIPE, SIG_IGN);
	rc = write_frame(fd, req);
	werr = errno;
	json_decref(req);
	if (rc == -1) {
		/* A node that refused us may have said why already. */
		if (read_frame(fd, &reply, 0) != 0) {
			fprintf(stderr, "pgemuctl: %s: cannot send the "
			    "request: %s\n", node, werr == EAGAIN ?
			    "the node does not read it" : strerror(werr));
			return 1;
		}
	} else if (read_frame(fd, &reply, reply_ms) != 0) {
		if (errno == ETIMEDOUT)
			no_reply(fd, node);
		else
			fprintf(stderr, "pgemuctl: %s: no reply: %s\n", node,
			    strerror(errno));
		return 1;
	}
	if (!json_is_true(json_object_get(reply, "ok"))) {
		fprintf(stderr, "pgemuctl: %s: %s\n", node,
		    json_string_value(json_object_get(reply, "error")) ?
		    json_string_value(json_object_get(reply, "error")) :
		    "failed");
		json_decref(reply);
		return 1;
	}
	data = json_object_get(reply, "data");
	rc = 0;
	if (strcmp(argv[1], "watch") == 0) {
		struct sigaction sa;

		json_decref(reply);
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_signal;
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
		for (n = 0;; n++) {
			json_t *frame;

			rc = read_frame(fd, &frame, -1);
			if (rc == -2) {
				rc = 0;
				break;
			}
			if (rc != 0) {
				fprintf(stderr, "pgemuctl: %s: connection "
				    "lost: %s\n", node, strerror(errno));
				rc = 1;
				break;
			}
			print_event(json_object_get(frame, "event"), fmt, n);
			json_decref(frame);
		}
		close(fd);
		return rc;
	}
	if (fmt != FMT_TEXT)
		print_data(data, fmt);
	else if (strcmp(argv[1], "status") == 0 && json_is_object(data))
		print_status(data);
	else if (strcmp(argv[1], "help") == 0 && json_is_array(data))
		cmd_print(stdout, data);
	else if (strcmp(argv[1], "events") == 0 && json_is_array(data)) {
		size_t	 idx;
		json_t	*e;

		json_array_foreach(data, idx, e)
			print_event(e, FMT_TEXT, idx);
	} else if (!json_is_null(data))
		fmt_text(stdout, NULL, data, 0);
	json_decref(reply);
	close(fd);
	return rc;
}
