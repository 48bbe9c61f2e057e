/*
 * dlclient.c - coffeecloud-bench-dlclient: HTTPS downloads that are not the
 * bottleneck, for bench/download.py (`make bench`). Not part of the product:
 * it links OpenSSL and libc only.
 *
 * One epoll loop keeps --connections downloads going at once, each its own
 * TLS 1.3 connection (a new one per download, "Connection: close"), with a
 * client certificate: the same for all (--cert/--key), or machine k's own
 * (--certs DIR: DIR/PREFIX-%04d/machine.{crt,key}, k = 1..--machines, in
 * turn). A body is read and discarded (64 KiB reads, read-ahead on, so the
 * client's cost per byte is the decryption and little else); its length
 * is checked against Content-Length, or --expect when the server sends
 * none (openssl s_server -WWW). A 503 is counted and asked again after
 * --retry-ms. Runs --downloads downloads in all, or until --seconds or
 * SIGTERM (then the downloads under way are cut: their bytes count).
 *
 * Output: one JSON line: downloads, bytes, seconds, MB/s, statuses, errors,
 * the client's own CPU seconds (getrusage) and the cipher.
 */
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#define DL_BUF (64 * 1024)
#define DL_HEAD_MAX 4096

enum { ST_CONNECT, ST_HANDSHAKE, ST_SEND, ST_HEAD, ST_BODY, ST_PAUSE };

struct conn {
	int fd, state;
	SSL *ssl;
	int machine;          /* 1-based, with --certs */
	char head[DL_HEAD_MAX];
	size_t head_len, sent;
	long long want, got;  /* body bytes: expected (-1: until the end), read */
	int status;
	double resume_at;     /* ST_PAUSE: after a 503 */
};

static struct {
	const char *host, *path, *ca, *cert, *key, *certs, *prefix;
	int port, connections, machines, retry_ms;
	long long downloads, expect;
	double seconds;
} opt = { .host = "127.0.0.1", .prefix = "SIM", .connections = 1, .machines = 1, .retry_ms = 1000,
	  .downloads = 1, .expect = -1 };

static SSL_CTX **ctxs; /* one per machine with --certs, else one */
static long long started, done_ok, bytes, errors, statuses[600];
static int next_machine, ep;
static double t_start;
static const char *cipher = "";
static volatile sig_atomic_t stop_now; /* SIGTERM: a hard stop, as at --seconds */

static void on_term(int sig)
{
	(void)sig;
	stop_now = 1;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static SSL_CTX *make_ctx(const char *cert, const char *key)
{
	SSL_CTX *c = SSL_CTX_new(TLS_client_method());

	if (c == NULL || SSL_CTX_load_verify_locations(c, opt.ca, NULL) != 1 ||
	    SSL_CTX_use_certificate_chain_file(c, cert) != 1 || SSL_CTX_use_PrivateKey_file(c, key, SSL_FILETYPE_PEM) != 1) {
		fprintf(stderr, "dlclient: %s / %s: ", cert, key);
		ERR_print_errors_fp(stderr);
		exit(2);
	}
	SSL_CTX_set_min_proto_version(c, TLS1_3_VERSION);
	SSL_CTX_set_verify(c, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_read_ahead(c, 1);
	SSL_CTX_set_default_read_buffer_len(c, DL_BUF);
	return c;
}

static int more_to_start(void)
{
	if (stop_now)
		return 0;
	if (opt.seconds > 0)
		return now_s() - t_start < opt.seconds;
	return started < opt.downloads;
}

static void conn_start(struct conn *c)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)opt.port) };
	struct epoll_event ev = { .events = EPOLLOUT | EPOLLIN, .data.ptr = c };
	int one = 1;

	inet_pton(AF_INET, opt.host, &a.sin_addr);
	c->machine = next_machine % opt.machines + 1;
	next_machine++;
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(c->fd, (struct sockaddr *)&a, sizeof(a)) != 0 && errno != EINPROGRESS) {
		perror("dlclient: connect");
		exit(2);
	}
	c->ssl = SSL_new(ctxs[opt.certs != NULL ? c->machine - 1 : 0]);
	SSL_set_fd(c->ssl, c->fd);
	SSL_set_tlsext_host_name(c->ssl, "localhost");
	SSL_set1_host(c->ssl, "localhost");
	c->state = ST_HANDSHAKE;
	c->head_len = c->sent = 0;
	c->want = -1;
	c->got = 0;
	c->status = 0;
	started++;
	epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
}

/* Ends c's download; starts the next one in its place if any is left. */
static void conn_end(struct conn *c, int ok)
{
	int status = c->status;

	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	SSL_free(c->ssl);
	close(c->fd);
	c->ssl = NULL;
	c->fd = -1;
	if (status > 0 && status < 600)
		statuses[status]++;
	if (ok && (status == 200 || status == 206)) {
		if (opt.expect >= 0 && c->got != opt.expect)
			errors++;
		else
			done_ok++;
	} else if (status == 503) {
		started--; /* asked again: not a download */
		c->state = ST_PAUSE;
		c->resume_at = now_s() + opt.retry_ms / 1000.0;
		return;
	} else {
		errors++;
	}
	if (more_to_start())
		conn_start(c);
	else
		c->state = -1;
}

static int parse_head(struct conn *c, size_t *body_start)
{
	char *end;
	const char *cl;

	c->head[c->head_len] = '\0';
	end = strstr(c->head, "\r\n\r\n");
	if (end == NULL)
		return c->head_len >= DL_HEAD_MAX - 1 ? -1 : 0;
	*body_start = (size_t)(end + 4 - c->head);
	if (sscanf(c->head, "HTTP/1.%*d %d", &c->status) != 1)
		return -1;
	for (cl = c->head; (cl = strchr(cl, '\n')) != NULL && cl < end;) {
		cl++;
		if (strncasecmp(cl, "Content-Length:", 15) == 0)
			c->want = atoll(cl + 15);
	}
	return 1;
}

static void step(struct conn *c)
{
	static char buf[DL_BUF];
	char req[1024];
	int n, len;
	size_t start;

	for (;;) {
		switch (c->state) {
		case ST_HANDSHAKE:
			n = SSL_connect(c->ssl);
			if (n != 1)
				goto would_block;
			cipher = SSL_get_cipher_name(c->ssl);
			c->state = ST_SEND;
			break;
		case ST_SEND:
			len = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
			               opt.path);
			n = SSL_write(c->ssl, req, len);
			if (n <= 0)
				goto would_block;
			c->state = ST_HEAD;
			{
				struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
				epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
			}
			break;
		case ST_HEAD:
			n = SSL_read(c->ssl, c->head + c->head_len, (int)(DL_HEAD_MAX - 1 - c->head_len));
			if (n <= 0)
				goto would_block;
			c->head_len += (size_t)n;
			switch (parse_head(c, &start)) {
			case -1:
				conn_end(c, 0);
				return;
			case 0:
				break;
			default:
				c->got = (long long)(c->head_len - start);
				bytes += c->got;
				c->state = ST_BODY;
				if (c->want >= 0 && c->got >= c->want) {
					conn_end(c, c->got == c->want);
					return;
				}
			}
			break;
		case ST_BODY:
			n = SSL_read(c->ssl, buf, sizeof(buf));
			if (n <= 0)
				goto would_block;
			c->got += n;
			bytes += n;
			if (c->want >= 0 && c->got >= c->want) {
				conn_end(c, c->got == c->want);
				return;
			}
			break;
		default:
			return;
		}
	}
would_block:
	switch (SSL_get_error(c->ssl, n)) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		return;
	case SSL_ERROR_ZERO_RETURN:
	case SSL_ERROR_SYSCALL:
		/* The end of a body without a length (s_server -WWW). */
		if (c->state == ST_BODY && c->want < 0) {
			conn_end(c, 1);
			return;
		}
		/* fall through */
	default:
		if (getenv("DLCLIENT_DEBUG") != NULL) {
			fprintf(stderr, "dlclient: state %d, machine %d: ", c->state, c->machine);
			ERR_print_errors_fp(stderr);
		}
		ERR_clear_error();
		conn_end(c, 0);
	}
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "host", 1, 0, 'H' }, { "port", 1, 0, 'p' }, { "path", 1, 0, 'u' }, { "ca", 1, 0, 'a' },
		{ "cert", 1, 0, 'c' }, { "key", 1, 0, 'k' }, { "certs", 1, 0, 'C' }, { "prefix", 1, 0, 'P' },
		{ "machines", 1, 0, 'm' }, { "connections", 1, 0, 'n' }, { "downloads", 1, 0, 'd' },
		{ "seconds", 1, 0, 's' }, { "expect", 1, 0, 'e' }, { "retry-ms", 1, 0, 'r' }, { 0, 0, 0, 0 },
	};
	struct epoll_event evs[256];
	struct conn *conns;
	struct rusage ru;
	double t_end, cpu;
	char statbuf[512];
	size_t sl = 0;
	long long cut = 0;
	int o, i;

	while ((o = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (o) {
		case 'H': opt.host = optarg; break;
		case 'p': opt.port = atoi(optarg); break;
		case 'u': opt.path = optarg; break;
		case 'a': opt.ca = optarg; break;
		case 'c': opt.cert = optarg; break;
		case 'k': opt.key = optarg; break;
		case 'C': opt.certs = optarg; break;
		case 'P': opt.prefix = optarg; break;
		case 'm': opt.machines = atoi(optarg); break;
		case 'n': opt.connections = atoi(optarg); break;
		case 'd': opt.downloads = atoll(optarg); break;
		case 's': opt.seconds = atof(optarg); break;
		case 'e': opt.expect = atoll(optarg); break;
		case 'r': opt.retry_ms = atoi(optarg); break;
		default: return 2;
		}
	}
	if (opt.port <= 0 || opt.path == NULL || opt.ca == NULL || opt.connections < 1 || opt.machines < 1 ||
	    (opt.certs == NULL && (opt.cert == NULL || opt.key == NULL))) {
		fprintf(stderr, "usage: coffeecloud-bench-dlclient --port P --path /x --ca CA (--cert C --key K | --certs DIR "
		                "[--prefix SIM] --machines N) [--connections N] [--downloads N | --seconds S] "
		                "[--expect BYTES] [--retry-ms MS]\n");
		return 2;
	}
	if (opt.certs == NULL)
		opt.machines = 1;
	ctxs = calloc((size_t)opt.machines, sizeof(*ctxs));
	for (i = 0; i < (opt.certs != NULL ? opt.machines : 1); i++) {
		char c[1024], k[1024];
		if (opt.certs != NULL) {
			snprintf(c, sizeof(c), "%s/%s-%04d/machine.crt", opt.certs, opt.prefix, i + 1);
			snprintf(k, sizeof(k), "%s/%s-%04d/machine.key", opt.certs, opt.prefix, i + 1);
			ctxs[i] = make_ctx(c, k);
		} else {
			ctxs[i] = make_ctx(opt.cert, opt.key);
		}
	}
	signal(SIGTERM, on_term);
	signal(SIGPIPE, SIG_IGN);
	ep = epoll_create1(EPOLL_CLOEXEC);
	conns = calloc((size_t)opt.connections, sizeof(*conns));
	t_start = now_s();
	for (i = 0; i < opt.connections; i++) {
		conns[i].fd = -1;
		conns[i].state = -1;
		if (more_to_start())
			conn_start(&conns[i]);
	}
	for (;;) {
		int live = 0, n;
		double t = now_s();

		for (i = 0; i < opt.connections; i++) {
			if (conns[i].state == ST_PAUSE && t >= conns[i].resume_at) {
				if (more_to_start())
					conn_start(&conns[i]);
				else
					conns[i].state = -1;
			}
			live += conns[i].state != -1;
		}
		if (live == 0)
			break;
		/* --seconds is a hard stop: downloads under way end there (their
		 * bytes count, they do not). */
		if (stop_now || (opt.seconds > 0 && t - t_start >= opt.seconds)) {
			for (i = 0; i < opt.connections; i++)
				if (conns[i].state != -1 && conns[i].state != ST_PAUSE) {
					epoll_ctl(ep, EPOLL_CTL_DEL, conns[i].fd, NULL);
					SSL_free(conns[i].ssl);
					close(conns[i].fd);
					cut++;
				}
			break;
		}
		n = epoll_wait(ep, evs, 256, 50);
		for (i = 0; i < n; i++)
			step(evs[i].data.ptr);
	}
	t_end = now_s();
	getrusage(RUSAGE_SELF, &ru);
	cpu = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
	for (i = 0; i < 600; i++)
		if (statuses[i] > 0)
			sl += (size_t)snprintf(statbuf + sl, sizeof(statbuf) - sl, "%s\"%d\": %lld", sl ? ", " : "", i,
			                       statuses[i]);
	statbuf[sl] = '\0';
	printf("{\"downloads\": %lld, \"bytes\": %lld, \"seconds\": %.4f, \"mb_per_s\": %.1f, \"statuses\": {%s}, "
	       "\"errors\": %lld, \"cut\": %lld, \"client_cpu_s\": %.3f, \"cipher\": \"%s\"}\n",
	       done_ok, bytes, t_end - t_start, bytes / (t_end - t_start) / 1e6, statbuf, errors, cut, cpu, cipher);
	return errors > 0 ? 1 : 0;
}
