/*
 * ingest_check.c - `coffeecloud-bench-ingest`: the per-message CPU cost of
 * what the daemon does to one machine message outside TLS, MQTT and SQLite:
 * message_check (decode, privacy filter, catalogue) on the load generator's
 * ~217-byte telemetry message (bench/loadgen.c) and on a brew event, and
 * aead_seal of the same telemetry payload. Best of 5 rounds; not part of
 * the product, not installed. docs/PERFORMANCE.md "Parse once" has figures.
 *
 *   usage: coffeecloud-bench-ingest [ITERATIONS]   (default 200000)
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "crypto/aead.h"
#include "ingest/message.h"
#include "ingest/privacy.h"

#define ROUNDS 5

static const char telemetry[] =
	"{\"seq\":123457123457,\"ts\":1795860000000,\"m\":{\"boiler_temp_c\":93.4,\"brew_temp_c\":92.7,"
	"\"pump_pressure_bar\":9.9,\"flow_ml_s\":2.1,\"grinder_current_a\":0.0,"
	"\"milk_fridge_temp_c\":4.4,\"bean_hopper_pct\":64.5,\"cup_counter\":12345}}";
static const char event[] = "{\"seq\":18,\"ts\":1795860000000,\"type\":\"brew\",\"product\":\"espresso\","
                            "\"volume_ml\":30,\"brew_time_s\":24.5,\"temp_c\":93.1}";

/* 2026-11-28T12:00:00Z */
#define NOW INT64_C(1795867200000)

typedef int (*bench_fn)(void);

static int run_telemetry(void)
{
	struct message_verdict v;

	return message_check_at(MESSAGE_TELEMETRY, "barista-pro", (const uint8_t *)telemetry,
	                        sizeof(telemetry) - 1, NOW, &v) == 0 && v.accepted;
}

static int run_event(void)
{
	struct message_verdict v;

	return message_check_at(MESSAGE_EVENT, "barista-pro", (const uint8_t *)event, sizeof(event) - 1, NOW,
	                        &v) == 0 && v.accepted;
}

static int run_keys(void)
{
	static const char *const keys[] = { "seq", "ts", "m", "boiler_temp_c", "brew_temp_c",
		                            "pump_pressure_bar", "flow_ml_s", "grinder_current_a",
		                            "milk_fridge_temp_c", "bean_hopper_pct", "cup_counter" };
	size_t i;
	int hits = 0;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		hits += privacy_key_is_financial(keys[i], strlen(keys[i]));
	return hits == 0;
}

static uint8_t seal_key[AEAD_KEY_LEN];

static int run_seal(void)
{
	static uint8_t blob[sizeof(telemetry) + AEAD_OVERHEAD];
	static const char ad[] = "CCAD telemetry 1 1 123457 1795860000000";
	size_t n;

	return aead_seal(seal_key, ad, sizeof(ad) - 1, telemetry, sizeof(telemetry) - 1, blob, sizeof(blob), &n) ==
	       0;
}

static double best_us(bench_fn fn, long iterations)
{
	double best = 1e30;
	int r;

	for (r = 0; r < ROUNDS; r++) {
		int64_t t0 = clock_mono_us();
		long i;
		double us;

		for (i = 0; i < iterations; i++)
			if (!fn()) {
				fprintf(stderr, "bench-ingest: a check failed\n");
				exit(1);
			}
		us = (double)(clock_mono_us() - t0) / (double)iterations;
		if (us < best)
			best = us;
	}
	return best;
}

int main(int argc, char **argv)
{
	long iterations = 200000;

	if (argc > 1) {
		char *end;

		iterations = strtol(argv[1], &end, 10);
		if (*end != 0 || iterations < 1) {
			fprintf(stderr, "usage: coffeecloud-bench-ingest [ITERATIONS]\n");
			return 2;
		}
	}
	if (crypto_random(seal_key, sizeof(seal_key)) != 0)
		return 1;
	printf("message_check telemetry (%zu bytes): %.3f us\n", sizeof(telemetry) - 1,
	       best_us(run_telemetry, iterations));
	printf("message_check event (%zu bytes):     %.3f us\n", sizeof(event) - 1, best_us(run_event, iterations));
	printf("privacy_key_is_financial, its 11 keys: %.3f us\n", best_us(run_keys, iterations));
	printf("aead_seal of the telemetry payload:  %.3f us\n", best_us(run_seal, iterations));
	return 0;
}
