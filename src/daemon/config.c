#include "daemon/config.h"

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/file.h"
#include "common/log.h"
#include "daemon/netaddr.h"

#define MOD "config"

enum opt_type { OPT_STRING, OPT_INT, OPT_BOOL, OPT_ENUM };

struct opt {
	const char *name;
	enum opt_type type;
	size_t offset;
	size_t size;        /* strings: buffer size */
	const char *def;
	int64_t min, max;   /* ints */
	const char *choices;/* enums: "a|b|c" */
	const char *help;
};

#define S(field) OPT_STRING, offsetof(struct config, field), sizeof(((struct config *)0)->field)
#define I(field) OPT_INT, offsetof(struct config, field), sizeof(int64_t)
#define B(field) OPT_BOOL, offsetof(struct config, field), sizeof(int)
#define E(field) OPT_ENUM, offsetof(struct config, field), sizeof(((struct config *)0)->field)

static const struct opt table[] = {
	{ "user", S(user), "coffeecloud", 0, 0, NULL,
	  "account the daemon switches to when started as root; must own the data directory" },
	{ "log_level", E(log_level), "info", 0, 0, "error|warn|info|debug",
	  "what is logged to stderr; reloads on SIGHUP" },
	{ "log_format", E(log_format), "text", 0, 0, "text|json",
	  "one line per event on stderr (journald): text (time module: level: message) or json (one object a "
	  "line: ts, level, module, msg); never payload content; reloads on SIGHUP" },
	{ "metrics_listen", S(metrics_listen), "", 0, 0, NULL,
	  "loopback address:port of the plain-HTTP listener for GET /metrics (Prometheus), /healthz and /readyz; "
	  "empty turns it off; refused on any other address (docs/OPERATIONS.md \"Watching it\")" },
	{ "mqtt_listen", S(mqtt_listen), "0.0.0.0:8883", 0, 0, NULL,
	  "address:port of the machines' MQTT/TLS listener; empty turns it off" },
	{ "mqtt_tls12", B(mqtt_tls12), "true", 0, 0, NULL,
	  "also accept TLS 1.2 (ECDHE-ECDSA with AES-GCM or ChaCha20-Poly1305 only) for older firmware" },
	{ "mqtt_plain_listen", S(mqtt_plain_listen), "", 0, 0, NULL,
	  "loopback address:port of a plain-TCP MQTT listener, for tests only; refused on any other address" },
	{ "mqtt_plain_acl", E(mqtt_plain_acl), "machine", 0, 0, "machine|open",
	  "ACL of the plain listener: machine (client id = serial, own topics) or open (an in-memory broker for "
	  "MQTT conformance suites: any client id, sessions, wills, retained messages; nothing stored; see docs/CONFORMANCE.md)" },
	{ "mqtt_open_nosubscribe", S(mqtt_open_nosubscribe), "", 0, 0, NULL,
	  "open ACL only: a topic filter whose SUBSCRIBE is refused (0x80), for suites that test a refused "
	  "subscription (the Paho suites use test/nosubscribe)" },
	{ "mqtt_max_packet", I(mqtt_max_packet), "66560", 1024, 1048576, NULL,
	  "largest MQTT packet accepted, bytes (before CONNECT: at most 8192)" },
	{ "mqtt_receive_max", I(mqtt_receive_max), "64", 1, 1024, NULL,
	  "QoS 1/2 messages a machine may have unacknowledged (MQTT 5 receive maximum; an MQTT 3.1.1 machine "
	  "with more in flight is held back by not reading its socket until acknowledgements free slots)" },
	{ "mqtt_keepalive_max", I(mqtt_keepalive_max), "300", 10, 3600, NULL,
	  "longest keepalive granted, seconds; a silent machine is dropped after 1.5 times its keepalive" },
	{ "mqtt_connect_timeout_s", I(mqtt_connect_timeout_s), "10", 1, 120, NULL,
	  "time from TCP accept to a complete CONNECT, seconds" },
	{ "mqtt_max_connections", I(mqtt_max_connections), "19000", 1, 1000000, NULL,
	  "machine connections held at once" },
	{ "mqtt_max_per_address", I(mqtt_max_per_address), "20000", 1, 1000000, NULL,
	  "connections from one source address (a NAT in front of a fleet needs many)" },
	{ "https_listen", S(https_listen), "0.0.0.0:8443", 0, 0, NULL,
	  "address:port of the HTTPS API and policy for people and partner systems; empty turns it off" },
	{ "https_tls12", B(https_tls12), "false", 0, 0, NULL,
	  "also accept TLS 1.2 (ECDHE-ECDSA with AEAD ciphers only) on the HTTPS listener" },
	{ "https_plain_listen", S(https_plain_listen), "", 0, 0, NULL,
	  "loopback address:port of a plain-HTTP API listener, for tests only; refused on any other address" },
	{ "https_timeout_s", I(https_timeout_s), "30", 1, 600, NULL,
	  "a request must arrive and its answer leave within this many seconds (slow clients are cut)" },
	{ "api_session_ttl_s", I(api_session_ttl_s), "28800", 300, 604800, NULL,
	  "how long a sign-in lasts (seconds)" },
	{ "totp_required_for_admins", B(totp_required_for_admins), "false", 0, 0, NULL,
	  "admins must sign in with a TOTP code; one without an enrolled authenticator may only enrol" },
	{ "commit_max_batch", I(commit_max_batch), "8192", 1, 100000, NULL,
	  "messages per group commit at most" },
	{ "inbox_backlog_max", I(inbox_backlog_max), "100000", 1000, 10000000, NULL,
	  "telemetry and events received and not yet moved from the inbox into the tables, at most: beyond, "
	  "new messages wait (machines are slowed down by TCP), so reads, which scan the inbox, stay fast" },
	{ "commit_gather_us", I(commit_gather_us), "300", 0, 10000, NULL,
	  "while messages keep coming, a group commit waits this long after its first message for more: "
	  "fewer commits (less CPU) for a little latency; a lone message never waits; 0: never" },
	{ "fleet_poll_ms", I(fleet_poll_ms), "250", 50, 10000, NULL,
	  "how often the daemon looks for added, revoked or erased machines; revocation takes effect within this, "
	  "and an erased customer's data key leaves every cache of the daemon (event loop, writer, settler) within this" },
	{ "purposes", S(purposes), CONFIG_PURPOSES_KNOWN, 0, 0, NULL,
	  "what customers' data is used for here, comma-separated (of " CONFIG_PURPOSES_KNOWN "); routes of "
	  "other purposes answer 404, and the privacy policy lists exactly these" },
	{ "retention_telemetry_days", I(retention_telemetry_days), "0", 0, 36500, NULL,
	  "telemetry older than this many days is deleted; 0 keeps it until the customer is erased" },
	{ "retention_events_days", I(retention_events_days), "0", 0, 36500, NULL,
	  "events older than this many days are deleted; 0 keeps them until the customer is erased" },
	{ "retention_reports_days", I(retention_reports_days), "0", 0, 36500, NULL,
	  "service and installation reports older than this many days are deleted; 0 keeps them until erasure" },
	{ "retention_rollups_days", I(retention_rollups_days), "0", 0, 36500, NULL,
	  "per-minute and per-hour summaries of telemetry (the charts of long periods) older than this many days "
	  "are deleted; 0 keeps them until erasure, so charts outlive the raw points" },
	{ "retention_tickets_days", I(retention_tickets_days), "0", 0, 36500, NULL,
	  "service tickets closed more than this many days ago are deleted with their history; open ones are kept; "
	  "0 keeps them until the customer is erased" },
	{ "retention_sweep_s", I(retention_sweep_s), "3600", 1, 86400, NULL,
	  "how often records past their retention are looked for and deleted, seconds" },
	{ "retention_batch_rows", I(retention_batch_rows), "5000", 1, 1000000, NULL,
	  "records deleted per transaction by the retention sweep: other writers wait for one batch at most" },
	{ "downloads_max", I(downloads_max), "64", 1, 100000, NULL,
	  "artifacts sent to machines at once; more wait in line (four times as many), beyond that 503 with "
	  "Retry-After (docs/UPDATES.md \"Downloads in line\")" },
	{ "diagnostics_max_bytes", I(diagnostics_max_bytes), "16777216", 1024, 268435456, NULL,
	  "the largest diagnostics bundle a machine may upload, bytes (docs/METRICS.md \"Diagnostics bundles\")" },
	{ "diagnostics_retention_days", I(diagnostics_retention_days), "30", 0, 36500, NULL,
	  "diagnostics bundles older than this are deleted; 0 keeps them until erasure" },
	{ "webhook_allow_private", B(webhook_allow_private), "false", 0, 0, NULL,
	  "let webhooks reach loopback, private, link-local and other internal addresses (a receiver inside "
	  "the operator's network, tests); off, such targets are refused when added and at every connection" },
	{ "webhook_ca_file", S(webhook_ca_file), "", 0, 0, NULL,
	  "PEM file of the CAs webhook receivers' certificates are verified against; empty: the system's store" },
	{ "webhook_timeout_s", I(webhook_timeout_s), "10", 1, 120, NULL,
	  "one webhook delivery attempt, connection included, seconds" },
	{ "webhook_retry_window_s", I(webhook_retry_window_s), "86400", 5, 604800, NULL,
	  "how long a notification is retried from when it was queued before it counts as failed, seconds" },
	{ "webhook_retry_base_ms", I(webhook_retry_base_ms), "5000", 100, 600000, NULL,
	  "wait after a notification's first failed attempt; it doubles per attempt (at most an hour, +-20 % jitter)" },
	{ "webhook_disable_after", I(webhook_disable_after), "5", 1, 1000, NULL,
	  "consecutive failed notifications that disable a webhook endpoint (its organisation is notified)" },
	{ "notify_poll_ms", I(notify_poll_ms), "500", 50, 60000, NULL,
	  "how often the notification outbox is looked at for due deliveries" },
	{ "smtp_url", S(smtp_url), "", 0, 0, NULL,
	  "the SMTP relay notification e-mails go to: smtp://HOST:PORT (STARTTLS required unless HOST is loopback) "
	  "or smtps://HOST:PORT; empty: no e-mail (e-mail notifications wait, then fail after the retry window)" },
	{ "smtp_from", S(smtp_from), "coffeecloud@localhost", 0, 0, NULL, "the sender address of notification e-mails" },
	{ "smtp_credentials_file", S(smtp_credentials_file), "", 0, 0, NULL,
	  "a file (mode 0600, else refused) with one line USER:PASSWORD for the relay; empty: no authentication" },
	{ "smtp_ca_file", S(smtp_ca_file), "", 0, 0, NULL,
	  "PEM file of the CAs the relay's certificate is verified against; empty: the system's store" },
	{ "alerts", B(alerts), "true", 0, 0, NULL,
	  "evaluate the alert rules (docs/OPERATIONS.md \"Alerts\"): on settled telemetry and events, and on the "
	  "alert timer; false stops opening, resolving and escalating alerts (the bench's comparison)" },
	{ "alerts_tick_ms", I(alerts_tick_ms), "60000", 100, 3600000, NULL,
	  "how often the time-based alert rules (offline, out of service, refusals, certificate expiry) and "
	  "escalation run" },
	{ "rollouts_tick_ms", I(rollouts_tick_ms), "10000", 50, 3600000, NULL,
	  "how often the staged rollouts move (docs/UPDATES.md): offers of the next machines, soak, halts" },
};

#define OPT_COUNT (sizeof(table) / sizeof(table[0]))

static int set_value(struct config *cfg, const struct opt *o, const char *value, int line)
{
	char *field = (char *)cfg + o->offset;
	size_t len = strlen(value);

	switch (o->type) {
	case OPT_STRING:
		if (len >= o->size) {
			log_error(MOD, "line %d: %s is longer than %zu characters", line, o->name, o->size - 1);
			return CC_ERR_INVALID;
		}
		memcpy(field, value, len + 1);
		return CC_OK;
	case OPT_ENUM: {
		const char *c = o->choices;

		while (*c) {
			const char *bar = strchr(c, '|');
			size_t n = bar ? (size_t)(bar - c) : strlen(c);

			if (n == len && memcmp(c, value, n) == 0 && len < o->size) {
				memcpy(field, value, len + 1);
				return CC_OK;
			}
			c += n + (bar ? 1 : 0);
		}
		log_error(MOD, "line %d: %s must be one of %s", line, o->name, o->choices);
		return CC_ERR_INVALID;
	}
	case OPT_BOOL:
		if (strcmp(value, "true") == 0 || strcmp(value, "yes") == 0 || strcmp(value, "on") == 0) {
			*(int *)field = 1;
		} else if (strcmp(value, "false") == 0 || strcmp(value, "no") == 0 || strcmp(value, "off") == 0) {
			*(int *)field = 0;
		} else {
			log_error(MOD, "line %d: %s must be true or false", line, o->name);
			return CC_ERR_INVALID;
		}
		return CC_OK;
	case OPT_INT: {
		char *end = NULL;
		long long v;

		errno = 0;
		v = strtoll(value, &end, 10);
		if (errno != 0 || end == value || *end != '\0' || v < o->min || v > o->max) {
			log_error(MOD, "line %d: %s must be a whole number from %lld to %lld", line, o->name,
			          (long long)o->min, (long long)o->max);
			return CC_ERR_INVALID;
		}
		*(int64_t *)field = v;
		return CC_OK;
	}
	}
	return CC_ERR_INVALID;
}

void config_defaults(struct config *cfg)
{
	size_t i;

	memset(cfg, 0, sizeof(*cfg));
	for (i = 0; i < OPT_COUNT; i++)
		(void)set_value(cfg, &table[i], table[i].def, 0);
}

static char *trim(char *s)
{
	char *end;

	while (*s == ' ' || *s == '\t')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
		*--end = '\0';
	return s;
}

int config_parse(struct config *cfg, const char *text, size_t len)
{
	char line[1024];
	size_t pos = 0;
	int lineno = 0;

	if (len > CONFIG_FILE_MAX)
		return CC_ERR_LIMIT;
	while (pos < len) {
		size_t start = pos, n;
		char *key, *value, *eq, *hash;
		size_t i;
		int found = 0, rc;

		while (pos < len && text[pos] != '\n')
			pos++;
		n = pos - start;
		pos++; /* past the newline */
		lineno++;
		if (n >= sizeof(line)) {
			log_error(MOD, "line %d: longer than %zu characters", lineno, sizeof(line) - 1);
			return CC_ERR_INVALID;
		}
		memcpy(line, text + start, n);
		line[n] = '\0';
		if (memchr(line, '\0', n) != NULL) {
			log_error(MOD, "line %d: contains a NUL byte", lineno);
			return CC_ERR_INVALID;
		}
		hash = strchr(line, '#');
		if (hash != NULL)
			*hash = '\0';
		key = trim(line);
		if (*key == '\0')
			continue;
		eq = strchr(key, '=');
		if (eq == NULL) {
			log_error(MOD, "line %d: expected name = value", lineno);
			return CC_ERR_INVALID;
		}
		*eq = '\0';
		key = trim(key);
		value = trim(eq + 1);
		for (i = 0; i < OPT_COUNT; i++) {
			if (strcmp(table[i].name, key) == 0) {
				rc = set_value(cfg, &table[i], value, lineno);
				if (rc != CC_OK)
					return rc;
				found = 1;
				break;
			}
		}
		if (!found) {
			/* Name it only when it looks like a name: a log line carries no arbitrary bytes. */
			if (strlen(key) <= 64 && strspn(key, "abcdefghijklmnopqrstuvwxyz0123456789_") == strlen(key))
				log_error(MOD, "line %d: unknown setting '%s' (see docs/CONFIG.md)", lineno, key);
			else
				log_error(MOD, "line %d: unknown setting (see docs/CONFIG.md)", lineno);
			return CC_ERR_INVALID;
		}
	}
	return CC_OK;
}

int config_load_file(struct config *cfg, const char *path)
{
	unsigned char *text = NULL;
	size_t len = 0;
	int rc = file_read_all(path, CONFIG_FILE_MAX, &text, &len);

	if (rc != CC_OK)
		return rc;
	rc = config_parse(cfg, (const char *)text, len);
	if (rc != CC_OK)
		log_error(MOD, "%s: not loaded", path);
	free(text);
	return rc;
}

/* A comma-separated list of known purposes, each once (may be empty: the
 * installation then uses customers' data for nothing but administration). */
static int purposes_valid(const char *list)
{
	static const char *const known[] = { "downtime", "quality", "support", "updates" };
	int seen[4] = { 0 };
	const char *p = list;

	while (*p != '\0') {
		size_t n = strcspn(p, ","), i;

		for (i = 0; i < 4; i++)
			if (strlen(known[i]) == n && strncmp(known[i], p, n) == 0)
				break;
		if (i == 4 || seen[i]++)
			return 0;
		p += n;
		if (*p == ',' && *++p == '\0')
			return 0;
	}
	return 1;
}

int config_validate(const struct config *cfg)
{
	struct netaddr a;

	if (cfg->mqtt_listen[0] != '\0' && netaddr_parse(cfg->mqtt_listen, &a) != CC_OK) {
		log_error(MOD, "mqtt_listen: expected address:port, e.g. 0.0.0.0:8883 or [::]:8883");
		return CC_ERR_INVALID;
	}
	if (cfg->mqtt_plain_listen[0] != '\0') {
		if (netaddr_parse(cfg->mqtt_plain_listen, &a) != CC_OK) {
			log_error(MOD, "mqtt_plain_listen: expected address:port");
			return CC_ERR_INVALID;
		}
		if (!netaddr_is_loopback(&a)) {
			log_error(MOD, "mqtt_plain_listen: a listener without TLS may only bind a loopback "
			          "address (127.0.0.0/8 or ::1)");
			return CC_ERR_PERM;
		}
	}
	if (cfg->https_listen[0] != '\0' && netaddr_parse(cfg->https_listen, &a) != CC_OK) {
		log_error(MOD, "https_listen: expected address:port, e.g. 0.0.0.0:8443");
		return CC_ERR_INVALID;
	}
	if (cfg->https_plain_listen[0] != '\0') {
		if (netaddr_parse(cfg->https_plain_listen, &a) != CC_OK) {
			log_error(MOD, "https_plain_listen: expected address:port");
			return CC_ERR_INVALID;
		}
		if (!netaddr_is_loopback(&a)) {
			log_error(MOD, "https_plain_listen: a listener without TLS may only bind a loopback "
			          "address (127.0.0.0/8 or ::1)");
			return CC_ERR_PERM;
		}
	}
	if (cfg->metrics_listen[0] != '\0') {
		if (netaddr_parse(cfg->metrics_listen, &a) != CC_OK) {
			log_error(MOD, "metrics_listen: expected address:port, e.g. 127.0.0.1:9464");
			return CC_ERR_INVALID;
		}
		if (!netaddr_is_loopback(&a)) {
			log_error(MOD, "metrics_listen: the metrics listener has no TLS and no sign-in, so it may only "
			          "bind a loopback address (127.0.0.0/8 or ::1)");
			return CC_ERR_PERM;
		}
	}
	if (!purposes_valid(cfg->purposes)) {
		log_error(MOD, "purposes: a comma-separated list of %s, each at most once", CONFIG_PURPOSES_KNOWN);
		return CC_ERR_INVALID;
	}
	if (strcmp(cfg->mqtt_plain_acl, "open") == 0 && cfg->mqtt_plain_listen[0] == '\0') {
		log_error(MOD, "mqtt_plain_acl = open needs mqtt_plain_listen");
		return CC_ERR_INVALID;
	}
	if (cfg->mqtt_listen[0] == '\0' && cfg->mqtt_plain_listen[0] == '\0') {
		log_error(MOD, "no listener configured");
		return CC_ERR_INVALID;
	}
	return CC_OK;
}

/* "a|b" as "a, b": a bar would split a Markdown table cell. */
static void choices_text(const char *choices, char *out, size_t cap)
{
	size_t j = 0;

	for (; *choices != '\0' && j + 3 < cap; choices++) {
		if (*choices == '|') {
			out[j++] = ',';
			out[j++] = ' ';
		} else {
			out[j++] = *choices;
		}
	}
	out[j] = '\0';
}

void config_print_reference(void)
{
	size_t i;

	printf("| setting | type | default | range | meaning |\n|---|---|---|---|---|\n");
	for (i = 0; i < OPT_COUNT; i++) {
		const struct opt *o = &table[i];
		char range[64] = "";

		if (o->type == OPT_INT)
			snprintf(range, sizeof(range), "%lld–%lld", (long long)o->min, (long long)o->max);
		else if (o->type == OPT_ENUM)
			choices_text(o->choices, range, sizeof(range));
		printf("| `%s` | %s | %s | %s | %s |\n", o->name,
		       o->type == OPT_STRING ? "string" : o->type == OPT_INT ? "integer" :
		       o->type == OPT_BOOL ? "boolean" : "choice",
		       o->def[0] ? o->def : "(empty)", range, o->help);
	}
}
