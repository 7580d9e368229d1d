/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * radload: a small RADIUS load generator. radclient loses packets beyond
 * ~16 in flight; this keeps many Access-Requests in flight over several
 * UDP sockets (256 ids each), with Message-Authenticator and RFC 2865
 * User-Password hiding, checks every Response Authenticator, and reports
 * requests per second and latency percentiles.
 *
 *   radload -s 127.0.0.1:1812 -S secret -f requests.tsv [-c 64] [-t 3000] [-o out.tsv]
 *
 * requests.tsv: one request a line, "user<TAB>password"; each line is
 * sent once. Prints a human summary and one machine-readable line:
 *   radload: sent=N accept=N reject=N challenge=N lost=N bad=N secs=F rps=F p50_ms=F p99_ms=F
 * -o: every request's outcome, "user<TAB>password<TAB>code" in the order
 * of requests.tsv (code 2 Accept, 3 Reject, 11 Challenge, 0 no valid
 * answer), for tests that replay what was accepted.
 * Exit status 0 when every request got a valid answer.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_SOCKS 64
#define PKT_MAX 4096

struct req {
	char *user;
	char *password;
	uint8_t auth[16];		/* Request Authenticator */
	double sent_at;
	double latency;			/* seconds; < 0 = no answer */
	int code;
};

struct slot {
	int req;			/* index into reqs, -1 free */
};

static struct req *reqs;
static size_t n_reqs;
static const char *secret;
static size_t secret_len;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int md5(const void *a, size_t alen, const void *b, size_t blen, uint8_t out[16])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int len = 16;
	int ret = -1;

	if (!ctx)
		return -1;
	if (EVP_DigestInit_ex(ctx, EVP_md5(), NULL) == 1 && EVP_DigestUpdate(ctx, a, alen) == 1 &&
	    (blen == 0 || EVP_DigestUpdate(ctx, b, blen) == 1) && EVP_DigestFinal_ex(ctx, out, &len) == 1)
		ret = 0;
	EVP_MD_CTX_free(ctx);
	return ret;
}

static size_t put_attr(uint8_t *p, uint8_t type, const void *val, size_t len)
{
	p[0] = type;
	p[1] = (uint8_t) (len + 2);
	memcpy(p + 2, val, len);
	return len + 2;
}

/* RFC 2865 5.2 */
static int hide_password(const char *pw, const uint8_t ra[16], uint8_t *out, size_t *outlen)
{
	size_t len = strlen(pw), padded = len ? (len + 15) / 16 * 16 : 16, i, j;
	uint8_t b[16], buf[128];
	uint8_t *sb = malloc(secret_len + 16);
	const uint8_t *prev = ra;

	if (!sb || padded > sizeof(buf)) {
		free(sb);
		return -1;
	}
	memset(buf, 0, sizeof(buf));
	memcpy(buf, pw, len);
	memcpy(sb, secret, secret_len);
	for (i = 0; i < padded; i += 16) {
		memcpy(sb + secret_len, prev, 16);
		if (md5(sb, secret_len + 16, NULL, 0, b) < 0) {
			free(sb);
			return -1;
		}
		for (j = 0; j < 16; j++)
			out[i + j] = buf[i + j] ^ b[j];
		prev = out + i;
	}
	free(sb);
	*outlen = padded;
	return 0;
}

static ssize_t build(struct req *r, uint8_t id, uint8_t *pkt)
{
	uint8_t hidden[128], mac[EVP_MAX_MD_SIZE], zero[16] = { 0 };
	unsigned int maclen = 0;
	size_t off = 20, hlen, ma_off;

	if (RAND_bytes(r->auth, 16) != 1)
		return -1;
	pkt[0] = 1;
	pkt[1] = id;
	memcpy(pkt + 4, r->auth, 16);
	ma_off = off;
	off += put_attr(pkt + off, 80, zero, 16);	/* Message-Authenticator */
	off += put_attr(pkt + off, 1, r->user, strlen(r->user));
	if (hide_password(r->password, r->auth, hidden, &hlen) < 0)
		return -1;
	off += put_attr(pkt + off, 2, hidden, hlen);
	pkt[2] = (uint8_t) (off >> 8);
	pkt[3] = (uint8_t) off;
	if (!HMAC(EVP_md5(), secret, (int) secret_len, pkt, off, mac, &maclen) || maclen != 16)
		return -1;
	memcpy(pkt + ma_off + 2, mac, 16);
	return (ssize_t) off;
}

static bool reply_ok(const uint8_t *pkt, size_t len, const struct req *r)
{
	uint8_t copy[PKT_MAX], digest[16];
	size_t plen;

	if (len < 20)
		return false;
	plen = ((size_t) pkt[2] << 8) | pkt[3];
	if (plen < 20 || plen > len)
		return false;
	memcpy(copy, pkt, plen);
	memcpy(copy + 4, r->auth, 16);
	if (md5(copy, plen, secret, secret_len, digest) < 0)
		return false;
	return CRYPTO_memcmp(digest, pkt + 4, 16) == 0;
}

static int load(const char *path)
{
	FILE *f = fopen(path, "r");
	char *line = NULL, *tab;
	size_t cap = 0, alloc = 0;
	ssize_t n;

	if (!f)
		return -errno;
	while ((n = getline(&line, &cap, f)) > 0) {
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		tab = strchr(line, '\t');
		if (!tab)
			continue;
		*tab = '\0';
		if (n_reqs == alloc) {
			alloc = alloc ? alloc * 2 : 1024;
			reqs = realloc(reqs, alloc * sizeof(*reqs));
			if (!reqs)
				return -ENOMEM;
		}
		reqs[n_reqs] = (struct req) { .user = strdup(line), .password = strdup(tab + 1),
					      .latency = -1 };
		if (!reqs[n_reqs].user || !reqs[n_reqs].password)
			return -ENOMEM;
		n_reqs++;
	}
	free(line);
	fclose(f);
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *) a, y = *(const double *) b;

	return x < y ? -1 : x > y;
}

static void usage(void)
{
	fprintf(stderr, "usage: radload -s HOST:PORT -S SECRET -f FILE [-c INFLIGHT] [-t TIMEOUT_MS] [-l LABEL] [-o OUT]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *server = NULL, *file = NULL, *label = "radload", *out = NULL;
	int inflight = 64, timeout_ms = 3000, opt, socks[MAX_SOCKS], n_socks, i;
	struct slot (*slots)[256] = NULL;
	struct pollfd pfd[MAX_SOCKS];
	struct addrinfo hints = { .ai_socktype = SOCK_DGRAM }, *ai = NULL;
	char host[256], *colon;
	size_t next = 0, done = 0, accept = 0, reject = 0, challenge = 0, lost = 0, bad = 0, active = 0, k;
	uint8_t pkt[PKT_MAX];
	double t0, t1, *lat;
	size_t n_lat = 0;

	while ((opt = getopt(argc, argv, "s:S:f:c:t:l:o:")) != -1) {
		switch (opt) {
		case 's': server = optarg; break;
		case 'S': secret = optarg; break;
		case 'f': file = optarg; break;
		case 'c': inflight = atoi(optarg); break;
		case 't': timeout_ms = atoi(optarg); break;
		case 'l': label = optarg; break;
		case 'o': out = optarg; break;
		default: usage();
		}
	}
	if (!server || !secret || !file || inflight < 1 || inflight > MAX_SOCKS * 256)
		usage();
	secret_len = strlen(secret);
	snprintf(host, sizeof(host), "%s", server);
	colon = strrchr(host, ':');
	if (!colon)
		usage();
	*colon = '\0';
	if (host[0] == '[') {
		memmove(host, host + 1, strlen(host));
		host[strlen(host) - 1] = '\0';
	}
	if (getaddrinfo(host, colon + 1, &hints, &ai) != 0) {
		fprintf(stderr, "radload: cannot resolve %s\n", server);
		return 2;
	}
	if (load(file) < 0 || n_reqs == 0) {
		fprintf(stderr, "radload: no requests in %s\n", file);
		return 2;
	}

	n_socks = (inflight + 255) / 256;
	slots = calloc(n_socks, sizeof(*slots));
	if (!slots)
		return 2;
	for (i = 0; i < n_socks; i++) {
		socks[i] = socket(ai->ai_family, SOCK_DGRAM | SOCK_NONBLOCK, 0);
		if (socks[i] < 0 || connect(socks[i], ai->ai_addr, ai->ai_addrlen) < 0) {
			perror("radload: socket");
			return 2;
		}
		pfd[i] = (struct pollfd) { .fd = socks[i], .events = POLLIN };
		for (k = 0; k < 256; k++)
			slots[i][k].req = -1;
	}

	t0 = now_s();
	while (done < n_reqs) {
		/* fill the window */
		for (i = 0; i < n_socks && next < n_reqs && (int) active < inflight; i++) {
			for (k = 0; k < 256 && next < n_reqs && (int) active < inflight; k++) {
				ssize_t len;

				if (slots[i][k].req >= 0)
					continue;
				len = build(&reqs[next], (uint8_t) k, pkt);
				if (len < 0) {
					fprintf(stderr, "radload: cannot build a request\n");
					return 2;
				}
				reqs[next].sent_at = now_s();
				if (send(socks[i], pkt, (size_t) len, 0) != len) {
					if (errno == EAGAIN)
						break;
					perror("radload: send");
					return 2;
				}
				slots[i][k].req = (int) next++;
				active++;
			}
		}
		if (poll(pfd, n_socks, 10) < 0 && errno != EINTR) {
			perror("radload: poll");
			return 2;
		}
		for (i = 0; i < n_socks; i++) {
			ssize_t n;

			while ((n = recv(socks[i], pkt, sizeof(pkt), 0)) > 0) {
				struct req *r;
				int idx = slots[i][pkt[1]].req;

				if (idx < 0)
					continue;	/* late answer of a request counted lost */
				r = &reqs[idx];
				if (!reply_ok(pkt, (size_t) n, r)) {
					bad++;
				} else {
					r->latency = now_s() - r->sent_at;
					r->code = pkt[0];
					if (pkt[0] == 2)
						accept++;
					else if (pkt[0] == 3)
						reject++;
					else if (pkt[0] == 11)
						challenge++;
				}
				slots[i][pkt[1]].req = -1;
				active--;
				done++;
			}
		}
		/* timeouts */
		t1 = now_s();
		for (i = 0; i < n_socks; i++) {
			for (k = 0; k < 256; k++) {
				int idx = slots[i][k].req;

				if (idx >= 0 && t1 - reqs[idx].sent_at > timeout_ms / 1000.0) {
					slots[i][k].req = -1;
					active--;
					done++;
					lost++;
				}
			}
		}
	}
	t1 = now_s();

	lat = calloc(n_reqs, sizeof(*lat));
	if (!lat)
		return 2;
	for (k = 0; k < n_reqs; k++)
		if (reqs[k].latency >= 0)
			lat[n_lat++] = reqs[k].latency * 1000;
	qsort(lat, n_lat, sizeof(*lat), cmp_double);
	{
		double secs = t1 - t0, p50 = n_lat ? lat[n_lat / 2] : 0,
		       p99 = n_lat ? lat[(size_t) ((n_lat - 1) * 0.99)] : 0;

		printf("%s: %zu requests, %d in flight: %.0f req/s, p50 %.2f ms, p99 %.2f ms "
		       "(accept %zu, reject %zu, challenge %zu, lost %zu, bad %zu)\n",
		       label, n_reqs, inflight, (accept + reject + challenge) / secs, p50, p99,
		       accept, reject, challenge, lost, bad);
		printf("radload: label=%s sent=%zu accept=%zu reject=%zu challenge=%zu lost=%zu bad=%zu "
		       "secs=%.3f rps=%.1f p50_ms=%.3f p99_ms=%.3f\n",
		       label, n_reqs, accept, reject, challenge, lost, bad, secs,
		       (accept + reject + challenge) / secs, p50, p99);
	}
	if (out) {
		FILE *o = fopen(out, "w");

		if (!o) {
			perror("radload: -o");
			return 2;
		}
		for (k = 0; k < n_reqs; k++)
			fprintf(o, "%s\t%s\t%d\n", reqs[k].user, reqs[k].password,
				reqs[k].latency >= 0 ? reqs[k].code : 0);
		if (fclose(o) != 0) {
			perror("radload: -o");
			return 2;
		}
	}
	freeaddrinfo(ai);
	return lost || bad ? 1 : 0;
}
