/* fuzz_agent_cert.c - what the agent reads back of its key and certificate:
 * a stored pair record ("cred/0": the firmware's flash, torn or damaged by
 * a power cut) and the certificate the server sends on
 * cc/v1/{serial}/cert/issued. A record is taken only whole and checked (a
 * key and a certificate that pair); a certificate only for the key waiting
 * and the fleet CA (none here: every one is refused). Never a crash. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ec.h>
#include <openssl/evp.h>

#include "agent/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct mem {
	const uint8_t *data;
	size_t size;
};

static int get(void *ud, const char *key, void *buf, size_t cap, size_t *len)
{
	const struct mem *m = ud;

	if (strcmp(key, "cred/0") != 0)
		return 1;
	if (m->size > cap)
		return -1;
	memcpy(buf, m->data, m->size);
	*len = m->size;
	return 0;
}

static int put(void *ud, const char *key, const void *buf, size_t len)
{
	(void)ud;
	(void)key;
	(void)buf;
	(void)len;
	return 0;
}

static int del(void *ud, const char *key)
{
	(void)ud;
	(void)key;
	return 0;
}

static int64_t now(void *ud)
{
	(void)ud;
	return 1800000000000LL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static EVP_PKEY *waiting;
	struct mem m = { data, size };
	cc_agent a;

	if (waiting == NULL && (waiting = EVP_EC_gen("P-256")) == NULL)
		__builtin_trap();
	memset(&a, 0, sizeof(a)); /* the C library's allocator */
	snprintf(a.serial, sizeof(a.serial), "SN-1");
	snprintf(a.ca, sizeof(a.ca), "/nonexistent/ca.crt");
	a.cfg.storage = (struct cc_storage){ get, put, del, &m };
	a.cfg.clock = (struct cc_clock){ now, NULL };
	if (cc_ag_cred_load(&a) == 0 && a.key_pem != NULL && (a.cert_pem == NULL || a.cred_gen == 0))
		__builtin_trap();
	a.pending = waiting;
	if (cc_ag_cred_issued(&a, data, size) == 0)
		__builtin_trap(); /* no fleet CA: nothing can be taken */
	a.pending = NULL;
	cc_ag_cred_free(&a);
	return 0;
}
