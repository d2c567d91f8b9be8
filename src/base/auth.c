/*
 * The lab key: a secret every node of a lab shares, from which its links
 * prove they belong to the lab (proto_lab.c's challenge and response) and
 * the router's grants prove they are the router's (grant tokens).
 *
 * The key file holds 64 hexadecimal digits (32 bytes) and a newline.  A
 * node that finds none makes one: random bytes written to a temporary file
 * (mode 0600, never through a link) then linked to the name, so that of
 * several nodes starting at once exactly one key wins and every node reads
 * that one.  A key file another user could read or write, or that is not a
 * regular file, is refused: the lab would trust whoever can read it.
 *
 * MACs are HMAC-SHA-256 (libsodium) over a label and length-prefixed
 * parts, so no two different messages MAC the same bytes.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "pgemu.h"

static uint8_t	auth_key[AUTH_KEY_LEN];
static int	auth_on;

int
auth_enabled(void)
{
	return auth_on;
}

/* Write a new key to path, unless another process wins the race. */
static int
auth_create(const char *path, char *err, size_t errlen)
{
	uint8_t	key[AUTH_KEY_LEN];
	char	hex[2 * AUTH_KEY_LEN + 2], tmp[PGEMU_PATH_MAX + 32];
	int	fd, rc = -1;

	randombytes_buf(key, sizeof(key));
	sodium_bin2hex(hex, sizeof(hex), key, sizeof(key));
	sodium_memzero(key, sizeof(key));
	strcat(hex, "\n");
	snprintf(tmp, sizeof(tmp), "%s.%ld.new", path, (long)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd == -1) {
		snprintf(err, errlen, "key file %s: cannot create %s: %s", path,
		    tmp, strerror(errno));
		return -1;
	}
	if (write(fd, hex, strlen(hex)) != (ssize_t)strlen(hex) ||
	    fsync(fd) == -1)
		snprintf(err, errlen, "key file %s: cannot write %s: %s", path,
		    tmp, strerror(errno));
	else if (link(tmp, path) == -1 && errno != EEXIST)
		snprintf(err, errlen, "key file %s: cannot create it: %s",
		    path, strerror(errno));
	else
		rc = 0;
	close(fd);
	unlink(tmp);
	sodium_memzero(hex, sizeof(hex));
	return rc;
}

/*
 * Load the key (make it first if create and the file is missing).  0, or
 * -1 with err naming the file and what is wrong with it.
 */
int
auth_load(const char *path, int create, char *err, size_t errlen)
{
	struct stat	st;
	char		buf[2 * AUTH_KEY_LEN + 64];
	const char	*end;
	size_t		len;
	ssize_t		n;
	int		fd;

	if (sodium_init() == -1) {
		snprintf(err, errlen, "libsodium cannot start");
		return -1;
	}
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1 && errno == ENOENT && create) {
		if (auth_create(path, err, errlen) == -1)
			return -1;
		fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	}
	if (fd == -1) {
		snprintf(err, errlen, "key file %s: %s%s", path,
		    errno == ELOOP ? "is a symbolic link" : strerror(errno),
		    errno == ENOENT ? " (pgemud makes it in a state directory "
		    "it can write in)" : "");
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "key file %s: not a regular file", path);
		close(fd);
		return -1;
	}
	if ((st.st_mode & 077) != 0 || st.st_uid != geteuid()) {
		snprintf(err, errlen, "key file %s: mode %04o, owner uid %u: "
		    "it must be the node's user's alone (chmod 600)", path,
		    (unsigned)(st.st_mode & 07777), (unsigned)st.st_uid);
		close(fd);
		return -1;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0) {
		snprintf(err, errlen, "key file %s: %s", path, strerror(errno));
		return -1;
	}
	buf[n] = '\0';
	len = strcspn(buf, "\r\n");
	if (len != 2 * AUTH_KEY_LEN || sodium_hex2bin(auth_key,
	    sizeof(auth_key), buf, len, NULL, NULL, &end) != 0 ||
	    end != buf + len) {
		snprintf(err, errlen, "key file %s: not %d hexadecimal digits "
		    "on its first line", path, 2 * AUTH_KEY_LEN);
		sodium_memzero(buf, sizeof(buf));
		return -1;
	}
	sodium_memzero(buf, sizeof(buf));
	auth_on = 1;
	return 0;
}

void
auth_nonce(uint8_t *out)
{
	randombytes_buf(out, AUTH_NONCE_LEN);
}

/*
 * HMAC-SHA-256 with the lab key over label and parts, each part preceded
 * by its length (parts end with a NULL pointer).
 */
void
auth_mac(uint8_t *out, const char *label, const struct auth_part *parts)
{
	crypto_auth_hmacsha256_state	st;
	uint8_t				len[4];
	size_t				i;

	crypto_auth_hmacsha256_init(&st, auth_key, sizeof(auth_key));
	crypto_auth_hmacsha256_update(&st, (const uint8_t *)label,
	    strlen(label) + 1);
	for (i = 0; parts[i].p != NULL; i++) {
		len[0] = (uint8_t)(parts[i].len >> 24);
		len[1] = (uint8_t)(parts[i].len >> 16);
		len[2] = (uint8_t)(parts[i].len >> 8);
		len[3] = (uint8_t)parts[i].len;
		crypto_auth_hmacsha256_update(&st, len, sizeof(len));
		crypto_auth_hmacsha256_update(&st, parts[i].p, parts[i].len);
	}
	crypto_auth_hmacsha256_final(&st, out);
}

/* 1 when mac is label's MAC over parts (in constant time). */
int
auth_check(const uint8_t *mac, const char *label,
    const struct auth_part *parts)
{
	uint8_t	want[AUTH_MAC_LEN];
	int	ok;

	auth_mac(want, label, parts);
	ok = sodium_memcmp(want, mac, AUTH_MAC_LEN) == 0;
	sodium_memzero(want, sizeof(want));
	return ok;
}

/*
 * A grant's token: the router's MAC of (peripheral, epoch, side), which
 * the side shows the ACD (or the application) with its activation and the
 * router itself after a restart.  Without the lab key nobody can make
 * one, so nobody can forge an epoch.
 */
void
auth_grant_token(uint8_t *out, uint32_t periph, uint32_t epoch, char side)
{
	uint8_t			 b[8];
	struct auth_part	 parts[] = { { b, 8 }, { &side, 1 }, { NULL, 0 } };

	b[0] = (uint8_t)(periph >> 24);
	b[1] = (uint8_t)(periph >> 16);
	b[2] = (uint8_t)(periph >> 8);
	b[3] = (uint8_t)periph;
	b[4] = (uint8_t)(epoch >> 24);
	b[5] = (uint8_t)(epoch >> 16);
	b[6] = (uint8_t)(epoch >> 8);
	b[7] = (uint8_t)epoch;
	auth_mac(out, "pgemu GRANT", parts);
}

/* 1 when token is the router's for that grant (always, without a key). */
int
auth_grant_ok(const uint8_t *token, int has, uint32_t periph, uint32_t epoch,
    char side)
{
	uint8_t	want[AUTH_MAC_LEN];
	int	ok;

	if (!auth_on)
		return 1;
	if (!has)
		return 0;
	auth_grant_token(want, periph, epoch, side);
	ok = sodium_memcmp(want, token, AUTH_MAC_LEN) == 0;
	return ok;
}
