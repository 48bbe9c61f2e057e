/*
 * store.h - the one storage interface of CoffeeCloud.
 *
 * Every other module reaches persistent state through a `struct store_ops`
 * table chosen by name (store_backend_find): SQLite today, PostgreSQL later.
 * No SQL exists outside src/store/.
 *
 * A backend only ever sees ciphertext plus the few clear columns indexing
 * needs (ids, names that are identifiers, serials, times). Sealing and
 * opening happen a layer above, in src/vault/.
 *
 * Conventions: every op returns 0 or a negative CC_ERR_* code. Lookups that
 * find nothing return CC_ERR_NOTFOUND; inserts that collide with a unique
 * name or serial return CC_ERR_EXISTS. List ops call `each` per row in a
 * stable order and stop early, returning its value, when it returns non-zero.
 * Row structs passed to callbacks are valid only during the call. Callers
 * group writes with begin/commit; on any failure they call rollback, which
 * is always safe.
 */
#ifndef CC_STORE_STORE_H
#define CC_STORE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "common/limits.h"
#include "store/notify.h"
#include "store/rollouts.h"
#include "store/updates.h"
#include "store/diagnostics.h"
#include "store/tickets.h"
#include "store/machine_config.h"

enum org_kind { ORG_MANUFACTURER = 1, ORG_DISTRIBUTOR = 2, ORG_CUSTOMER = 3 };

/*
 * The rows that decide access (organisations, machines, users, grants,
 * credentials) carry a `mac` column: an HMAC-SHA-256 the vault computes over
 * the row's identity and its access-deciding columns and checks on every
 * read (src/vault/rowmac.c, docs/ARCHITECTURE.md "Integrity of access
 * rows"). A backend stores and returns it as an opaque blob; it never
 * computes or checks one.
 */
#define STORE_MAC_LEN 32

enum store_table {
	STORE_TABLE_ORGS = 1,
	STORE_TABLE_MACHINES,
	STORE_TABLE_USERS,
	STORE_TABLE_GRANTS,
	STORE_TABLE_CREDENTIALS,
};

struct store_org {
	int64_t id;
	int64_t parent_id; /* 0 for the root (the manufacturer) */
	enum org_kind kind;
	char name[CC_NAME_MAX + 1];
	int64_t created_ms;
	uint8_t mac[STORE_MAC_LEN]; /* the row's integrity MAC (src/vault/rowmac.c) */
	size_t mac_len;             /* as stored: 0 when NULL, anything but STORE_MAC_LEN is damage */
	int64_t deactivated_ms;     /* 0 while active; in the MAC */
};

struct store_site {
	int64_t id;
	int64_t customer_id;
	char name[CC_NAME_MAX + 1];
	int64_t created_ms;
	char address[CC_SITE_ADDRESS_MAX + 1]; /* "" when not given */
	int has_position;                      /* lat_e2/lon_e2 hold a coarse position */
	int64_t lat_e2, lon_e2;                /* hundredths of a degree */
	char timezone[CC_TIMEZONE_MAX + 1];    /* a tz database name; "" when not given */
	char hours[CC_SITE_HOURS_MAX + 1];     /* business hours (fleet/hours.h); "" when not kept */
};

struct store_group {
	int64_t id;
	int64_t customer_id;
	int64_t parent_id; /* 0 for a top-level group */
	char name[CC_NAME_MAX + 1];
	int64_t created_ms;
	/* "" for a group that lists its machines; else a dynamic group: the
	 * fleet-list filter (canonical JSON) that computes its members. */
	char filter[CC_GROUP_FILTER_MAX + 1];
};

struct store_machine {
	int64_t id;
	char serial[CC_SERIAL_MAX + 1];
	char model[CC_NAME_MAX + 1];
	int64_t customer_id;
	int64_t site_id; /* 0 when not placed at a site */
	char cert_fingerprint[65];
	char cert_pem[CC_CERT_PEM_MAX + 1]; /* public: the machine's certificate */
	int64_t created_ms;
	int64_t revoked_ms; /* 0 while valid */
	int64_t cert_not_after_ms; /* the certificate's notAfter; 0: issued before it was kept */
	/* After a renewal, the superseded certificate is still accepted until
	 * prev_cert_until_ms (src/fleet/provision.h); "" when there is none. */
	char prev_cert_fingerprint[65];
	int64_t prev_cert_until_ms;
	uint8_t mac[STORE_MAC_LEN]; /* the row's integrity MAC (src/vault/rowmac.c) */
	size_t mac_len;             /* as stored: 0 when NULL, anything but STORE_MAC_LEN is damage */
	int64_t decommissioned_ms; /* 0 while in service; in the MAC */
	/* 1: retired by a move to another customer. The row stays its old
	 * customer's, with the records sealed under that customer's key; a new
	 * row carries the serial on. serial still reads the real serial. In the MAC. */
	int moved;
};

struct store_revoked_cert {
	char fingerprint[65];
	char cert_pem[CC_CERT_PEM_MAX + 1];
	int64_t revoked_ms;
};

struct store_user {
	int64_t id;
	int64_t org_id;
	char login[CC_NAME_MAX + 1];
	char role[24];
	char password_hash[CC_PASSWORD_HASH_MAX + 1]; /* PHC string (Argon2id) */
	uint8_t profile[CC_SEALED_PROFILE_MAX];      /* sealed personal fields */
	size_t profile_len;
	int64_t created_ms;
	uint8_t totp[CC_SEALED_TOTP_MAX]; /* sealed TOTP secret; totp_len 0: none */
	size_t totp_len;
	int totp_enabled;        /* 0 while enrolment awaits its first code */
	int64_t totp_last_step;  /* the last time step a code was accepted for */
	uint8_t mac[STORE_MAC_LEN]; /* the row's integrity MAC (src/vault/rowmac.c) */
	size_t mac_len;             /* as stored: 0 when NULL, anything but STORE_MAC_LEN is damage */
	/* When the person asked for the account's deletion; 0: not asked. Not
	 * in the MAC: it decides no access (an admin still confirms). */
	int64_t deletion_requested_ms;
	int64_t deactivated_ms; /* 0 while active; in the MAC */
};

/* A bearer credential: a person's session or a partner system's API token.
 * Only the SHA-256 of the token is stored, never the token. */
enum credential_kind { CREDENTIAL_SESSION = 1, CREDENTIAL_API_TOKEN = 2 };
#define CREDENTIAL_ENROL_ONLY 1 /* flags: a session that may only enrol TOTP */

struct store_credential {
	int64_t id;
	uint8_t token_hash[32];
	int kind;                    /* enum credential_kind */
	int64_t user_id;             /* sessions: the account; 0 for tokens */
	int64_t org_id;              /* tokens: the organisation it acts for */
	char role[24];               /* tokens: the role it acts in */
	char name[CC_NAME_MAX + 1];  /* tokens: a label; sessions: the login */
	uint8_t csrf_hash[32];       /* sessions: SHA-256 of the CSRF token */
	int flags;
	char created_by[CC_NAME_MAX + 8];
	int64_t created_ms, expires_ms;
	int64_t revoked_ms;          /* 0 while in force */
	int64_t rate_per_min;        /* tokens: requests per minute */
	uint8_t mac[STORE_MAC_LEN]; /* the row's integrity MAC (src/vault/rowmac.c) */
	size_t mac_len;             /* as stored: 0 when NULL, anything but STORE_MAC_LEN is damage */
};

/* Telemetry and events come from machines, numbered by the machine's own
 * seq; reports (installation, service) come from people through the API and
 * are numbered 1, 2, 3... per machine by the store. */
enum record_kind { RECORD_TELEMETRY = 1, RECORD_EVENT = 2, RECORD_REPORT = 3 };

struct store_record {
	int64_t machine_id;
	enum record_kind kind;
	int64_t seq;     /* the machine's own message number: (machine, kind, seq) is unique */
	int64_t ts_ms;
	const uint8_t *body; /* sealed */
	size_t body_len;
};

/* Live state of a machine as the machine channel sees it. Clear columns:
 * fleet status over many machines is a query, not a decryption. */
struct store_machine_state {
	int64_t machine_id;
	int online;
	int64_t last_seen_ms;
	int64_t changed_ms;                /* when online last flipped */
	char disconnect_reason[48];        /* why it last went offline (a fixed phrase) */
	uint8_t info[CC_SEALED_INFO_MAX];  /* sealed retained `info` message (model, hw, sw) */
	size_t info_len;
};

/* One row of the fleet list (machine_status_list): a machine, its live
 * state when it was ever seen, and the name of its site. */
struct store_machine_status {
	struct store_machine m;  /* cert_pem left empty: a list needs no certificate */
	int has_state;           /* 0: never seen, st is zero */
	struct store_machine_state st;
	char site[CC_NAME_MAX + 1]; /* "" when not placed at a site */
	char key[CC_SERIAL_MAX + 1]; /* the row's key for after_serial (a moved row's is not its serial) */
};

enum store_machine_status_filter {
	STORE_STATUS_ANY = 0,  /* every machine in service (not decommissioned) */
	STORE_STATUS_ONLINE,   /* online now */
	STORE_STATUS_OFFLINE,  /* not online now, or never seen */
	STORE_STATUS_REVOKED,  /* its certificate revoked */
	STORE_STATUS_DECOMMISSIONED, /* decommissioned (or retired by a move) */
	STORE_STATUS_ALL,      /* in service or not */
};

/* What the store knows of a machine's trouble, in clear columns. */
enum store_error_filter {
	STORE_ERROR_ANY = 0,
	STORE_ERROR_CONNECTION, /* offline, and it did not leave cleanly */
	STORE_ERROR_REFUSED,    /* messages of it were refused */
	STORE_ERROR_EITHER,     /* one or the other */
	STORE_ERROR_NONE,       /* neither */
};

enum store_sort_field {
	STORE_SORT_SERIAL = 0, STORE_SORT_MODEL, STORE_SORT_CUSTOMER, STORE_SORT_SITE,
	STORE_SORT_LAST_SEEN, STORE_SORT_ONLINE, STORE_SORT_CREATED,
};
#define STORE_SORT_MAX 4

/* Which machines machine_status_list emits, by serial. Zero fields select all. */
struct store_machine_filter {
	const char *after_serial; /* key set: serials after this one; NULL: from the first */
	int64_t customer_id;      /* 0: any */
	const char *site;         /* the site's name; NULL: any */
	enum store_machine_status_filter status;
	const char *model;        /* NULL: any */
	int64_t group_id;         /* machines listed in this group or its sub-groups; 0: any */
	int64_t seen_after_ms;    /* last seen at or after; 0: no bound */
	int64_t seen_before_ms;   /* last seen before (or never); 0: no bound */
	enum store_error_filter error;
	/* ORDER BY these (then serial); after_serial is ignored when nsort > 0 */
	enum store_sort_field sort[STORE_SORT_MAX];
	int sort_desc[STORE_SORT_MAX];
	int nsort;
};

/* Columns of access rows changed after insert (store_ops.row_set). */
enum store_column {
	STORE_COL_MACHINE_SITE = 1,      /* value: the site id, 0 for none */
	STORE_COL_MACHINE_DECOMMISSIONED, /* value: when (ms) */
	STORE_COL_MACHINE_RETIRED,       /* value: when (ms); decommissions and frees the serial */
	STORE_COL_ORG_DEACTIVATED,       /* value: when (ms), 0 to activate */
	STORE_COL_USER_DEACTIVATED,      /* value: when (ms), 0 to activate */
};

/* A change of one of a machine's states (src/fleet/downtime.h). */
enum store_state_kind {
	STATE_LINK = 1,        /* value 1 online, 0 offline; reason: why it went offline */
	STATE_FAULT = 2,       /* code: a critical error's; value 1 raised, 0 cleared */
	STATE_MAINTENANCE = 3, /* code: the reason; value: the planned end (ms), 0 ended; reason: who */
};
struct store_state_change {
	int64_t machine_id;
	int64_t at_ms;
	enum store_state_kind kind;
	char code[CC_NAME_MAX + 1];
	int64_t value;
	char reason[64];
};

/* A command for a machine, delivered on cc/v1/{serial}/cmd/{name}. */
struct store_command {
	int64_t id;
	int64_t machine_id;
	char name[CC_NAME_MAX + 1];
	uint8_t body[CC_COMMAND_SEALED_MAX]; /* sealed */
	size_t body_len;
	int64_t created_ms;
	int64_t delivered_ms; /* 0 while pending */
	int64_t failed_ms;    /* 0 unless it failed: never delivered, or the machine said so */
	char failure[96];     /* why: the daemon's phrase, or the machine's reason (privacy-checked) */
	/* Jobs (src/fleet/jobs.h): the command is one target of job_id. */
	int64_t job_id;       /* 0: a command from before jobs */
	int64_t deadline_ms;  /* 0: none; past it, an open command ends "timed_out" */
	int64_t accepted_ms;  /* the machine said it accepted it */
	int64_t ended_ms;     /* 0 while open; then end_state says how it ended */
	char end_state[16];   /* "", succeeded, failed, timed_out, cancelled */
	char detail[96];      /* a succeeded command's result text from the machine (privacy-checked) */
	int64_t late_results; /* results that came after it was cancelled or timed out: ignored, counted */
};

/* A job: one command sent to several machines (its targets are commands rows). */
struct store_job {
	int64_t id;
	char name[CC_NAME_MAX + 1];
	char created_by[CC_NAME_MAX + 8]; /* the audit log's actor: user:LOGIN, token:NAME, cli:... */
	char target[16];                  /* how the targets were chosen: serial, serials, filter, group */
	int64_t created_ms, timeout_ms;
	int64_t cancelled_ms;             /* 0: not cancelled */
	char cancelled_by[CC_NAME_MAX + 8];
};

/* An alert (src/alerts/alerts.h): at most one unresolved per machine and cause. */
#define STORE_ALERT_NOTE_MAX 1024 /* a sealed comment */
struct store_alert {
	int64_t id;
	int64_t machine_id;
	char rule[32];
	char cause[CC_NAME_MAX + 40];       /* rule, or rule:detail (an error code, a consumable) */
	char severity[16];                  /* info, warning, critical */
	char state[16];                     /* open, acknowledged, resolved */
	int64_t opened_ms;
	int64_t acknowledged_ms;            /* 0: not acknowledged */
	char acknowledged_by[CC_NAME_MAX + 8];
	int64_t resolved_ms;                /* 0: not resolved */
	char resolved_by[CC_NAME_MAX + 8];  /* an actor, or "auto" when the cause cleared */
	int64_t level, level_ms;            /* escalation level (0 customer, 1 distributor, 2 manufacturer), since */
	int64_t last_notified_ms;
};
/* Which alerts alert_list emits, newest first. Zero fields select all. */
struct store_alert_filter {
	int64_t before_id;   /* key set: ids below this one; 0: from the newest */
	int unresolved;      /* 1: open or acknowledged only */
	const char *state, *severity, *rule;
	int64_t machine_id, customer_id, site_id;
};
/* A quality rule set's version (src/quality/ruleset.h); its document apart. */
struct store_ruleset {
	char model[CC_NAME_MAX + 1];
	int64_t version;
	int64_t created_ms;
	char author[CC_NAME_MAX + 8]; /* the uploader as the audit log names it: "user:LOGIN" */
};

/* One line of an alert's history. */
struct store_alert_event {
	int64_t seq, alert_id, at_ms;
	char who[CC_NAME_MAX + 8];
	char what[16];       /* opened, acknowledged, resolved, commented, escalated */
	char detail[64];     /* e.g. the level reached */
	uint8_t note[STORE_ALERT_NOTE_MAX]; /* sealed comment (SEAL_ALERT_NOTE), note_len 0: none */
	size_t note_len;
};

/* What a machine reports for a command (command_result). */
enum store_command_report { STORE_REPORT_ACCEPTED = 1, STORE_REPORT_SUCCEEDED, STORE_REPORT_FAILED };

/*
 * One record of the audit log (src/access/audit.h): who did what to which
 * machines' data, when, for which purpose, with what outcome. Every column
 * is clear: auditors read them without any customer's data key, and the
 * record of who read a customer's data must outlive that customer's key.
 * Never a payload or a secret. `hash` chains the record to its predecessor.
 * Sizes are bounds on what audit_append accepts.
 */
#define STORE_AUDIT_HASH_LEN 32
#define CC_AUDIT_ACTOR_MAX 96      /* "user:LOGIN", "token:ID", "cli:USER", "machine:SERIAL" */
#define CC_AUDIT_SOURCE_MAX 64     /* a network address with port, or "" */
#define CC_AUDIT_ACTION_MAX 64     /* "telemetry.get", "machine.add" */
#define CC_AUDIT_MACHINES_MAX 1024 /* serials, comma-separated, or "*" for every machine in scope */
#define CC_AUDIT_CLASS_MAX 47      /* one or more of status,technical,service,usage,audit (commas); or admin */
#define CC_AUDIT_PURPOSE_MAX 32    /* "support", "administration"... */
#define CC_AUDIT_OUTCOME_MAX 15    /* ok|denied|error */

struct store_audit {
	int64_t seq;         /* 1, 2, 3... without gaps */
	int64_t ts_ms;
	int64_t customer_id; /* the customer whose data or machines were involved; 0: none */
	char actor[CC_AUDIT_ACTOR_MAX + 1];
	char source[CC_AUDIT_SOURCE_MAX + 1];
	char action[CC_AUDIT_ACTION_MAX + 1];
	char machines[CC_AUDIT_MACHINES_MAX + 1];
	char data_class[CC_AUDIT_CLASS_MAX + 1];
	char purpose[CC_AUDIT_PURPOSE_MAX + 1];
	char outcome[CC_AUDIT_OUTCOME_MAX + 1];
	uint8_t hash[STORE_AUDIT_HASH_LEN];
	size_t hash_len; /* as stored: anything but STORE_AUDIT_HASH_LEN is damage */
};

/* Which audit records audit_each emits. Zero fields select everything. */
struct store_audit_filter {
	int64_t from_seq;          /* seq >= from_seq */
	int64_t before_seq;        /* seq < before_seq; 0: no bound (pages, newest first) */
	int64_t from_ms;           /* ts_ms >= from_ms */
	int64_t to_ms;             /* ts_ms < to_ms; 0: no upper bound */
	const char *action_prefix; /* action starts with this (plain text, no wildcards) */
	const char *serial;        /* machines lists exactly this serial */
	int64_t customer_id;       /* only this customer's */
	const char *actor;         /* exactly this actor ("user:LOGIN"); NULL: any */
	size_t limit;              /* at most this many rows; 0: all */
	int newest_first;          /* by seq descending instead of ascending */
};

/* A grant: one machine or one site of a customer, to one user, until expiry. */
struct store_grant {
	int64_t id;
	int64_t user_id;
	int64_t machine_id; /* 0 when the grant names a site */
	int64_t site_id;    /* 0 when the grant names a machine */
	int64_t customer_id;
	char purpose[CC_NAME_MAX + 1];
	char created_by[CC_NAME_MAX + 1];
	int64_t created_ms, expires_ms;
	int64_t revoked_ms; /* 0 while in force */
	uint8_t mac[STORE_MAC_LEN]; /* the row's integrity MAC (src/vault/rowmac.c) */
	size_t mac_len;             /* as stored: 0 when NULL, anything but STORE_MAC_LEN is damage */
};

/* A version of the privacy policy. */
struct store_policy {
	int64_t version;
	char last_updated[16];            /* YYYY-MM-DD */
	char purposes[CC_POLICY_PURPOSES_MAX + 1]; /* comma-separated */
	char text[CC_POLICY_TEXT_MAX + 1];
	int64_t published_ms;
};

struct store;

/* What records_settle tells its caller, inside its transaction: row() for
 * each record it stored (a duplicate or a deleted machine's is not), then
 * finish(), whose writes through s commit with the move (a non-zero
 * return rolls the whole round back). Either may be NULL. */
struct store_settle_hooks {
	int (*row)(void *ctx, const struct store_record *rec);
	int (*finish)(void *ctx, struct store *s);
	void *ctx;
};

struct store_ops {
	const char *name;
	/* Webhooks, the notification outbox, its delivery log (store/notify.h). */
	const struct store_notify_ops *notify;
	/* Release keys, artifacts, offers (store/updates.h). */
	const struct store_update_ops *updates;
	/* Diagnostics bundles (store/diagnostics.h). */
	const struct store_diag_ops *diagnostics;
	/* Service tickets and their history (store/tickets.h). */
	const struct store_ticket_ops *tickets;
	/* Staged rollouts (store/rollouts.h). */
	const struct store_rollout_ops *rollouts;
	/* Desired and reported machine configuration (store/machine_config.h). */
	const struct store_machine_config_ops *machine_config;

	/* Opens (creating if allowed) the store at location, migrating its schema
	 * to the current version. CC_ERR_CORRUPT names a damaged file. */
	int (*open)(const char *location, int create, struct store **out);
	void (*close)(struct store *s);
	/* Full integrity check; CC_ERR_CORRUPT with the findings logged. */
	int (*check)(struct store *s);

	int (*begin)(struct store *s);
	int (*commit)(struct store *s);
	void (*rollback)(struct store *s);
	/* A read-only transaction: every read until rollback sees one snapshot,
	 * without blocking writers (WAL). End it with rollback. */
	int (*begin_read)(struct store *s);
	/* 1 inside a transaction (begin, begin_read or a savepoint), 0 in autocommit. */
	int (*in_transaction)(struct store *s);
	/* A savepoint inside a transaction: undo (rollback_to) or keep
	 * (release) what was written since, without ending the transaction. */
	int (*savepoint)(struct store *s);
	int (*savepoint_release)(struct store *s);
	void (*savepoint_rollback)(struct store *s);

	/* Small named values of the installation (e.g. "installation-id"). */
	int (*meta_get)(struct store *s, const char *key, char *out, size_t cap);
	int (*meta_set)(struct store *s, const char *key, const char *value);
	/* Increments an integer meta value (0 when absent), e.g. "fleet-version",
	 * which the daemon polls to learn that machines changed. */
	int (*meta_bump)(struct store *s, const char *key);

	int (*org_add)(struct store *s, const struct store_org *org, int64_t *id);
	int (*org_get)(struct store *s, int64_t id, struct store_org *out);
	int (*org_find)(struct store *s, const char *name, struct store_org *out);
	int (*org_list)(struct store *s, int (*each)(void *ctx, const struct store_org *), void *ctx);
	/* Deletes a leaf organisation and everything that belongs to it: sites,
	 * groups, machines and their records, users. CC_ERR_STATE if it has children. */
	int (*org_delete)(struct store *s, int64_t id);

	int (*site_add)(struct store *s, const struct store_site *site, int64_t *id);
	int (*site_get)(struct store *s, int64_t id, struct store_site *out);
	int (*site_find)(struct store *s, int64_t customer_id, const char *name, struct store_site *out);
	int (*site_list)(struct store *s, int64_t customer_id /* 0: all */,
	                 int (*each)(void *ctx, const struct store_site *), void *ctx);

	int (*group_add)(struct store *s, const struct store_group *group, int64_t *id);
	int (*group_find)(struct store *s, int64_t customer_id, const char *name, struct store_group *out);
	int (*group_list)(struct store *s, int64_t customer_id /* 0: all */,
	                  int (*each)(void *ctx, const struct store_group *), void *ctx);
	/* The fleet as managed (sites' places, group membership). site_update
	 * replaces address, position and time zone. Membership: CC_ERR_EXISTS
	 * when listed already, CC_ERR_NOTFOUND when not listed. group_unlist_machine
	 * takes a machine out of every group (a move to another customer). */
	int (*site_update)(struct store *s, const struct store_site *site);
	int (*group_get)(struct store *s, int64_t id, struct store_group *out);
	int (*group_member_add)(struct store *s, int64_t group_id, int64_t machine_id);
	int (*group_member_remove)(struct store *s, int64_t group_id, int64_t machine_id);
	int (*group_unlist_machine)(struct store *s, int64_t machine_id);
	/* Sets one column of an access row (enum store_column); the vault
	 * checks the row's MAC first and seals it again. CC_ERR_NOTFOUND for no row. */
	int (*row_set)(struct store *s, enum store_column col, int64_t id, int64_t value);

	int (*machine_add)(struct store *s, const struct store_machine *m, int64_t *id);
	int (*machine_find)(struct store *s, const char *serial, struct store_machine *out);
	int (*machine_get)(struct store *s, int64_t id, struct store_machine *out);
	int (*machine_list)(struct store *s, int64_t customer_id /* 0: all */,
	                    int (*each)(void *ctx, const struct store_machine *), void *ctx);
	/* The fleet list: machines by serial as filtered, each with its live
	 * state and site name, in one query. Like machine_list, the vault checks
	 * each row's MAC (a row that fails is skipped). */
	int (*machine_status_list)(struct store *s, const struct store_machine_filter *f,
	                           int (*each)(void *ctx, const struct store_machine_status *), void *ctx);
	/* Replaces a machine's certificate (a renewal): cert_fingerprint,
	 * cert_pem and cert_not_after_ms from m; the certificate replaced becomes
	 * the previous one, accepted until prev_until_ms. CC_ERR_STATE if the
	 * machine is revoked. */
	int (*machine_cert_set)(struct store *s, int64_t id, const struct store_machine *m, int64_t prev_until_ms);
	/* Marks the machine revoked and lists its certificate (and a previous one
	 * still accepted) in revoked_certs.
	 * CC_ERR_STATE if it was revoked already. */
	int (*machine_revoke)(struct store *s, int64_t id, int64_t revoked_ms);
	/* Lists a certificate as revoked (idempotent); for the CRL. */
	int (*revoked_cert_add)(struct store *s, const struct store_revoked_cert *c);
	int (*revoked_cert_list)(struct store *s,
	                         int (*each)(void *ctx, const struct store_revoked_cert *), void *ctx);

	/* CC_ERR_EXISTS for a login in use, CC_ERR_STATE for a retired one
	 * (a deleted account's: logins are never given again). */
	int (*user_add)(struct store *s, const struct store_user *u, int64_t *id);
	int (*user_find)(struct store *s, const char *login, struct store_user *out);
	int (*user_get)(struct store *s, int64_t id, struct store_user *out);
	/* Sets (sealed, len > 0) or clears (len 0) a user's TOTP secret; the
	 * last step is reset unless enabled (a confirmation keeps it). */
	int (*user_totp_set)(struct store *s, int64_t user_id, const uint8_t *sealed, size_t len, int enabled);
	/* Moves last_step forward to step: CC_ERR_STATE if it is not ahead
	 * (a code is good once). Atomic. */
	int (*user_totp_step)(struct store *s, int64_t user_id, int64_t step);
	int (*user_list)(struct store *s, int64_t org_id /* 0: all */,
	                 int (*each)(void *ctx, const struct store_user *), void *ctx);
	/* Replaces a user's password hash. CC_ERR_NOTFOUND for no such user. */
	int (*user_password_set)(struct store *s, int64_t user_id, const char *password_hash);
	/* Records the person's request to delete the account at at_ms, unless
	 * one is recorded already (idempotent): *requested_ms gets the time in
	 * force. CC_ERR_NOTFOUND for no such user. */
	int (*user_deletion_request)(struct store *s, int64_t user_id, int64_t at_ms, int64_t *requested_ms);
	/* Deletes an account row, and with it (foreign keys) its sessions and
	 * the grants made to it; its login is retired in the same statement
	 * (retired_logins), so no later account can take it. Every deletion of
	 * an account retires its login, that of an erased customer's too.
	 * CC_ERR_NOTFOUND for no such user. */
	int (*user_delete)(struct store *s, int64_t user_id);
	/* 1 if login belonged to a deleted account, 0 if not. */
	int (*login_retired)(struct store *s, const char *login);
	/* Makes the bytes of deleted rows leave every file of the store now, as
	 * far as it can (SQLite: a TRUNCATE checkpoint empties the WAL, whose
	 * old frames would otherwise keep copies until overwritten; secure_delete
	 * has zeroed them in the main file). CC_ERR_STATE if another connection's
	 * reader kept it from finishing. Outside any transaction. */
	int (*shred)(struct store *s);

	/* Live state: set updates online/last_seen/reason (and info when
	 * info_len > 0); get returns CC_ERR_NOTFOUND for a machine never seen. */
	int (*machine_state_set)(struct store *s, const struct store_machine_state *st);
	int (*machine_state_touch)(struct store *s, int64_t machine_id, int64_t last_seen_ms);
	int (*machine_state_get)(struct store *s, int64_t machine_id, struct store_machine_state *out);

	/* Counts one refused message of a machine for a reason. */
	int (*refusal_count)(struct store *s, int64_t machine_id, const char *reason, int64_t at_ms);
	/* Per reason: each(ctx, reason, count, last_ms). */
	/* Records a change of a machine's state (the same machine, time, kind
	 * and code again: replaced). Link changes need no call: machine_state_set
	 * records them. A machine deleted meanwhile: a no-op. */
	int (*state_change_add)(struct store *s, const struct store_state_change *c);
	/* The changes of one machine (0: of every machine) before to_ms, by
	 * machine then time; before is 1 for those before from_ms (they make
	 * the state in force at from_ms). A non-zero return of each stops. */
	int (*state_changes)(struct store *s, int64_t machine_id, int64_t from_ms, int64_t to_ms,
	                     int (*each)(void *ctx, const struct store_state_change *c, int before), void *ctx);
	int (*refusal_list)(struct store *s, int64_t machine_id,
	                    int (*each)(void *ctx, const char *reason, int64_t count, int64_t last_ms), void *ctx);

	int (*command_add)(struct store *s, const struct store_command *c, int64_t *id);
	/* Pending commands of a machine, oldest first. */
	int (*command_pending)(struct store *s, int64_t machine_id,
	                       int (*each)(void *ctx, const struct store_command *), void *ctx);
	int (*command_delivered)(struct store *s, int64_t id, int64_t at_ms);
	/* Ends a pending command that can never be delivered, with the reason. */
	int (*command_failed)(struct store *s, int64_t id, int64_t at_ms, const char *reason);
	/* Every command of a machine, newest first, bodies included (sealed). */
	int (*command_list)(struct store *s, int64_t machine_id,
	                    int (*each)(void *ctx, const struct store_command *), void *ctx);
	int (*command_get)(struct store *s, int64_t id, struct store_command *out);
	/* A machine's report on its command id: moves an open command on (a
	 * report for another machine's command changes nothing). *late is set
	 * when the command had ended already (cancelled, timed out, or a
	 * repeated end): counted on the command, nothing else changes. */
	int (*command_result)(struct store *s, int64_t id, int64_t machine_id, enum store_command_report report,
	                      const char *text, int64_t at_ms, int *late);
	/* The earliest deadline of an open command; 0: none. */
	int (*command_next_deadline)(struct store *s, int64_t *deadline_ms);
	/* Ends every open command whose deadline is at or before now: timed out. */
	int (*command_expire)(struct store *s, int64_t now_ms, int64_t *count);
	/* Ends an open command: cancelled. CC_ERR_STATE when it had ended. */
	int (*command_cancel)(struct store *s, int64_t id, int64_t at_ms);
	/* The commands (targets) of a job, by id. */
	int (*command_list_job)(struct store *s, int64_t job_id,
	                        int (*each)(void *ctx, const struct store_command *), void *ctx);
	int (*job_add)(struct store *s, const struct store_job *j, int64_t *id);
	int (*job_get)(struct store *s, int64_t id, struct store_job *out);
	int (*job_cancelled)(struct store *s, int64_t id, int64_t at_ms, const char *by);
	/* Jobs, newest first, those with ids below before (0: from the newest). */
	int (*job_list)(struct store *s, int64_t before,
	                int (*each)(void *ctx, const struct store_job *), void *ctx);

	/* The audit log. audit_head: seq and hash of the record with the highest
	 * seq (CC_ERR_NOTFOUND when there is none, CC_ERR_CORRUPT when its stored
	 * hash is not STORE_AUDIT_HASH_LEN bytes). audit_insert: CC_ERR_EXISTS
	 * when the seq is taken. audit_each: rows in seq order as filtered; rows
	 * are streamed, never loaded all at once. Callers append only through
	 * audit_append (src/access/audit.h), which keeps the chain. */
	int (*audit_head)(struct store *s, int64_t *seq, uint8_t hash[STORE_AUDIT_HASH_LEN]);
	int (*audit_insert)(struct store *s, const struct store_audit *rec);
	int (*audit_each)(struct store *s, const struct store_audit_filter *f,
	                  int (*each)(void *ctx, const struct store_audit *), void *ctx);

	int (*grant_add)(struct store *s, const struct store_grant *g, int64_t *id);
	int (*grant_get)(struct store *s, int64_t id, struct store_grant *out);
	/* Grants of one user (user_id != 0) or all, newest first. */
	int (*grant_list)(struct store *s, int64_t user_id,
	                  int (*each)(void *ctx, const struct store_grant *), void *ctx);
	/* CC_ERR_STATE when revoked already. */
	int (*grant_revoke)(struct store *s, int64_t id, int64_t at_ms);
	/* 1 if user_id holds a grant in force at now_ms for the machine or its site. */
	int (*grant_covers)(struct store *s, int64_t user_id, int64_t machine_id, int64_t site_id,
	                    const char *purpose, int64_t now_ms);

	/* Publishes the next version (*version = latest + 1). */
	int (*policy_publish)(struct store *s, const struct store_policy *p, int64_t *version);
	/* Versions, oldest first. */
	int (*policy_each)(struct store *s, int (*each)(void *ctx, const struct store_policy *), void *ctx);
	/* Records a customer's consent to a version, shown in language (idempotent). */
	int (*consent_add)(struct store *s, int64_t customer_id, int64_t version, const char *language,
	                   const char *login, int64_t at_ms);
	/* The highest version the customer consented to; 0 for none. */
	int (*consent_latest)(struct store *s, int64_t customer_id, int64_t *version);

	/* Inserts records; one already stored with the same (machine, kind, seq)
	 * is skipped, not an error. *inserted counts the new rows.
	 * Telemetry and events land in the backend's inbox first (SQLite: an
	 * append-only table in a file of its own, committed and durable when
	 * this returns, whatever transaction the caller has open; duplicates
	 * are resolved later, so *inserted counts every row appended). Reports
	 * go to their table in the caller's transaction. Every read below sees
	 * inbox and tables as one: a record is readable once put. */
	int (*records_put)(struct store *s, const struct store_record *recs, size_t n, size_t *inserted);
	/* Moves up to max_rows records from the inbox into their tables in one
	 * transaction, many per machine, skipping duplicates and records of
	 * machines that no longer exist, and moves each machine's last-seen
	 * time to its latest arrival. *moved: rows taken from the inbox.
	 * Called in rounds off the acknowledgement path (src/daemon/settler.h). */
	int (*records_settle)(struct store *s, size_t max_rows, const struct store_settle_hooks *hooks,
	                      size_t *moved);
	/* Records not moved yet (those in the inbox) of one machine and kind
	 * with from_ms <= ts_ms < to_ms, by seq: what roll-ups do not hold yet.
	 * In a begin_read transaction, roll-ups and these fit together. */
	int (*records_unsettled)(struct store *s, int64_t machine_id, enum record_kind kind, int64_t from_ms,
	                         int64_t to_ms, int (*each)(void *ctx, const struct store_record *), void *ctx);

	/* Telemetry roll-ups (src/records/rollup.h): one sealed body per
	 * (machine, width, start). get: CC_ERR_NOTFOUND when there is none;
	 * *len gets the size (CC_ERR_LIMIT when cap is smaller). put replaces.
	 * each: start_ms in [from_ms, to_ms), by start. purge: starts before before_ms. */
	int (*rollup_get)(struct store *s, int64_t machine_id, int64_t width_ms, int64_t start_ms, uint8_t *out,
	                  size_t cap, size_t *len);
	int (*rollup_put)(struct store *s, int64_t machine_id, int64_t width_ms, int64_t start_ms,
	                  const uint8_t *body, size_t len);
	int (*rollup_each)(struct store *s, int64_t machine_id, int64_t width_ms, int64_t from_ms, int64_t to_ms,
	                   int (*each)(void *ctx, int64_t start_ms, const uint8_t *body, size_t len), void *ctx);
	/* At most limit summaries of one width starting before before_ms, oldest first. */
	int (*rollup_purge)(struct store *s, int64_t machine_id, int64_t width_ms, int64_t before_ms, int64_t limit,
	                    int64_t *deleted);
	/* Each machine's last successful cleaning per program (alerts.h
	 * cleaning_overdue), kept across restarts: put keeps the later time;
	 * each hands over every row. */
	int (*last_cleaning_put)(struct store *s, int64_t machine_id, const char *program, int64_t ts_ms);
	int (*last_cleanings_each)(struct store *s,
	                           int (*each)(void *ctx, int64_t machine_id, const char *program, int64_t ts_ms),
	                           void *ctx);
	/* Each machine's water brewed since its last descale (alerts.h,
	 * descaling by litres), sealed above the store: put replaces the
	 * machine's one row; each hands over every row. */
	int (*descale_water_put)(struct store *s, int64_t machine_id, const uint8_t *sealed, size_t len);
	int (*descale_water_each)(struct store *s,
	                          int (*each)(void *ctx, int64_t machine_id, const uint8_t *sealed, size_t len),
	                          void *ctx);
	/* Days of events changed since their digest (src/records/event_days.h):
	 * touch marks (machine, day) and drops the day's digest (a roll-up of
	 * width wdigest); dirty hands over marked days starting before
	 * before_ms, oldest first, at most limit; clean unmarks one. */
	int (*event_day_touch)(struct store *s, int64_t machine_id, int64_t day_ms, int64_t wdigest);
	int (*event_days_dirty)(struct store *s, int64_t before_ms, size_t limit,
	                        int (*each)(void *ctx, int64_t machine_id, int64_t day_ms), void *ctx);
	int (*event_day_clean)(struct store *s, int64_t machine_id, int64_t day_ms);
	/* Records of one machine and kind with from_ms <= ts_ms < to_ms and
	 * seq > after_seq, by seq. */
	int (*records_get)(struct store *s, int64_t machine_id, enum record_kind kind,
	                   int64_t from_ms, int64_t to_ms, int64_t after_seq,
	                   int (*each)(void *ctx, const struct store_record *), void *ctx);
	/* The highest seq of one machine's records of a kind; 0 for none. */
	int (*records_last_seq)(struct store *s, int64_t machine_id, enum record_kind kind, int64_t *seq);
	/* Deletes at most limit of the machine's records of kind stamped before
	 * before_ms, oldest first (retention); *deleted: how many. Inside the
	 * caller's transaction. */
	int (*records_purge)(struct store *s, int64_t machine_id, enum record_kind kind, int64_t before_ms,
	                     int64_t limit, int64_t *deleted);
	/* Retention by whole months: every machine's records of kind (telemetry
	 * or events) stamped before the start of before_ms's month (UTC) go at
	 * once; *cut_ms gets that start. PostgreSQL drops the months'
	 * partitions instead of deleting rows. Inside the caller's transaction;
	 * CC_ERR_INVALID for another kind or a time outside years 1970..9999. */
	int (*records_drop_months)(struct store *s, enum record_kind kind, int64_t before_ms, int64_t *cut_ms);

	int (*credential_add)(struct store *s, const struct store_credential *c, int64_t *id);
	/* By token hash, whatever its state: the caller judges expiry. */
	int (*credential_find)(struct store *s, const uint8_t token_hash[32], struct store_credential *out);
	int (*credential_get)(struct store *s, int64_t id, struct store_credential *out);
	int (*credential_list)(struct store *s, int kind,
	                       int (*each)(void *ctx, const struct store_credential *), void *ctx);
	/* CC_ERR_STATE if revoked already, CC_ERR_NOTFOUND if unknown. */
	int (*credential_revoke)(struct store *s, int64_t id, int64_t at_ms);
	/* Revokes every session of a user in force, except except_id (0: none). */
	int (*credential_revoke_sessions)(struct store *s, int64_t user_id, int64_t except_id, int64_t at_ms);
	/* Deletes sessions that expired before now_ms, and revoked ones. */
	int (*credential_purge)(struct store *s, int64_t now_ms);

	/* Alerts (src/alerts/alerts.h). alert_open: CC_ERR_EXISTS when one
	 * is unresolved for the machine and cause already. alert_update writes
	 * the state, acknowledgement, resolution, level and last_notified. */
	int (*alert_open)(struct store *s, const struct store_alert *a, int64_t *id);
	int (*alert_get)(struct store *s, int64_t id, struct store_alert *out);
	int (*alert_find_open)(struct store *s, int64_t machine_id, const char *cause, struct store_alert *out);
	int (*alert_update)(struct store *s, const struct store_alert *a);
	int (*alert_list)(struct store *s, const struct store_alert_filter *f,
	                  int (*each)(void *ctx, const struct store_alert *a), void *ctx);
	int (*alert_event_add)(struct store *s, const struct store_alert_event *e);
	int (*alert_events)(struct store *s, int64_t alert_id,
	                    int (*each)(void *ctx, const struct store_alert_event *e), void *ctx);
	/* An organisation's own rule settings (org_id 0: every organisation's);
	 * params is a JSON object's text. */
	int (*alert_rule_set)(struct store *s, int64_t org_id, const char *rule, int enabled, const char *params);
	int (*alert_rule_list)(struct store *s, int64_t org_id,
	                       int (*each)(void *ctx, int64_t org_id, const char *rule, int enabled, const char *params),
	                       void *ctx);

	/* Quality rule sets (src/quality/ruleset.h), every version kept.
	 * add: the model's next version (1 for its first) in *version. list:
	 * model's versions (NULL: every model's), by model and version. */
	int (*ruleset_add)(struct store *s, const struct store_ruleset *r, const char *doc, int64_t *version);
	int (*ruleset_list)(struct store *s, const char *model,
	                    int (*each)(void *ctx, const struct store_ruleset *r, const char *doc), void *ctx);

	/* Retention agreed with a customer (src/fleet/retention_terms.h): days
	 * for one kind of record ("telemetry", "rollups", "events", "reports");
	 * days 0 removes the agreement. list: org_id's (0: every customer's),
	 * by organisation and kind. */
	int (*retention_term_set)(struct store *s, int64_t org_id, const char *kind, int64_t days, const char *set_by,
	                          int64_t at_ms);
	int (*retention_term_list)(struct store *s, int64_t org_id,
	                           int (*each)(void *ctx, int64_t org_id, const char *kind, int64_t days), void *ctx);

	/* Stores the integrity MAC of one row (len 0: NULL). Only the vault
	 * calls this; an op that changes a MAC'd column must be wrapped there
	 * too (src/vault/rowmac.c), or the row no longer verifies. */
	int (*row_mac_set)(struct store *s, enum store_table table, int64_t id, const uint8_t *mac, size_t len);
};

/* Every store handle starts with its ops, so s->ops->x(s, ...) always works.
 * impl is the backend's own handle, which a backend's ops reach through:
 * a wrapper (src/vault/rowmac.c) copies the backend's ops table, overrides
 * some and shares impl, so every op it does not override still works. */
struct store {
	const struct store_ops *ops;
	struct store *impl;
};

/* The backend of that name ("sqlite"), or NULL. */
const struct store_ops *store_backend_find(const char *name);

const char *org_kind_name(enum org_kind kind);
/* 0 and *out set, or CC_ERR_INVALID for an unknown name. */
int org_kind_parse(const char *name, enum org_kind *out);

#endif
