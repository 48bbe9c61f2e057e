/* agent-minimal.c - the least a firmware does with libcoffeecloud-agent (docs/AGENT.md):
 * storage in files, the system clock, telemetry every minute, updates looked for hourly.
 * Usage: agent-minimal SERIAL MODEL VERSION https://HOST:PORT MQTTHOST MQTTPORT DIR, run where
 * ca.crt, machine.crt, machine.key (the machine's bundle), release.pub and server.pub are. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <mosquitto.h>

#include "coffeecloud/agent.h"

static const char *dir;

static void file_of(char *p, size_t cap, const char *key) /* one file per key, '/' made '_' */
{
	snprintf(p, cap, "%s/%s", dir, key);
	for (char *c = p + strlen(dir) + 1; *c; c++)
		*c = *c == '/' ? '_' : *c;
}

static int get(void *ud, const char *key, void *buf, size_t cap, size_t *len)
{
	char p[512];
	FILE *f = (file_of(p, sizeof(p), key), fopen(p, "rb"));
	(void)ud;
	if (f == NULL)
		return errno == ENOENT ? 1 : -1;
	*len = fread(buf, 1, cap, f);
	fclose(f);
	return 0;
}

static int put(void *ud, const char *key, const void *buf, size_t len)
{
	char p[512], tmp[520];
	(void)ud;
	file_of(p, sizeof(p), key);
	snprintf(tmp, sizeof(tmp), "%s.tmp", p);
	FILE *f = fopen(tmp, "wb");
	if (f == NULL)
		return -1;
	int ok = fwrite(buf, 1, len, f) == len && fflush(f) == 0 && fsync(fileno(f)) == 0;
	return fclose(f) == 0 && ok ? rename(tmp, p) : -1;
}

static int del(void *ud, const char *key)
{
	char p[512];
	(void)ud;
	return file_of(p, sizeof(p), key), unlink(p) == 0 || errno == ENOENT ? 0 : -1;
}

static int64_t now_ms(void *ud) { (void)ud; return (int64_t)time(NULL) * 1000; }

static const char *slurp(const char *path, char *buf, size_t cap)
{
	FILE *f = fopen(path, "r");
	buf[f != NULL ? fread(buf, 1, cap - 1, f) : 0] = '\0';
	return f != NULL && fclose(f) == 0 ? buf : "";
}

int main(int argc, char **argv)
{
	static char rel[512], srv[512];
	const char *release_keys[] = { slurp("release.pub", rel, sizeof(rel)) };
	const char *server_keys[] = { slurp("server.pub", srv, sizeof(srv)) };
	struct cc_agent_config cfg = { 0 };
	cc_agent *a;

	if (argc != 8)
		return 2;
	dir = argv[7];
	curl_global_init(CURL_GLOBAL_DEFAULT);
	mosquitto_lib_init();
	cfg.serial = argv[1], cfg.model = argv[2], cfg.factory_version = argv[3];
	cfg.server_url = argv[4], cfg.mqtt_host = argv[5], cfg.mqtt_port = (int)strtol(argv[6], NULL, 10);
	cfg.ca_file = "ca.crt", cfg.cert_file = "machine.crt", cfg.key_file = "machine.key";
	cfg.release_keys = release_keys, cfg.nrelease_keys = 1;
	cfg.server_keys = server_keys, cfg.nserver_keys = 1;
	cfg.storage = (struct cc_storage){ get, put, del, NULL };
	cfg.clock = (struct cc_clock){ now_ms, NULL };
	/* cfg.fw: the nine A/B callbacks of a real machine (tests/agent/agent_driver.c
	 * simulates them); without them cc_agent_update answers CC_AGENT_EINVAL. */
	if (cc_agent_new(&cfg, &a) != CC_AGENT_OK)
		return 1;
	cc_agent_start(a, NULL); /* first: confirm or roll back an update in progress */
	cc_agent_set_info(a, "rev-A", argv[3]);
	for (long tick = 0;; tick++) {
		if (tick % 60 == 0)
			cc_agent_update(a, NULL);
		cc_agent_publish_telemetry(a, "\"m\":{\"boiler_temp_c\":121.5}");
		cc_agent_run(a, 60 * 1000);
	}
}
