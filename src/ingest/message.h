/*
 * message.h - decodes and validates one message a machine published, and
 * says whether it may be stored (docs/PRODUCT.md §2.1; docs/METRICS.md "Message formats").
 *
 * Order of checks, each refusal final:
 *   1. size: at most CC_PAYLOAD_MAX bytes (not even scanned beyond that);
 *   2. nesting: arrays/objects nested deeper than INGEST_DEPTH_MAX are
 *      refused (the scanner bounds its stack itself; a byte pre-scan keeps
 *      such nesting away from jansson's recursive parser);
 *   3. decoding, strict: duplicate keys, invalid UTF-8, "\u0000"
 *      in strings or keys, numbers that overflow (no NaN/Infinity exist in
 *      JSON; jansson refuses them as syntax) and trailing bytes are refused;
 *   4. the privacy filter (privacy.h) over the whole document - or,
 *      when 2 or 3 failed, over the raw bytes, so that a broken message with
 *      a card number in it is still counted as a privacy refusal;
 *   5. the schema of the kind, against the catalogue (catalogue.h) of the
 *      machine's model.
 *
 * The verdict never holds payload content: reasons are fixed phrases, plus
 * catalogue names (metric, event type, field) only when the name was found
 * in the catalogue. An unknown key is never echoed: a key may itself be
 * personal data. So verdict.reason may be logged and sent back to the
 * machine (MQTT 5 reason string); the payload of a refused message may not
 * be logged, stored or kept anywhere.
 *
 * Formats (docs/METRICS.md has the full tables):
 *   telemetry  {"seq": n, "ts": ms, "m": {metric: number, ...}}
 *   event      {"seq": n, "ts": ms, "type": t, <fields of type t>}
 *   info       {"model": s, "hw": s, "sw": s}
 * seq: integer 1..INGEST_SEQ_MAX (12 digits). ts: integer epoch ms in [INGEST_TS_MIN_MS,
 * now + INGEST_TS_FUTURE_MS]. m: 1..INGEST_METRICS_MAX metrics known for
 * the model, each a number in range (an integer where the metric says so).
 * No other keys anywhere. Info strings: 1..max bytes of [A-Za-z0-9._+-].
 *
 * Parse once (docs/ARCHITECTURE.md): steps 3 to 5 run in one pass of the
 * allocation-free scanner ingest/jscan.h, whose callback feeds the privacy
 * filter and the catalogue checks as keys and values go by. A document the
 * scanner declines (malformed, or unusual: see jscan.h) takes the reference
 * path instead - jansson's tree, the same checks over it - which alone
 * names decoding errors. Both paths give the same verdict for every input;
 * tests/fuzz/fuzz_ingest_diff.c holds them to it.
 *
 * Pure apart from jansson's allocations on the reference path (freed before
 * return) and the clock read by message_check: safe to call from any thread.
 */
#ifndef CC_INGEST_MESSAGE_H
#define CC_INGEST_MESSAGE_H

#include <stddef.h>
#include <stdint.h>

#include "ingest/privacy.h"

/* Deepest nesting of arrays/objects accepted by the decoder (top level = 1).
 * Valid messages need 2; deeper ones are refused without parsing. */
#define INGEST_DEPTH_MAX 16
/* Metrics in one telemetry message. */
#define INGEST_METRICS_MAX 256
/* seq: 1 .. 10^12 - 1, at most 12 digits, so that no seq can be a card
 * number (13..19 digits): the privacy filter needs no exemption for it and
 * seq stays a clear, exact dedupe key. 10 messages a second for 3,000 years. */
#define INGEST_SEQ_MAX INT64_C(999999999999)
/* ts window: 2020-01-01T00:00:00Z .. now + 1 day. */
#define INGEST_TS_MIN_MS INT64_C(1577836800000)
#define INGEST_TS_FUTURE_MS INT64_C(86400000)
/* Info strings, bytes (the verdict's buffers hold one more). */
#define INGEST_MODEL_MAX 64
#define INGEST_HW_MAX 32
#define INGEST_SW_MAX 32

enum message_kind { MESSAGE_TELEMETRY = 1, MESSAGE_EVENT, MESSAGE_INFO };

struct message_verdict {
	int accepted;                /* 1 = store it; 0 = refused, see reason */
	enum privacy_reason privacy; /* set when refused for privacy, else PRIVACY_NONE */
	char reason[160];            /* "ok", or why refused; never holds payload content */
	int64_t seq, ts_ms;          /* telemetry and event: from the message (0 if absent) */
	char event_type[16];         /* event: the catalogue's type name when known, else "" */
	char model[INGEST_MODEL_MAX + 1], hw_rev[INGEST_HW_MAX + 1], sw_version[INGEST_SW_MAX + 1]; /* info */
};

/* "telemetry", "event", "info"; "?" otherwise. */
const char *message_kind_name(enum message_kind kind);

/* Checks payload (len bytes, not NUL-terminated; NULL allowed when len is 0)
 * published by a machine of the registered model (NULL or unknown model: the
 * default metric set only) as a message of kind, at the wall-clock time now.
 * Returns 0 and fills *out with the verdict, accepted or refused. Returns
 * CC_ERR_NOMEM if the decoder ran out of memory (nothing judged: retry or
 * drop; *out then says "internal error"), CC_ERR_INVALID for a bad argument
 * (out NULL, payload NULL with len > 0, unknown kind). seq/ts_ms are filled
 * as soon as they were read and valid, even when a later check refuses. For
 * info, the model reported is not compared with the registered one: that is
 * the caller's business (verdict.model). */
int message_check(enum message_kind kind, const char *model, const uint8_t *payload, size_t len,
                  struct message_verdict *out);

/* As message_check, with "now" given (epoch ms) so tests are deterministic. */
int message_check_at(enum message_kind kind, const char *model, const uint8_t *payload,
                     size_t len, int64_t now_ms, struct message_verdict *out);

/* The two paths of message_check_at, for the differential fuzz target and
 * the benchmark. message_check_fast_at returns 1 with the verdict in *out
 * when it could judge (the checks before decoding, or a document the
 * scanner took), 0 when the scanner declined (*out holds nothing
 * meaningful), CC_ERR_INVALID as message_check_at. message_check_reference_at
 * is message_check_at over jansson's tree only. */
int message_check_fast_at(enum message_kind kind, const char *model, const uint8_t *payload,
                          size_t len, int64_t now_ms, struct message_verdict *out);
int message_check_reference_at(enum message_kind kind, const char *model, const uint8_t *payload,
                               size_t len, int64_t now_ms, struct message_verdict *out);

#endif
