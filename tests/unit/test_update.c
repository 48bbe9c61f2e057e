/* The machine's verdict on an update (update/update.h): the accepted case and
 * one test per refusal, after TUF's attacks: arbitrary software, rollback,
 * freeze, endless data, mix-and-match. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "check.h"
#include "common/err.h"
#include "crypto/ed25519.h"
#include "update/update.h"

#define NOW 1800000000LL /* 2027-01-15 */

static uint8_t release_seed[32], other_seed[32], server_seed[32];
static struct update_key release_keys[2], server_keys[1];
static struct update_trust trust = { release_keys, 1, server_keys, 1 };
static const struct update_facts machine = { "SN-0001", "barista-2", "1.4.0", NOW };
static const char artifact[] = "firmware image bytes";
static const char artifact_sha[] = "0dd5fdf5e3f5c1a31b7f76e30e49c4e3cd7f1b8d2bd6a6d0f5e9a8a1b5c7e9f1"; /* any */

static void keys(void)
{
	CHECK_EQ(ed25519_generate(release_seed), CC_OK);
	CHECK_EQ(ed25519_generate(other_seed), CC_OK);
	CHECK_EQ(ed25519_generate(server_seed), CC_OK);
	CHECK_EQ(ed25519_public(release_seed, release_keys[0].pub), CC_OK);
	CHECK_EQ(ed25519_public(other_seed, release_keys[1].pub), CC_OK);
	CHECK_EQ(ed25519_public(server_seed, server_keys[0].pub), CC_OK);
}

static void base_meta(struct update_meta *m)
{
	memset(m, 0, sizeof(*m));
	CHECK_EQ(ed25519_key_id(release_keys[0].pub, m->key_id), CC_OK);
	strcpy(m->version, "1.5.0");
	strcpy(m->min_from, "1.2.0");
	strcpy(m->models[0], "barista-2");
	strcpy(m->models[1], "barista-3");
	m->nmodels = 2;
	m->size = sizeof(artifact) - 1;
	strcpy(m->sha256, artifact_sha);
	strcpy(m->notes, "Faster \"descaling\".\nFixes E42.");
	m->expires = NOW + 86400 * 30;
}

/* The metadata as the release tool writes it, signed by seed. */
static char *signed_meta(const struct update_meta *m, const uint8_t *seed, size_t *len)
{
	char *inner = NULL, *doc = NULL;
	size_t n = 0;

	CHECK_EQ(update_meta_encode(m, &inner, &n), CC_OK);
	CHECK_EQ(update_envelope(seed, inner, n, &doc, len), CC_OK);
	free(inner);
	return doc;
}

static void base_offer(struct update_offer *o, const struct update_meta *m)
{
	memset(o, 0, sizeof(*o));
	CHECK_EQ(ed25519_key_id(server_keys[0].pub, o->key_id), CC_OK);
	strcpy(o->serial, "SN-0001");
	strcpy(o->sha256, m->sha256);
	strcpy(o->version, m->version);
	o->issued = NOW - 60;
	o->expires = NOW + 86400;
}

static char *signed_offer(const struct update_offer *o, const uint8_t *seed, size_t *len)
{
	char *inner = NULL, *doc = NULL;
	size_t n = 0;

	CHECK_EQ(update_offer_encode(o, &inner, &n), CC_OK);
	CHECK_EQ(update_envelope(seed, inner, n, &doc, len), CC_OK);
	free(inner);
	return doc;
}

/* The verdict on (metadata m signed by mseed, offer o signed by oseed). */
static enum update_verdict verdict(const struct update_meta *m, const uint8_t *mseed, const struct update_offer *o,
                                   const uint8_t *oseed, const struct update_facts *f)
{
	size_t ml = 0, ol = 0;
	char *md = signed_meta(m, mseed, &ml), *od = signed_offer(o, oseed, &ol);
	struct update_meta out;
	enum update_verdict v = update_check(md, ml, od, ol, &trust, f, &out);

	free(md);
	free(od);
	return v;
}

static void test_accept(void)
{
	struct update_meta m, out;
	struct update_offer o;
	size_t ml = 0, ol = 0;
	char *md, *od;

	base_meta(&m);
	base_offer(&o, &m);
	md = signed_meta(&m, release_seed, &ml);
	od = signed_offer(&o, server_seed, &ol);
	CHECK_EQ(update_check(md, ml, od, ol, &trust, &machine, &out), UPDATE_ACCEPT);
	CHECK_STR(out.version, "1.5.0");
	CHECK_STR(out.notes, m.notes);
	CHECK_EQ(out.size, m.size);
	CHECK(strstr(md, "\"notes\":\"Faster \\\"descaling\\\".\\nFixes E42.\"") != NULL);
	CHECK_STR(update_verdict_name(UPDATE_ACCEPT), "accepted");
	free(md);
	free(od);
}

/* Arbitrary software: a key the machine does not know, a revoked one, a
 * signature that is not over these bytes. */
static void test_unknown_key(void)
{
	struct update_meta m;
	struct update_offer o;
	uint8_t stranger[32];

	CHECK_EQ(ed25519_generate(stranger), CC_OK);
	base_meta(&m);
	base_offer(&o, &m);
	{
		uint8_t pub[32];
		CHECK_EQ(ed25519_public(stranger, pub), CC_OK);
		CHECK_EQ(ed25519_key_id(pub, m.key_id), CC_OK);
	}
	CHECK_EQ(verdict(&m, stranger, &o, server_seed, &machine), UPDATE_UNKNOWN_KEY);
}

static void test_revoked_key(void)
{
	struct update_meta m;
	struct update_offer o;
	struct update_trust both = { release_keys, 2, server_keys, 1 };
	size_t ml = 0, ol = 0;
	char *md, *od;
	struct update_meta out;

	base_meta(&m);
	CHECK_EQ(ed25519_key_id(release_keys[1].pub, m.key_id), CC_OK);
	base_offer(&o, &m);
	md = signed_meta(&m, other_seed, &ml);
	od = signed_offer(&o, server_seed, &ol);
	CHECK_EQ(update_check(md, ml, od, ol, &both, &machine, &out), UPDATE_ACCEPT);
	release_keys[1].revoked = 1;
	CHECK_EQ(update_check(md, ml, od, ol, &both, &machine, &out), UPDATE_REVOKED_KEY);
	release_keys[1].revoked = 0;
	free(md);
	free(od);
}

static void test_bad_signature(void)
{
	struct update_meta m, out;
	struct update_offer o;
	size_t ml = 0, ol = 0;
	char *md, *od, *p;

	base_meta(&m);
	base_offer(&o, &m);
	/* Claims the trusted key's id, signed by another. */
	CHECK_EQ(verdict(&m, other_seed, &o, server_seed, &machine), UPDATE_BAD_SIGNATURE);
	/* A signed document whose size was changed afterwards. */
	md = signed_meta(&m, release_seed, &ml);
	od = signed_offer(&o, server_seed, &ol);
	p = strstr(md, "\"size\":20");
	CHECK(p != NULL);
	if (p != NULL)
		p[8] = '1';
	CHECK_EQ(update_check(md, ml, od, ol, &trust, &machine, &out), UPDATE_BAD_SIGNATURE);
	free(md);
	free(od);
}

static void test_malformed(void)
{
	struct update_meta m, out;
	struct update_offer o;
	size_t ml = 0, ol = 0;
	char *md, *od, *inner = NULL, *p;
	size_t innerlen = 0;

	base_meta(&m);
	base_offer(&o, &m);
	md = signed_meta(&m, release_seed, &ml);
	od = signed_offer(&o, server_seed, &ol);
	/* Not canonical: a space after a colon, even though the rest is right. */
	CHECK_EQ(update_meta_encode(&m, &inner, &innerlen), CC_OK);
	CHECK_EQ(update_meta_parse(inner, innerlen, &out), CC_OK);
	p = strstr(inner, "\"size\":");
	CHECK(p != NULL);
	if (p != NULL)
		p[6] = ' ';
	CHECK_EQ(update_meta_parse(inner, innerlen, &out), CC_ERR_INVALID);
	free(inner);
	/* Truncated and empty. */
	CHECK_EQ(update_check(md, ml - 1, od, ol, &trust, &machine, &out), UPDATE_MALFORMED);
	CHECK_EQ(update_check("", 0, od, ol, &trust, &machine, &out), UPDATE_MALFORMED);
	/* An offer in place of the metadata, and the metadata in place of the offer. */
	CHECK_EQ(update_check(od, ol, od, ol, &trust, &machine, &out), UPDATE_MALFORMED);
	CHECK_EQ(update_check(md, ml, md, ml, &trust, &machine, &out), UPDATE_OFFER_MALFORMED);
	/* Out of bounds as written: min_from not below the version, no model, a zero size. */
	base_meta(&m);
	strcpy(m.min_from, "1.5.0");
	CHECK_EQ(update_meta_encode(&m, &inner, &innerlen), CC_ERR_INVALID);
	base_meta(&m);
	m.nmodels = 0;
	CHECK_EQ(update_meta_encode(&m, &inner, &innerlen), CC_ERR_INVALID);
	base_meta(&m);
	m.size = 0;
	CHECK_EQ(update_meta_encode(&m, &inner, &innerlen), CC_ERR_INVALID);
	free(md);
	free(od);
}

/* Freeze: metadata past its expiry, an old offer replayed. */
static void test_expired(void)
{
	struct update_meta m;
	struct update_offer o;

	base_meta(&m);
	m.expires = NOW - 1;
	base_offer(&o, &m);
	CHECK_EQ(verdict(&m, release_seed, &o, server_seed, &machine), UPDATE_EXPIRED);
}

static void test_offer_expired(void)
{
	struct update_meta m;
	struct update_offer o;

	base_meta(&m);
	base_offer(&o, &m);
	o.issued = NOW - 3 * 86400;
	o.expires = NOW - 2 * 86400;
	CHECK_EQ(verdict(&m, release_seed, &o, server_seed, &machine), UPDATE_OFFER_EXPIRED);
}

static void test_wrong_model(void)
{
	struct update_meta m;
	struct update_offer o;
	struct update_facts f = machine;

	base_meta(&m);
	base_offer(&o, &m);
	f.model = "grinder-1";
	CHECK_EQ(verdict(&m, release_seed, &o, server_seed, &f), UPDATE_WRONG_MODEL);
	f.model = "barista-3";
	CHECK_EQ(verdict(&m, release_seed, &o, server_seed, &f), UPDATE_ACCEPT);
}

/* Rollback: an older version, the same one, a pre-release of the installed. */
static void test_rollback(void)
{
	struct update_meta m;
	struct update_offer o;
	struct update_facts f = machine;

	base_meta(&m);
	base_offer(&o, &m);
	f.installed = "1.5.0";
	CHECK_EQ(verdict(&m, release_seed, &o, server_seed, &f), UPDATE_ROLLBACK);
	f.installed = "1.10.0";
	CHECK_EQ(verdict(&m, release_seed, &o, server_seed, &f), UPDATE_ROLLBACK);
	f.installed = "1.5.0-rc.1";
	CHECK_EQ(verdict(&m, release_seed, &o, server_seed, &f), UPDATE_ACCEPT);
	f.installed = "garbage";
	CHECK_EQ(verdict(&m, release_seed, &o, server_seed, &f), UPDATE_ROLLBACK);
}

static void test_below_min_from(void)
{
	struct update_meta m;
	struct update_offer o;
	struct update_facts f = machine;

	base_meta(&m);
	base_offer(&o, &m);
	f.installed = "1.1.9";
	CHECK_EQ(verdict(&m, release_seed, &o, server_seed, &f), UPDATE_BELOW_MIN_FROM);
	f.installed = "1.2.0";
	CHECK_EQ(verdict(&m, release_seed, &o, server_seed, &f), UPDATE_ACCEPT);
}

static void test_offer_bad_signature(void)
{
	struct update_meta m;
	struct update_offer o;

	base_meta(&m);
	base_offer(&o, &m);
	/* The release key is trusted for metadata, not for offers. */
	CHECK_EQ(verdict(&m, release_seed, &o, release_seed, &machine), UPDATE_OFFER_BAD_SIGNATURE);
}

/* Mix-and-match: another machine's offer, an offer of another artifact. */
static void test_offer_other_machine(void)
{
	struct update_meta m;
	struct update_offer o;

	base_meta(&m);
	base_offer(&o, &m);
	strcpy(o.serial, "SN-0002");
	CHECK_EQ(verdict(&m, release_seed, &o, server_seed, &machine), UPDATE_OFFER_OTHER_MACHINE);
}

static void test_offer_other_artifact(void)
{
	struct update_meta m;
	struct update_offer o;

	base_meta(&m);
	base_offer(&o, &m);
	o.sha256[0] = o.sha256[0] == 'a' ? 'b' : 'a';
	CHECK_EQ(verdict(&m, release_seed, &o, server_seed, &machine), UPDATE_OFFER_OTHER_ARTIFACT);
	base_offer(&o, &m);
	strcpy(o.version, "1.4.9");
	CHECK_EQ(verdict(&m, release_seed, &o, server_seed, &machine), UPDATE_OFFER_OTHER_ARTIFACT);
}

static void sha_of(const char *data, char out[65])
{
	unsigned char md[32];

	SHA256((const unsigned char *)data, strlen(data), md);
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* Endless data: one byte more than the size is refused as it arrives. */
static void test_too_large(void)
{
	struct update_meta m;
	struct update_download d;

	base_meta(&m);
	sha_of(artifact, m.sha256);
	CHECK_EQ(update_download_begin(&d, &m), CC_OK);
	CHECK_EQ(update_download_feed(&d, artifact, 10), UPDATE_ACCEPT);
	CHECK_EQ(update_download_feed(&d, artifact + 10, sizeof(artifact) - 11), UPDATE_ACCEPT);
	CHECK_EQ(update_download_feed(&d, "x", 1), UPDATE_TOO_LARGE);
	update_download_free(&d);
}

static void test_hash_mismatch(void)
{
	struct update_meta m;
	struct update_download d;
	char evil[sizeof(artifact)];

	base_meta(&m);
	sha_of(artifact, m.sha256);
	/* The right bytes in two pieces (a resumed download). */
	CHECK_EQ(update_download_begin(&d, &m), CC_OK);
	CHECK_EQ(update_download_feed(&d, artifact, 7), UPDATE_ACCEPT);
	CHECK_EQ(update_download_feed(&d, artifact + 7, sizeof(artifact) - 8), UPDATE_ACCEPT);
	CHECK_EQ(update_download_finish(&d), UPDATE_ACCEPT);
	/* One byte changed. */
	memcpy(evil, artifact, sizeof(evil));
	evil[3] ^= 1;
	CHECK_EQ(update_download_begin(&d, &m), CC_OK);
	CHECK_EQ(update_download_feed(&d, evil, sizeof(evil) - 1), UPDATE_ACCEPT);
	CHECK_EQ(update_download_finish(&d), UPDATE_HASH_MISMATCH);
	/* Too few bytes. */
	CHECK_EQ(update_download_begin(&d, &m), CC_OK);
	CHECK_EQ(update_download_feed(&d, artifact, 5), UPDATE_ACCEPT);
	CHECK_EQ(update_download_finish(&d), UPDATE_HASH_MISMATCH);
}

static void test_versions(void)
{
	static const char *const valid[] = { "0.0.1", "1.2.3", "10.20.30", "1.0.0-rc.1", "1.0.0-alpha-beta.7", NULL };
	static const char *const invalid[] = { "", "1", "1.2", "1.2.3.4", "01.2.3", "1.2.3-", "1.2.3-01",
	                                       "1.2.3+build", "1.2.3-a..b", "v1.2.3", "1.2.-3", NULL };
	/* SemVer 2.0's own precedence example, ascending. */
	static const char *const order[] = { "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta",
	                                     "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.1",
	                                     "1.2.0", "1.10.0", "2.0.0", NULL };

	for (int i = 0; valid[i] != NULL; i++)
		CHECK(update_version_valid(valid[i]));
	for (int i = 0; invalid[i] != NULL; i++)
		if (update_version_valid(invalid[i]))
			CHECK(!invalid[i]);
	for (int i = 0; order[i + 1] != NULL; i++) {
		CHECK(update_version_cmp(order[i], order[i + 1]) < 0);
		CHECK(update_version_cmp(order[i + 1], order[i]) > 0);
		CHECK(update_version_cmp(order[i], order[i]) == 0);
	}
}

int main(void)
{
	keys();
	RUN(test_accept);
	RUN(test_malformed);
	RUN(test_unknown_key);
	RUN(test_revoked_key);
	RUN(test_bad_signature);
	RUN(test_expired);
	RUN(test_wrong_model);
	RUN(test_rollback);
	RUN(test_below_min_from);
	RUN(test_offer_bad_signature);
	RUN(test_offer_expired);
	RUN(test_offer_other_machine);
	RUN(test_offer_other_artifact);
	RUN(test_too_large);
	RUN(test_hash_mismatch);
	RUN(test_versions);
	return check_summary();
}
