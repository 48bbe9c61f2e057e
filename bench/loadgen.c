/*
 * loadgen.c - coffeecloud-loadgen: an MQTT load generator that is not the
 * bottleneck, for `make bench` (docs/PERFORMANCE.md). Not part of the
 * product: it links OpenSSL and libc only.
 *
 * One epoll loop drives N machines, each its own TCP connection with its
 * own client certificate (the bundles coffeecloud-sim provisions:
 * <certs>/<PREFIX>-0001/{machine.crt,machine.key,ca.crt}), TLS 1.3, MQTT 5
 * (or 3.1.1 with --mqtt 3), QoS 1 PUBLISH of ~210-byte telemetry on
 * cc/v1/<serial>/telemetry, at most --window unacknowledged per machine.
 *
 * Modes: --count M: every machine sends M messages as fast as its window
 * allows; --rate R --duration S: paced, R messages a second per machine,
 * spread evenly over the fleet (machine k % N sends at start + k / (N R));
 * a message due while its machine's window is full goes out when an ack
 * frees a slot and is counted as late.
 *
 * All machines connect first (at most --handshakes at a time); the timed
 * phase starts when every machine has its CONNACK. Output: one JSON line on
 * stdout: sent, acked, refused, errors, seconds (first publish to last
 * ack), msgs_per_s, ack latency p50/p99/max in ms (publish written to the
 * socket -> PUBACK read), and the generator's own CPU time in the timed
 * phase (getrusage), so a run shows whether the generator was the limit.
 *
 * seq: machine-wide counters starting at --seq-start, by default the wall
 * clock in ms since 2020-01-01 (2.3e11 in 2026, under ingest's 10^12 - 1),
 * so successive runs against one data directory never reuse a seq as long
 * as a machine sends under 1,000 messages a second.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "common/err.h"

#define LG_WINDOW_MAX 256
#define LG_OUT_MAX (24 * 1024)
#define LG_IN_MAX 4096
#define LG_SERIAL_MAX 64
#define LG_TOPIC_MAX 96
#define LG_PAYLOAD_MAX 512
#define LG_PATH_MAX 1024
#define LG_KEEPALIVE_S 60
#define LG_SEQ_MAX INT64_C(999999999999)
#define LG_EPOCH_2020_MS INT64_C(1577836800000)

enum lg_state { M_IDLE, M_TCP, M_TLS, M_CONNACK, M_READY, M_DEAD };

struct inflight {
	uint16_t pid;
	int64_t t_ns;
};

struct machine {
	char serial[LG_SERIAL_MAX + 1];
	char topic[LG_TOPIC_MAX];
	size_t topic_len;
	int fd;
	SSL *ssl;
	enum lg_state st;
	uint32_t events;         /* epoll interest registered */
	int want_write;          /* SSL_write or SSL_read wants the socket writable */
	unsigned window;         /* min(--window, server's Receive Maximum) */
	struct inflight fl[LG_WINDOW_MAX];
	unsigned nfl;
	uint16_t next_pid;
	uint64_t sent, acked, refused, owed;
	int64_t seq;
	int64_t last_tx_ns;
	unsigned rotate;
	size_t out_len, in_len;
	unsigned char out[LG_OUT_MAX];
	unsigned char in[LG_IN_MAX];
};

struct options {
	const char *certs, *prefix, *host;
	int port;
	unsigned machines, window, handshakes, mqtt;
	uint64_t count;
	double rate, duration, timeout;
	int64_t seq_start;
	int server_pid;
};

struct run {
	struct options o;
	struct machine *m;
	SSL_CTX *ctx;
	int ep;
	struct sockaddr_in addr;
	unsigned next_connect, connecting, ready, dead;
	int running;
	int64_t t_start_ns, t_last_ack_ns, t_connect_ns;
	uint64_t sent, acked, refused, late, errors, k, k_total;
	uint32_t *lat_us;
	size_t lat_len, lat_cap;
	struct rusage ru_start;
	double server_cpu_start;
	long long server_writes_start;
	double server_loop_cpu_start;
};

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double ru_seconds(const struct rusage *r)
{
	return (double)r->ru_utime.tv_sec + (double)r->ru_utime.tv_usec / 1e6 +
	       (double)r->ru_stime.tv_sec + (double)r->ru_stime.tv_usec / 1e6;
}

/* utime + stime of a process in seconds (/proc/PID/stat), or -1. */
/* Write system calls of the server's main thread (its event loop), from
 * /proc/PID/task/PID/io: how many writes (TLS records, mostly) its acks took. */
static long long proc_loop_writes(int pid)
{
	char path[64], line[128];
	long long n = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/io", pid, pid);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "syscw: %lld", &n) == 1)
			break;
	fclose(f);
	return n;
}

static double stat_cpu_s(const char *path);

static double proc_cpu_s(int pid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	return stat_cpu_s(path);
}

/* CPU time of the server's main thread alone: its event loop (TLS, MQTT,
 * checks, acknowledgements), without the writer thread. */
static double proc_loop_cpu_s(int pid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", pid, pid);
	return stat_cpu_s(path);
}

static double stat_cpu_s(const char *path)
{
	char buf[1024], *p;
	unsigned long long ut, st;
	FILE *f;
	size_t n;
	int field;

	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	p = strrchr(buf, ')'); /* the command name may hold spaces */
	if (p == NULL)
		return -1;
	/* The space after ")" starts field 3 (state); utime is field 14, stime 15. */
	for (field = 3; field <= 14 && p != NULL; field++)
		p = strchr(p + 1, ' ');
	if (p == NULL || sscanf(p, " %llu %llu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* ---- options ---- */

static void usage(FILE *f)
{
	fputs("usage: coffeecloud-loadgen --certs DIR --machines N --port P\n"
	      "                           (--count M | --rate R --duration S) [options]\n"
	      "  --certs DIR        bundles DIR/<PREFIX>-0001/{machine.crt,machine.key,ca.crt}\n"
	      "  --prefix P         serial prefix [SIM]\n"
	      "  --host IPv4        server address, checked against its certificate [127.0.0.1]\n"
	      "  --machines N       connections, one certificate each\n"
	      "  --count M          messages per machine, as fast as acks allow\n"
	      "  --rate R           paced: messages a second per machine\n"
	      "  --duration S       paced: seconds\n"
	      "  --window W         unacknowledged messages per machine, 1..256 [20]\n"
	      "  --mqtt 5|3         MQTT 5 or 3.1.1 [5]\n"
	      "  --handshakes H     connections being set up at a time [64]\n"
	      "  --seq-start N      first seq [ms since 2020-01-01]\n"
	      "  --timeout S        give up after S seconds [300]\n"
	      "  --server-pid PID   also report that process's CPU time in the timed phase\n", f);
}

static int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (s == NULL || *s < '0' || *s > '9')
		return CC_ERR_INVALID;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != 0 || v > max)
		return CC_ERR_INVALID;
	*out = v;
	return CC_OK;
}

static int parse_double(const char *s, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != 0 || !(v > 0) || v > 1e9)
		return CC_ERR_INVALID;
	*out = v;
	return CC_OK;
}

static int options_parse(struct options *o, int argc, char **argv)
{
	static const struct option longs[] = {
		{"certs", 1, 0, 'c'}, {"prefix", 1, 0, 'P'}, {"host", 1, 0, 'H'}, {"port", 1, 0, 'p'},
		{"machines", 1, 0, 'n'}, {"count", 1, 0, 'm'}, {"rate", 1, 0, 'r'}, {"duration", 1, 0, 'd'},
		{"window", 1, 0, 'w'}, {"mqtt", 1, 0, 'v'}, {"handshakes", 1, 0, 'h'},
		{"seq-start", 1, 0, 's'}, {"timeout", 1, 0, 't'}, {"server-pid", 1, 0, 'S'}, {"help", 0, 0, '?'}, {0, 0, 0, 0}};
	uint64_t u;
	int c;

	o->prefix = "SIM";
	o->host = "127.0.0.1";
	o->window = 20;
	o->handshakes = 64;
	o->mqtt = 5;
	o->timeout = 300;
	o->seq_start = (wall_ms() - LG_EPOCH_2020_MS);
	while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
		int rc = CC_OK;

		switch (c) {
		case 'c': o->certs = optarg; break;
		case 'P': o->prefix = optarg; break;
		case 'H': o->host = optarg; break;
		case 'p': rc = parse_u64(optarg, 65535, &u); o->port = (int)u; break;
		case 'n': rc = parse_u64(optarg, 1000000, &u); o->machines = (unsigned)u; break;
		case 'm': rc = parse_u64(optarg, 1000000000, &o->count); break;
		case 'r': rc = parse_double(optarg, &o->rate); break;
		case 'd': rc = parse_double(optarg, &o->duration); break;
		case 'w': rc = parse_u64(optarg, LG_WINDOW_MAX, &u); o->window = (unsigned)u; break;
		case 'v': rc = parse_u64(optarg, 5, &u); o->mqtt = (unsigned)u; break;
		case 'h': rc = parse_u64(optarg, 100000, &u); o->handshakes = (unsigned)u; break;
		case 's': rc = parse_u64(optarg, LG_SEQ_MAX, &u); o->seq_start = (int64_t)u; break;
		case 't': rc = parse_double(optarg, &o->timeout); break;
		case 'S': rc = parse_u64(optarg, INT32_MAX, &u); o->server_pid = (int)u; break;
		default: usage(c == '?' ? stdout : stderr); return CC_ERR_INVALID;
		}
		if (rc != CC_OK) {
			fprintf(stderr, "coffeecloud-loadgen: bad value '%s'\n", optarg);
			usage(stderr);
			return CC_ERR_INVALID;
		}
	}
	if (o->certs == NULL || o->machines == 0 || o->port == 0 || o->window == 0 || o->handshakes == 0 ||
	    (o->mqtt != 5 && o->mqtt != 3) || (o->count > 0) == (o->rate > 0) || (o->rate > 0) != (o->duration > 0) ||
	    o->seq_start < 1) {
		usage(stderr);
		return CC_ERR_INVALID;
	}
	return CC_OK;
}

/* ---- MQTT encoding ---- */

static size_t put_varint(unsigned char *p, size_t v)
{
	size_t n = 0;

	do {
		unsigned char b = (unsigned char)(v % 128);

		v /= 128;
		p[n++] = (unsigned char)(v > 0 ? b | 0x80 : b);
	} while (v > 0);
	return n;
}

static size_t varint_len(size_t v)
{
	return v < 128 ? 1 : v < 16384 ? 2 : v < 2097152 ? 3 : 4;
}

static int queue_connect(struct run *r, struct machine *m)
{
	size_t id = strlen(m->serial), props = r->o.mqtt == 5 ? 1 : 0;
	size_t rem = 10 + props + 2 + id;
	unsigned char *p;

	if (m->out_len + 1 + varint_len(rem) + rem > sizeof(m->out))
		return CC_ERR_LIMIT;
	p = m->out + m->out_len;
	*p++ = 0x10;
	p += put_varint(p, rem);
	memcpy(p, "\0\4MQTT", 6);
	p += 6;
	*p++ = r->o.mqtt == 5 ? 5 : 4;
	*p++ = 0x02; /* clean start */
	*p++ = LG_KEEPALIVE_S >> 8;
	*p++ = LG_KEEPALIVE_S & 0xff;
	if (props)
		*p++ = 0;
	*p++ = (unsigned char)(id >> 8);
	*p++ = (unsigned char)id;
	memcpy(p, m->serial, id);
	p += id;
	m->out_len = (size_t)(p - m->out);
	return CC_OK;
}

/* ~210 bytes, valid for the barista-pro catalogue (src/sim/fleet.c). */
static size_t payload(struct machine *m, char *buf, size_t cap)
{
	unsigned v = (unsigned)(m->seq % 10);
	int n = snprintf(buf, cap,
	                 "{\"seq\":%" PRId64 ",\"ts\":%" PRId64 ",\"m\":{\"boiler_temp_c\":93.%u,\"brew_temp_c\":92.%u,"
	                 "\"pump_pressure_bar\":9.%u,\"flow_ml_s\":2.%u,\"grinder_current_a\":0.0,"
	                 "\"milk_fridge_temp_c\":4.%u,\"bean_hopper_pct\":6%u.5,\"cup_counter\":%" PRIu64 "}}",
	                 m->seq, wall_ms(), v, (v + 3) % 10, (v + 5) % 10, (v + 7) % 10, v, v,
	                 (uint64_t)(12000 + m->sent));

	return n < 0 || (size_t)n >= cap ? 0 : (size_t)n;
}

static int queue_publish(struct run *r, struct machine *m, int64_t now)
{
	char body[LG_PAYLOAD_MAX];
	size_t len, rem;
	unsigned char *p;

	if (m->seq > LG_SEQ_MAX)
		return CC_ERR_LIMIT;
	len = payload(m, body, sizeof(body));
	if (len == 0)
		return CC_ERR_LIMIT;
	rem = 2 + m->topic_len + 2 + (r->o.mqtt == 5 ? 1 : 0) + len;
	if (m->out_len + 1 + varint_len(rem) + rem > sizeof(m->out))
		return CC_ERR_LIMIT;
	if (++m->next_pid == 0)
		m->next_pid = 1;
	p = m->out + m->out_len;
	*p++ = 0x32;
	p += put_varint(p, rem);
	*p++ = (unsigned char)(m->topic_len >> 8);
	*p++ = (unsigned char)m->topic_len;
	memcpy(p, m->topic, m->topic_len);
	p += m->topic_len;
	*p++ = (unsigned char)(m->next_pid >> 8);
	*p++ = (unsigned char)m->next_pid;
	if (r->o.mqtt == 5)
		*p++ = 0;
	memcpy(p, body, len);
	p += len;
	m->out_len = (size_t)(p - m->out);
	m->fl[m->nfl].pid = m->next_pid;
	m->fl[m->nfl].t_ns = now;
	m->nfl++;
	m->seq++;
	m->sent++;
	r->sent++;
	return CC_OK;
}

/* ---- connection handling ---- */

static void machine_fail(struct run *r, struct machine *m, const char *what)
{
	if (m->st == M_DEAD)
		return;
	fprintf(stderr, "coffeecloud-loadgen: %s: %s\n", m->serial, what);
	if (m->st != M_READY && m->st != M_IDLE)
		r->connecting--;
	if (m->st == M_READY)
		r->ready--;
	m->st = M_DEAD;
	r->dead++;
	r->errors++;
	if (m->ssl != NULL) {
		SSL_free(m->ssl);
		m->ssl = NULL;
	}
	if (m->fd >= 0) {
		close(m->fd);
		m->fd = -1;
	}
}

static void interest(struct run *r, struct machine *m)
{
	uint32_t want = EPOLLIN | (m->out_len > 0 || m->want_write || m->st == M_TCP ? EPOLLOUT : 0);
	struct epoll_event ev = {.events = want, .data.ptr = m};

	if (m->st == M_DEAD || want == m->events)
		return;
	if (epoll_ctl(r->ep, EPOLL_CTL_MOD, m->fd, &ev) == 0)
		m->events = want;
}

static int flush(struct run *r, struct machine *m)
{
	m->want_write = 0;
	while (m->out_len > 0) {
		int n = SSL_write(m->ssl, m->out, (int)m->out_len);

		if (n <= 0) {
			int e = SSL_get_error(m->ssl, n);

			if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
				m->want_write = e == SSL_ERROR_WANT_WRITE;
				break;
			}
			machine_fail(r, m, "write failed");
			return CC_ERR_IO;
		}
		memmove(m->out, m->out + n, m->out_len - (size_t)n);
		m->out_len -= (size_t)n;
		m->last_tx_ns = mono_ns();
	}
	interest(r, m);
	return CC_OK;
}

static int start_connect(struct run *r, struct machine *m)
{
	struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = m};
	int one = 1;

	m->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (m->fd < 0)
		goto fail;
	setsockopt(m->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(m->fd, (struct sockaddr *)&r->addr, sizeof(r->addr)) != 0 && errno != EINPROGRESS)
		goto fail;
	if (epoll_ctl(r->ep, EPOLL_CTL_ADD, m->fd, &ev) != 0)
		goto fail;
	m->events = ev.events;
	m->st = M_TCP;
	r->connecting++;
	return CC_OK;
fail:
	m->st = M_TCP;
	r->connecting++;
	machine_fail(r, m, strerror(errno));
	return CC_ERR_IO;
}

static void handshake(struct run *r, struct machine *m)
{
	int rc = SSL_do_handshake(m->ssl), e;

	if (rc == 1) {
		m->st = M_CONNACK;
		if (queue_connect(r, m) != CC_OK) {
			machine_fail(r, m, "CONNECT does not fit");
			return;
		}
		flush(r, m);
		return;
	}
	e = SSL_get_error(m->ssl, rc);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		m->want_write = e == SSL_ERROR_WANT_WRITE;
		interest(r, m);
		return;
	}
	{
		char what[256];
		unsigned long err = ERR_get_error();

		ERR_error_string_n(err, what, sizeof(what));
		ERR_clear_error();
		machine_fail(r, m, err ? what : "TLS handshake failed");
	}
}

static void tcp_connected(struct run *r, struct machine *m)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(m->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
		machine_fail(r, m, strerror(err ? err : errno));
		return;
	}
	if (SSL_set_fd(m->ssl, m->fd) != 1) {
		machine_fail(r, m, "SSL_set_fd");
		return;
	}
	SSL_set_connect_state(m->ssl);
	m->st = M_TLS;
	handshake(r, m);
}

/* Skips MQTT 5 properties we do not use; reads Receive Maximum (0x21). */
static int connack_props(const unsigned char *p, size_t n, unsigned *recv_max)
{
	size_t i = 0;

	while (i < n) {
		unsigned char id = p[i++];
		size_t need;

		switch (id) {
		case 0x01: case 0x17: case 0x19: case 0x24: case 0x25: case 0x28: case 0x29: case 0x2A:
			need = 1; break;
		case 0x13: case 0x21: case 0x22: case 0x23:
			need = 2; break;
		case 0x02: case 0x11: case 0x18: case 0x27:
			need = 4; break;
		case 0x03: case 0x08: case 0x09: case 0x12: case 0x15: case 0x16: case 0x1A: case 0x1C: case 0x1F:
			if (i + 2 > n)
				return CC_ERR_INVALID;
			need = 2 + ((size_t)p[i] << 8 | p[i + 1]);
			break;
		case 0x26:
			if (i + 2 > n)
				return CC_ERR_INVALID;
			need = 2 + ((size_t)p[i] << 8 | p[i + 1]);
			if (i + need + 2 > n)
				return CC_ERR_INVALID;
			need += 2 + ((size_t)p[i + need] << 8 | p[i + need + 1]);
			break;
		default:
			return CC_ERR_INVALID;
		}
		if (i + need > n)
			return CC_ERR_INVALID;
		if (id == 0x21)
			*recv_max = (unsigned)p[i] << 8 | p[i + 1];
		i += need;
	}
	return CC_OK;
}

static void on_connack(struct run *r, struct machine *m, const unsigned char *p, size_t len)
{
	unsigned recv_max = 65535;
	unsigned char reason = len >= 2 ? p[1] : 0xff;

	if (m->st != M_CONNACK || len < 2 || reason != 0) {
		char what[64];

		snprintf(what, sizeof(what), "connection refused (0x%02x)", reason);
		machine_fail(r, m, what);
		return;
	}
	if (r->o.mqtt == 5) {
		size_t plen = 0, shift = 0, i = 2;

		while (i < len && shift < 28) {
			plen |= (size_t)(p[i] & 0x7f) << shift;
			shift += 7;
			if ((p[i++] & 0x80) == 0)
				break;
		}
		if (i + plen > len || connack_props(p + i, plen, &recv_max) != CC_OK) {
			machine_fail(r, m, "malformed CONNACK");
			return;
		}
	}
	m->window = r->o.window < recv_max ? r->o.window : recv_max;
	m->st = M_READY;
	r->connecting--;
	r->ready++;
}

static void record_latency(struct run *r, int64_t ns)
{
	if (r->lat_len == r->lat_cap) {
		size_t cap = r->lat_cap ? r->lat_cap * 2 : 65536;
		uint32_t *p = realloc(r->lat_us, cap * sizeof(*p));

		if (p == NULL)
			return;
		r->lat_us = p;
		r->lat_cap = cap;
	}
	r->lat_us[r->lat_len++] = ns < 0 ? 0 : ns / 1000 > UINT32_MAX ? UINT32_MAX : (uint32_t)(ns / 1000);
}

static void on_puback(struct run *r, struct machine *m, const unsigned char *p, size_t len, int64_t now)
{
	uint16_t pid;
	unsigned i;

	if (len < 2) {
		machine_fail(r, m, "malformed PUBACK");
		return;
	}
	pid = (uint16_t)(p[0] << 8 | p[1]);
	for (i = 0; i < m->nfl; i++)
		if (m->fl[i].pid == pid)
			break;
	if (i == m->nfl) {
		machine_fail(r, m, "PUBACK for no message in flight");
		return;
	}
	record_latency(r, now - m->fl[i].t_ns);
	/* Order kept: acks normally come in order, so the search stays short. */
	memmove(&m->fl[i], &m->fl[i + 1], (m->nfl - i - 1) * sizeof(m->fl[0]));
	m->nfl--;
	if (len >= 3 && p[2] >= 0x80) {
		m->refused++;
		r->refused++;
	} else {
		m->acked++;
		r->acked++;
	}
	r->t_last_ack_ns = now;
}

/* Fills the window: --count mode up to the quota, paced mode what is owed. */
static void refill(struct run *r, struct machine *m, int64_t now)
{
	if (!r->running || m->st != M_READY)
		return;
	while (m->nfl < m->window) {
		if (r->o.count > 0) {
			if (m->sent >= r->o.count)
				break;
		} else if (m->owed == 0) {
			break;
		} else {
			m->owed--;
		}
		if (queue_publish(r, m, now) != CC_OK)
			break;
	}
}

static void parse_input(struct run *r, struct machine *m, int64_t now)
{
	size_t off = 0;

	while (m->st != M_DEAD && m->in_len - off >= 2) {
		const unsigned char *p = m->in + off;
		size_t rem = 0, shift = 0, i = 1;

		while (i < m->in_len - off && i <= 4) {
			rem |= (size_t)(p[i] & 0x7f) << shift;
			shift += 7;
			if ((p[i++] & 0x80) == 0)
				goto have_len;
		}
		if (i > 4) {
			machine_fail(r, m, "malformed packet length");
			return;
		}
		break; /* length incomplete */
have_len:
		if (rem + i > sizeof(m->in)) {
			machine_fail(r, m, "packet larger than the input buffer");
			return;
		}
		if (m->in_len - off < i + rem)
			break;
		switch (p[0] >> 4) {
		case 2: on_connack(r, m, p + i, rem); break;
		case 4: on_puback(r, m, p + i, rem, now); break;
		case 13: break; /* PINGRESP */
		case 14: machine_fail(r, m, "server sent DISCONNECT"); return;
		default: machine_fail(r, m, "unexpected packet from the server"); return;
		}
		off += i + rem;
	}
	if (m->st == M_DEAD)
		return;
	memmove(m->in, m->in + off, m->in_len - off);
	m->in_len -= off;
}

static void readable(struct run *r, struct machine *m, int64_t now)
{
	for (;;) {
		int n = SSL_read(m->ssl, m->in + m->in_len, (int)(sizeof(m->in) - m->in_len)), e;

		if (n > 0) {
			m->in_len += (size_t)n;
			parse_input(r, m, now);
			if (m->st == M_DEAD)
				return;
			continue;
		}
		e = SSL_get_error(m->ssl, n);
		if (e == SSL_ERROR_WANT_READ)
			return;
		if (e == SSL_ERROR_WANT_WRITE) {
			m->want_write = 1;
			return;
		}
		machine_fail(r, m, e == SSL_ERROR_ZERO_RETURN || e == SSL_ERROR_SYSCALL ? "server closed the connection"
		                                                                        : "read failed");
		return;
	}
}

static void on_event(struct run *r, struct machine *m, uint32_t ev, int64_t now)
{
	if (m->st == M_TCP) {
		if (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP))
			tcp_connected(r, m);
		return;
	}
	if (m->st == M_TLS) {
		handshake(r, m);
		return;
	}
	if (ev & (EPOLLIN | EPOLLERR | EPOLLHUP))
		readable(r, m, now);
	if (m->st == M_DEAD)
		return;
	refill(r, m, now);
	flush(r, m);
}

/* ---- the run ---- */

static int load_machine(struct run *r, struct machine *m, unsigned i)
{
	char path[LG_PATH_MAX];
	FILE *f = NULL;
	X509 *crt = NULL;
	EVP_PKEY *key = NULL;
	int n, rc = CC_ERR_INVALID;

	n = snprintf(m->serial, sizeof(m->serial), "%s-%04u", r->o.prefix, i + 1);
	if (n < 0 || (size_t)n >= sizeof(m->serial))
		return CC_ERR_LIMIT;
	n = snprintf(m->topic, sizeof(m->topic), "cc/v1/%s/telemetry", m->serial);
	if (n < 0 || (size_t)n >= sizeof(m->topic))
		return CC_ERR_LIMIT;
	m->topic_len = (size_t)n;
	m->fd = -1;
	m->seq = r->o.seq_start;
	n = snprintf(path, sizeof(path), "%s/%s/machine.crt", r->o.certs, m->serial);
	if (n < 0 || (size_t)n >= sizeof(path) || (f = fopen(path, "r")) == NULL)
		goto out;
	crt = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	n = snprintf(path, sizeof(path), "%s/%s/machine.key", r->o.certs, m->serial);
	if (crt == NULL || n < 0 || (size_t)n >= sizeof(path) || (f = fopen(path, "r")) == NULL)
		goto out;
	key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (key == NULL)
		goto out;
	m->ssl = SSL_new(r->ctx);
	if (m->ssl == NULL || SSL_use_certificate(m->ssl, crt) != 1 || SSL_use_PrivateKey(m->ssl, key) != 1)
		goto out;
	SSL_set_mode(m->ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	rc = CC_OK;
out:
	if (rc != CC_OK)
		fprintf(stderr, "coffeecloud-loadgen: %s: cannot load its bundle from %s\n", m->serial, r->o.certs);
	X509_free(crt);
	EVP_PKEY_free(key);
	return rc;
}

static int setup(struct run *r)
{
	char ca[LG_PATH_MAX];
	X509_VERIFY_PARAM *param;
	unsigned i;
	int n;

	if (inet_pton(AF_INET, r->o.host, &r->addr.sin_addr) != 1) {
		fprintf(stderr, "coffeecloud-loadgen: --host takes an IPv4 address\n");
		return CC_ERR_INVALID;
	}
	r->addr.sin_family = AF_INET;
	r->addr.sin_port = htons((uint16_t)r->o.port);
	r->ctx = SSL_CTX_new(TLS_client_method());
	if (r->ctx == NULL || SSL_CTX_set_min_proto_version(r->ctx, TLS1_3_VERSION) != 1)
		return CC_ERR_CRYPTO;
	n = snprintf(ca, sizeof(ca), "%s/%s-0001/ca.crt", r->o.certs, r->o.prefix);
	if (n < 0 || (size_t)n >= sizeof(ca) || SSL_CTX_load_verify_locations(r->ctx, ca, NULL) != 1) {
		fprintf(stderr, "coffeecloud-loadgen: cannot load the CA from the first bundle\n");
		return CC_ERR_INVALID;
	}
	SSL_CTX_set_verify(r->ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_session_cache_mode(r->ctx, SSL_SESS_CACHE_OFF);
	param = SSL_CTX_get0_param(r->ctx);
	if (X509_VERIFY_PARAM_set1_ip_asc(param, r->o.host) != 1)
		return CC_ERR_CRYPTO;
	r->m = calloc(r->o.machines, sizeof(*r->m));
	if (r->m == NULL)
		return CC_ERR_NOMEM;
	for (i = 0; i < r->o.machines; i++)
		if (load_machine(r, &r->m[i], i) != CC_OK)
			return CC_ERR_INVALID;
	r->ep = epoll_create1(EPOLL_CLOEXEC);
	return r->ep < 0 ? CC_ERR_IO : CC_OK;
}

static void start_running(struct run *r, int64_t now)
{
	unsigned i;

	r->running = 1;
	r->t_start_ns = now;
	r->t_last_ack_ns = now;
	getrusage(RUSAGE_SELF, &r->ru_start);
	if (r->o.server_pid > 0) {
		r->server_cpu_start = proc_cpu_s(r->o.server_pid);
		r->server_writes_start = proc_loop_writes(r->o.server_pid);
		r->server_loop_cpu_start = proc_loop_cpu_s(r->o.server_pid);
	}
	if (r->o.rate > 0) {
		double total = r->o.rate * r->o.duration * r->o.machines;

		r->k_total = total < 1 ? 1 : (uint64_t)total;
		return;
	}
	for (i = 0; i < r->o.machines; i++) {
		refill(r, &r->m[i], now);
		if (r->m[i].st == M_READY)
			flush(r, &r->m[i]);
	}
}

/* Paced mode: every message due by now goes out (or is owed). Returns the
 * ms until the next one is due. */
static int pace(struct run *r, int64_t now)
{
	unsigned n = r->o.machines;
	double interval = 1e9 / (r->o.rate * n);

	while (r->k < r->k_total && r->t_start_ns + (int64_t)((double)r->k * interval) <= now) {
		struct machine *m = &r->m[r->k % n];

		r->k++;
		if (m->st != M_READY)
			continue;
		m->owed++;
		if (m->nfl >= m->window) {
			r->late++;
			continue;
		}
		refill(r, m, now);
		flush(r, m);
	}
	if (r->k >= r->k_total)
		return 100;
	{
		int64_t due = r->t_start_ns + (int64_t)((double)r->k * interval) - now;

		return due <= 0 ? 0 : (int)((due + 999999) / 1000000);
	}
}

static int finished(struct run *r, int64_t now)
{
	unsigned i;

	if (!r->running)
		return 0;
	if (r->o.rate > 0 && r->k < r->k_total)
		return 0;
	for (i = 0; i < r->o.machines; i++) {
		struct machine *m = &r->m[i];

		if (m->st != M_READY)
			continue;
		if (m->nfl > 0 || m->owed > 0 || (r->o.count > 0 && m->sent < r->o.count))
			return 0;
	}
	(void)now;
	return 1;
}

static void keepalive(struct run *r, int64_t now)
{
	unsigned i;

	for (i = 0; i < r->o.machines; i++) {
		struct machine *m = &r->m[i];

		if (m->st == M_READY && now - m->last_tx_ns > (int64_t)LG_KEEPALIVE_S * 500000000 &&
		    m->out_len + 2 <= sizeof(m->out)) {
			m->out[m->out_len++] = 0xc0;
			m->out[m->out_len++] = 0;
			flush(r, m);
		}
	}
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static double pct_ms(const struct run *r, double q)
{
	size_t i;

	if (r->lat_len == 0)
		return 0;
	i = (size_t)(q * (double)(r->lat_len - 1) + 0.5);
	return r->lat_us[i] / 1000.0;
}

static void report(struct run *r, int64_t end_ns, const struct rusage *ru_end)
{
	double secs = (double)((r->acked + r->refused > 0 ? r->t_last_ack_ns : end_ns) - r->t_start_ns) / 1e9;
	double cpu = ru_seconds(ru_end) - ru_seconds(&r->ru_start);
	double server = r->o.server_pid > 0 ? proc_cpu_s(r->o.server_pid) - r->server_cpu_start : 0;
	long long writes = r->o.server_pid > 0 && r->server_writes_start >= 0
	                       ? proc_loop_writes(r->o.server_pid) - r->server_writes_start : 0;
	double loop = r->o.server_pid > 0 ? proc_loop_cpu_s(r->o.server_pid) - r->server_loop_cpu_start : 0;
	uint64_t done = r->acked + r->refused;
	char sample[LG_PAYLOAD_MAX];
	struct machine probe;

	memset(&probe, 0, sizeof(probe));
	probe.seq = r->o.seq_start;
	qsort(r->lat_us, r->lat_len, sizeof(r->lat_us[0]), cmp_u32);
	if (secs <= 0)
		secs = 1e-9;
	printf("{\"machines\":%u,\"connected\":%u,\"mqtt\":%u,\"window\":%u,\"mode\":\"%s\",\"rate\":%.3f,"
	       "\"payload_bytes\":%zu,\"connect_s\":%.3f,\"sent\":%" PRIu64 ",\"acked\":%" PRIu64
	       ",\"refused\":%" PRIu64 ",\"late\":%" PRIu64 ",\"errors\":%" PRIu64 ",\"seconds\":%.3f,"
	       "\"msgs_per_s\":%.1f,\"ack_p50_ms\":%.3f,\"ack_p99_ms\":%.3f,\"ack_max_ms\":%.3f,"
	       "\"cpu_s\":%.3f,\"cpu_share\":%.3f,\"cpu_us_per_msg\":%.2f,\"server_cpu_s\":%.3f,"
	       "\"server_cpu_share\":%.3f,\"server_cpu_us_per_msg\":%.2f,\"server_loop_writes_per_msg\":%.3f,\"server_loop_cpu_us_per_msg\":%.2f}\n",
	       r->o.machines, r->ready + (unsigned)0, r->o.mqtt, r->o.window, r->o.rate > 0 ? "paced" : "count",
	       r->o.rate, payload(&probe, sample, sizeof(sample)), (double)r->t_connect_ns / 1e9, r->sent, r->acked,
	       r->refused, r->late, r->errors, secs, (double)done / secs, pct_ms(r, 0.5), pct_ms(r, 0.99),
	       pct_ms(r, 1.0), cpu, cpu / secs, done ? cpu * 1e6 / (double)done : 0.0, server, server / secs,
	       done ? server * 1e6 / (double)done : 0.0, done ? (double)writes / (double)done : 0.0,
	       done ? loop * 1e6 / (double)done : 0.0);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	struct run r;
	struct epoll_event evs[256];
	struct rusage ru_end;
	int64_t t0, deadline, last_ka;
	unsigned i;
	int rc = 1;

	memset(&r, 0, sizeof(r));
	r.ep = -1;
	if (options_parse(&r.o, argc, argv) != CC_OK)
		return 2;
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	if (setup(&r) != CC_OK)
		goto out;
	t0 = mono_ns();
	last_ka = t0;
	deadline = t0 + (int64_t)(r.o.timeout * 1e9);
	while (!interrupted) {
		int64_t now = mono_ns();
		int timeout = 100, n;

		while (!r.running && r.next_connect < r.o.machines && r.connecting < r.o.handshakes)
			start_connect(&r, &r.m[r.next_connect++]);
		if (!r.running && r.next_connect == r.o.machines && r.connecting == 0) {
			if (r.ready == 0) {
				fprintf(stderr, "coffeecloud-loadgen: no machine connected\n");
				goto out;
			}
			r.t_connect_ns = now - t0;
			start_running(&r, now);
		}
		if (r.running && r.o.rate > 0)
			timeout = pace(&r, now);
		if (finished(&r, now) || now > deadline)
			break;
		n = epoll_wait(r.ep, evs, 256, timeout);
		if (n < 0 && errno != EINTR)
			goto out;
		now = mono_ns();
		for (i = 0; i < (unsigned)(n > 0 ? n : 0); i++)
			on_event(&r, evs[i].data.ptr, evs[i].events, now);
		if (now - last_ka > 1000000000) {
			keepalive(&r, now);
			last_ka = now;
		}
	}
	getrusage(RUSAGE_SELF, &ru_end);
	if (!r.running) {
		fprintf(stderr, "coffeecloud-loadgen: interrupted before the run started\n");
		goto out;
	}
	if (mono_ns() > deadline)
		fprintf(stderr, "coffeecloud-loadgen: timed out after %.0f s\n", r.o.timeout);
	report(&r, mono_ns(), &ru_end);
	rc = r.errors == 0 && r.refused == 0 && r.acked == r.sent ? 0 : 1;
out:
	if (r.m != NULL) {
		for (i = 0; i < r.o.machines; i++) {
			SSL_free(r.m[i].ssl);
			if (r.m[i].fd >= 0)
				close(r.m[i].fd);
		}
		free(r.m);
	}
	free(r.lat_us);
	SSL_CTX_free(r.ctx);
	if (r.ep >= 0)
		close(r.ep);
	return rc;
}
