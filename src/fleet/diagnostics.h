/*
 * diagnostics.h - diagnostics bundles: a person asks a machine for one, the
 * machine uploads it over HTTPS with its certificate, people allowed the
 * technical class download it (docs/METRICS.md "Diagnostics bundles").
 *
 *   requested -> uploading (the first slice) -> complete (the last slice,
 *   its SHA-256 and manifest checked) | failed (too large, a wrong digest,
 *   a manifest refused) | expired (not complete DIAG_TTL_MS after the ask).
 *
 * The request is a job (jobs.h) with the "diagnostics" command, whose body
 * tells the machine where to upload and how much. The bytes are sealed
 * under the customer's data key in chunks of STORE_DIAG_CHUNK (seal kind
 * SEAL_DIAGNOSTICS), so erasing the customer makes them unreadable and
 * neither upload nor download holds more than a slice in memory.
 */
#ifndef CC_FLEET_DIAGNOSTICS_H
#define CC_FLEET_DIAGNOSTICS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "ingest/privacy.h"
#include "store/store.h"
#include "vault/vault.h"

#define DIAG_MAX_BYTES_DEFAULT (16 * 1024 * 1024)
#define DIAG_TTL_MS (24 * 3600 * 1000LL)
#define DIAG_RETENTION_DAYS 30
#define DIAG_WHY_MAX 160

/* Asks machine m for a bundle of at most max_bytes: the row, then the job.
 * *out: the row as stored (its job_id set). */
int diagnostics_request(struct vault *v, const struct store_machine *m, const char *by, int64_t max_bytes,
                        struct store_diag *out);

/*
 * One slice from machine m at offset (the bytes received so far); final:
 * the last, with the whole bundle's SHA-256 (hex). Errors, with *why:
 * CC_ERR_NOTFOUND (no such bundle of this machine), CC_ERR_STATE (a wrong
 * offset: out->received says where to resume; or the bundle is no longer
 * open: out->state says why), CC_ERR_LIMIT (more than its max_bytes: it
 * failed), CC_ERR_INVALID (a bad digest or a refused manifest: it failed).
 * *privacy: the filter's reason when the manifest was refused for it.
 */
int diagnostics_append(struct vault *v, const struct store_machine *m, int64_t id, int64_t offset,
                       const uint8_t *data, size_t len, int final, const char *sha256, struct store_diag *out,
                       char why[DIAG_WHY_MAX], enum privacy_reason *privacy);

/* The plain text of the chunk at the smallest offset >= from (serial: the
 * bundle's machine's); CC_ERR_NOTFOUND past the end. *pt malloc'd. */
int diagnostics_chunk(struct vault *v, const struct store_diag *d, const char *serial, int64_t from,
                      int64_t *offset, uint8_t **pt, size_t *len);

/* "requested", "uploading", "complete", "failed", "expired". */
const char *diagnostics_state_name(enum store_diag_state s);

/* The row as the API shows it (times in ISO 8601 UTC). */
json_t *diagnostics_json(const struct store_diag *d, const char *serial);

/* Expires open requests past their time and deletes bundles asked for more
 * than retention_days ago (0: kept). *n: rows changed. */
int diagnostics_sweep(struct vault *v, int64_t retention_days, int64_t *n);

#endif
