#include "records/records.h"

#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/limits.h"
#include "common/log.h"
#include "crypto/aead.h"

#define MOD "records"

static void record_ad(struct seal_ad *ad, int64_t machine_id, int64_t customer_id, const char *serial,
                      enum record_kind kind, int64_t seq, int64_t ts_ms)
{
	memset(ad, 0, sizeof(*ad));
	ad->kind = kind == RECORD_EVENT ? SEAL_EVENT : kind == RECORD_REPORT ? SEAL_REPORT : SEAL_TELEMETRY;
	ad->org_id = customer_id;
	ad->subject_id = machine_id;
	ad->seq = seq;
	ad->ts_ms = ts_ms;
	ad->name = serial;
}

int records_put(struct vault *v, const struct record_in *recs, size_t n, size_t *inserted)
{
	struct store *s = vault_store(v);
	struct store_record *rows;
	size_t i, sealed = 0;
	int rc = CC_OK;

	rows = calloc(n ? n : 1, sizeof(*rows));
	if (rows == NULL)
		return CC_ERR_NOMEM;
	for (i = 0; i < n && rc == CC_OK; i++) {
		struct seal_ad ad;
		uint8_t *blob = NULL;

		if (recs[i].body_len > CC_PAYLOAD_MAX) {
			rc = CC_ERR_LIMIT;
			break;
		}
		record_ad(&ad, recs[i].machine_id, recs[i].customer_id, recs[i].serial, recs[i].kind,
		          recs[i].seq, recs[i].ts_ms);
		rc = vault_seal(v, &ad, recs[i].body, recs[i].body_len, &blob, &rows[i].body_len);
		if (rc != CC_OK)
			break;
		rows[i].body = blob;
		rows[i].machine_id = recs[i].machine_id;
		rows[i].kind = recs[i].kind;
		rows[i].seq = recs[i].seq;
		rows[i].ts_ms = recs[i].ts_ms;
		sealed++;
	}
	if (rc == CC_OK)
		rc = s->ops->records_put(s, rows, n, inserted);
	for (i = 0; i < sealed; i++)
		free((void *)rows[i].body);
	free(rows);
	return rc;
}

#define DAMAGED_NAMED_MAX 10 /* damaged records named one by one in the log, then counted */

struct get_ctx {
	struct vault *v;
	const struct store_machine *machine;
	int (*each)(void *, const struct record_out *);
	void *ctx;
	int64_t damaged, first_damaged;
};

static int open_one(void *arg, const struct store_record *rec)
{
	struct get_ctx *c = arg;
	struct record_out out;
	struct seal_ad ad;
	uint8_t *pt = NULL;
	size_t len = 0;
	int rc;

	record_ad(&ad, c->machine->id, c->machine->customer_id, c->machine->serial, rec->kind, rec->seq,
	          rec->ts_ms);
	rc = vault_unseal(c->v, &ad, rec->body, rec->body_len, &pt, &len);
	if (rc == CC_ERR_AUTH || rc == CC_ERR_CORRUPT) {
		/* One damaged record costs only itself: named (never its content), skipped. */
		if (c->damaged++ == 0)
			c->first_damaged = rec->seq;
		if (c->damaged <= DAMAGED_NAMED_MAX)
			log_warn(MOD, "%s record %lld of machine %s is damaged (it does not open): skipped",
			         rec->kind == RECORD_EVENT ? "event" : rec->kind == RECORD_REPORT ? "report" : "telemetry",
			         (long long)rec->seq, c->machine->serial);
		return 0;
	}
	if (rc != CC_OK) {
		log_error(MOD, "record %lld of machine %s does not open (%s)", (long long)rec->seq,
		          c->machine->serial, cc_strerror(rc));
		return rc;
	}
	out.seq = rec->seq;
	out.ts_ms = rec->ts_ms;
	out.body = (const char *)pt;
	out.body_len = len;
	rc = c->each(c->ctx, &out);
	crypto_wipe(pt, len);
	free(pt);
	return rc;
}

int records_open_record(struct vault *v, const struct store_machine *machine, const struct store_record *rec,
                        uint8_t **pt, size_t *len)
{
	struct seal_ad ad;

	record_ad(&ad, machine->id, machine->customer_id, machine->serial, rec->kind, rec->seq, rec->ts_ms);
	return vault_unseal(v, &ad, rec->body, rec->body_len, pt, len);
}

int records_unsettled(struct vault *v, const struct store_machine *machine, enum record_kind kind,
                      int64_t from_ms, int64_t to_ms,
                      int (*each)(void *ctx, const struct record_out *r), void *ctx, int64_t *damaged)
{
	struct store *s = vault_store(v);
	struct get_ctx c = { v, machine, each, ctx, 0, 0 };
	int rc = s->ops->records_unsettled(s, machine->id, kind, from_ms, to_ms, open_one, &c);

	if (damaged != NULL)
		*damaged += c.damaged;
	return rc;
}

int records_page_counted(struct vault *v, const struct store_machine *machine, enum record_kind kind,
                         int64_t from_ms, int64_t to_ms, int64_t after_seq,
                         int (*each)(void *ctx, const struct record_out *r), void *ctx, int64_t *damaged)
{
	struct store *s = vault_store(v);
	struct get_ctx c = { v, machine, each, ctx, 0, 0 };
	int rc = s->ops->records_get(s, machine->id, kind, from_ms, to_ms, after_seq, open_one, &c);

	if (c.damaged > 0)
		log_warn(MOD, "machine %s: %lld damaged record(s) skipped (the first: seq %lld); the others were read",
		         machine->serial, (long long)c.damaged, (long long)c.first_damaged);
	if (damaged != NULL)
		*damaged = c.damaged;
	return rc;
}

int records_page(struct vault *v, const struct store_machine *machine, enum record_kind kind,
                 int64_t from_ms, int64_t to_ms, int64_t after_seq,
                 int (*each)(void *ctx, const struct record_out *r), void *ctx)
{
	return records_page_counted(v, machine, kind, from_ms, to_ms, after_seq, each, ctx, NULL);
}

int records_get(struct vault *v, const struct store_machine *machine, enum record_kind kind,
                int64_t from_ms, int64_t to_ms,
                int (*each)(void *ctx, const struct record_out *r), void *ctx)
{
	return records_page(v, machine, kind, from_ms, to_ms, 0, each, ctx);
}

int records_open_info(struct vault *v, const struct store_machine *m, const struct store_machine_state *st,
                      char **json)
{
	struct seal_ad ad = { SEAL_MACHINE_INFO, m->customer_id, m->id, 0, 0, m->serial };
	uint8_t *pt = NULL;
	size_t len = 0;
	int rc;

	if (st->info_len == 0)
		return CC_ERR_NOTFOUND;
	rc = vault_unseal(v, &ad, st->info, st->info_len, &pt, &len);
	if (rc != CC_OK)
		return rc;
	*json = (char *)pt;
	return CC_OK;
}
