/*
 * diagnostics.h (store) - the rows behind diagnostics bundles
 * (fleet/diagnostics.h): one row per bundle a person asked a machine for,
 * and the bundle's bytes as sealed slices (at most STORE_DIAG_CHUNK bytes
 * of plain text each), keyed by their offset. Rows cascade with their
 * machine and customer. Reached as s->ops->diagnostics->x(s, ...); every op
 * runs in the caller's transaction.
 */
#ifndef CC_STORE_DIAGNOSTICS_H
#define CC_STORE_DIAGNOSTICS_H

#include <stddef.h>
#include <stdint.h>

#include "common/limits.h"

struct store;

#define STORE_DIAG_CHUNK (64 * 1024)
#define STORE_DIAG_WHO_MAX (CC_NAME_MAX + 8)
#define STORE_DIAG_REASON_MAX 120

enum store_diag_state {
	DIAG_REQUESTED = 1,
	DIAG_UPLOADING,
	DIAG_COMPLETE,
	DIAG_FAILED,
	DIAG_EXPIRED,
};

struct store_diag {
	int64_t id;
	int64_t machine_id;
	int64_t customer_id; /* whose key seals it: the machine's customer when asked */
	char requested_by[STORE_DIAG_WHO_MAX + 1];
	int64_t requested_ms;
	int64_t expires_ms; /* an upload not complete by then is refused */
	int64_t max_bytes;
	enum store_diag_state state;
	int64_t received;
	char sha256[65]; /* of the whole bundle, once complete */
	char reason[STORE_DIAG_REASON_MAX + 1]; /* why it failed: a fixed phrase */
	int64_t completed_ms;
	int64_t job_id;
};

/* Which bundles page emits, newest first. Zero fields select all. */
struct store_diag_filter {
	int64_t before_id;  /* ids below this one (the cursor); 0: from the newest */
	int64_t machine_id; /* one machine row's */
	const char *serial; /* every row that carried this serial: a moved machine's old rows too */
	/* The caller's scope, pushed into the query (api/diagnostics.c): with
	 * scoped 1, only bundles of these customers' machines that were not
	 * moved away, bundles the moved_customers had taken of machines since
	 * moved away, or of these granted machines or machines at these sites
	 * (not moved away); all empty selects none. The API still judges each
	 * bundle it shows by the verified rows. */
	int scoped;
	const int64_t *customers, *moved_customers, *machines, *sites;
	size_t ncustomers, nmoved_customers, nmachines, nsites;
};

struct store_diag_ops {
	/* d->id is set. */
	int (*add)(struct store *s, struct store_diag *d);
	int (*get)(struct store *s, int64_t id, struct store_diag *out);
	/* Writes state, received, sha256, reason, completed_ms, job_id. */
	int (*update)(struct store *s, const struct store_diag *d);
	/* A machine's, newest first, at most limit. */
	int (*list)(struct store *s, int64_t machine_id, size_t limit,
	            int (*each)(void *ctx, const struct store_diag *d), void *ctx);
	/* By the filter; each returns non-zero to stop (that value is returned). */
	int (*page)(struct store *s, const struct store_diag_filter *f,
	            int (*each)(void *ctx, const struct store_diag *d), void *ctx);
	/* Retention of one machine's bundles asked for before before_ms: at most
	 * limit chunks go, oldest bundle first, then the bundles left without
	 * chunks (at most limit less the chunks). *bundles, *chunks: how many. */
	int (*purge)(struct store *s, int64_t machine_id, int64_t before_ms, int64_t limit, int64_t *bundles,
	             int64_t *chunks);
	int (*chunk_add)(struct store *s, int64_t id, int64_t offset, const uint8_t *blob, size_t len);
	/* The chunk at the smallest offset >= from: CC_ERR_NOTFOUND past the end.
	 * *blob malloc'd. */
	int (*chunk_next)(struct store *s, int64_t id, int64_t from, int64_t *offset, uint8_t **blob, size_t *len);
	int (*chunks_drop)(struct store *s, int64_t id);
	/* Open requests past their expiry become expired (their chunks go);
	 * bundles asked for before cutoff_ms are deleted (0: none; the daemon's
	 * retention uses purge, in batches). *n: rows changed. */
	int (*sweep)(struct store *s, int64_t now_ms, int64_t cutoff_ms, int64_t *n);
};

#endif
