/*
 * fuzz_telemetry.c - message_check (decoder, privacy filter, catalogue
 * schema) takes hostile payloads of every kind without crashing, and its
 * verdict keeps its promises.
 *
 * The first byte chooses the kind and the machine's model:
 *   't' 'e' 'i'  telemetry / event / info from a "barista-pro"
 *   'T' 'E' 'I'  the same from an "espresso-one"
 *   other        kind = byte % 3 + 1, no registered model
 * The rest is the MQTT payload. "now" is fixed so runs are reproducible.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "ingest/message.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* 2026-11-28T12:00:00Z */
#define FUZZ_NOW INT64_C(1795867200000)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct message_verdict v;
	enum message_kind kind;
	const char *model = NULL;
	size_t i, n;
	int rc;

	log_set_level(LOG_LEVEL_SILENT);
	if (size == 0)
		return 0;
	switch (data[0]) {
	case 't': kind = MESSAGE_TELEMETRY; model = "barista-pro"; break;
	case 'e': kind = MESSAGE_EVENT; model = "barista-pro"; break;
	case 'i': kind = MESSAGE_INFO; model = "barista-pro"; break;
	case 'T': kind = MESSAGE_TELEMETRY; model = "espresso-one"; break;
	case 'E': kind = MESSAGE_EVENT; model = "espresso-one"; break;
	case 'I': kind = MESSAGE_INFO; model = "espresso-one"; break;
	default: kind = (enum message_kind)(data[0] % 3 + 1); break;
	}
	rc = message_check_at(kind, model, data + 1, size - 1, FUZZ_NOW, &v);
	if (rc != 0)
		return 0; /* out of memory: nothing judged */

	/* The verdict's promises. */
	n = strnlen(v.reason, sizeof(v.reason));
	if (n == 0 || n == sizeof(v.reason))
		abort();
	for (i = 0; i < n; i++) /* fixed phrases and catalogue names only: printable ASCII */
		if (v.reason[i] < 0x20 || v.reason[i] > 0x7e)
			abort();
	if (v.accepted && (v.privacy != PRIVACY_NONE || strcmp(v.reason, "ok") != 0))
		abort();
	if (!v.accepted && strcmp(v.reason, "ok") == 0)
		abort();
	if (v.privacy != PRIVACY_NONE && (v.seq != 0 || v.ts_ms != 0 || v.event_type[0] != 0))
		abort();
	if (v.accepted && kind != MESSAGE_INFO &&
	    (v.seq < 1 || v.seq > INGEST_SEQ_MAX || v.ts_ms < INGEST_TS_MIN_MS ||
	     v.ts_ms > FUZZ_NOW + INGEST_TS_FUTURE_MS))
		abort();
	if (v.accepted && kind == MESSAGE_EVENT && v.event_type[0] == 0)
		abort();
	if (v.accepted && kind == MESSAGE_INFO && (v.model[0] == 0 || v.hw_rev[0] == 0 || v.sw_version[0] == 0))
		abort();
	return 0;
}
