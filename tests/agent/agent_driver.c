/*
 * agent_driver.c - a simulated machine built on libcoffeecloud-agent, for
 * tests/integration/test_agent.py. Its "device" is a directory: storage
 * records in DIR/store/, two firmware slots DIR/slot-a|b (+ .version), and
 * the bootloader's state DIR/boot ("active trial": trial is the slot to
 * boot once, or -). Each run of the program is one boot.
 *
 *   cc-agent-test update|start|mqtt|enrol|enrol-finish --dir D --serial S --model M --factory V
 *       --url https://host:port --ca F [--cert F --key F]
 *       [--release-key F]... [--revoked-key F]... [--server-key F]...
 *       [--clock-offset S] [--die-after-bytes N] [--hang-in-install]
 *       [--no-boot] [--unhealthy] [--mqtt host:port] [--queue-max N]
 *       [--publish N] [--event STATE] [--run-ms N]
 *       [--csr-out F] [--cert-in F] [--renew] [--die-in-put KEY] [--mqtt-311]
 *       [--external]
 *
 * enrol writes the request for a key made on the device to --csr-out;
 * enrol-finish installs the certificate of --cert-in. --renew asks for a
 * renewal (mqtt: runs until the new certificate is in use); --die-in-put
 * KEY tears the storage write of KEY half-way and ends the process (a
 * power cut while the record is written). --external drives the agent as a
 * caller of many agents would: MQTT by the external loop (cc_agent_socket,
 * cc_agent_loop_*) and start/update by the agent's worker, polled.
 *
 * Prints one JSON line with what happened. Test hooks: --die-after-bytes
 * ends the process (a power cut) once N bytes of the slot are written;
 * --hang-in-install prints "installing" and waits to be killed; --no-boot
 * makes the new slot fail to boot (the bootloader goes back); --unhealthy
 * fails the health check.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <mosquitto.h>

#include "coffeecloud/agent.h"

struct dev {
	char dir[512];
	char running; /* 'a' or 'b' */
	char active, trial;
	long long die_after, written;
	int hang, no_boot, unhealthy;
	long long clock_offset;
	const char *die_in_put;
	struct cc_update_result *res; /* printed at a reboot */
	int external, rebooted;
	cc_agent *agent;
	const char *op;
};

static void print_result(const char *what, int rc, const struct cc_update_result *r, cc_agent *a);

/* One pass of the external loop, waiting at most ms for the socket. */
static int step_external(cc_agent *a, int ms)
{
	struct pollfd p = { .fd = cc_agent_socket(a), .events = POLLIN };
	int rc;

	if (p.fd >= 0) {
		if (cc_agent_want_write(a))
			p.events |= POLLOUT;
		if (poll(&p, 1, ms) > 0) {
			if (p.revents & (POLLIN | POLLERR | POLLHUP))
				cc_agent_loop_read(a);
			if ((p.revents & POLLOUT) && cc_agent_socket(a) == p.fd)
				cc_agent_loop_write(a);
		}
	} else {
		poll(NULL, 0, ms < 20 ? ms : 20);
	}
	rc = cc_agent_loop_misc(a);
	return rc;
}

/* start or update by the agent's worker, polled while MQTT would run. */
static int work_external(cc_agent *a, int op, struct cc_update_result *r)
{
	int rc = cc_agent_work_begin(a, op);
	if (rc != CC_AGENT_OK)
		return rc;
	while ((rc = cc_agent_work_poll(a, r)) == CC_AGENT_PENDING)
		poll(NULL, 0, 5);
	return rc;
}

static void path(const struct dev *d, char *out, size_t cap, const char *name)
{
	snprintf(out, cap, "%s/%s", d->dir, name);
}

static int write_file(const char *p, const void *buf, size_t n)
{
	char tmp[1100];
	snprintf(tmp, sizeof(tmp), "%s.tmp", p);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		return -1;
	if (write(fd, buf, n) != (ssize_t)n || fsync(fd) != 0) {
		close(fd);
		return -1;
	}
	close(fd);
	return rename(tmp, p);
}

static int read_file(const char *p, void *buf, size_t cap, size_t *len)
{
	int fd = open(p, O_RDONLY);
	if (fd < 0)
		return errno == ENOENT ? 1 : -1;
	ssize_t n = read(fd, buf, cap);
	close(fd);
	if (n < 0)
		return -1;
	*len = (size_t)n;
	return 0;
}

static int st_get(void *ud, const char *key, void *buf, size_t cap, size_t *len)
{
	char p[1024], name[64];
	snprintf(name, sizeof(name), "store/%s", key);
	for (char *c = name + 6; *c; c++)
		if (*c == '/')
			*c = '_';
	path(ud, p, sizeof(p), name);
	return read_file(p, buf, cap, len);
}

static int st_put(void *ud, const char *key, const void *buf, size_t len)
{
	const struct dev *d = ud;
	char p[1024], name[64];
	snprintf(name, sizeof(name), "store/%s", key);
	for (char *c = name + 6; *c; c++)
		if (*c == '/')
			*c = '_';
	path(ud, p, sizeof(p), name);
	if (d->die_in_put != NULL && strcmp(d->die_in_put, key) == 0) {
		/* A flash without atomic writes, cut half-way. */
		int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd >= 0) {
			if (write(fd, buf, len / 2) < 0 || fsync(fd) != 0)
				_exit(8);
			close(fd);
		}
		printf("{\"died_in_put\": \"%s\"}\n", key);
		fflush(stdout);
		_exit(9);
	}
	return write_file(p, buf, len);
}

static int st_del(void *ud, const char *key)
{
	char p[1024], name[64];
	snprintf(name, sizeof(name), "store/%s", key);
	for (char *c = name + 6; *c; c++)
		if (*c == '/')
			*c = '_';
	path(ud, p, sizeof(p), name);
	return unlink(p) == 0 || errno == ENOENT ? 0 : -1;
}

static int64_t now_ms(void *ud)
{
	const struct dev *d = ud;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return ((int64_t)ts.tv_sec + d->clock_offset) * 1000 + ts.tv_nsec / 1000000;
}

static char inactive(const struct dev *d)
{
	return d->running == 'a' ? 'b' : 'a';
}

static int save_boot(struct dev *d)
{
	char s[8] = { d->active, ' ', d->trial, '\n', 0 };
	char p[1024];
	path(d, p, sizeof(p), "boot");
	return write_file(p, s, 4);
}

static int fw_begin(void *ud, uint64_t size)
{
	struct dev *d = ud;
	char p[1024], name[16];
	snprintf(name, sizeof(name), "slot-%c", inactive(d));
	path(d, p, sizeof(p), name);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		return -1;
	int rc = ftruncate(fd, (off_t)size);
	close(fd);
	return rc;
}

static int fw_write(void *ud, uint64_t off, const void *buf, size_t n)
{
	struct dev *d = ud;
	char p[1024], name[16];
	snprintf(name, sizeof(name), "slot-%c", inactive(d));
	path(d, p, sizeof(p), name);
	int fd = open(p, O_WRONLY);
	if (fd < 0)
		return -1;
	ssize_t w = pwrite(fd, buf, n, (off_t)off);
	int rc = w == (ssize_t)n && fdatasync(fd) == 0 ? 0 : -1;
	close(fd);
	d->written += (long long)n;
	if (d->die_after > 0 && d->written >= d->die_after) {
		printf("{\"died_at\": %lld}\n", (long long)(off + n));
		fflush(stdout);
		_exit(9); /* the power cut */
	}
	return rc;
}

static int fw_read(void *ud, uint64_t off, void *buf, size_t n)
{
	struct dev *d = ud;
	char p[1024], name[16];
	snprintf(name, sizeof(name), "slot-%c", inactive(d));
	path(d, p, sizeof(p), name);
	int fd = open(p, O_RDONLY);
	if (fd < 0)
		return -1;
	ssize_t r = pread(fd, buf, n, (off_t)off);
	close(fd);
	return r == (ssize_t)n ? 0 : -1;
}

static int fw_install(void *ud, const char *version)
{
	struct dev *d = ud;
	char p[1024], name[24];
	if (d->hang) {
		printf("{\"installing\": true}\n");
		fflush(stdout);
		for (;;)
			pause();
	}
	snprintf(name, sizeof(name), "slot-%c.version", inactive(d));
	path(d, p, sizeof(p), name);
	return write_file(p, version, strlen(version));
}

static int fw_activate(void *ud)
{
	struct dev *d = ud;
	d->trial = inactive(d);
	return save_boot(d);
}

static void fw_reboot(void *ud)
{
	struct dev *d = ud;
	if (d->external) { /* on the agent's worker: the result is the poll's */
		d->rebooted = 1;
		return;
	}
	if (d->res != NULL)
		print_result(d->op, CC_AGENT_REBOOT, d->res, d->agent);
	printf("{\"reboot\": true}\n");
	fflush(stdout);
	exit(0);
}

static int fw_running(void *ud, char *buf, size_t cap)
{
	struct dev *d = ud;
	char p[1024], name[24];
	size_t n = 0;
	snprintf(name, sizeof(name), "slot-%c.version", d->running);
	path(d, p, sizeof(p), name);
	if (read_file(p, buf, cap - 1, &n) != 0)
		return -1;
	buf[n] = '\0';
	return 0;
}

static int fw_health(void *ud)
{
	return ((struct dev *)ud)->unhealthy ? -1 : 0;
}

static int fw_confirm(void *ud)
{
	struct dev *d = ud;
	d->active = d->running;
	d->trial = '-';
	return save_boot(d);
}

static int fw_rollback(void *ud)
{
	struct dev *d = ud;
	d->trial = '-';
	return save_boot(d);
}

/* The bootloader: the trial slot once (then back to the active one unless
 * confirmed), the active one otherwise. */
static int boot(struct dev *d, const char *factory)
{
	char p[1024], s[16];
	size_t n = 0;
	for (char *c = d->dir + 1; *c; c++)
		if (*c == '/') {
			*c = '\0';
			mkdir(d->dir, 0700);
			*c = '/';
		}
	mkdir(d->dir, 0700);
	path(d, p, sizeof(p), "store");
	mkdir(p, 0700);
	path(d, p, sizeof(p), "boot");
	if (read_file(p, s, sizeof(s) - 1, &n) == 1) {
		path(d, p, sizeof(p), "slot-a.version");
		if (write_file(p, factory, strlen(factory)) != 0)
			return -1;
		d->active = 'a';
		d->trial = '-';
		if (save_boot(d) != 0)
			return -1;
	} else if (n >= 3) {
		d->active = s[0];
		d->trial = s[2];
	} else {
		return -1;
	}
	d->running = d->active;
	if (d->trial != '-') {
		if (!d->no_boot)
			d->running = d->trial;
		d->trial = '-'; /* once */
		if (save_boot(d) != 0)
			return -1;
	}
	return 0;
}

static char *slurp(const char *p)
{
	static char bufs[8][4096];
	static int k;
	size_t n = 0;
	char *b = bufs[k++ % 8];
	if (read_file(p, b, 4095, &n) != 0) {
		fprintf(stderr, "cannot read %s\n", p);
		exit(2);
	}
	b[n] = '\0';
	return b;
}

static void on_log(void *ud, const char *line)
{
	(void)ud;
	fprintf(stderr, "agent: %s\n", line);
}

static void on_command(void *ud, cc_agent *a, const char *name, uint64_t id, const char *body, size_t len)
{
	(void)ud;
	(void)len;
	printf("{\"command\": \"%s\", \"id\": %llu, \"body_len\": %zu}\n", name, (unsigned long long)id, strlen(body));
	fflush(stdout);
	cc_agent_command_result(a, id, "accepted", NULL);
	cc_agent_command_result(a, id, "succeeded", "done by the test agent");
}

static void print_result(const char *what, int rc, const struct cc_update_result *r, cc_agent *a)
{
	char installed[80] = "";
	cc_agent_installed_version(a, installed, sizeof(installed));
	printf("{\"op\": \"%s\", \"rc\": \"%s\", \"sha256\": \"%s\", \"version\": \"%s\", \"state\": \"%s\", "
	       "\"reason\": \"%s\", \"resumed_at\": %llu, \"fetched\": %llu, \"installed\": \"%s\"}\n",
	       what, cc_agent_strerror(rc), r->sha256, r->version, r->state, r->reason,
	       (unsigned long long)r->resumed_at, (unsigned long long)r->fetched, installed);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	struct dev d;
	const char *rel[8], *rev[8], *srv[8];
	size_t nrel = 0, nrev = 0, nsrv = 0;
	struct cc_agent_config cfg;
	long long publish = 0, run_ms = 0;
	const char *event = NULL; /* --event STATE: a power event after the telemetry */
	const char *csr_out = NULL, *cert_in = NULL;
	int renew = 0, external = 0;
	char mqtt_host[256] = "";
	cc_agent *a;
	int rc;

	if (argc < 2) {
		fprintf(stderr, "usage: cc-agent-test update|start|mqtt --dir D ...\n");
		return 2;
	}
	memset(&d, 0, sizeof(d));
	memset(&cfg, 0, sizeof(cfg));
	for (int i = 2; i < argc; i++) {
		const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		int flag = 1;
		if (strcmp(o, "--hang-in-install") == 0)
			d.hang = 1;
		else if (strcmp(o, "--no-boot") == 0)
			d.no_boot = 1;
		else if (strcmp(o, "--unhealthy") == 0)
			d.unhealthy = 1;
		else if (strcmp(o, "--renew") == 0)
			renew = 1;
		else if (strcmp(o, "--mqtt-311") == 0)
			cfg.mqtt_version = CC_AGENT_MQTT_311;
		else if (strcmp(o, "--external") == 0)
			external = 1;
		else
			flag = 0;
		if (flag)
			continue;
		if (v == NULL) {
			fprintf(stderr, "%s needs a value\n", o);
			return 2;
		}
		i++;
		if (strcmp(o, "--dir") == 0)
			snprintf(d.dir, sizeof(d.dir), "%s", v);
		else if (strcmp(o, "--serial") == 0)
			cfg.serial = v;
		else if (strcmp(o, "--model") == 0)
			cfg.model = v;
		else if (strcmp(o, "--factory") == 0)
			cfg.factory_version = v;
		else if (strcmp(o, "--url") == 0)
			cfg.server_url = v;
		else if (strcmp(o, "--ca") == 0)
			cfg.ca_file = v;
		else if (strcmp(o, "--cert") == 0)
			cfg.cert_file = v;
		else if (strcmp(o, "--key") == 0)
			cfg.key_file = v;
		else if (strcmp(o, "--release-key") == 0 && nrel < 8)
			rel[nrel++] = slurp(v);
		else if (strcmp(o, "--revoked-key") == 0 && nrev < 8)
			rev[nrev++] = slurp(v);
		else if (strcmp(o, "--server-key") == 0 && nsrv < 8)
			srv[nsrv++] = slurp(v);
		else if (strcmp(o, "--clock-offset") == 0)
			d.clock_offset = strtoll(v, NULL, 10);
		else if (strcmp(o, "--die-after-bytes") == 0)
			d.die_after = strtoll(v, NULL, 10);
		else if (strcmp(o, "--mqtt") == 0) {
			snprintf(mqtt_host, sizeof(mqtt_host), "%s", v);
			char *colon = strrchr(mqtt_host, ':');
			if (colon == NULL)
				return 2;
			*colon = '\0';
			cfg.mqtt_port = (int)strtol(colon + 1, NULL, 10);
			cfg.mqtt_host = mqtt_host;
		} else if (strcmp(o, "--queue-max") == 0)
			cfg.queue_max = (size_t)strtoll(v, NULL, 10);
		else if (strcmp(o, "--event") == 0)
			event = v;
		else if (strcmp(o, "--publish") == 0)
			publish = strtoll(v, NULL, 10);
		else if (strcmp(o, "--run-ms") == 0)
			run_ms = strtoll(v, NULL, 10);
		else if (strcmp(o, "--csr-out") == 0)
			csr_out = v;
		else if (strcmp(o, "--cert-in") == 0)
			cert_in = v;
		else if (strcmp(o, "--die-in-put") == 0)
			d.die_in_put = v;
		else {
			fprintf(stderr, "unknown option %s\n", o);
			return 2;
		}
	}
	if (d.dir[0] == '\0' || cfg.factory_version == NULL || boot(&d, cfg.factory_version) != 0) {
		fprintf(stderr, "no device directory\n");
		return 2;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	mosquitto_lib_init();
	cfg.release_keys = rel;
	cfg.nrelease_keys = nrel;
	cfg.revoked_keys = rev;
	cfg.nrevoked_keys = nrev;
	cfg.server_keys = srv;
	cfg.nserver_keys = nsrv;
	cfg.storage = (struct cc_storage){ st_get, st_put, st_del, &d };
	cfg.clock = (struct cc_clock){ now_ms, &d };
	cfg.fw = (struct cc_firmware){ fw_begin, fw_write, fw_read, fw_install, fw_activate, fw_reboot,
	                               fw_running, fw_health, fw_confirm, fw_rollback, &d };
	cfg.on_log = on_log;
	cfg.on_command = on_command;
	if ((rc = cc_agent_new(&cfg, &a)) != CC_AGENT_OK) {
		fprintf(stderr, "cc_agent_new: %s\n", cc_agent_strerror(rc));
		return 2;
	}
	struct cc_update_result r;
	d.res = &r;
	d.external = external;
	d.agent = a;
	d.op = "start";
	rc = external ? work_external(a, CC_AGENT_WORK_START, &r) : cc_agent_start(a, &r);
	print_result("start", rc, &r, a);
	if (strcmp(argv[1], "enrol") == 0) {
		char csr[4096];
		if ((rc = cc_agent_enrol_begin(a, csr, sizeof(csr))) != CC_AGENT_OK || csr_out == NULL ||
		    write_file(csr_out, csr, strlen(csr)) != 0) {
			fprintf(stderr, "enrol: %s\n", cc_agent_strerror(rc));
			return 1;
		}
		printf("{\"op\": \"enrol\", \"rc\": \"%s\"}\n", cc_agent_strerror(rc));
	} else if (strcmp(argv[1], "enrol-finish") == 0) {
		rc = cert_in != NULL ? cc_agent_enrol_finish(a, slurp(cert_in)) : CC_AGENT_EINVAL;
		printf("{\"op\": \"enrol-finish\", \"rc\": \"%s\"}\n", cc_agent_strerror(rc));
	} else if (strcmp(argv[1], "update") == 0) {
		d.op = "update";
		rc = external ? work_external(a, CC_AGENT_WORK_UPDATE, &r) : cc_agent_update(a, &r);
		print_result("update", rc, &r, a);
		if (d.rebooted)
			printf("{\"reboot\": true}\n");
	} else if (strcmp(argv[1], "mqtt") == 0) {
		char sw[80];
		cc_agent_installed_version(a, sw, sizeof(sw));
		cc_agent_set_info(a, "rev-T", sw);
		for (long long i = 0; i < publish; i++) {
			char fields[128];
			snprintf(fields, sizeof(fields), "\"m\":{\"cup_counter\":%lld}", 1000 + i);
			if ((rc = cc_agent_publish_telemetry(a, fields)) != CC_AGENT_OK) {
				fprintf(stderr, "publish: %s\n", cc_agent_strerror(rc));
				return 1;
			}
		}
		if (event != NULL) {
			char fields[128];
			snprintf(fields, sizeof(fields), "\"type\":\"power\",\"state\":\"%s\"", event);
			if ((rc = cc_agent_publish_event(a, fields)) != CC_AGENT_OK) {
				fprintf(stderr, "publish: %s\n", cc_agent_strerror(rc));
				return 1;
			}
		}
		struct timespec t0, t;
		struct cc_agent_cert c0, c;
		cc_agent_cert(a, &c0);
		if (renew)
			cc_agent_renew(a);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		for (;;) {
			struct cc_agent_stats st;
			int rrc = external ? step_external(a, 100) : cc_agent_run(a, 100);
			cc_agent_stats(a, &st);
			cc_agent_cert(a, &c);
			clock_gettime(CLOCK_MONOTONIC, &t);
			long long ms = (t.tv_sec - t0.tv_sec) * 1000LL + (t.tv_nsec - t0.tv_nsec) / 1000000;
			int renewed = !renew || c.generation != c0.generation;
			int done = run_ms >= 0 ? ms >= run_ms : (st.queued == 0 && st.connected && renewed) || ms >= 60000;
			if (done || rrc < 0) {
				printf("{\"op\": \"mqtt\", \"rc\": \"%s\", \"queued\": %llu, \"dropped\": %llu, "
				       "\"sent\": %llu, \"refused\": %llu, \"next_seq\": %llu, \"connected\": %d, "
				       "\"cert_generation\": %llu, \"cert_sha256\": \"%s\"}\n",
				       cc_agent_strerror(rrc), (unsigned long long)st.queued, (unsigned long long)st.dropped,
				       (unsigned long long)st.sent, (unsigned long long)st.refused,
				       (unsigned long long)st.next_seq, st.connected, (unsigned long long)c.generation,
				       c.sha256);
				fflush(stdout);
				break;
			}
		}
	}
	cc_agent_free(a);
	mosquitto_lib_cleanup();
	curl_global_cleanup();
	return 0;
}
