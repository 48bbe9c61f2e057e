/*
 * agent_config_driver.c - a barista-pro's configuration side on
 * libcoffeecloud-agent, for tests/integration/test_agent_config.py. Its
 * "device" is a directory: storage records in DIR/store/, and what the
 * machine runs in DIR/running (one value a line: "product field value",
 * product "-" for a setting). Each run of the program is one boot; it runs
 * MQTT until --run-ms ends or it is killed.
 *
 *   cc-agent-config-test --dir D --serial S --model M --factory V --url https://host:port
 *       --ca F --cert F --key F --mqtt host:port [--run-ms N]
 *       [--water-max ML] [--grinder-max G] [--panel FIELD=VALUE]
 *
 * The firmware declares water_ml up to --water-max (the agent refuses
 * more), and refuses itself a dose above --grinder-max g ("grinder cannot
 * dose that much"). --panel changes a setting at the panel once connected.
 * Prints a JSON line at start ({"op": "start", "version", "applied"}: the
 * state kept across boots) and one per configuration handled.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <mosquitto.h>

#include "coffeecloud/agent.h"

#define VALUES_MAX CC_AGENT_MACHINE_CONFIG_VALUES_MAX

struct dev {
	char dir[512];
	double grinder_max;
	struct cc_machine_config_value run[VALUES_MAX];
	size_t nrun;
	int handled;
};

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

static void key_path(void *ud, const char *key, char *p, size_t cap)
{
	char name[64];
	snprintf(name, sizeof(name), "store/%s", key);
	for (char *c = name + 6; *c; c++)
		if (*c == '/')
			*c = '_';
	path(ud, p, cap, name);
}

static int st_get(void *ud, const char *key, void *buf, size_t cap, size_t *len)
{
	char p[1024];
	key_path(ud, key, p, sizeof(p));
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

static int st_put(void *ud, const char *key, const void *buf, size_t len)
{
	char p[1024];
	key_path(ud, key, p, sizeof(p));
	return write_file(p, buf, len);
}

static int st_del(void *ud, const char *key)
{
	char p[1024];
	key_path(ud, key, p, sizeof(p));
	return unlink(p) == 0 || errno == ENOENT ? 0 : -1;
}

static int64_t now_ms(void *ud)
{
	(void)ud;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void on_log(void *ud, const char *line)
{
	(void)ud;
	fprintf(stderr, "agent: %s\n", line);
}

/* ---- what the machine runs ---- */

static void load_running(struct dev *d)
{
	char p[1024], line[160];
	path(d, p, sizeof(p), "running");
	FILE *f = fopen(p, "r");
	d->nrun = 0;
	while (f != NULL && d->nrun < VALUES_MAX && fgets(line, sizeof(line), f) != NULL) {
		struct cc_machine_config_value *v = &d->run[d->nrun];
		char value[33];
		memset(v, 0, sizeof(*v));
		if (sscanf(line, "%32s %32s %32s", v->product, v->field, value) != 3)
			continue;
		if (strcmp(v->product, "-") == 0)
			v->product[0] = '\0';
		if (strcmp(v->field, "panel_language") == 0)
			snprintf(v->text, sizeof(v->text), "%s", value);
		else
			v->number = strtod(value, NULL);
		d->nrun++;
	}
	if (f != NULL)
		fclose(f);
}

static int save_running(struct dev *d)
{
	char p[1024], *buf = malloc(VALUES_MAX * 120);
	size_t used = 0;
	int rc;
	if (buf == NULL)
		return -1;
	for (size_t i = 0; i < d->nrun; i++) {
		const struct cc_machine_config_value *v = &d->run[i];
		char value[40];
		if (v->text[0])
			snprintf(value, sizeof(value), "%s", v->text);
		else
			snprintf(value, sizeof(value), "%.10g", v->number);
		used += (size_t)snprintf(buf + used, 120, "%s %s %s\n", v->product[0] ? v->product : "-", v->field, value);
	}
	path(d, p, sizeof(p), "running");
	rc = write_file(p, buf, used);
	free(buf);
	return rc;
}

static void set_value(struct dev *d, const struct cc_machine_config_value *v)
{
	size_t i;
	for (i = 0; i < d->nrun; i++)
		if (strcmp(d->run[i].product, v->product) == 0 && strcmp(d->run[i].field, v->field) == 0)
			break;
	if (i == d->nrun && d->nrun < VALUES_MAX)
		d->nrun++;
	if (i < VALUES_MAX)
		d->run[i] = *v;
}

static int fw_apply(void *ud, const struct cc_machine_config_value *v, size_t n, char *reason, size_t cap)
{
	struct dev *d = ud;
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].field, "grounds_g") == 0 && v[i].number > d->grinder_max) {
			snprintf(reason, cap, "grinder cannot dose that much");
			d->handled++;
			return -1;
		}
	for (size_t i = 0; i < n; i++)
		set_value(d, &v[i]);
	d->handled++;
	return save_running(d);
}

static int fw_running(void *ud, struct cc_machine_config_value *v, size_t cap, size_t *n)
{
	struct dev *d = ud;
	*n = d->nrun < cap ? d->nrun : cap;
	memcpy(v, d->run, *n * sizeof(*v));
	return 0;
}

/* barista-pro's products and fields (docs/CONFIGURATION-REMOTE.md). */
static const char *const products[] = {
	"espresso", "ristretto", "lungo", "doppio", "americano", "coffee", "cafe_creme", "cappuccino",
	"latte_macchiato", "caffe_latte", "flat_white", "cortado", "macchiato", "hot_water", "hot_milk", "milk_foam",
	"chocolate", "tea", NULL,
};
static const char *const languages[] = { "en", "de", "fr", "it", "es", "nl", "hu", "pl", "cs", "sv", "da", NULL };

static void print_state(cc_agent *a, const char *op)
{
	struct cc_machine_config_state st;
	int rc = cc_agent_machine_config_state(a, &st);
	printf("{\"op\": \"%s\", \"rc\": \"%s\", \"version\": %lld, \"applied\": %d, \"reason\": \"%s\"}\n", op,
	       cc_agent_strerror(rc), (long long)st.version, st.applied, st.reason);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	static struct dev d;
	struct cc_agent_config cfg;
	char mqtt_host[256] = "", *panel = NULL;
	long long run_ms = 60000;
	double water_max = 500;
	cc_agent *a;
	int rc;

	memset(&cfg, 0, sizeof(cfg));
	d.grinder_max = 30;
	for (int i = 1; i + 1 < argc; i += 2) {
		const char *o = argv[i], *v = argv[i + 1];
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
		else if (strcmp(o, "--mqtt") == 0) {
			snprintf(mqtt_host, sizeof(mqtt_host), "%s", v);
			char *colon = strrchr(mqtt_host, ':');
			if (colon == NULL)
				return 2;
			*colon = '\0';
			cfg.mqtt_port = (int)strtol(colon + 1, NULL, 10);
			cfg.mqtt_host = mqtt_host;
		} else if (strcmp(o, "--run-ms") == 0)
			run_ms = strtoll(v, NULL, 10);
		else if (strcmp(o, "--water-max") == 0)
			water_max = strtod(v, NULL);
		else if (strcmp(o, "--grinder-max") == 0)
			d.grinder_max = strtod(v, NULL);
		else if (strcmp(o, "--panel") == 0)
			panel = argv[i + 1];
		else {
			fprintf(stderr, "unknown option %s\n", o);
			return 2;
		}
	}
	if (d.dir[0] == '\0' || mqtt_host[0] == '\0') {
		fprintf(stderr, "--dir and --mqtt are required\n");
		return 2;
	}
	char p[1024];
	mkdir(d.dir, 0700);
	path(&d, p, sizeof(p), "store");
	mkdir(p, 0700);
	load_running(&d);

	const struct cc_machine_config_field recipe[] = {
		{ "water_ml", 5, water_max, 1, NULL },   { "grounds_g", 4, 30, 0, NULL },
		{ "brew_temp_c", 85, 98, 0, NULL },      { "preinfusion_s", 0, 10, 0, NULL },
		{ "milk_foam_ratio", 0, 1, 0, NULL },    { "size_scaling_pct", 50, 150, 1, NULL },
	};
	const struct cc_machine_config_field settings[] = {
		{ "standby_min", 0, 480, 1, NULL },      { "boiler_temp_c", 80, 100, 0, NULL },
		{ "steam_temp_c", 110, 140, 0, NULL },   { "rinse_every_h", 1, 24, 1, NULL },
		{ "milk_clean_every_h", 1, 48, 1, NULL }, { "descale_every_l", 50, 2000, 1, NULL },
		{ "panel_language", 0, 0, 0, languages },
	};
	struct cc_machine_config_fw fw = { products, recipe, sizeof(recipe) / sizeof(recipe[0]), settings,
		                           sizeof(settings) / sizeof(settings[0]), fw_apply, fw_running, &d };

	curl_global_init(CURL_GLOBAL_DEFAULT);
	mosquitto_lib_init();
	cfg.storage = (struct cc_storage){ st_get, st_put, st_del, &d };
	cfg.clock = (struct cc_clock){ now_ms, &d };
	cfg.on_log = on_log;
	if ((rc = cc_agent_new(&cfg, &a)) != CC_AGENT_OK) {
		fprintf(stderr, "cc_agent_new: %s\n", cc_agent_strerror(rc));
		return 2;
	}
	if ((rc = cc_agent_machine_config_setup(a, &fw)) != CC_AGENT_OK) {
		fprintf(stderr, "cc_agent_machine_config_setup: %s\n", cc_agent_strerror(rc));
		return 2;
	}
	print_state(a, "start");
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int handled = 0;
	for (;;) {
		struct cc_agent_stats st;
		int rrc = cc_agent_run(a, 100);
		cc_agent_stats(a, &st);
		if (panel != NULL && st.connected) {
			/* Someone at the machine changes a setting: FIELD=VALUE. */
			struct cc_machine_config_value v;
			char *eq = strchr(panel, '=');
			memset(&v, 0, sizeof(v));
			if (eq != NULL && (size_t)(eq - panel) < sizeof(v.field)) {
				memcpy(v.field, panel, (size_t)(eq - panel));
				if (strcmp(v.field, "panel_language") == 0)
					snprintf(v.text, sizeof(v.text), "%s", eq + 1);
				else
					v.number = strtod(eq + 1, NULL);
				set_value(&d, &v);
				save_running(&d);
				rc = cc_agent_machine_config_changed(a);
				printf("{\"op\": \"panel\", \"rc\": \"%s\"}\n", cc_agent_strerror(rc));
				fflush(stdout);
			}
			panel = NULL;
		}
		if (d.handled != handled) {
			handled = d.handled;
			print_state(a, "config");
		}
		clock_gettime(CLOCK_MONOTONIC, &t);
		long long ms = (t.tv_sec - t0.tv_sec) * 1000LL + (t.tv_nsec - t0.tv_nsec) / 1000000;
		if (ms >= run_ms || rrc < 0)
			break;
	}
	cc_agent_free(a);
	mosquitto_lib_cleanup();
	curl_global_cleanup();
	return 0;
}
