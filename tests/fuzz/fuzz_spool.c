/*
 * libFuzzer harness of the PIM's spool loader (pim_spool_load() in
 * src/roles/pg/pim.c), through the PIM's own entry point: the input's
 * spool part is written as the spool of side A's PIM of peripheral 5000
 * in a scratch state directory, and pim_new() reads it as at start-up.
 *
 * Input: one byte n, then n % 9 answers of the router (two bytes each: ACK,
 * REFUSED or NOT_STORED, and which record), then the spool's bytes.
 *
 * What the loader must do, from its comments and R1: a spool is frames;
 * it reads INTERVAL (of lab protocol 2 too, rows without their MRD, made
 * again as rows of the voice MRD) and DISCARD records, drops those a
 * DELIVERY_ACK after them acknowledges, skips frames of other types, that
 * do not decode or with the last sequence number (UINT32_MAX: no PIM
 * gives it), and stops at a bad header or a frame cut short.  What it holds
 * was never delivered, so the rows of the intervals are deleted with one
 * R1 record of the loss; the loss records stay queued.  The oracles:
 *
 *   - pim_new() never fails on a spool's contents;
 *   - the spool it writes back holds exactly the loss records read, byte
 *     for byte, in order, then the new R1 record, which counts every
 *     interval row read and not acknowledged (no loss without a record)
 *     and takes the sequence number after the highest read (1 after
 *     UINT32_MAX - 1);
 *   - its counters say the same (queued, queued_rows, rows_discarded);
 *   - after the router's answers, the spool read again holds exactly the
 *     records not answered (acknowledged or refused), byte for byte.
 */
#include "config.h"

#include <sys/queue.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_quiet.h"
#include "pgemu.h"
#include "wire.h"

#define FUZZ_PERIPH	5000
#define FUZZ_MAX_RECS	4096

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* A record the spool holds: where its frame is, and what it is. */
struct rec {
	uint32_t	 type;
	uint32_t	 seq;
	uint32_t	 rows;
	const uint8_t	*frame;
	size_t		 len;
};

static struct event_base *base;
static struct cfg	 cf;
static struct cfg_node	 self;
static struct node	 node;
static struct cfg_agent	 agents[2];
static struct cfg_periph periph;
static char		 dir[PGEMU_PATH_MAX], spool[PGEMU_PATH_MAX + 16];

/* Stop the run with a reason: libFuzzer saves the input. */
static __dead void
fail(const char *what)
{
	fprintf(fuzz_err, "fuzz_spool: %s\n", what);
	abort();
}

static void
cleanup(void)
{
	unlink(spool);
	rmdir(dir);
}

/*
 * Side A of a lab of one peripheral and two agents, its state in dir: in
 * memory (/dev/shm) when there is one, since the PIM truncates and
 * rewrites its spool, which a disk's file system writes out at once.
 */
static void
setup(void)
{
	const char	*tmp = getenv("TMPDIR");

	fuzz_quiet();
	if (access("/dev/shm", W_OK | X_OK) == 0)
		tmp = "/dev/shm";
	snprintf(dir, sizeof(dir), "%s/pgemu-fuzz-spool.XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	if (mkdtemp(dir) == NULL || (base = event_base_new()) == NULL)
		abort();
	snprintf(spool, sizeof(spool), "%s/pg-a.spool", dir);
	atexit(cleanup);
	snprintf(cf.state_dir, sizeof(cf.state_dir), "%s", dir);
	cf.interval_s = 1800;
	cf.max_message = WIRE_DEFAULT_MAX_BODY;
	snprintf(self.name, sizeof(self.name), "pg-a");
	self.role = ROLE_PG;
	self.side = 'A';
	node.base = base;
	node.cfg = &cf;
	node.self = &self;
	agents[0].id = 1001;
	agents[1].id = 1002;
	periph.id = FUZZ_PERIPH;
	periph.agents = agents;
	periph.nagents = 2;
}

static void
write_file(const char *path, const uint8_t *data, size_t size)
{
	FILE	*f;

	if ((f = fopen(path, "w")) == NULL ||
	    (size > 0 && fwrite(data, 1, size, f) != size) || fclose(f) != 0)
		fail("cannot write the spool");
}

/* The whole file, in a buffer of its own (the caller frees it). */
static uint8_t *
read_file(const char *path, size_t *size)
{
	FILE	*f;
	uint8_t	*buf = NULL;
	size_t	 cap = 0, n;

	*size = 0;
	if ((f = fopen(path, "r")) == NULL)
		fail("no spool written back");
	for (;;) {
		if (*size == cap &&
		    (buf = realloc(buf, cap = cap * 2 + 4096)) == NULL)
			abort();
		if ((n = fread(buf + *size, 1, cap - *size, f)) == 0)
			break;
		*size += n;
	}
	fclose(f);
	return buf;
}

/* Take the first record of that sequence number off recs, as pim_ack. */
static void
unqueue(struct rec *recs, int *n, uint32_t seq)
{
	int	i;

	for (i = 0; i < *n; i++)
		if (recs[i].seq == seq) {
			memmove(&recs[i], &recs[i + 1],
			    (size_t)(*n - i - 1) * sizeof(*recs));
			(*n)--;
			return;
		}
}

/*
 * The spool's records as the loader's comments say it reads them; the
 * highest sequence number of a record read in *max_seq.
 */
static int
model_load(const uint8_t *data, size_t size, struct rec *recs,
    uint32_t *max_seq)
{
	struct wire_msg		m;
	struct wire_writer	up;
	struct msg_interval	iv;
	struct msg_discard	d;
	struct msg_epoch	e;
	uint32_t		type, len;
	size_t			off = 0;
	int			n = 0;
	char			err[256];

	*max_seq = 0;
	while (size - off >= WIRE_HDR_LEN) {
		if (wire_check_header(data + off, WIRE_MAX_BODY, &type, &len,
		    err, sizeof(err)) == -1 ||
		    len > size - off - WIRE_HDR_LEN)
			break;
		m.type = type;
		m.len = len;
		m.body = data + off + WIRE_HDR_LEN;
		if (n == FUZZ_MAX_RECS)
			fail("more records than the harness keeps");
		memset(&up, 0, sizeof(up));
		/* m: the frame made again, if it ends within the limit. */
		if (type == MSG_INTERVAL &&
		    msg_interval_decode(&m, &iv, err, sizeof(err)) == -1 &&
		    msg_interval_upgrade(&m, 1, &up, err, sizeof(err)) == 0)
			(void)wire_end(&up, WIRE_MAX_BODY, &m);
		/* The last sequence number: skipped, no PIM gives it. */
		if ((type == MSG_INTERVAL &&
		    msg_interval_decode(&m, &iv, err, sizeof(err)) == 0 &&
		    iv.seq == UINT32_MAX) || (type == MSG_DISCARD &&
		    msg_discard_decode(&m, &d, err, sizeof(err)) == 0 &&
		    d.seq == UINT32_MAX))
			;
		else if (type == MSG_INTERVAL &&
		    msg_interval_decode(&m, &iv, err, sizeof(err)) == 0) {
			recs[n++] = (struct rec){ type, iv.seq, iv.count,
			    data + off, WIRE_HDR_LEN + len };
			*max_seq = iv.seq > *max_seq ? iv.seq : *max_seq;
		} else if (type == MSG_DISCARD &&
		    msg_discard_decode(&m, &d, err, sizeof(err)) == 0) {
			recs[n++] = (struct rec){ type, d.seq, d.rows,
			    data + off, WIRE_HDR_LEN + len };
			*max_seq = d.seq > *max_seq ? d.seq : *max_seq;
		} else if (type == MSG_DELIVERY_ACK &&
		    msg_epoch_decode(&m, &e, err, sizeof(err)) == 0)
			unqueue(recs, &n, e.a);
		wire_writer_free(&up);
		off += WIRE_HDR_LEN + len;
	}
	return n;
}

/* The PIM's counters: queued records and rows, rows deleted. */
static void
check_counters(struct pim *p, int queued, uint64_t discarded)
{
	json_t	*j = pim_json(p);

	if (j == NULL)
		abort();
	if (json_integer_value(json_object_get(j, "queued")) != queued)
		fail("queued records are not those of the spool");
	if (json_integer_value(json_object_get(j, "queued_rows")) != 0)
		fail("interval rows queued after the start-up's R1");
	if (json_integer_value(json_object_get(j, "rows_discarded")) !=
	    (json_int_t)discarded)
		fail("rows deleted are not the rows of the spool");
	json_decref(j);
}

/* The file holds these frames, byte for byte, and then off is where. */
static size_t
check_frames(const uint8_t *file, size_t size, const struct rec *recs,
    int n)
{
	size_t	off = 0;
	int	i;

	for (i = 0; i < n; i++) {
		if (recs[i].type != MSG_DISCARD)
			fail("an interval record kept past the R1 of start-up");
		if (size - off < recs[i].len ||
		    memcmp(file + off, recs[i].frame, recs[i].len) != 0)
			fail("a loss record not written back as it was read");
		off += recs[i].len;
	}
	return off;
}

/* The R1 record of start-up: the rows of every interval read. */
static void
check_r1(const uint8_t *frame, size_t size, uint64_t rows, uint32_t seq)
{
	struct wire_msg		m;
	struct msg_discard	d;
	uint32_t		type, len;
	char			err[256];

	if (size < WIRE_HDR_LEN || wire_check_header(frame, WIRE_MAX_BODY,
	    &type, &len, err, sizeof(err)) == -1 ||
	    size != WIRE_HDR_LEN + len || type != MSG_DISCARD)
		fail("the spool does not end with one R1 record");
	m.type = type;
	m.len = len;
	m.body = frame + WIRE_HDR_LEN;
	if (msg_discard_decode(&m, &d, err, sizeof(err)) == -1)
		fail("the R1 record does not decode");
	if (d.rows != rows)
		fail("the R1 record does not count every row read");
	if (d.seq != seq)
		fail("the R1 record does not follow the highest number read");
	if (d.rule != RULE_R1 || d.peripheral != FUZZ_PERIPH || d.side != 'A')
		fail("the R1 record is not this PIM's");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct rec	 recs[FUZZ_MAX_RECS], kept[FUZZ_MAX_RECS + 1];
	static struct rec	 f1recs[FUZZ_MAX_RECS + 1];
	struct pim		*p;
	const uint8_t		*answers;
	uint8_t			*f1, *f2;
	uint64_t		 rows = 0;
	uint32_t		 max_seq, seq;
	size_t			 n1, n2, off;
	int			 nans, nrecs, nkept = 0, nf1, i;
	char			 err[256];

	if (base == NULL)
		setup();
	if (size < 1)
		return 0;
	nans = data[0] % 9;
	if (size < 1 + 2 * (size_t)nans)
		return 0;
	answers = data + 1;
	data += 1 + 2 * nans;
	size -= 1 + 2 * (size_t)nans;

	/* Start-up with the spool left behind. */
	nrecs = model_load(data, size, recs, &max_seq);
	for (i = 0; i < nrecs; i++)
		if (recs[i].type == MSG_INTERVAL)
			rows += recs[i].rows;
		else
			kept[nkept++] = recs[i];
	write_file(spool, data, size);
	if ((p = pim_new(&node, &periph, 1, NULL, err, sizeof(err))) == NULL) {
		fprintf(fuzz_err, "fuzz_spool: %s\n", err);
		fail("pim_new() refused a spool for its contents");
	}
	f1 = read_file(spool, &n1);
	off = check_frames(f1, n1, kept, nkept);
	if (rows > 0)
		check_r1(f1 + off, n1 - off, rows,
		    max_seq >= UINT32_MAX - 1 ? 1 : max_seq + 1);
	else if (off != n1)
		fail("an R1 record with no row, or more written back");
	check_counters(p, nkept + (rows > 0), rows);

	/* The router answers records, by their place in the spool. */
	if (rows > 0) {
		kept[nkept].type = MSG_DISCARD;
		kept[nkept].seq = max_seq >= UINT32_MAX - 1 ? 1 : max_seq + 1;
		kept[nkept].frame = f1 + off;
		kept[nkept++].len = n1 - off;
	}
	nf1 = nkept;
	memcpy(f1recs, kept, (size_t)nf1 * sizeof(*kept));
	for (i = 0; i < nans && nf1 > 0; i++) {
		seq = f1recs[answers[2 * i + 1] % nf1].seq;
		switch (answers[2 * i] % 3) {
		case 0:
			pim_ack(p, seq);
			unqueue(kept, &nkept, seq);
			break;
		case 1:
			pim_refused(p, seq, "refused by the fuzzer");
			unqueue(kept, &nkept, seq);
			break;
		default:
			pim_not_stored(p, seq, "not stored by the fuzzer");
			break;
		}
	}
	pim_free(p);

	/* The next start-up: what was not answered, and no more loss. */
	if ((p = pim_new(&node, &periph, 1, NULL, err, sizeof(err))) == NULL) {
		fprintf(fuzz_err, "fuzz_spool: %s\n", err);
		fail("pim_new() refused the spool it wrote");
	}
	f2 = read_file(spool, &n2);
	if (check_frames(f2, n2, kept, nkept) != n2)
		fail("the spool read again holds more than was not answered");
	check_counters(p, nkept, 0);
	pim_free(p);
	free(f1);
	free(f2);
	/*
	 * The events of R1 stay in the ring of recent events: freed now, a
	 * run frees all it took, and libFuzzer does not look for leaks.
	 */
	evt_clear();
	return 0;
}
