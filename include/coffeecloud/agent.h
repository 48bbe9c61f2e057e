/*
 * coffeecloud/agent.h - libcoffeecloud-agent: the machine side of CoffeeCloud,
 * linked into a coffee machine's firmware (docs/AGENT.md).
 *
 * One cc_agent per machine, no global state: everything it keeps lives in
 * the cc_agent and in the firmware's persistent storage (struct cc_storage).
 * The firmware drives it from one thread: cc_agent_update() when it wants to
 * look for software, cc_agent_run() in its main loop for MQTT. Or, for many
 * agents in one thread (a simulator, a gateway), without ever blocking: the
 * external loop (cc_agent_socket, cc_agent_loop_*) and the work done by a
 * worker thread of the agent (cc_agent_work_begin/poll). The library
 * calls neither curl_global_init() nor mosquitto_lib_init(): the firmware
 * does, once, before the first cc_agent_new().
 *
 * What the agent refuses on an update and why: docs/UPDATES.md "The
 * machine's verdict"; the names (cc_update_result.reason) are those.
 */
#ifndef COFFEECLOUD_AGENT_H
#define COFFEECLOUD_AGENT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cc_agent cc_agent;

/* Return codes. */
enum {
	CC_AGENT_OK = 0,
	CC_AGENT_NO_UPDATE = 1, /* cc_agent_update: nothing is offered */
	CC_AGENT_REBOOT = 2,    /* cc_agent_update: installed and activated; fw.reboot returned */
	CC_AGENT_PENDING = 3,   /* cc_agent_work_poll: the worker is still at it */
	CC_AGENT_ENOMEM = -1,
	CC_AGENT_EINVAL = -2,   /* a bad configuration or argument */
	CC_AGENT_ENET = -3,     /* the server could not be reached or answered oddly: try later */
	CC_AGENT_EREFUSED = -4, /* the update was refused (reason in cc_update_result) */
	CC_AGENT_ESTORAGE = -5, /* the storage callbacks failed */
	CC_AGENT_EFIRMWARE = -6,/* a firmware callback failed (install-failed) */
	CC_AGENT_ESTATE = -7,   /* not possible now (not connected, ...) */
};

/* cc_agent_config.mqtt_version */
enum { CC_AGENT_MQTT_5 = 5, CC_AGENT_MQTT_311 = 4 };

/* The allocator for everything the agent allocates itself (OpenSSL, libcurl
 * and libmosquitto have their own process-wide hooks: docs/AGENT.md). NULL
 * members: the C library's. */
struct cc_alloc {
	void *(*malloc)(void *ud, size_t n);
	void *(*realloc)(void *ud, void *p, size_t n);
	void (*free)(void *ud, void *p);
	void *ud;
};

/* Small durable records by name (keys are [a-z0-9/._-], at most 32 bytes;
 * values at most 4096 bytes). put must be durable when it returns (a power
 * cut after it keeps the value); get answers 0 and the length, 1 when the
 * key is absent, <0 on failure; del of an absent key is 0. */
struct cc_storage {
	int (*get)(void *ud, const char *key, void *buf, size_t cap, size_t *len);
	int (*put)(void *ud, const char *key, const void *buf, size_t len);
	int (*del)(void *ud, const char *key);
	void *ud;
};

/* Wall-clock time, milliseconds since 1970 UTC: expiry of metadata and
 * offers, message timestamps. Keep it set (NTP, RTC): a clock far behind
 * accepts expired metadata, one far ahead refuses fresh offers. */
struct cc_clock {
	int64_t (*now_ms)(void *ud);
	void *ud;
};

/* The firmware's A/B update: the agent writes the inactive slot, the
 * firmware's bootloader boots it once after activate(), the agent confirms
 * it (or not) after the reboot. Each returns 0 on success. */
struct cc_firmware {
	int (*slot_begin)(void *ud, uint64_t size);     /* erase the inactive slot for size bytes */
	int (*slot_write)(void *ud, uint64_t off, const void *p, size_t n); /* durable on return */
	int (*slot_read)(void *ud, uint64_t off, void *p, size_t n);        /* a resumed download re-hashes */
	int (*install)(void *ud, const char *version);  /* finish the inactive slot (verified bytes) */
	int (*activate)(void *ud);                      /* boot the inactive slot once, next boot */
	void (*reboot)(void *ud);                       /* should not return */
	int (*running_version)(void *ud, char *buf, size_t cap); /* the version running now */
	int (*health_check)(void *ud);                  /* the new version works */
	int (*confirm)(void *ud);                       /* keep the running slot for good */
	int (*rollback)(void *ud);                      /* boot the previous slot from now on */
	void *ud;
};

struct cc_agent_config {
	const char *serial, *model;
	const char *factory_version;  /* the anti-rollback floor until an update is confirmed */
	const char *server_url;       /* https://host:port of the HTTPS listener */
	const char *mqtt_host;        /* NULL: no MQTT */
	int mqtt_port;
	/* CC_AGENT_MQTT_5 (0 means it too) or CC_AGENT_MQTT_311 for a firmware
	 * whose network stack knows only MQTT 3.1.1: the same messages, but
	 * the server cannot say it refused one (counted as sent). */
	int mqtt_version;
	/* PEM: the fleet CA; the machine's certificate and key as delivered
	 * (`machine add --out`), used until a pair is in storage (enrolment or
	 * a renewal put one there); both NULL for a machine that enrols. */
	const char *ca_file, *cert_file, *key_file;
	int renew_before_days;        /* renew this long before the certificate ends (0: 30) */
	/* Ed25519 public keys, PEM: release keys (sign artifact metadata), their
	 * revoked ones, the installation's signing keys (sign offers). */
	const char *const *release_keys;
	size_t nrelease_keys;
	const char *const *revoked_keys;
	size_t nrevoked_keys;
	const char *const *server_keys;
	size_t nserver_keys;
	size_t queue_max;             /* store-and-forward bound, messages (0: 1000) */
	size_t window;                /* stored messages sent before the first is acknowledged (0: 16; at most 64) */
	struct cc_alloc alloc;
	struct cc_storage storage;    /* required */
	struct cc_clock clock;        /* required */
	struct cc_firmware fw;        /* required for updates */
	/* A command arrived (cc/v1/{serial}/cmd/{name}/{id}); answer with
	 * cc_agent_command_result(). body is NUL-terminated JSON. */
	void (*on_command)(void *ud, cc_agent *a, const char *name, uint64_t id, const char *body, size_t len);
	/* A stored message resolved by the server: reason 0 acknowledged, >= 0x80
	 * refused (MQTT 5 reason code; never resent). May be NULL. */
	void (*on_acked)(void *ud, cc_agent *a, uint64_t seq, int reason);
	/* One line about what happened (never secrets or refused content).
	 * Called from the worker thread too while one runs (cc_agent_work_begin). */
	void (*on_log)(void *ud, const char *line);
	void *ud;
};

/* The outcome of cc_agent_update / cc_agent_start. */
struct cc_update_result {
	char sha256[65];
	char version[65];
	char state[16];   /* the last state reported: downloading, failed, succeeded, rolled_back, ... */
	char reason[32];  /* a refusal name (docs/UPDATES.md) or download-failed, install-failed, ... */
	uint64_t resumed_at; /* a resumed download started at this byte */
	uint64_t fetched;    /* bytes received from the network in this call */
};

/* Copies what it needs of cfg (keys parsed now: EINVAL for a bad one). */
int cc_agent_new(const struct cc_agent_config *cfg, cc_agent **out);
void cc_agent_free(cc_agent *a);

/* At every boot, before anything else: finishes an update in progress (the
 * new slot running and healthy: confirm, report succeeded; the old slot
 * running after an install or a reboot cut short: report the failure).
 * *res (may be NULL) says what was found; CC_AGENT_OK when nothing was. */
int cc_agent_start(cc_agent *a, struct cc_update_result *res);

/* Looks for an offer and runs it through: verify, download (resuming a
 * download cut short), install, activate, reboot. */
int cc_agent_update(cc_agent *a, struct cc_update_result *res);

/* The installed version (the anti-rollback floor) into buf. */
int cc_agent_installed_version(cc_agent *a, char *buf, size_t cap);

/* Telemetry and events: payload_fields is the inside of the JSON object
 * without seq and ts, e.g. "\"m\":{\"brew_temp_c\":93.1}" or
 * "\"type\":\"power\",\"state\":\"on\"". The agent adds a persistent seq and
 * ts, stores the message (bounded: the oldest dropped and counted), and sends
 * it in order once connected; the server keeps each seq once. */
int cc_agent_publish_telemetry(cc_agent *a, const char *fields);
int cc_agent_publish_event(cc_agent *a, const char *fields);
/* Retained info {"model","hw","sw"}: sent at each connection (with the
 * retained status "online"; the will says "offline"). */
int cc_agent_set_info(cc_agent *a, const char *hw, const char *sw);

/* A command's result: state "accepted", "succeeded" or "failed"; reason
 * (may be NULL) at most 80 bytes of one line. */
int cc_agent_command_result(cc_agent *a, uint64_t id, const char *state, const char *reason);

/* Runs MQTT for up to timeout_ms: connects (and reconnects), sends stored
 * messages in order, receives commands. */
int cc_agent_run(cc_agent *a, int timeout_ms);

/* The external loop (docs/AGENT.md "Many agents in one thread"), instead of
 * cc_agent_run, mirroring libmosquitto's: poll cc_agent_socket(a) when it is
 * >= 0 for reading, and for writing when cc_agent_want_write(a); call
 * cc_agent_loop_read on readable (or an error or hang-up), cc_agent_loop_write
 * on writable, and cc_agent_loop_misc at least every 100 ms: it connects
 * (non-blocking, with back-off), drives a stalled TLS handshake, sends
 * keepalives, asks for a renewal and sends stored messages. The socket may
 * change after any of them. None blocks. Once cc_agent_loop_misc has run,
 * cc_agent_run answers ESTATE. */
int cc_agent_socket(cc_agent *a);
int cc_agent_want_write(cc_agent *a);
int cc_agent_loop_read(cc_agent *a);
int cc_agent_loop_write(cc_agent *a);
int cc_agent_loop_misc(cc_agent *a);

/* cc_agent_start or cc_agent_update run by a worker thread of the agent
 * (one at most per agent; joined by the poll that sees it done or by
 * cc_agent_free), so the caller's loop goes on. Meanwhile the caller may
 * use the agent's MQTT side (publish, loop, command results) but not start
 * another update; storage callbacks are serialised by the agent, the
 * firmware callbacks (fw.*) and on_log run on the worker. begin: ESTATE when
 * a worker runs or a certificate renewal is under way. poll: PENDING while
 * it runs, then what the call returned (res as it would have). */
enum { CC_AGENT_WORK_START = 1, CC_AGENT_WORK_UPDATE = 2 };
int cc_agent_work_begin(cc_agent *a, int op);
int cc_agent_work_poll(cc_agent *a, struct cc_update_result *res);

/* Enrolment (docs/AGENT.md "Enrolment and renewal"): begin makes a key on
 * the machine (kept in storage, never leaving it) and writes a certificate
 * request for it (PEM, CN the serial) into csr; a request for the same
 * key again until finished. Hand it to the factory's provisioning (`machine add
 * --csr`, `machine import`, the provisioning API) and the certificate it
 * issues to finish: EINVAL unless it is for that key and this serial and
 * issued by the fleet CA (ca_file). */
int cc_agent_enrol_begin(cc_agent *a, char *csr, size_t cap);
int cc_agent_enrol_finish(cc_agent *a, const char *cert_pem);

/* Renewal happens in cc_agent_run, renew_before_days before the
 * certificate ends (a new key each time, over MQTT); this asks for one at
 * the next connection whatever the date. */
int cc_agent_renew(cc_agent *a);

struct cc_agent_cert {
	int64_t not_after_ms;
	uint64_t generation; /* 0: the configuration's files; then +1 per pair stored */
	int renewing;        /* a request sent, its certificate not yet come */
	char sha256[65];     /* of the certificate (DER), hex */
};
/* The certificate in use; ESTATE when none (enrol first). */
int cc_agent_cert(cc_agent *a, struct cc_agent_cert *out);

struct cc_agent_stats {
	uint64_t queued;    /* messages stored, not yet acknowledged by the server */
	uint64_t dropped;   /* dropped oldest-first because the store was full (persistent) */
	uint64_t sent;      /* acknowledged by the server since cc_agent_new */
	uint64_t refused;   /* acknowledged with a refusal (MQTT 5 reason code): never resent */
	uint64_t next_seq;
	uint64_t last_seq;  /* of the last message stored by this cc_agent (0: none yet) */
	uint64_t connect_failures; /* MQTT connection attempts that failed before CONNACK, since cc_agent_new */
	int connected;
};
void cc_agent_stats(cc_agent *a, struct cc_agent_stats *st);

/* ---- Remote configuration (agent_config.c; docs/AGENT.md "Remote
 * configuration") ----
 * The server's desired configuration (the "config" command) is checked
 * again against what the firmware declares, handed to the firmware as
 * values (no JSON on the firmware's side), and what it then runs is
 * reported (cc/v1/{serial}/config/reported, retained), or its refusal
 * with the reason. The last version handled is kept in storage. */
struct cc_machine_config_field {
	const char *name;           /* "water_ml", "panel_language", ... */
	double min, max;            /* a number's bounds, inclusive */
	int integer;                /* 1: whole numbers only */
	const char *const *values;  /* NULL-terminated: a text field of these values; NULL: a number */
};
struct cc_machine_config_value {
	char product[33];           /* a recipe's product; "" for a setting */
	char field[33];
	char text[33];              /* a text field's value; "" for a number */
	double number;
};
struct cc_machine_config_fw {
	const char *const *products;                   /* NULL-terminated: the recipes it has */
	const struct cc_machine_config_field *recipe;  /* the fields of a recipe */
	size_t nrecipe;
	const struct cc_machine_config_field *settings;
	size_t nsettings;
	/* Applies n values (all or none); 0, else a refusal with its reason
	 * (one line, at most 80 bytes) in reason. */
	int (*apply)(void *ud, const struct cc_machine_config_value *v, size_t n, char *reason, size_t cap);
	/* What it runs now, at most cap values; 0 with *n. */
	int (*running)(void *ud, struct cc_machine_config_value *v, size_t cap, size_t *n);
	void *ud;
};
#define CC_AGENT_MACHINE_CONFIG_VALUES_MAX 256
struct cc_machine_config_state {
	int64_t version;            /* the desired version last handled; 0: none */
	int applied;                /* 1 applied, 0 refused */
	char reason[81];            /* the refusal's */
};
/* Before cc_agent_run: from then on the agent answers the config command
 * itself (on_command never sees it). fw is copied, its arrays are not. */
int cc_agent_machine_config_setup(cc_agent *a, const struct cc_machine_config_fw *fw);
/* A setting changed at the machine's panel: the report is sent again. */
int cc_agent_machine_config_changed(cc_agent *a);
int cc_agent_machine_config_state(cc_agent *a, struct cc_machine_config_state *out);

/* A stable name of a return code. */
const char *cc_agent_strerror(int rc);

#ifdef __cplusplus
}
#endif
#endif
