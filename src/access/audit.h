/*
 * audit.h - the tamper-evident audit log: who read or changed what, when,
 * for which purpose, with what outcome (docs/PRODUCT.md §3 "Access and privacy").
 *
 * Owns: the `audit` table (through store_ops), meta "audit-head" (the keyed
 * checkpoint) and the keyring secret "audit-key" (32 random bytes, created
 * by the first append of an installation).
 *
 * A record holds metadata only, never a machine-data payload or a secret,
 * and every column is clear (see docs/ARCHITECTURE.md, "The audit log"):
 * auditors read it without any customer's data key, the access-transparency
 * report queries it by customer and time, and a customer's crypto-shredding
 * must not make the record of who read its data unreadable or unverifiable.
 *
 * The chain (version 1). For record i, with its seq:
 *
 *   record_i = "CCAUDIT1" | be64(seq) | be64(ts_ms) | be64(customer_id)
 *              | for actor, source, action, machines, data_class, purpose,
 *                outcome in this order: be16(byte length) | bytes
 *   hash_i   = SHA-256(hash_{i-1} | record_i)
 *   hash_0   = SHA-256("coffeecloud-audit-genesis" | installation-id)
 *
 * where installation-id is the text of the store's meta "installation-id"
 * (32 hex digits, written by `init`; empty when absent). Anyone can recompute
 * the chain; what they cannot forge is the checkpoint:
 *
 *   meta "audit-head" = "<seq>:<hash_seq hex>:<mac hex>"
 *   mac = HMAC-SHA-256(K, "CCAUDITHEAD1" | be64(seq) | hash_seq)
 *   K   = HMAC-SHA-256(keyring "audit-key", "coffeecloud-audit-checkpoint-v1")
 *
 * rewritten in the same transaction as every append. Someone who edits the
 * database and recomputes every hash is caught because the checkpoint no
 * longer authenticates, or names a hash that is no longer there; the key is
 * in the keyring, sealed by the master key, which never touches the database.
 *
 * An append chains from the checkpoint, not from whatever row is last, so
 * appends after a truncation or a rewrite do not heal the evidence: a
 * truncated tail becomes a gap ("removed"), a rewritten chain stays broken.
 * What the checkpoint cannot catch: restoring an older database file whole
 * (an old checkpoint authenticates); keep the log's head hash elsewhere too
 * (`audit verify` prints it) to catch that.
 *
 * Every function returns 0 or a negative CC_ERR_* code.
 */
#ifndef CC_ACCESS_AUDIT_H
#define CC_ACCESS_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"
#include "vault/vault.h"

#define AUDIT_HASH_LEN STORE_AUDIT_HASH_LEN
#define AUDIT_KEY_NAME "audit-key"
#define AUDIT_HEAD_META "audit-head"

/* One audited action. Texts are printable ASCII (no control characters),
 * within the CC_AUDIT_*_MAX bounds of store.h. NULL means "". */
struct audit_event {
	int64_t ts_ms;          /* 0: now */
	const char *actor;      /* "user:alice", "token:ID", "cli:root", "machine:SERIAL" (required) */
	const char *source;     /* source address, or "" */
	const char *action;     /* "telemetry.get", "machine.add" (required) */
	const char *machines;   /* serials involved, comma-separated; "*": every machine in scope; "" */
	const char *data_class; /* status|technical|service|usage|audit|admin (required) */
	const char *purpose;    /* "support", "quality", "downtime", "updates", "administration" (required) */
	const char *outcome;    /* ok|denied|error (required) */
	int64_t customer_id;    /* the customer whose machines or data were involved; 0: none */
};

/* Appends one record. Inside the caller's transaction (begin, which is
 * BEGIN IMMEDIATE: the write lock is held, so the last seq cannot change
 * under us and two processes cannot fork the chain), or in autocommit, when
 * it runs its own. CC_ERR_INVALID for a malformed event, CC_ERR_LIMIT for an
 * over-long field, CC_ERR_CORRUPT when the checkpoint does not authenticate
 * or records follow it (nothing is appended: `audit verify` says why). */
int audit_append(struct vault *v, const struct audit_event *e);

/* What audit_verify found. */
enum audit_damage {
	AUDIT_INTACT = 0,
	AUDIT_EDITED,    /* a record no longer matches its hash */
	AUDIT_REMOVED,   /* records are missing before later ones (a gap in seq) */
	AUDIT_INSERTED,  /* a record that was not appended here: it does not chain,
	                    repeats a seq, or follows the checkpoint */
	AUDIT_TRUNCATED, /* records at the end are gone: the checkpoint names a seq
	                    beyond the last record, or the whole log is gone */
	AUDIT_REWRITTEN, /* the chain is consistent but the keyed checkpoint is
	                    missing, does not authenticate, or names another hash:
	                    rewritten by someone without the audit key */
};

struct audit_report {
	enum audit_damage damage;
	int64_t records;                   /* records that verified (all of them when intact) */
	int64_t bad_seq;                   /* the first bad seq; 0 when intact */
	uint8_t head_hash[AUDIT_HASH_LEN]; /* hash of the last verified record (hash_0 when none) */
	char detail[200];                  /* one sentence for people */
};

/* Walks the whole chain in one read snapshot (appenders are not blocked),
 * streaming rows, and checks the checkpoint. CC_OK when intact;
 * CC_ERR_CORRUPT when damaged, with out describing the first damage; other
 * codes when the walk itself failed (out is then unspecified). */
int audit_verify(struct vault *v, struct audit_report *out);

/* "intact", "edited", "removed", "inserted", "truncated", "rewritten". */
const char *audit_damage_name(enum audit_damage d);

/* 0 when the next append can go ahead (what audit_append checks before
 * writing); CC_ERR_CORRUPT when it would be refused. For fail-closed reads:
 * refuse to release data whose read cannot be audited. */
int audit_ready(struct vault *v);

struct audit_filter {
	int64_t from_ms, to_ms;    /* from_ms <= ts_ms < to_ms; to_ms 0: no bound */
	const char *action_prefix; /* NULL: any */
	const char *serial;        /* NULL: any; else records naming this machine */
	int64_t customer_id;       /* 0: any */
	const char *actor;         /* NULL: any; else exactly this actor */
	size_t limit;              /* 0: all */
	int newest_first;
	int64_t before_seq;        /* seq < before_seq; 0: no bound (the next page, newest first) */
};

/* Calls each per matching record, by seq (ascending unless newest_first);
 * stops early and returns its value when it returns non-zero. The record is
 * valid during the call only. */
int audit_list(struct vault *v, const struct audit_filter *f,
               int (*each)(void *ctx, const struct store_audit *r), void *ctx);

/* The chain rule, public so that anyone can check it independently. */
/* hash_0 of this installation. */
int audit_genesis(struct vault *v, uint8_t out[AUDIT_HASH_LEN]);
/* hash_i from hash_{i-1} and record i (its seq included; r->hash ignored). */
int audit_record_hash(const uint8_t prev[AUDIT_HASH_LEN], const struct store_audit *r,
                      uint8_t out[AUDIT_HASH_LEN]);

/* 1 for a known data class (or a comma-separated list of them) / outcome name. */
int audit_data_class_valid(const char *name);
int audit_outcome_valid(const char *name);

#endif
