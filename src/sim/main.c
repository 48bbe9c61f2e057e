/*
 * main.c - coffeecloud-sim: options, provisioning of the simulated fleet
 * through the library (vault + inventory), the run, and its summary.
 *
 * Provisioning: customer --customer (created under the manufacturer), site
 * "sim-site", machines PREFIX-0001.. of model barista-pro, bundles in
 * --certs/<serial>/ (machine.crt, machine.key 0600, ca.crt). A registered
 * machine is reused when its bundle on disk holds its registered
 * certificate; registered without a bundle is an error. The data directory
 * is closed before any traffic.
 *
 * seq: each machine numbers its messages seq_start, seq_start + 1, ...
 * across telemetry and events, within ingest's bound 1..INGEST_SEQ_MAX
 * (10^12 - 1: no seq can be a 13..19-digit card number). A run must start
 * above every seq an earlier run of the same machines used, or the server
 * stores the new messages as duplicates of the old. By default seq_start is
 * the larger of
 *   - the number in <certs>/seq-next, which every run raises before it
 *     publishes (to seq_start + --count: the quota) and after it (to
 *     seq_start + the most messages one machine sent), and
 *   - the wall clock in deciseconds since 2020-01-01 (2.2e9 in 2026; 10^12
 *     in the year 5188), for when seq-next is gone or a run was killed in
 *     --duration mode: then monotonic as long as the machines averaged
 *     under 10 messages a second since the previous run started.
 * The certificate bundles live in <certs> too, so the counter goes where the
 * machines' identities go. --seq-start N overrides the choice (1 for a
 * fresh data directory); seq-next is raised after such a run as well.
 *
 * Ack log (--ack-log, appended, flushed every 100 ms and at exit): one line
 * "<serial> <seq>\n" per message the server acknowledged with success,
 * well-formed messages only (hostile fault messages are never listed):
 * every line names a message the server must have stored.
 *
 * Record (--record, appended): one JSON line per well-formed data message
 * the machines published, {"serial", "topic": "telemetry"|"event",
 * "msg": the payload}: the scenario's own account of what each machine did,
 * for checking the server's reports against (docs/SIMULATOR.md). With
 * every message acknowledged (acked = sent), it is what the server stored.
 *
 * Output: a line per category (unless --quiet), then one JSON line: machines,
 * sent, acked, refused, refused_reasons {"0x99": n}, refused_reason_strings,
 * commands_received, reconnects, errors (failed connection attempts + publish
 * calls refused by libmosquitto), seconds (first publish to last
 * acknowledgement), msgs_per_s ((acked + refused) / seconds), and the detail
 * of struct client_stats.
 *
 * Exit codes: 0 every machine connected and sent its quota, and every QoS > 0
 * message was acknowledged, or refused where the fault made it hostile (MQTT
 * 5); 1 otherwise, or when provisioning failed; 2 usage errors.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <mosquitto.h>
#include <jansson.h>

#include "common/clock.h"
#include "common/err.h"
#include "common/file.h"
#include "common/limits.h"
#include "common/log.h"
#include "fleet/inventory.h"
#include "ingest/message.h"
#include "sim/agent_client.h"
#include "sim/client.h"
#include "sim/fleet.h"
#include "vault/vault.h"

#define MOD "sim"
#define EXIT_USAGE 2
#define DEFAULT_CUSTOMER "sim-fleet"
#define DEFAULT_SITE "sim-site"
#define DEFAULT_PREFIX "SIM"

struct options {
	const char *data_dir, *master_key_file, *customer, *prefix, *certs_dir;
	uint32_t machines;
	int seq_start_given;
	struct client_opts c;
	char certs_default[VAULT_PATH_MAX];
};

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: coffeecloud-sim --data DIR --machines N [options]\n"
	        "\n"
	        "Provisions N simulated coffee machines in a CoffeeCloud data directory (or\n"
	        "reuses them) and drives them over MQTT: telemetry, events, status, commands.\n"
	        "\n"
	        "  --data DIR              the data directory (opened only for provisioning)\n"
	        "  --master-key-file F     its master key, if not DIR.master.key beside it ($CC_MASTER_KEY_FILE)\n"
	        "  --machines N            how many machines, 1-%d\n"
	        "  --customer NAME         their customer (created under the manufacturer) [sim-fleet]\n"
	        "  --prefix P              serials P-0001 ... [SIM]\n"
	        "  --certs DIR             where the bundles live: DIR/<serial>/ [<data dir>.sim-certs]\n"
	        "  --host H                the MQTT server [127.0.0.1]\n"
	        "  --port P                its port [8883; 1883 with --plain]\n"
	        "  --plain                 plain TCP instead of TLS (loopback test listeners)\n"
	        "  --mqtt 5|3              MQTT 5 or 3.1.1 [5]\n"
	        "  --qos 0|1|2             QoS of telemetry and events [1]\n"
	        "  --rate R                messages per second per machine; 0 = as fast as acks allow [1]\n"
	        "  --duration S            publish until S seconds after all machines connected, or\n"
	        "  --count M               publish M messages per machine [10]\n"
	        "  --timeout S             stop publishing after S seconds in any case\n"
	        "  --speedup F             model seconds per nominal message period (demos) [1]\n"
	        "  --seq-start N           seq of each machine's first message, 1..999999999999\n"
	        "                          [above <certs>/seq-next and deciseconds since 2020]\n"
	        "  --ack-log FILE          append \"<serial> <seq>\" per acknowledged message\n"
	        "  --record FILE           append each published message as a JSON line (what the machines did)\n"
	        "  --fault F               card|email|phone|price|foreign-topic|bad-json|\n"
	        "                          unknown-metric|disconnect: once per machine, mid-run\n"
	        "  --seed N                seed of the machine models [1]\n"
	        "  --fail-rate R           update-offer commands answered failed, 0..1 [0.1]\n"
	        "  --https-port P          people's HTTPS listener on --host: diagnostics bundles are\n"
	        "                          uploaded there with the machine's certificate [none]\n"
	        "  --scenario S[,S...]     machine i does the i-th: out-of-spec|warm-fridge|\n"
	        "                          skipped-cleaning|no-cleaning|worn-filter|none\n"
	        "                          (docs/SIMULATOR.md)\n"
	        "  --backfill-hours H      stamp messages with model time from H hours ago: with\n"
	        "                          --count, history made in seconds (count x step <= H h)\n"
	        "  --agent                 the machines are built on libcoffeecloud-agent (docs/AGENT.md),\n"
	        "                          and take software updates [the default, unless --plain,\n"
	        "                          --qos 0|2 or --fault bad-json|foreign-topic|disconnect:\n"
	        "                          what no agent sends, sent by raw libmosquitto clients]\n"
	        "  --raw                   the machines are plain libmosquitto clients, not agents\n"
	        "  --release-key F         (--agent) a release key the machines trust, PEM; repeatable\n"
	        "  --server-key F          (--agent) the installation's signing key (GET /api/v1/signing-key)\n"
	        "  --update-every S        (--agent, --https-port) look for an update every S seconds\n"
	        "                          [only when an update-offer command comes]\n"
	        "  --fail-install V        (--agent) installing version V fails in the machines\n"
	        "  --quiet                 print only the final JSON line\n"
	        "  --help\n"
	        "\n"
	        "Exit: 0 all acknowledged or refused as expected, 1 otherwise, 2 usage error.\n",
	        CLIENT_MACHINES_MAX);
}

static int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (s == NULL || *s == '\0' || *s == '-')
		return CC_ERR_INVALID;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v > max)
		return CC_ERR_INVALID;
	*out = v;
	return CC_OK;
}

static int parse_double(const char *s, double min, double max, double *out)
{
	char *end;
	double v;

	if (s == NULL || *s == '\0')
		return CC_ERR_INVALID;
	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || *end != '\0' || !(v >= min && v <= max))
		return CC_ERR_INVALID;
	*out = v;
	return CC_OK;
}

static int bad(const char *opt, const char *why)
{
	fprintf(stderr, "coffeecloud-sim: --%s: %s\n", opt, why);
	return EXIT_USAGE;
}

/* ---- seq across runs (the scheme in the header comment) ---- */

#define SEQ_STATE_FILE "seq-next"
#define SEQ_CLOCK_EPOCH_MS INT64_C(1577836800000) /* 2020-01-01T00:00:00Z */

/* The number in <certs>/seq-next, 0 when there is none. */
static int seq_state_read(const char *certs, int64_t *out)
{
	char path[VAULT_PATH_MAX], buf[32];
	unsigned char *data = NULL;
	size_t len = 0;
	uint64_t u;
	int rc;

	*out = 0;
	rc = file_join(path, sizeof(path), certs, SEQ_STATE_FILE);
	if (rc != CC_OK || !file_exists(path))
		return rc;
	rc = file_read_all(path, sizeof(buf) - 1, &data, &len);
	if (rc != CC_OK)
		return rc;
	while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == ' '))
		len--;
	memcpy(buf, data, len);
	buf[len] = 0;
	free(data);
	if (parse_u64(buf, (uint64_t)INGEST_SEQ_MAX + 1, &u) != CC_OK) {
		log_error(MOD, "%s: not a seq number", path);
		return CC_ERR_INVALID;
	}
	*out = (int64_t)u;
	return CC_OK;
}

/* Raises <certs>/seq-next to next (never lowers it). */
static int seq_state_raise(const char *certs, int64_t next)
{
	char path[VAULT_PATH_MAX], buf[32];
	int64_t cur;
	int rc = seq_state_read(certs, &cur), n;

	if (rc != CC_OK || cur >= next)
		return rc;
	rc = file_join(path, sizeof(path), certs, SEQ_STATE_FILE);
	if (rc != CC_OK)
		return rc;
	n = snprintf(buf, sizeof(buf), "%lld\n", (long long)next);
	return file_write_atomic(path, buf, (size_t)n, 0600);
}

/* Picks seq_start (unless given) and reserves the run's quota. */
static int seq_choose(struct options *o)
{
	int64_t state = 0, clock_ds = (clock_now_ms() - SEQ_CLOCK_EPOCH_MS) / 100, quota;

	if (seq_state_read(o->c.certs_dir, &state) != CC_OK)
		return CC_ERR_INVALID;
	if (!o->seq_start_given)
		o->c.seq_start = state > clock_ds ? state : clock_ds > 0 ? clock_ds : 1;
	quota = o->c.duration_s > 0 ? 0 : (int64_t)o->c.count;
	if (o->c.seq_start + quota - 1 > INGEST_SEQ_MAX ||
	    (o->c.duration_s > 0 && o->c.seq_start > INGEST_SEQ_MAX)) {
		log_error(MOD, "seq %lld + %lld messages is past the largest seq ingest accepts (%lld)",
		          (long long)o->c.seq_start, (long long)quota, (long long)INGEST_SEQ_MAX);
		return CC_ERR_LIMIT;
	}
	if (seq_state_raise(o->c.certs_dir, o->c.seq_start + quota) != CC_OK) {
		log_error(MOD, "%s/%s could not be written", o->c.certs_dir, SEQ_STATE_FILE);
		return CC_ERR_IO;
	}
	return CC_OK;
}

/* Returns 0, or an exit code. */
/* A key file's PEM text, NUL-terminated (kept for the run); NULL when unreadable. */
static const char *read_pem(const char *path)
{
	unsigned char *buf = NULL;
	size_t len = 0;
	char *text;

	if (file_read_all(path, 16384, &buf, &len) != CC_OK)
		return NULL;
	text = realloc(buf, len + 1);
	if (text == NULL) {
		free(buf);
		return NULL;
	}
	text[len] = '\0';
	return text;
}

static int parse_args(int argc, char **argv, struct options *o)
{
	enum {
		O_DATA = 256, O_KEY, O_MACHINES, O_CUSTOMER, O_PREFIX, O_HOST, O_PORT, O_PLAIN, O_MQTT, O_QOS,
		O_RATE, O_DURATION, O_COUNT, O_ACKLOG, O_CERTS, O_FAULT, O_SEED, O_QUIET, O_SEQ, O_SPEEDUP,
		O_TIMEOUT, O_FAILRATE, O_HTTPS_PORT, O_SCENARIO, O_BACKFILL, O_RECORD, O_HELP, O_AGENT,
		O_RELEASE_KEY, O_SERVER_KEY, O_UPDATE_EVERY, O_FAIL_INSTALL, O_RAW,
	};
	static const struct option longopts[] = {
		{ "data", required_argument, NULL, O_DATA },
		{ "master-key-file", required_argument, NULL, O_KEY },
		{ "machines", required_argument, NULL, O_MACHINES },
		{ "customer", required_argument, NULL, O_CUSTOMER },
		{ "prefix", required_argument, NULL, O_PREFIX },
		{ "host", required_argument, NULL, O_HOST },
		{ "port", required_argument, NULL, O_PORT },
		{ "plain", no_argument, NULL, O_PLAIN },
		{ "mqtt", required_argument, NULL, O_MQTT },
		{ "qos", required_argument, NULL, O_QOS },
		{ "rate", required_argument, NULL, O_RATE },
		{ "duration", required_argument, NULL, O_DURATION },
		{ "count", required_argument, NULL, O_COUNT },
		{ "ack-log", required_argument, NULL, O_ACKLOG },
		{ "record", required_argument, NULL, O_RECORD },
		{ "certs", required_argument, NULL, O_CERTS },
		{ "fault", required_argument, NULL, O_FAULT },
		{ "seed", required_argument, NULL, O_SEED },
		{ "quiet", no_argument, NULL, O_QUIET },
		{ "seq-start", required_argument, NULL, O_SEQ },
		{ "speedup", required_argument, NULL, O_SPEEDUP },
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ "fail-rate", required_argument, NULL, O_FAILRATE },
		{ "https-port", required_argument, NULL, O_HTTPS_PORT },
		{ "scenario", required_argument, NULL, O_SCENARIO },
		{ "backfill-hours", required_argument, NULL, O_BACKFILL },
		{ "help", no_argument, NULL, O_HELP },
		{ "agent", no_argument, NULL, O_AGENT },
		{ "raw", no_argument, NULL, O_RAW },
		{ "release-key", required_argument, NULL, O_RELEASE_KEY },
		{ "server-key", required_argument, NULL, O_SERVER_KEY },
		{ "update-every", required_argument, NULL, O_UPDATE_EVERY },
		{ "fail-install", required_argument, NULL, O_FAIL_INSTALL },
		{ NULL, 0, NULL, 0 },
	};
	int opt, port_given = 0, count_given = 0, agent_given = 0, raw_given = 0;
	double backfill_h = 0;
	uint64_t u;
	double d;

	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case O_DATA: o->data_dir = optarg; break;
		case O_KEY: o->master_key_file = optarg; break;
		case O_MACHINES:
			if (parse_u64(optarg, CLIENT_MACHINES_MAX, &u) != CC_OK || u == 0)
				return bad("machines", "give a number from 1 to 20000");
			o->machines = (uint32_t)u;
			break;
		case O_CUSTOMER: o->customer = optarg; break;
		case O_PREFIX: o->prefix = optarg; break;
		case O_HOST: o->c.host = optarg; break;
		case O_PORT:
			if (parse_u64(optarg, 65535, &u) != CC_OK || u == 0)
				return bad("port", "give a port from 1 to 65535");
			o->c.port = (int)u;
			port_given = 1;
			break;
		case O_PLAIN: o->c.plain = 1; break;
		case O_MQTT:
			if (strcmp(optarg, "5") == 0)
				o->c.protocol = 5;
			else if (strcmp(optarg, "3") == 0 || strcmp(optarg, "3.1.1") == 0)
				o->c.protocol = 3;
			else
				return bad("mqtt", "give 5 or 3 (3.1.1)");
			break;
		case O_QOS:
			if (parse_u64(optarg, 2, &u) != CC_OK)
				return bad("qos", "give 0, 1 or 2");
			o->c.qos = (int)u;
			break;
		case O_RATE:
			if (parse_double(optarg, 0, 100000, &d) != CC_OK)
				return bad("rate", "give messages per second per machine, 0 to 100000 (0: unthrottled)");
			o->c.rate = d;
			break;
		case O_DURATION:
			if (parse_double(optarg, 0.001, 30 * 86400.0, &d) != CC_OK)
				return bad("duration", "give seconds, more than 0");
			o->c.duration_s = d;
			break;
		case O_COUNT:
			if (parse_u64(optarg, 1000000000, &u) != CC_OK || u == 0)
				return bad("count", "give messages per machine, 1 to 1000000000");
			o->c.count = (uint32_t)u;
			count_given = 1;
			break;
		case O_ACKLOG: o->c.ack_log = optarg; break;
		case O_RECORD: o->c.record = optarg; break;
		case O_CERTS: o->certs_dir = optarg; break;
		case O_FAULT:
			if (fleet_fault_parse(optarg, &o->c.fault) != CC_OK || o->c.fault == FLEET_FAULT_NONE)
				return bad("fault", "one of card, email, phone, price, foreign-topic, bad-json, "
				           "unknown-metric, disconnect");
			break;
		case O_SEED:
			if (parse_u64(optarg, UINT64_MAX, &u) != CC_OK)
				return bad("seed", "give a non-negative integer");
			o->c.seed = u;
			break;
		case O_QUIET: o->c.quiet = 1; break;
		case O_SEQ:
			if (parse_u64(optarg, (uint64_t)INGEST_SEQ_MAX, &u) != CC_OK || u == 0)
				return bad("seq-start", "give a number from 1 to 999999999999");
			o->c.seq_start = (int64_t)u;
			o->seq_start_given = 1;
			break;
		case O_SPEEDUP:
			if (parse_double(optarg, 0.001, 100000, &d) != CC_OK)
				return bad("speedup", "give a factor from 0.001 to 100000");
			o->c.speedup = d;
			break;
		case O_HTTPS_PORT:
			if (parse_u64(optarg, 65535, &u) != CC_OK || u == 0)
				return bad("https-port", "give a port, 1 to 65535");
			o->c.https_port = (int)u;
			break;
		case O_SCENARIO: {
			const char *s = optarg;

			o->c.nscenarios = 0;
			for (;;) {
				size_t len = strcspn(s, ",");

				if (o->c.nscenarios == CLIENT_SCENARIOS_MAX ||
				    fleet_scenario_parse(s, len, &o->c.scenario[o->c.nscenarios]) != CC_OK)
					return bad("scenario", "up to 16 of out-of-spec, warm-fridge, skipped-cleaning, "
					           "no-cleaning, worn-filter, none, comma-separated");
				o->c.nscenarios++;
				if (s[len] == '\0')
					break;
				s += len + 1;
			}
			break;
		}
		case O_BACKFILL:
			if (parse_double(optarg, 0.001, 24 * 92.0, &d) != CC_OK)
				return bad("backfill-hours", "give hours, more than 0 and at most 2208 (92 days)");
			backfill_h = d;
			break;
		case O_FAILRATE:
			if (parse_double(optarg, 0, 1, &d) != CC_OK)
				return bad("fail-rate", "give a fraction, 0 to 1");
			o->c.fail_rate = d;
			break;
		case O_TIMEOUT:
			if (parse_double(optarg, 0.001, 30 * 86400.0, &d) != CC_OK)
				return bad("timeout", "give seconds, more than 0");
			o->c.timeout_s = d;
			break;
		case O_HELP:
			usage(stdout);
			exit(0);
		case O_AGENT: agent_given = 1; break;
		case O_RAW: raw_given = 1; break;
		case O_RELEASE_KEY:
			if (o->c.nrelease_keys == sizeof(o->c.release_keys) / sizeof(o->c.release_keys[0]) ||
			    (o->c.release_keys[o->c.nrelease_keys] = read_pem(optarg)) == NULL)
				return bad("release-key", "give at most 4 readable PEM files");
			o->c.nrelease_keys++;
			break;
		case O_SERVER_KEY:
			if ((o->c.server_key = read_pem(optarg)) == NULL)
				return bad("server-key", "give a readable PEM file");
			break;
		case O_UPDATE_EVERY:
			if (parse_double(optarg, 0.1, 86400.0, &d) != CC_OK)
				return bad("update-every", "give seconds, 0.1 to 86400");
			o->c.update_every_s = d;
			break;
		case O_FAIL_INSTALL: o->c.fail_install = optarg; break;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "coffeecloud-sim: unexpected argument '%s'\n", argv[optind]);
		return EXIT_USAGE;
	}
	if (o->data_dir == NULL)
		return bad("data", "required");
	if (o->machines == 0)
		return bad("machines", "required");
	if (count_given && o->c.duration_s > 0)
		return bad("count", "give --count or --duration, not both");
	if (!port_given)
		o->c.port = o->c.plain ? 1883 : 8883;
	/* Every machine an agent, except where the run asks for what no agent
	 * does: plain TCP, QoS 0 or 2, hostile messages. */
	if (agent_given && raw_given)
		return bad("agent", "give --agent or --raw, not both");
	if (agent_given && (o->c.plain || o->c.qos != 1 || !agent_client_fault(o->c.fault)))
		return bad("agent", "the agent speaks TLS with QoS 1 and sends no bad JSON, foreign topic or "
		           "disconnect: drop --plain, --qos, that --fault");
	o->c.agent = !raw_given && !o->c.plain && o->c.qos == 1 && agent_client_fault(o->c.fault);
	if (!o->c.agent && (o->c.nrelease_keys > 0 || o->c.server_key != NULL || o->c.update_every_s > 0 ||
	                    o->c.fail_install != NULL))
		return bad("agent", "--release-key, --server-key, --update-every and --fail-install need the agent "
		           "(not --raw, --plain, --qos 0|2 or --fault)");
	if (o->c.update_every_s > 0 && (o->c.https_port <= 0 || o->c.server_key == NULL || o->c.nrelease_keys == 0))
		return bad("update-every", "give --https-port, --server-key and --release-key too");
	if (backfill_h > 0) {
		/* The last message must not be stamped after now. */
		double step_s = o->c.speedup * (o->c.rate > 0 ? 1.0 / o->c.rate : 1.0);

		if (!count_given)
			return bad("backfill-hours", "give --count too: the history ends when its messages are sent");
		if ((double)o->c.count * step_s > backfill_h * 3600.0)
			return bad("backfill-hours", "count x step (speedup / rate) passes now: fewer messages, a smaller "
			           "speedup or more hours");
		o->c.backfill_from_ms = clock_now_ms() - (int64_t)(backfill_h * 3600000.0);
	}
	if (!inventory_name_valid(o->customer))
		return bad("customer", "use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit");
	{
		char serial[CC_SERIAL_MAX + 16];

		snprintf(serial, sizeof(serial), "%s-%04u", o->prefix, o->machines);
		if (!inventory_serial_valid(serial) || strlen(o->prefix) + 6 > CC_SERIAL_MAX)
			return bad("prefix", "use letters, digits, '.', '_' or '-' (serials are PREFIX-0001...)");
	}
	return 0;
}

/* ---- provisioning ---- */

struct bundle_out {
	char dir[VAULT_PATH_MAX];
	char cert[VAULT_PATH_MAX], key[VAULT_PATH_MAX], ca[VAULT_PATH_MAX];
};

static int bundle_paths(struct bundle_out *b, const char *certs_dir, const char *serial)
{
	if (file_join(b->dir, sizeof(b->dir), certs_dir, serial) != CC_OK ||
	    file_join(b->cert, sizeof(b->cert), b->dir, "machine.crt") != CC_OK ||
	    file_join(b->key, sizeof(b->key), b->dir, "machine.key") != CC_OK ||
	    file_join(b->ca, sizeof(b->ca), b->dir, "ca.crt") != CC_OK) {
		log_error(MOD, "%s: the bundle path is too long", certs_dir);
		return CC_ERR_LIMIT;
	}
	return CC_OK;
}

/* Writes (or replaces) one bundle file. No fsync: a simulated fleet is
 * provisioned by the thousand, and a bundle lost to a crash is reported
 * clearly on the next run (registered, bundle missing or not matching). */
static int write_bundle_file(const char *path, const char *text, mode_t mode)
{
	size_t len = strlen(text), off = 0;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, mode);

	if (fd < 0 || fchmod(fd, mode) != 0)
		goto fail;
	while (off < len) {
		ssize_t n = write(fd, text + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto fail;
		off += (size_t)n;
	}
	if (close(fd) != 0) {
		fd = -1;
		goto fail;
	}
	return CC_OK;
fail:
	log_error(MOD, "%s: cannot write: %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	return CC_ERR_IO;
}

/* Writes the bundle before the machine is committed (inventory_machine_add):
 * if a file cannot be written, the machine is not registered. Files left by
 * an earlier data directory under the same serial are replaced. */
static int deliver_bundle(void *arg, const struct machine_bundle *b)
{
	struct bundle_out *o = arg;
	int rc;

	if (b->key_pem == NULL)
		return CC_ERR_STATE;
	if (mkdir(o->dir, 0700) != 0 && errno != EEXIST) {
		log_error(MOD, "%s: cannot create: %s", o->dir, strerror(errno));
		return CC_ERR_IO;
	}
	rc = write_bundle_file(o->key, b->key_pem, 0600);
	if (rc == CC_OK)
		rc = write_bundle_file(o->cert, b->cert_pem, 0644);
	if (rc == CC_OK)
		rc = write_bundle_file(o->ca, b->ca_pem, 0644);
	if (rc != CC_OK) {
		unlink(o->key);
		unlink(o->cert);
		unlink(o->ca);
	}
	return rc;
}

static int first_manufacturer(void *arg, const struct store_org *org)
{
	struct store_org *out = arg;

	if (org->kind == ORG_MANUFACTURER && org->parent_id == 0) {
		*out = *org;
		return 1;
	}
	return 0;
}

static int ensure_customer(struct vault *v, const char *name, struct store_org *cust)
{
	struct store *s = vault_store(v);
	struct store_org manuf;
	int rc = s->ops->org_find(s, name, cust);

	if (rc == CC_OK) {
		if (cust->kind != ORG_CUSTOMER) {
			log_error(MOD, "'%s' is a %s, not a customer: choose another --customer", name,
			          org_kind_name(cust->kind));
			return CC_ERR_INVALID;
		}
		return CC_OK;
	}
	if (rc != CC_ERR_NOTFOUND)
		return rc;
	memset(&manuf, 0, sizeof(manuf));
	rc = s->ops->org_list(s, first_manufacturer, &manuf);
	if (rc < 0)
		return rc;
	if (manuf.id == 0) {
		log_error(MOD, "the data directory has no manufacturer organisation (run 'coffeecloud init')");
		return CC_ERR_NOTFOUND;
	}
	return inventory_org_add(v, name, ORG_CUSTOMER, manuf.name, cust);
}

static int ensure_site(struct vault *v, const struct store_org *cust)
{
	struct store *s = vault_store(v);
	struct store_site site;
	int rc = s->ops->site_find(s, cust->id, DEFAULT_SITE, &site);

	if (rc == CC_ERR_NOTFOUND)
		rc = inventory_site_add(v, cust->name, DEFAULT_SITE, NULL);
	return rc;
}

/* A registered machine is reused when its bundle is on disk and holds the
 * certificate the data directory knows. */
static int check_existing(const struct store_machine *m, const struct bundle_out *b, const char *certs_dir)
{
	unsigned char *pem = NULL;
	size_t len = 0;
	int rc;

	if (m->revoked_ms != 0) {
		log_error(MOD, "%s is registered but revoked: use another --prefix", m->serial);
		return CC_ERR_STATE;
	}
	if (!file_exists(b->cert) || !file_exists(b->key) || !file_exists(b->ca)) {
		log_error(MOD, "%s is registered but its bundle is not in %s/%s/ (machine.crt, machine.key, "
		          "ca.crt): give the right --certs, or another --prefix to provision new machines",
		          m->serial, certs_dir, m->serial);
		return CC_ERR_NOTFOUND;
	}
	rc = file_read_all(b->cert, CC_SMALL_FILE_MAX, &pem, &len);
	if (rc != CC_OK)
		return rc;
	if (len != strlen(m->cert_pem) || memcmp(pem, m->cert_pem, len) != 0) {
		log_error(MOD, "%s: %s is not the certificate registered for it: use the bundle "
		          "provisioned with this data directory, or another --prefix", m->serial, b->cert);
		rc = CC_ERR_INVALID;
	}
	free(pem);
	if (rc == CC_OK)
		rc = file_check_private(b->key);
	return rc;
}

static int provision(const struct options *o, char (*serials)[CC_SERIAL_MAX + 1])
{
	struct vault *v = NULL;
	struct store *s;
	struct store_org cust;
	uint32_t i, created = 0;
	int rc;

	rc = vault_open(o->data_dir, o->master_key_file, &v);
	if (rc != CC_OK)
		return rc;
	s = vault_store(v);
	rc = ensure_customer(v, o->customer, &cust);
	if (rc == CC_OK)
		rc = ensure_site(v, &cust);
	if (rc == CC_OK && mkdir(o->c.certs_dir, 0700) != 0 && errno != EEXIST) {
		log_error(MOD, "%s: cannot create: %s", o->c.certs_dir, strerror(errno));
		rc = CC_ERR_IO;
	}
	for (i = 0; rc == CC_OK && i < o->machines; i++) {
		struct store_machine m;
		struct bundle_out b;

		snprintf(serials[i], CC_SERIAL_MAX + 1, "%s-%04u", o->prefix, i + 1);
		rc = bundle_paths(&b, o->c.certs_dir, serials[i]);
		if (rc != CC_OK)
			break;
		rc = s->ops->machine_find(s, serials[i], &m);
		if (rc == CC_OK) {
			rc = check_existing(&m, &b, o->c.certs_dir);
			if (rc == CC_OK && m.customer_id != cust.id && !o->c.quiet)
				log_warn(MOD, "%s belongs to another customer than '%s'; reusing it", serials[i],
				         o->customer);
			continue;
		}
		if (rc != CC_ERR_NOTFOUND)
			break;
		rc = inventory_machine_add(v, serials[i], CLIENT_MODEL, o->customer, DEFAULT_SITE, NULL,
		                           deliver_bundle, &b);
		if (rc == CC_OK && ++created % 500 == 0 && !o->c.quiet)
			log_info(MOD, "provisioned %u machines...", created);
	}
	/* Closed before any traffic: the daemon must have the database to itself. */
	vault_close(v);
	if (rc == CC_OK && !o->c.quiet) {
		printf("fleet       %u machines of customer %s (%u provisioned now, %u reused); bundles in %s\n",
		       o->machines, o->customer, created, o->machines - created, o->c.certs_dir);
		fflush(stdout);
	}
	return rc;
}

/* ---- the summary ---- */

static int outcome_ok(const struct options *o, const struct client_stats *st)
{
	if (st->machines_connected < st->machines || st->shortfall > 0 || st->publish_errors > 0)
		return 0;
	if (st->control_refused > 0)
		return 0;
	if (o->c.qos == 0)
		return st->lost == 0 || o->c.fault == FLEET_FAULT_DISCONNECT;
	if (st->unresolved > 0 || st->unexpected_refused > 0)
		return 0;
	/* MQTT 3.1.1 has no way to refuse a message: the server acknowledges and drops it. */
	if (o->c.protocol == 5 && st->hostile_acked > 0)
		return 0;
	return 1;
}

static void print_summary(const struct options *o, const struct client_stats *st, double rate, int ok)
{
	char reasons[256] = "";
	size_t off = 0;
	int i;

	for (i = 0; i < 256; i++) {
		if (st->refused_by_reason[i] == 0)
			continue;
		off += (size_t)snprintf(reasons + off, off < sizeof(reasons) ? sizeof(reasons) - off : 0,
		                        "%s0x%02x: %llu", off ? ", " : " (", i,
		                        (unsigned long long)st->refused_by_reason[i]);
		if (off >= sizeof(reasons))
			break;
	}
	if (off > 0 && off + 2 < sizeof(reasons))
		memcpy(reasons + off, ")", 2);
	printf("connections %u/%u machines connected; %llu connects, %llu reconnects, %llu disconnects, "
	       "%llu sessions resumed, %llu failed attempts\n",
	       st->machines_connected, st->machines, (unsigned long long)st->connects,
	       (unsigned long long)st->reconnects, (unsigned long long)st->disconnects,
	       (unsigned long long)st->sessions_resumed, (unsigned long long)st->connect_errors);
	printf("sent        %llu data messages (%llu telemetry, %llu events) at QoS %d over MQTT %s%s\n",
	       (unsigned long long)st->sent, (unsigned long long)st->telemetry,
	       (unsigned long long)st->events, o->c.qos, o->c.protocol == 5 ? "5" : "3.1.1",
	       o->c.plain ? " (plain TCP)" : " (TLS 1.3)");
	printf("acked       %llu%s\n", (unsigned long long)st->acked, o->c.qos == 0 ? " (QoS 0: written)" : "");
	printf("refused     %llu%s\n", (unsigned long long)st->refused, reasons);
	for (i = 0; i < (int)st->reason_texts_used; i++)
		printf("            %llu refused with \"%s\"\n", (unsigned long long)st->reason_texts[i].count,
		       st->reason_texts[i].text);
	if (o->c.fault != FLEET_FAULT_NONE)
		printf("fault       %s: %llu hostile sent, %llu refused, %llu acked; %llu queued while down\n",
		       fleet_fault_name(o->c.fault), (unsigned long long)st->hostile_sent,
		       (unsigned long long)st->hostile_refused, (unsigned long long)st->hostile_acked,
		       (unsigned long long)st->queued_while_down);
	printf("unresolved  %llu unacknowledged, %llu well-formed refused, %llu lost, %llu not sent\n",
	       (unsigned long long)st->unresolved, (unsigned long long)st->unexpected_refused,
	       (unsigned long long)st->lost, (unsigned long long)st->shortfall);
	printf("status      %llu status/info messages, %llu acked, %llu refused\n",
	       (unsigned long long)st->control_sent, (unsigned long long)st->control_acked,
	       (unsigned long long)st->control_refused);
	printf("commands    %llu received, %llu answered; %llu diagnostics bundles uploaded, %llu failed\n",
	       (unsigned long long)st->commands_received, (unsigned long long)st->commands_answered,
	       (unsigned long long)st->diagnostics_uploaded, (unsigned long long)st->diagnostics_failed);
	printf("errors      %llu (%llu connection attempts, %llu publish calls)\n",
	       (unsigned long long)(st->connect_errors + st->publish_errors),
	       (unsigned long long)st->connect_errors, (unsigned long long)st->publish_errors);
	printf("time        %.2f s from first publish to last acknowledgement: %.0f msgs/s; "
	       "all connected after %.2f s; %.2f s in all\n",
	       st->seconds, rate, st->connect_seconds, st->elapsed_seconds);
	printf("result      %s%s\n", ok ? "ok" : "FAILED", st->interrupted ? " (interrupted)" : "");
}


/* The latency (ms) under which a fraction q of acknowledged messages came back. */
static double latency_percentile(const struct client_stats *st, double q)
{
	uint64_t total = 0, seen = 0;
	size_t i;

	for (i = 0; i < CLIENT_LATENCY_BUCKETS; i++)
		total += st->latency[i];
	if (total == 0)
		return 0;
	for (i = 0; i < CLIENT_LATENCY_BUCKETS; i++) {
		seen += st->latency[i];
		if ((double)seen >= q * (double)total)
			break;
	}
	return (double)((i + 1) * CLIENT_LATENCY_BUCKET_US) / 1000.0;
}

static int print_json(const struct options *o, const struct client_stats *st, double rate, int ok)
{
	json_t *doc = json_object(), *reasons = json_object(), *texts = json_object();
	char *text;
	int i;

	if (doc == NULL || reasons == NULL || texts == NULL)
		goto nomem;
	for (i = 0; i < (int)st->reason_texts_used; i++)
		if (json_object_set_new(texts, st->reason_texts[i].text,
		                        json_integer((json_int_t)st->reason_texts[i].count)) != 0)
			goto nomem;
	for (i = 0; i < 256; i++) {
		char key[8];

		if (st->refused_by_reason[i] == 0)
			continue;
		snprintf(key, sizeof(key), "0x%02x", i);
		if (json_object_set_new(reasons, key, json_integer((json_int_t)st->refused_by_reason[i])) != 0)
			goto nomem;
	}
#define SETI(k, v) (json_object_set_new(doc, (k), json_integer((json_int_t)(v))) != 0)
#define SETR(k, v) (json_object_set_new(doc, (k), json_real(v)) != 0)
	if (SETI("machines", st->machines) || SETI("sent", st->sent) || SETI("acked", st->acked) ||
	    SETI("refused", st->refused) || json_object_set(doc, "refused_reasons", reasons) != 0 ||
	    json_object_set(doc, "refused_reason_strings", texts) != 0 ||
	    SETI("commands_received", st->commands_received) || SETI("commands_answered", st->commands_answered) ||
	    SETI("diagnostics_uploaded", st->diagnostics_uploaded) || SETI("diagnostics_failed", st->diagnostics_failed) ||
	    SETI("reconnects", st->reconnects) ||
	    SETI("errors", st->connect_errors + st->publish_errors) ||
	    SETR("seconds", (double)(int64_t)(st->seconds * 1000) / 1000.0) ||
	    SETR("msgs_per_s", (double)(int64_t)(rate * 10) / 10.0) ||
	    SETR("ack_p50_ms", latency_percentile(st, 0.50)) || SETR("ack_p99_ms", latency_percentile(st, 0.99)) ||
	    SETI("connected", st->machines_connected) || SETI("telemetry", st->telemetry) ||
	    SETI("events", st->events) || SETI("unresolved", st->unresolved) ||
	    SETI("hostile_sent", st->hostile_sent) || SETI("hostile_refused", st->hostile_refused) ||
	    SETI("hostile_acked", st->hostile_acked) || SETI("unexpected_refused", st->unexpected_refused) ||
	    SETI("queued_while_down", st->queued_while_down) || SETI("lost", st->lost) ||
	    SETI("not_sent", st->shortfall) || SETI("control_sent", st->control_sent) ||
	    SETI("control_acked", st->control_acked) || SETI("control_refused", st->control_refused) ||
	    SETI("connects", st->connects) || SETI("disconnects", st->disconnects) ||
	    SETI("sessions_resumed", st->sessions_resumed) || SETI("connect_errors", st->connect_errors) ||
	    SETI("publish_errors", st->publish_errors) || SETI("events_dropped", st->events_dropped) ||
	    SETR("connect_seconds", (double)(int64_t)(st->connect_seconds * 1000) / 1000.0) ||
	    SETR("elapsed_seconds", (double)(int64_t)(st->elapsed_seconds * 1000) / 1000.0) ||
	    SETI("qos", o->c.qos) || SETI("mqtt", o->c.protocol) ||
	    json_object_set_new(doc, "tls", json_boolean(!o->c.plain)) != 0 ||
	    json_object_set_new(doc, "fault", json_string(fleet_fault_name(o->c.fault))) != 0 ||
	    SETI("seq_start", o->c.seq_start) || SETI("max_seq", st->max_seq) ||
	    json_object_set_new(doc, "agent", json_boolean(o->c.agent)) != 0 ||
	    SETI("update_checks", st->update_checks) || SETI("updates_installed", st->updates_installed) ||
	    SETI("updates_refused", st->updates_refused) || SETI("updates_failed", st->updates_failed) ||
	    json_object_set_new(doc, "interrupted", json_boolean(st->interrupted)) != 0 ||
	    json_object_set_new(doc, "ok", json_boolean(ok)) != 0)
		goto nomem;
#undef SETI
#undef SETR
	json_decref(reasons);
	json_decref(texts);
	text = json_dumps(doc, JSON_COMPACT | JSON_REAL_PRECISION(10));
	json_decref(doc);
	if (text == NULL)
		return CC_ERR_NOMEM;
	printf("%s\n", text);
	free(text);
	return fflush(stdout) == 0 ? CC_OK : CC_ERR_IO;
nomem:
	json_decref(reasons);
	json_decref(texts);
	json_decref(doc);
	return CC_ERR_NOMEM;
}

static void on_signal(int sig)
{
	(void)sig;
	client_request_stop();
}

int main(int argc, char **argv)
{
	struct options o;
	struct client_stats st;
	char (*serials)[CC_SERIAL_MAX + 1] = NULL;
	const char **names = NULL;
	struct sigaction sa;
	double rate = 0;
	uint32_t i;
	int rc, ok;

	memset(&o, 0, sizeof(o));
	o.customer = DEFAULT_CUSTOMER;
	o.prefix = DEFAULT_PREFIX;
	o.c.host = "127.0.0.1";
	o.c.protocol = 5;
	o.c.qos = 1;
	o.c.rate = 1;
	o.c.fail_rate = 0.1;
	o.c.count = 10;
	o.c.speedup = 1;
	o.c.seed = 1;
	rc = parse_args(argc, argv, &o);
	if (rc != 0)
		return rc;
	log_set_level(o.c.quiet ? LOG_LEVEL_WARN : LOG_LEVEL_INFO);

	if (o.certs_dir == NULL) {
		size_t len = strlen(o.data_dir);

		while (len > 1 && o.data_dir[len - 1] == '/')
			len--;
		if (len + sizeof(".sim-certs") > sizeof(o.certs_default))
			return bad("data", "path too long");
		memcpy(o.certs_default, o.data_dir, len);
		memcpy(o.certs_default + len, ".sim-certs", sizeof(".sim-certs"));
		o.certs_dir = o.certs_default;
	}
	o.c.certs_dir = o.certs_dir;
	{
		/* The models' day starts where their first message is stamped. */
		time_t now = o.c.backfill_from_ms > 0 ? (time_t)(o.c.backfill_from_ms / 1000) : time(NULL);
		struct tm tm;

		if (localtime_r(&now, &tm) != NULL)
			o.c.start_day_s = tm.tm_hour * 3600.0 + tm.tm_min * 60.0 + tm.tm_sec;
	}

	serials = calloc(o.machines, sizeof(*serials));
	names = calloc(o.machines, sizeof(*names));
	if (serials == NULL || names == NULL) {
		log_error(MOD, "out of memory");
		rc = 1;
		goto out;
	}
	rc = provision(&o, serials);
	if (rc != CC_OK) {
		log_error(MOD, "provisioning failed: %s", cc_strerror(rc));
		rc = 1;
		goto out;
	}
	for (i = 0; i < o.machines; i++)
		names[i] = serials[i];
	if (seq_choose(&o) != CC_OK) {
		rc = 1;
		goto out;
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	if (o.c.agent) {
		/* Process-wide, once: the agent library leaves it to its user. */
		curl_global_init(CURL_GLOBAL_DEFAULT);
		mosquitto_lib_init();
		rc = agent_client_run(&o.c, names, o.machines, &st);
		mosquitto_lib_cleanup();
		curl_global_cleanup();
	} else {
		rc = client_run(&o.c, names, o.machines, &st);
	}
	if (rc != CC_OK) {
		log_error(MOD, "the run could not start: %s", cc_strerror(rc));
		rc = 1;
		goto out;
	}
	if (seq_state_raise(o.c.certs_dir, st.max_seq >= (uint64_t)(o.c.seq_start + (int64_t)st.max_sent)
	                                   ? (int64_t)st.max_seq + 1 : o.c.seq_start + (int64_t)st.max_sent) != CC_OK)
		log_error(MOD, "%s/%s could not be updated: the next run may reuse seq numbers",
		          o.c.certs_dir, SEQ_STATE_FILE);
	if (st.seconds > 0)
		rate = (double)(st.acked + st.refused) / st.seconds;
	ok = outcome_ok(&o, &st);
	if (!o.c.quiet)
		print_summary(&o, &st, rate, ok);
	rc = print_json(&o, &st, rate, ok) == CC_OK && ok ? 0 : 1;
out:
	free(serials);
	free(names);
	for (i = 0; i < o.c.nrelease_keys; i++)
		free((char *)o.c.release_keys[i]); /* read_pem's */
	free((char *)o.c.server_key);
	return rc;
}
