/*
 * Unit tests of the lab file loader (cfg.c) against golden files:
 *
 *   tests/golden/pgemu.conf.dump	cfg_dump of etc/pgemu.conf
 *   tests/golden/minimal.conf{,.dump}	a lab of nodes only, defaults
 *   tests/golden/bad/NAME.conf		a bad lab file
 *   tests/golden/bad/NAME.err		its exact error output
 *
 * The source tree is $PGEMU_SRCDIR (set by make check), else SRCDIR if
 * defined at build time, else the parent of this file's directory.  Bad
 * files are opened from inside tests/golden/bad by their bare name, so
 * the expected errors read "NAME.conf:LINE: message".
 *
 * Regenerate a golden file only after checking the new output by hand.
 */
#include "config.h"

#include <sys/types.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdarg.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <libconfig.h>

#include "pgemu.h"

static char	 srcdir[PATH_MAX];

/* Every bad lab file; each NAME has NAME.conf (but one) and NAME.err. */
static const char *const bad_files[] = {
	"syntax",		/* libconfig parse error */
	"dup_node",		/* libconfig: duplicate setting name */
	"unreadable",		/* no such file */
	"unknown_top",
	"unknown_nested",
	"wrong_type",
	"out_of_range",
	"bad_role",
	"bad_side",
	"bad_agent_state",
	"missing_nodes",
	"missing_role",
	"missing_port",
	"missing_side",
	"missing_required_list",
	"router_side",
	"acd_side",
	"node_not_group",
	"list_not_groups",
	"two_routers",
	"no_acd",
	"missing_side_b",
	"dup_port",
	"bad_address",
	"long_node_name",
	"dup_agent",
	"dup_mrd",
	"agent_mrd",		/* MRD not in mrds, CTI port taken */
	"reconnect_min_max",
	"ints_not_int",
	"ints_range",
	"periph_agents_across",
	"periph_both",
	"periph_mapping",
	"periph_no_acd",	/* a peripherals list, no acd node */
	"periph_sides",
	"relative_dirs",	/* state_dir, control_dir not absolute */
	"long_control_dir",	/* control_dir/router.sock over sun_path */
	"desk_nodes",		/* desks per side, agents nodes, desk A */
	"desk_address",		/* desk B not at desk A's address */
};
#define NBAD	((int)(sizeof(bad_files) / sizeof(bad_files[0])))

/* An output stream in memory. */
struct mem {
	FILE	*f;
	char	*buf;
	size_t	 len;
};

static void
mem_open(struct mem *m)
{
	m->buf = NULL;
	m->len = 0;
	m->f = open_memstream(&m->buf, &m->len);
	ck_assert_ptr_nonnull(m->f);
}

/* Close the stream; buf stays valid until mem_free. */
static void
mem_close(struct mem *m)
{
	ck_assert_int_eq(fclose(m->f), 0);
	m->f = NULL;
}

static void
mem_free(struct mem *m)
{
	free(m->buf);
	m->buf = NULL;
	m->len = 0;
}

static void pathf(char *, size_t, const char *, ...) __printflike(3, 4);

/* A path that must fit. */
static void
pathf(char *out, size_t outlen, const char *fmt, ...)
{
	va_list	ap;
	int	n;

	va_start(ap, fmt);
	n = vsnprintf(out, outlen, fmt, ap);
	va_end(ap);
	ck_assert_msg(n > 0 && (size_t)n < outlen, "path too long: %s", out);
}

static void
path_of(char *out, size_t outlen, const char *rel)
{
	pathf(out, outlen, "%s/%s", srcdir, rel);
}

/* A whole file, NUL terminated; its length in *lenp. */
static char *
slurp(const char *path, size_t *lenp)
{
	FILE	*f;
	char	*buf = NULL;
	size_t	 len = 0, cap = 0, n;

	f = fopen(path, "r");
	ck_assert_msg(f != NULL, "cannot open %s", path);
	for (;;) {
		if (cap - len < 4096) {
			cap = cap ? cap * 2 : 8192;
			buf = xreallocarray(buf, cap, 1);
		}
		n = fread(buf + len, 1, cap - len - 1, f);
		len += n;
		if (n == 0)
			break;
	}
	ck_assert_msg(!ferror(f), "cannot read %s", path);
	fclose(f);
	buf[len] = '\0';
	*lenp = len;
	return buf;
}

static int
count_lines(const char *s, size_t len)
{
	size_t	i;
	int	n = 0;

	for (i = 0; i < len; i++)
		if (s[i] == '\n')
			n++;
	return n;
}

/* Byte-for-byte comparison that names the first line that differs. */
static void
assert_same(const char *what, const char *got, size_t gotlen,
    const char *want, size_t wantlen)
{
	size_t	i, bol = 0, ge, we;
	int	line = 1;

	for (i = 0; i < gotlen && i < wantlen && got[i] == want[i]; i++)
		if (got[i] == '\n') {
			line++;
			bol = i + 1;
		}
	if (i == gotlen && i == wantlen)
		return;
	for (ge = bol; ge < gotlen && got[ge] != '\n'; ge++)
		;
	for (we = bol; we < wantlen && want[we] != '\n'; we++)
		;
	ck_abort_msg("%s: differs at line %d (%zu bytes, expected %zu)\n"
	    "  got:      \"%.*s\"\n  expected: \"%.*s\"", what, line, gotlen,
	    wantlen, (int)(ge - bol), got + bol, (int)(we - bol), want + bol);
}

/* Dump a lab file into memory; the error count. */
static int
dump_to(const char *file, struct mem *out, struct mem *errs)
{
	int	nerrs;

	mem_open(out);
	mem_open(errs);
	nerrs = cfg_dump(file, out->f, errs->f);
	mem_close(out);
	mem_close(errs);
	return nerrs;
}

static void
write_temp(char *path, size_t pathlen, const char *data, size_t len)
{
	const char	*tmp = getenv("TMPDIR");
	int		 fd;

	pathf(path, pathlen, "%s/check_cfg.XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	fd = mkstemp(path);
	ck_assert_msg(fd != -1, "mkstemp %s", path);
	ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
	ck_assert_int_eq(close(fd), 0);
}

/* The same lab, apart from the file it was read from. */
static void
assert_same_cfg(const struct cfg *a, const struct cfg *b)
{
	ck_assert_str_eq(a->lab_name, b->lab_name);
	ck_assert_str_eq(a->control_dir, b->control_dir);
	ck_assert_str_eq(a->state_dir, b->state_dir);
	ck_assert_str_eq(a->history_db, b->history_db);
	ck_assert_int_eq(a->interval_s, b->interval_s);
	ck_assert_int_eq(a->snapshot_batch, b->snapshot_batch);
	ck_assert_int_eq(a->max_message, b->max_message);
	ck_assert_mem_eq(&a->hb_private, &b->hb_private, sizeof(a->hb_private));
	ck_assert_mem_eq(&a->hb_router, &b->hb_router, sizeof(a->hb_router));
	ck_assert_mem_eq(&a->hb_acd, &b->hb_acd, sizeof(a->hb_acd));
	ck_assert_int_eq(a->backoff_min_ms, b->backoff_min_ms);
	ck_assert_int_eq(a->backoff_max_ms, b->backoff_max_ms);
	ck_assert_int_eq(a->backoff_stable_ms, b->backoff_stable_ms);
	ck_assert_int_eq(a->nnodes, b->nnodes);
	ck_assert_mem_eq(a->nodes, b->nodes,
	    (size_t)a->nnodes * sizeof(*a->nodes));
	ck_assert_int_eq(a->peripheral_id, b->peripheral_id);
	ck_assert_str_eq(a->peripheral_name, b->peripheral_name);
	ck_assert_int_eq(a->nagents, b->nagents);
	ck_assert_mem_eq(a->agents, b->agents,
	    (size_t)a->nagents * sizeof(*a->agents));
	ck_assert_int_eq(a->nmrds, b->nmrds);
	ck_assert_mem_eq(a->mrds, b->mrds, (size_t)a->nmrds * sizeof(*a->mrds));
	ck_assert_int_eq(a->traffic.enabled, b->traffic.enabled);
	ck_assert_double_eq(a->traffic.calls_per_second,
	    b->traffic.calls_per_second);
	ck_assert_int_eq(a->traffic.handle_time_ms, b->traffic.handle_time_ms);
	ck_assert_int_eq(a->traffic.wrapup_time_ms, b->traffic.wrapup_time_ms);
	ck_assert_double_eq(a->traffic.not_ready_share,
	    b->traffic.not_ready_share);
	ck_assert_uint_eq(a->traffic.seed, b->traffic.seed);
}

/*
 * Dump a lab, compare with its golden dump, then dump the dump: the normal
 * form is a fixed point and loads to the same lab.
 */
static void
check_dump(const char *lab, const char *golden)
{
	struct mem	 out, errs, out2, errs2;
	char		 file[PATH_MAX], gfile[PATH_MAX], tmp[PATH_MAX];
	char		*want;
	size_t		 wantlen;
	struct cfg	*a, *b;
	int		 nerrs;

	path_of(file, sizeof(file), lab);
	path_of(gfile, sizeof(gfile), golden);
	nerrs = dump_to(file, &out, &errs);
	ck_assert_msg(nerrs == 0, "%s: %d errors:\n%s", lab, nerrs, errs.buf);
	ck_assert_uint_eq(errs.len, 0);
	want = slurp(gfile, &wantlen);
	assert_same(golden, out.buf, out.len, want, wantlen);
	free(want);

	write_temp(tmp, sizeof(tmp), out.buf, out.len);
	nerrs = dump_to(tmp, &out2, &errs2);
	ck_assert_msg(nerrs == 0, "dump of %s: %d errors:\n%s", lab, nerrs,
	    errs2.buf);
	assert_same("dump of the dump", out2.buf, out2.len, out.buf, out.len);

	a = cfg_load(file, stderr, &nerrs);
	ck_assert_ptr_nonnull(a);
	b = cfg_load(tmp, stderr, &nerrs);
	ck_assert_ptr_nonnull(b);
	ck_assert_str_eq(a->file, file);
	ck_assert_str_eq(b->file, tmp);
	assert_same_cfg(a, b);
	cfg_free(a);
	cfg_free(b);

	unlink(tmp);
	mem_free(&out);
	mem_free(&errs);
	mem_free(&out2);
	mem_free(&errs2);
}

START_TEST(test_dump_sample)
{
	check_dump("etc/pgemu.conf", "tests/golden/pgemu.conf.dump");
}
END_TEST

START_TEST(test_dump_minimal)
{
	check_dump("tests/golden/minimal.conf",
	    "tests/golden/minimal.conf.dump");
}
END_TEST

static struct cfg *
load_ok(const char *rel)
{
	char		 file[PATH_MAX];
	struct mem	 errs;
	struct cfg	*cf;
	int		 nerrs = -1;

	path_of(file, sizeof(file), rel);
	mem_open(&errs);
	cf = cfg_load(file, errs.f, &nerrs);
	mem_close(&errs);
	ck_assert_msg(cf != NULL && nerrs == 0 && errs.len == 0,
	    "%s: %d errors:\n%s", rel, nerrs, errs.buf);
	mem_free(&errs);
	return cf;
}

static void
check_node(const struct cfg_node *n, const char *name, enum node_role role,
    char side, int port)
{
	ck_assert_str_eq(n->name, name);
	ck_assert_int_eq(n->role, role);
	ck_assert_int_eq(n->side, side);
	ck_assert_str_eq(n->address, "127.0.0.1");
	ck_assert_int_eq(n->port, port);
}

START_TEST(test_load_sample)
{
	struct cfg		*cf = load_ok("etc/pgemu.conf");
	const struct cfg_agent	*a;
	const struct cfg_mrd	*m;
	char			 name[PGEMU_NAME_MAX], ext[16];
	int			 i;

	ck_assert_str_eq(cf->lab_name, "demo");
	ck_assert_str_eq(cf->control_dir, "/run/pgemu");
	ck_assert_str_eq(cf->state_dir, "/var/lib/pgemu");
	ck_assert_str_eq(cf->history_db, "/var/lib/pgemu/history.db");
	ck_assert_int_eq(cf->interval_s, 60);
	ck_assert_int_eq(cf->max_message, 65536);
	ck_assert_int_eq(cf->snapshot_batch, 200);
	ck_assert_int_eq(cf->hb_private.interval_ms, 100);
	ck_assert_int_eq(cf->hb_private.misses, 5);
	ck_assert_int_eq(cf->hb_router.interval_ms, 400);
	ck_assert_int_eq(cf->hb_router.misses, 5);
	ck_assert_int_eq(cf->hb_acd.interval_ms, 400);
	ck_assert_int_eq(cf->hb_acd.misses, 5);
	ck_assert_int_eq(cf->hb_desktop.interval_ms, 5000);
	ck_assert_int_eq(cf->hb_desktop.misses, 3);
	ck_assert_int_eq(cf->hb_cti.interval_ms, 5000);
	ck_assert_int_eq(cf->hb_cti.misses, 4);
	ck_assert_int_eq(cf->backoff_min_ms, 100);
	ck_assert_int_eq(cf->backoff_max_ms, 5000);
	ck_assert_int_eq(cf->backoff_stable_ms, 10000);

	ck_assert_int_eq(cf->nnodes, 8);
	check_node(&cf->nodes[0], "router", ROLE_ROUTER, '\0', 30002);
	check_node(&cf->nodes[1], "acd", ROLE_ACD, '\0', 30030);
	check_node(&cf->nodes[2], "pg-a", ROLE_PG, 'A', 23004);
	check_node(&cf->nodes[3], "pg-b", ROLE_PG, 'B', 25004);
	ck_assert_int_eq(cf->nodes[1].backup_port, 30031);
	check_node(&cf->nodes[4], "desk-a", ROLE_DESK, 'A', 26010);
	check_node(&cf->nodes[5], "desk-b", ROLE_DESK, 'B', 26011);
	check_node(&cf->nodes[6], "agents", ROLE_AGENTS, '\0', 0);
	check_node(&cf->nodes[7], "app", ROLE_APP, '\0', 28001);
	ck_assert(cf->mr.enabled);
	ck_assert_int_eq(cf->mr.peripheral, 5001);
	ck_assert_str_eq(cf->mr.app, "app");
	ck_assert_int_eq(cf->mr.agent_periph, 5000);
	ck_assert_int_eq(cf->mr.nroutes, 2);	/* one per non-voice MRD */
	ck_assert_str_eq(cf->mr.routes[0].selector, "Email");
	ck_assert_int_eq(cf->mr.routes[0].mrd, 2);
	ck_assert_str_eq(cf->mr.routes[1].selector, "Chat");
	ck_assert_int_eq(cf->mr.routes[1].mrd, 3);
	ck_assert_ptr_eq(cfg_route(cf, "Chat"), &cf->mr.routes[1]);
	ck_assert_ptr_null(cfg_route(cf, "Voice"));

	ck_assert_int_eq(cf->peripheral_id, 5000);
	ck_assert_str_eq(cf->peripheral_name, "CUCM1");
	ck_assert_int_eq(cf->nagents, 22);
	a = &cf->agents[0];
	ck_assert_int_eq(a->id, 2001);
	ck_assert_str_eq(a->name, "alice");
	ck_assert_str_eq(a->extension, "2001");
	ck_assert_int_eq(a->nskill_groups, 2);
	ck_assert_int_eq(a->skill_groups[0], 100);
	ck_assert_int_eq(a->skill_groups[1], 101);
	ck_assert_int_eq(a->initial_state, 3);		/* available */
	a = &cf->agents[1];
	ck_assert_int_eq(a->id, 2002);
	ck_assert_str_eq(a->name, "bob");
	ck_assert_str_eq(a->extension, "2002");
	ck_assert_int_eq(a->nskill_groups, 1);
	ck_assert_int_eq(a->skill_groups[0], 101);
	ck_assert_int_eq(a->initial_state, 2);		/* not_ready */
	for (i = 2; i < 22; i++) {
		a = &cf->agents[i];
		snprintf(name, sizeof(name), "agent%d", 999 + i);
		snprintf(ext, sizeof(ext), "%d", 999 + i);
		ck_assert_int_eq(a->id, 999 + i);
		ck_assert_str_eq(a->name, name);
		ck_assert_str_eq(a->extension, ext);
		ck_assert_int_eq(a->nskill_groups, 1);
		ck_assert_int_eq(a->skill_groups[0], 100);
		ck_assert_int_eq(a->initial_state, 3);
		ck_assert_int_eq(a->desktop, 1);
		ck_assert_int_eq(a->nmrds, 3);
		ck_assert_int_eq(a->mrds[0], 1);
		ck_assert_int_eq(a->mrds[1], 2);
		ck_assert_int_eq(a->mrds[2], 3);
	}
	ck_assert_int_eq(cf->agents[0].desktop, 0);
	ck_assert_str_eq(cf->agents[2].name, "agent1001");
	ck_assert_int_eq(cf->agents[21].id, 1020);

	ck_assert_int_eq(cf->nmrds, 3);
	m = &cf->mrds[0];
	ck_assert_int_eq(m->id, 1);
	ck_assert_str_eq(m->name, "Cisco_Voice");
	ck_assert_str_eq(m->media, "voice");
	ck_assert_int_eq(m->task_life, 1200);
	ck_assert_int_eq(m->task_start_timeout, 30);
	ck_assert_int_eq(m->max_task_duration, 28800);
	ck_assert_int_eq(m->max_tasks, 1);
	ck_assert_int_eq(m->interruptible, 0);
	m = &cf->mrds[1];
	ck_assert_int_eq(m->id, 2);
	ck_assert_str_eq(m->name, "Email");
	ck_assert_str_eq(m->media, "email");
	ck_assert_int_eq(m->task_life, 1200);
	ck_assert_int_eq(m->max_tasks, 5);
	ck_assert_int_eq(m->interruptible, 1);
	m = &cf->mrds[2];
	ck_assert_int_eq(m->id, 3);
	ck_assert_str_eq(m->name, "Chat");
	ck_assert_str_eq(m->media, "chat");
	ck_assert_int_eq(m->task_life, 1200);
	ck_assert_int_eq(m->task_start_timeout, 30);
	ck_assert_int_eq(m->max_task_duration, 28800);
	ck_assert_int_eq(m->max_tasks, 3);
	ck_assert_int_eq(m->interruptible, 0);

	ck_assert_int_eq(cf->traffic.enabled, 1);
	ck_assert_double_eq_tol(cf->traffic.calls_per_second, 0.5, 1e-9);
	ck_assert_int_eq(cf->traffic.handle_time_ms, 15000);
	ck_assert_int_eq(cf->traffic.wrapup_time_ms, 5000);
	ck_assert_double_eq_tol(cf->traffic.not_ready_share, 0.1, 1e-9);
	ck_assert_uint_eq(cf->traffic.seed, 1);
	cfg_free(cf);
}
END_TEST

START_TEST(test_load_defaults)
{
	struct cfg	*cf = load_ok("tests/golden/minimal.conf");

	ck_assert_str_eq(cf->lab_name, "lab");
	ck_assert_str_eq(cf->control_dir, "/run/pgemu");
	ck_assert_str_eq(cf->history_db, "/var/lib/pgemu/history.db");
	ck_assert_int_eq(cf->interval_s, 1800);
	ck_assert_int_eq(cf->max_message, 65536);
	ck_assert_int_eq(cf->snapshot_batch, 200);
	ck_assert_int_eq(cf->hb_private.interval_ms, 100);
	ck_assert_int_eq(cf->hb_private.misses, 5);
	ck_assert_int_eq(cf->hb_router.interval_ms, 400);
	ck_assert_int_eq(cf->hb_router.misses, 5);
	ck_assert_int_eq(cf->hb_acd.interval_ms, 400);
	ck_assert_int_eq(cf->hb_acd.misses, 5);
	ck_assert_int_eq(cf->backoff_min_ms, 100);
	ck_assert_int_eq(cf->backoff_max_ms, 5000);
	ck_assert_int_eq(cf->backoff_stable_ms, 10000);
	ck_assert_int_eq(cf->nnodes, 4);
	ck_assert_str_eq(cf->nodes[0].address, "127.0.0.1");
	ck_assert_int_eq(cf->peripheral_id, 5000);
	ck_assert_str_eq(cf->peripheral_name, "ACD1");
	ck_assert_int_eq(cf->nagents, 0);
	ck_assert_int_eq(cf->nmrds, 0);
	ck_assert_int_eq(cf->traffic.enabled, 0);
	ck_assert_double_eq_tol(cf->traffic.calls_per_second, 1.0, 1e-9);
	ck_assert_int_eq(cf->traffic.handle_time_ms, 10000);
	ck_assert_int_eq(cf->traffic.wrapup_time_ms, 3000);
	ck_assert_double_eq_tol(cf->traffic.not_ready_share, 0.1, 1e-9);
	ck_assert_uint_eq(cf->traffic.seed, 1);
	cfg_free(cf);
}
END_TEST

/* An absolute history_db is kept as it is. */
START_TEST(test_history_db_absolute)
{
	static const char lab[] =
	    "lab: { state_dir = \"/srv/lab\"; history_db = \"/data/h.db\"; };\n"
	    "nodes: {\n"
	    "  r: { role = \"router\"; port = 1; };\n"
	    "  c: { role = \"acd\"; port = 2; };\n"
	    "  a: { role = \"pg\"; side = \"A\"; port = 3; };\n"
	    "  b: { role = \"pg\"; side = \"B\"; address = \"::1\"; "
	    "port = 3; };\n"
	    "};\n";
	char		 tmp[PATH_MAX];
	struct cfg	*cf;
	int		 nerrs;

	write_temp(tmp, sizeof(tmp), lab, sizeof(lab) - 1);
	cf = cfg_load(tmp, stderr, &nerrs);
	unlink(tmp);
	ck_assert_int_eq(nerrs, 0);
	ck_assert_ptr_nonnull(cf);
	ck_assert_str_eq(cf->state_dir, "/srv/lab");
	ck_assert_str_eq(cf->history_db, "/data/h.db");
	/* Same port on another address is fine. */
	ck_assert_str_eq(cf->nodes[3].address, "::1");
	ck_assert_int_eq(cf->nodes[3].port, 3);
	cfg_free(cf);
}
END_TEST

/*
 * The kernel's ephemeral range, read or Linux's default; --check-config
 * (cfg_check) warns for each port in it, with its line, and still loads
 * the lab; cfg_load stays silent.
 */
START_TEST(test_ephemeral_ports)
{
	char		 tmp[PATH_MAX], lab[512], want[512];
	struct mem	 errs;
	struct cfg	*cf;
	int		 lo, hi, nerrs, n;

	write_temp(tmp, sizeof(tmp), "1024\t2047\n", 10);
	ck_assert_int_eq(cfg_ephemeral_ports(tmp, &lo, &hi), 0);
	ck_assert_int_eq(lo, 1024);
	ck_assert_int_eq(hi, 2047);
	unlink(tmp);
	write_temp(tmp, sizeof(tmp), "2047 1024\n", 10);
	ck_assert_int_eq(cfg_ephemeral_ports(tmp, &lo, &hi), -1);
	ck_assert_int_eq(lo, 32768);
	ck_assert_int_eq(hi, 60999);
	unlink(tmp);
	ck_assert_int_eq(cfg_ephemeral_ports(tmp, &lo, &hi), -1);
	ck_assert_int_eq(lo, 32768);

	cfg_ephemeral_ports(NULL, &lo, &hi);
	ck_assert_int_gt(lo, 4);
	n = snprintf(lab, sizeof(lab),
	    "nodes: {\n"
	    "  r: { role = \"router\"; port = 1; };\n"
	    "  c: { role = \"acd\"; port = 2;\n"
	    "       backup_port = %d; };\n"
	    "  a: { role = \"pg\"; side = \"A\"; port = %d; cti_port = 4; };\n"
	    "  b: { role = \"pg\"; side = \"B\"; port = 3; cti_port = 5; };\n"
	    "};\n", hi, lo);
	write_temp(tmp, sizeof(tmp), lab, (size_t)n);
	mem_open(&errs);
	cf = cfg_check(tmp, errs.f, &nerrs);
	mem_close(&errs);
	ck_assert_int_eq(nerrs, 0);
	ck_assert_ptr_nonnull(cf);
	cfg_free(cf);
	snprintf(want, sizeof(want),
	    "%s:4: warning: nodes.c.backup_port: %d is in the kernel's "
	    "ephemeral port range %d-%d (net.ipv4.ip_local_port_range): an "
	    "outgoing connection may hold it when the node starts\n"
	    "%s:5: warning: nodes.a.port: %d is in the kernel's ephemeral "
	    "port range %d-%d (net.ipv4.ip_local_port_range): an outgoing "
	    "connection may hold it when the node starts\n",
	    tmp, hi, lo, hi, tmp, lo, lo, hi);
	assert_same("cfg_check warnings", errs.buf, errs.len, want,
	    strlen(want));
	mem_free(&errs);
	mem_open(&errs);
	cf = cfg_load(tmp, errs.f, &nerrs);
	mem_close(&errs);
	unlink(tmp);
	ck_assert_ptr_nonnull(cf);
	ck_assert_uint_eq(errs.len, 0);
	cfg_free(cf);
	mem_free(&errs);
}
END_TEST

START_TEST(test_node_lookup)
{
	struct cfg		*cf = load_ok("etc/pgemu.conf");
	const struct cfg_node	*n;

	ck_assert_ptr_eq(cfg_node(cf, "router"), &cf->nodes[0]);
	ck_assert_ptr_eq(cfg_node(cf, "acd"), &cf->nodes[1]);
	ck_assert_ptr_eq(cfg_node(cf, "pg-a"), &cf->nodes[2]);
	ck_assert_ptr_eq(cfg_node(cf, "pg-b"), &cf->nodes[3]);
	ck_assert_ptr_null(cfg_node(cf, "pg-c"));
	ck_assert_ptr_null(cfg_node(cf, ""));
	ck_assert_ptr_null(cfg_node(cf, "PG-A"));

	ck_assert_ptr_eq(cfg_node_role(cf, ROLE_ROUTER, 0), &cf->nodes[0]);
	ck_assert_ptr_eq(cfg_node_role(cf, ROLE_ACD, 0), &cf->nodes[1]);
	ck_assert_ptr_eq(cfg_node_role(cf, ROLE_PG, 0), &cf->nodes[2]);
	ck_assert_ptr_eq(cfg_node_role(cf, ROLE_PG, 'A'), &cf->nodes[2]);
	ck_assert_ptr_eq(cfg_node_role(cf, ROLE_PG, 'B'), &cf->nodes[3]);
	ck_assert_ptr_null(cfg_node_role(cf, ROLE_PG, 'C'));
	ck_assert_ptr_null(cfg_node_role(cf, ROLE_ROUTER, 'A'));

	n = cfg_node(cf, "pg-a");
	ck_assert_ptr_eq(cfg_pg_peer(cf, n), &cf->nodes[3]);
	n = cfg_node(cf, "pg-b");
	ck_assert_ptr_eq(cfg_pg_peer(cf, n), &cf->nodes[2]);
	ck_assert_ptr_eq(cfg_pg_peer(cf, cfg_pg_peer(cf, n)), n);
	cfg_free(cf);
}
END_TEST

/* Whether the man page has a paragraph for this table pattern. */
static int
man_has(const char *man, const char *pattern)
{
	char	 want[300];

	snprintf(want, sizeof(want), ".TP\n.B %s\n", pattern);
	return strstr(man, want) != NULL;
}

/* Every setting of a dump, as a table pattern, has its paragraph. */
static void
man_covers(const char *man, const config_setting_t *s, const char *pat,
    int in_nodes)
{
	int	i, n = config_setting_length(s);

	for (i = 0; i < n; i++) {
		const config_setting_t	*c;
		char			 sub[256];
		const char		*seg;

		c = config_setting_get_elem(s, (unsigned)i);
		if (config_setting_is_list(s))
			seg = "[]";
		else if (in_nodes)
			seg = "*";
		else
			seg = config_setting_name(c);
		snprintf(sub, sizeof(sub), "%s%s%s", pat, *pat ? "." : "",
		    seg);
		ck_assert_msg(man_has(man, sub), "no paragraph for %s", sub);
		if (config_setting_is_aggregate(c) &&
		    !config_setting_is_array(c))
			man_covers(man, c, sub, strcmp(sub, "nodes") == 0);
	}
}

START_TEST(test_man_settings)
{
	struct mem	 man;
	config_t	 c;
	char		 file[PATH_MAX];
	const char	*p;
	int		 ntp = 0, nb = 0;

	mem_open(&man);
	cfg_man_settings(man.f);
	mem_close(&man);
	ck_assert_uint_gt(cfg_nsettings(), 0);
	for (p = man.buf; (p = strstr(p, ".TP\n")) != NULL; p += 4) {
		ntp++;
		ck_assert_msg(strncmp(p + 4, ".B ", 3) == 0,
		    "paragraph %d has no .B line", ntp);
		nb++;
	}
	ck_assert_int_eq(ntp, (int)cfg_nsettings());
	ck_assert_int_eq(nb, ntp);
	ck_assert_int_eq(man.buf[man.len - 1], '\n');

	/* A few by name, with what the paragraph says. */
	ck_assert(man_has(man.buf, "lab"));
	ck_assert(man_has(man.buf, "nodes.*.side"));
	ck_assert(man_has(man.buf, "mrds.[].task_life"));
	ck_assert(man_has(man.buf, "peripheral.agents.list.[].id"));
	ck_assert_ptr_nonnull(strstr(man.buf, ".B nodes.*.side\nstring, "
	    "one of A|B; nodes of role pg desk; required.\n"));
	ck_assert_ptr_nonnull(strstr(man.buf, ".B heartbeat.private."
	    "interval_ms\ninteger, 10 to 60000; default 100.\n"));

	/* Every setting of the normal form of the sample is documented. */
	path_of(file, sizeof(file), "tests/golden/pgemu.conf.dump");
	config_init(&c);
	ck_assert_msg(config_read_file(&c, file) == CONFIG_TRUE, "%s:%d: %s",
	    file, config_error_line(&c), config_error_text(&c));
	man_covers(man.buf, config_root_setting(&c), "", 0);
	config_destroy(&c);
	mem_free(&man);
}
END_TEST

/*
 * One bad lab file: cfg_load and cfg_dump both refuse it with exactly
 * the golden errors, one line per counted error, and dump nothing.
 */
START_TEST(test_bad_file)
{
	const char	*name = bad_files[_i];
	char		 dir[PATH_MAX], conf[PATH_MAX], errf[PATH_MAX];
	char		*want;
	size_t		 wantlen;
	struct mem	 errs, out, errs2;
	struct cfg	*cf;
	int		 cwd, nerrs = -1, nerrs2;

	path_of(dir, sizeof(dir), "tests/golden/bad");
	pathf(errf, sizeof(errf), "%s/%s.err", dir, name);
	want = slurp(errf, &wantlen);
	pathf(conf, sizeof(conf), "%s.conf", name);

	cwd = open(".", O_RDONLY | O_DIRECTORY);
	ck_assert_int_ne(cwd, -1);
	ck_assert_msg(chdir(dir) == 0, "chdir %s", dir);
	mem_open(&errs);
	cf = cfg_load(conf, errs.f, &nerrs);
	mem_close(&errs);
	nerrs2 = dump_to(conf, &out, &errs2);
	ck_assert_int_eq(fchdir(cwd), 0);
	close(cwd);

	ck_assert_msg(cf == NULL, "%s: loaded anyway", conf);
	assert_same(errf, errs.buf, errs.len, want, wantlen);
	ck_assert_int_gt(nerrs, 0);
	ck_assert_int_eq(nerrs, count_lines(want, wantlen));

	ck_assert_int_eq(nerrs2, nerrs);
	ck_assert_uint_eq(out.len, 0);
	assert_same("cfg_dump errors", errs2.buf, errs2.len, want, wantlen);

	free(want);
	mem_free(&errs);
	mem_free(&out);
	mem_free(&errs2);
}
END_TEST

/* Every file in golden/bad is in the table, and the other way round. */
START_TEST(test_bad_table)
{
	char		 dir[PATH_MAX], f[PATH_MAX];
	DIR		*d;
	struct dirent	*de;
	int		 i, nconf = 0, nerr = 0;

	path_of(dir, sizeof(dir), "tests/golden/bad");
	ck_assert_ptr_nonnull(d = opendir(dir));
	while ((de = readdir(d)) != NULL) {
		size_t	 len = strlen(de->d_name);
		int	 isconf, found = 0;

		isconf = len > 5 && strcmp(de->d_name + len - 5, ".conf") == 0;
		if (!isconf && !(len > 4 &&
		    strcmp(de->d_name + len - 4, ".err") == 0))
			continue;
		len -= isconf ? 5 : 4;
		for (i = 0; i < NBAD; i++)
			if (strlen(bad_files[i]) == len &&
			    strncmp(bad_files[i], de->d_name, len) == 0)
				found = 1;
		ck_assert_msg(found, "%s is not in the table", de->d_name);
		if (isconf)
			nconf++;
		else
			nerr++;
	}
	closedir(d);
	ck_assert_int_eq(nerr, NBAD);
	ck_assert_int_eq(nconf, NBAD - 1);	/* "unreadable" has none */
	pathf(f, sizeof(f), "%s/unreadable.conf", dir);
	ck_assert_int_eq(access(f, F_OK), -1);
}
END_TEST

static Suite *
cfg_suite(void)
{
	Suite	*s = suite_create("cfg");
	TCase	*tc;

	tc = tcase_create("dump");
	tcase_add_test(tc, test_dump_sample);
	tcase_add_test(tc, test_dump_minimal);
	suite_add_tcase(s, tc);

	tc = tcase_create("load");
	tcase_add_test(tc, test_load_sample);
	tcase_add_test(tc, test_load_defaults);
	tcase_add_test(tc, test_history_db_absolute);
	tcase_add_test(tc, test_ephemeral_ports);
	tcase_add_test(tc, test_node_lookup);
	tcase_add_test(tc, test_man_settings);
	suite_add_tcase(s, tc);

	tc = tcase_create("bad");
	tcase_add_loop_test(tc, test_bad_file, 0, NBAD);
	tcase_add_test(tc, test_bad_table);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	const char	*env = getenv("PGEMU_SRCDIR");
	char		 dir[PATH_MAX];
	SRunner		*sr;
	int		 nfailed;

	if (env != NULL && *env != '\0')
		snprintf(dir, sizeof(dir), "%s", env);
	else {
#ifdef SRCDIR
		snprintf(dir, sizeof(dir), "%s", SRCDIR);
#else
		const char *slash = strrchr(__FILE__, '/');

		if (slash == NULL)
			snprintf(dir, sizeof(dir), "..");
		else
			snprintf(dir, sizeof(dir), "%.*s/..",
			    (int)(slash - __FILE__), __FILE__);
#endif
	}
	/* Absolute, so that a test may chdir. */
	if (realpath(dir, srcdir) == NULL) {
		fprintf(stderr, "check_cfg: source directory %s not found; "
		    "set PGEMU_SRCDIR\n", dir);
		return 1;
	}

	sr = srunner_create(cfg_suite());
	srunner_run_all(sr, CK_ENV);
	nfailed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nfailed == 0 ? 0 : 1;
}
