/* test_provision.c - which certificate a renewed machine may connect with,
 * and the batch signer against the one-shot CA calls. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "common/err.h"
#include "crypto/ca.h"
#include "fleet/provision.h"

#define CUR "1111111111111111111111111111111111111111111111111111111111111111"
#define PREV "2222222222222222222222222222222222222222222222222222222222222222"
#define OTHER "3333333333333333333333333333333333333333333333333333333333333333"

static void test_overlap(void)
{
	CHECK(provision_cert_accepted(CUR, "", 0, CUR, 1000));
	CHECK(!provision_cert_accepted(CUR, "", 0, OTHER, 1000));
	/* The previous certificate: until its overlap ends, not a millisecond after. */
	CHECK(provision_cert_accepted(CUR, PREV, 2000, PREV, 1999));
	CHECK(!provision_cert_accepted(CUR, PREV, 2000, PREV, 2000));
	CHECK(provision_cert_accepted(CUR, PREV, 2000, CUR, 5000));
	CHECK(!provision_cert_accepted(CUR, PREV, 2000, OTHER, 1000));
	/* Not a fingerprint: never, not even as a prefix of one. */
	CHECK(!provision_cert_accepted(CUR, PREV, 2000, "", 1000));
	CHECK(!provision_cert_accepted(CUR, PREV, 2000, "1111", 1000));
	CHECK(!provision_cert_accepted("", "", 0, "", 1000));
}

static void test_signer_matches_one_shot_calls(void)
{
	char *ca = NULL, *ca_key = NULL, *cert = NULL, *key = NULL, fp[65], fp2[65], spki[65];
	long long not_after = 0, not_after2 = 0, issued = 0;
	struct ca_signer *sg = NULL;
	const char *why = NULL;
	long long now_ms = (long long)time(NULL) * 1000;

	CHECK_EQ(ca_create_root("test CA", 3650, &ca, &ca_key), CC_OK);
	CHECK_EQ(ca_signer_open(ca, ca_key, &sg), CC_OK);
	CHECK_EQ(ca_signer_issue_machine(sg, "U1", 730, NULL, &cert, &key, fp, &not_after), CC_OK);
	CHECK(key != NULL);
	CHECK_EQ(ca_cert_fingerprint(cert, fp2), CC_OK);
	CHECK_STR(fp, fp2);
	CHECK_EQ(ca_cert_validity(cert, &not_after2, spki), CC_OK);
	CHECK_EQ(not_after, not_after2);
	CHECK(not_after - now_ms > 729LL * 86400000 && not_after - now_ms <= 730LL * 86400000 + 1000);
	CHECK_EQ(ca_cert_issued(cert, &issued), CC_OK);
	CHECK(issued <= now_ms - (CA_BACKDATE_S - 2) * 1000LL && issued > now_ms - (CA_BACKDATE_S + 5) * 1000LL);
	CHECK(strlen(spki) == 64);
	/* A refused CSR says why, without logging it. */
	CHECK_EQ(ca_csr_check("not a CSR", "U1", NULL, &why), CC_ERR_INVALID);
	CHECK(why != NULL && strcmp(why, "not a PEM certificate request") == 0);
	CHECK_EQ(ca_signer_issue_machine(sg, "U1", 0, NULL, &cert, &key, fp, NULL), CC_ERR_INVALID);
	free(cert);
	ca_free_secret(key);
	ca_signer_free(sg);
	free(ca);
	ca_free_secret(ca_key);
}

int main(void)
{
	RUN(test_overlap);
	RUN(test_signer_matches_one_shot_calls);
	return check_summary();
}
