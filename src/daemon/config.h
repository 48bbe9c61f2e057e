/*
 * config.h - the daemon's configuration: one declarative table (name, type,
 * default, range, meaning), documented in docs/CONFIG.md; changes take
 * effect at the next start, those that say so also on SIGHUP (main.c). A file of `name = value` lines ('#' starts a comment)
 * overrides the defaults; --check-config validates without starting.
 */
#ifndef CC_DAEMON_CONFIG_H
#define CC_DAEMON_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#define CONFIG_STRING_MAX 256
#define CONFIG_FILE_MAX (64 * 1024)

struct config {
	char user[CONFIG_STRING_MAX];            /* account to run as when started as root */
	char log_level[16];
	char log_format[8];                      /* text | json */
	char metrics_listen[CONFIG_STRING_MAX];  /* loopback host:port of /metrics, /healthz, /readyz; "" = off */
	char mqtt_listen[CONFIG_STRING_MAX];     /* host:port of the TLS listener, "" = off */
	int mqtt_tls12;                          /* also accept TLS 1.2 (ECDHE-ECDSA + AEAD only) */
	char mqtt_plain_listen[CONFIG_STRING_MAX];/* loopback host:port without TLS, "" = off */
	char mqtt_plain_acl[16];                 /* machine | open */
	char mqtt_open_nosubscribe[CONFIG_STRING_MAX]; /* open ACL: a filter refused on SUBSCRIBE, "" = none */
	int64_t mqtt_max_packet;
	int64_t mqtt_receive_max;
	int64_t mqtt_keepalive_max;
	int64_t mqtt_connect_timeout_s;
	int64_t mqtt_max_connections;
	int64_t mqtt_max_per_address;
	char https_listen[CONFIG_STRING_MAX];    /* host:port of the HTTPS API, "" = off */
	int https_tls12;
	char https_plain_listen[CONFIG_STRING_MAX]; /* loopback host:port without TLS, "" = off */
	int64_t https_timeout_s;
	int64_t api_session_ttl_s;
	int totp_required_for_admins;
	int64_t commit_max_batch;
	int64_t commit_gather_us;
	int64_t inbox_backlog_max;
	int64_t fleet_poll_ms;
	char purposes[CONFIG_STRING_MAX];        /* what customers' data is used for here (policy facts) */
	int64_t retention_telemetry_days;        /* 0: until the customer is erased */
	int64_t retention_events_days;
	int64_t retention_reports_days;
	int64_t retention_rollups_days;          /* the charts' summaries; 0: until erasure */
	int64_t retention_tickets_days;          /* counted from the close; 0: until erasure */
	int64_t retention_sweep_s;
	int64_t retention_batch_rows;
	int64_t downloads_max;
	int64_t diagnostics_max_bytes;           /* the largest bundle a machine may upload */
	int64_t diagnostics_retention_days;      /* 0: until erasure */
	int webhook_allow_private;               /* targets on internal addresses (tests, private receivers) */
	char webhook_ca_file[CONFIG_STRING_MAX]; /* "" = the system's CA store */
	int64_t webhook_timeout_s;
	int64_t webhook_retry_window_s;
	int64_t webhook_retry_base_ms;
	int64_t webhook_disable_after;
	int64_t notify_poll_ms;
	char smtp_url[CONFIG_STRING_MAX];        /* "" = no e-mail */
	char smtp_from[CONFIG_STRING_MAX];
	char smtp_credentials_file[CONFIG_STRING_MAX];
	char smtp_ca_file[CONFIG_STRING_MAX];
	int alerts;                              /* evaluate alert rules */
	int64_t alerts_tick_ms;                  /* the time-based rules and escalation */
	int64_t rollouts_tick_ms;                /* the staged rollouts' timer (fleet/rollouts.h) */
};

/* The purposes the code knows: a route's purpose must be one of these (or
 * "none" / "administration"), and `purposes` names some of them. */
#define CONFIG_PURPOSES_KNOWN "downtime,quality,support,updates"

/* Fills cfg with the defaults. */
void config_defaults(struct config *cfg);

/* Applies `name = value` lines from text. Returns 0, or CC_ERR_INVALID after
 * logging the line number and what is wrong (never the rest of the line). */
int config_parse(struct config *cfg, const char *text, size_t len);

/* Reads and applies a configuration file (at most CONFIG_FILE_MAX bytes). */
int config_load_file(struct config *cfg, const char *path);

/* Cross-field checks (e.g. the plain listener must be loopback). */
int config_validate(const struct config *cfg);

/* Writes the table as Markdown (for docs/CONFIG.md) to stdout. */
void config_print_reference(void);

#endif
