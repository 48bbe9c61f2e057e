/*
 * test_ca.c - the fleet CA, checked against an independent verifier: the
 * `openssl` command-line tool run on files in a temporary directory.
 */
#include "check.h"

#include <ctype.h>
#include <stdarg.h>
#include <sys/wait.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/err.h"
#include "common/limits.h"
#include "crypto/ca.h"

static char tmp[256];

/* The fleet root every test issues from, and a second, unrelated root. */
static char *root_cert, *root_key, *other_cert, *other_key;

static void path_of(char *out, size_t cap, const char *name)
{
	snprintf(out, cap, "%s/%s", tmp, name);
}

static void put(const char *name, const char *text)
{
	char path[600];
	FILE *f;

	path_of(path, sizeof(path), name);
	f = fopen(path, "w");
	if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0) {
		fprintf(stderr, "cannot write %s\n", path);
		exit(2);
	}
}

/* Reads a small file into a static buffer ("" if absent). */
static const char *slurp(const char *name)
{
	static char buf[64 * 1024];
	char path[600];
	size_t n = 0;
	FILE *f;

	path_of(path, sizeof(path), name);
	buf[0] = '\0';
	f = fopen(path, "r");
	if (f == NULL)
		return buf;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* Runs a shell command in the tmp dir, output to out.txt; returns its exit code. */
static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	char body[2048], cmd[3000];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(body, sizeof(body), fmt, ap);
	va_end(ap);
	snprintf(cmd, sizeof(cmd), "cd '%s' && ( %s ) >out.txt 2>&1", tmp, body);
	st = system(cmd);
	if (st == -1 || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

static X509 *load_x509(const char *pem)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	X509 *x = PEM_read_bio_X509(bio, NULL, NULL, NULL);

	BIO_free(bio);
	return x;
}

static X509_REQ *load_req(const char *pem)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	X509_REQ *r = PEM_read_bio_X509_REQ(bio, NULL, NULL, NULL);

	BIO_free(bio);
	return r;
}

static int key_matches(const char *cert_pem, const char *key_pem)
{
	BIO *bio = BIO_new_mem_buf(key_pem, -1);
	EVP_PKEY *k = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	X509 *x = load_x509(cert_pem);
	int ok = k != NULL && x != NULL && X509_check_private_key(x, k) == 1;

	EVP_PKEY_free(k);
	X509_free(x);
	BIO_free(bio);
	return ok;
}

/* What `openssl x509 -fingerprint -sha256` prints, as lowercase hex without colons. */
static void openssl_fingerprint(const char *file, char out[65])
{
	const char *p;
	size_t n = 0;

	out[0] = '\0';
	if (sh("openssl x509 -noout -fingerprint -sha256 -in %s", file) != 0)
		return;
	p = strchr(slurp("out.txt"), '=');
	if (p == NULL)
		return;
	for (p++; *p != '\0' && *p != '\n' && n < 64; p++)
		if (*p != ':')
			out[n++] = (char)tolower((unsigned char)*p);
	out[n] = '\0';
}

static int issue_machine(const char *serial, char **cert)
{
	char *key = NULL;
	char fp[65];
	int rc = ca_issue_machine(root_cert, root_key, serial, 30, NULL, cert, &key, fp);

	ca_free_secret(key);
	return rc;
}

static void test_root(void)
{
	X509 *x = load_x509(root_cert);
	BASIC_CONSTRAINTS *bc = NULL;
	ASN1_BIT_STRING *ku = NULL;
	const ASN1_INTEGER *sn;
	char cn[128];
	int crit = -1;

	CHECK(x != NULL);
	if (x == NULL)
		return;
	CHECK(strncmp(root_key, "-----BEGIN PRIVATE KEY-----\n", 28) == 0);
	CHECK(key_matches(root_cert, root_key));
	CHECK_EQ(X509_check_issued(x, x), X509_V_OK);
	CHECK_EQ(X509_verify(x, X509_get0_pubkey(x)), 1);
	CHECK_EQ(X509_check_ca(x), 1);
	bc = X509_get_ext_d2i(x, NID_basic_constraints, &crit, NULL);
	CHECK(bc != NULL && bc->ca && crit == 1);
	CHECK(bc != NULL && bc->pathlen != NULL && ASN1_INTEGER_get(bc->pathlen) == 0);
	ku = X509_get_ext_d2i(x, NID_key_usage, &crit, NULL);
	CHECK(ku != NULL && crit == 1);
	CHECK_EQ(X509_get_key_usage(x), KU_KEY_CERT_SIGN | KU_CRL_SIGN);
	CHECK(X509_get0_subject_key_id(x) != NULL);
	sn = X509_get0_serialNumber(x);
	CHECK(ASN1_STRING_type(sn) == V_ASN1_INTEGER); /* not V_ASN1_NEG_INTEGER */
	CHECK(ASN1_STRING_length(sn) >= 8 && ASN1_STRING_length(sn) <= 16);
	CHECK_EQ(ca_cert_common_name(root_cert, cn, sizeof(cn)), 0);
	CHECK_STR(cn, "CoffeeCloud Fleet CA");

	put("ca.crt", root_cert);
	CHECK_EQ(sh("openssl verify -x509_strict -CAfile ca.crt ca.crt"), 0);
	CHECK_EQ(sh("openssl x509 -noout -subject -nameopt RFC2253 -in ca.crt"), 0);
	CHECK(strstr(slurp("out.txt"), "CN=CoffeeCloud Fleet CA,O=CoffeeCloud") != NULL);
	CHECK_EQ(sh("openssl x509 -noout -text -in ca.crt"), 0);
	CHECK(strstr(slurp("out.txt"), "ecdsa-with-SHA256") != NULL);
	CHECK(strstr(slurp("out.txt"), "prime256v1") != NULL || strstr(slurp("out.txt"), "P-256") != NULL);

	BASIC_CONSTRAINTS_free(bc);
	ASN1_BIT_STRING_free(ku);
	X509_free(x);
}

static void test_root_bad_args(void)
{
	char long_cn[80];
	char *c = NULL, *k = NULL;

	memset(long_cn, 'a', sizeof(long_cn) - 1);
	long_cn[sizeof(long_cn) - 1] = '\0';
	CHECK_EQ(ca_create_root("X", 0, &c, &k), CC_ERR_INVALID);
	CHECK_EQ(ca_create_root("X", CA_DAYS_MAX + 1, &c, &k), CC_ERR_INVALID);
	CHECK_EQ(ca_create_root("", 10, &c, &k), CC_ERR_INVALID);
	CHECK_EQ(ca_create_root(NULL, 10, &c, &k), CC_ERR_INVALID);
	CHECK_EQ(ca_create_root(long_cn, 10, &c, &k), CC_ERR_INVALID);
	CHECK_EQ(ca_create_root("bad\nname", 10, &c, &k), CC_ERR_INVALID);
	CHECK_EQ(ca_create_root("bad \xff utf8", 10, &c, &k), CC_ERR_INVALID);
	CHECK(c == NULL && k == NULL);
	ca_free_secret(NULL);
}

static void test_server(void)
{
	const char *sans[] = { "localhost", "127.0.0.1", "::1" };
	char *cert = NULL, *key = NULL;
	X509 *x;
	int crit = -1;
	EXTENDED_KEY_USAGE *eku;

	CHECK_EQ(ca_issue_server(root_cert, root_key, "coffeecloud.local", sans, 3, 825, &cert, &key), 0);
	CHECK(cert != NULL && key != NULL);
	if (cert == NULL || key == NULL)
		goto out;
	CHECK(strncmp(key, "-----BEGIN PRIVATE KEY-----\n", 28) == 0);
	CHECK(key_matches(cert, key));

	x = load_x509(cert);
	CHECK(x != NULL);
	if (x != NULL) {
		CHECK_EQ(X509_check_host(x, "localhost", 0, 0, NULL), 1);
		CHECK_EQ(X509_check_ip_asc(x, "127.0.0.1", 0), 1);
		CHECK_EQ(X509_check_ip_asc(x, "::1", 0), 1);
		CHECK_EQ(X509_check_host(x, "example.com", 0, 0, NULL), 0);
		CHECK_EQ(X509_check_ca(x), 0);
		CHECK_EQ(X509_get_key_usage(x), KU_DIGITAL_SIGNATURE);
		CHECK(X509_get_extended_key_usage(x) == XKU_SSL_SERVER);
		eku = X509_get_ext_d2i(x, NID_ext_key_usage, &crit, NULL);
		CHECK(eku != NULL && sk_ASN1_OBJECT_num(eku) == 1);
		EXTENDED_KEY_USAGE_free(eku);
		CHECK(X509_get0_subject_key_id(x) != NULL);
		CHECK(X509_get0_authority_key_id(x) != NULL);
		X509_free(x);
	}

	put("ca.crt", root_cert);
	put("server.crt", cert);
	CHECK_EQ(sh("openssl verify -x509_strict -purpose sslserver -CAfile ca.crt server.crt"), 0);
	CHECK_EQ(sh("openssl verify -purpose sslserver -verify_hostname localhost -CAfile ca.crt server.crt"), 0);
	CHECK_EQ(sh("openssl verify -purpose sslserver -verify_ip ::1 -CAfile ca.crt server.crt"), 0);
	CHECK_EQ(sh("openssl verify -purpose sslserver -verify_ip 127.0.0.1 -CAfile ca.crt server.crt"), 0);
	CHECK(sh("openssl verify -purpose sslserver -verify_hostname evil.example -CAfile ca.crt server.crt") != 0);
	/* serverAuth only: it must not pass as a client certificate. */
	CHECK(sh("openssl verify -purpose sslclient -CAfile ca.crt server.crt") != 0);
	CHECK_EQ(sh("openssl x509 -noout -ext subjectAltName -in server.crt"), 0);
	CHECK(strstr(slurp("out.txt"), "DNS:localhost") != NULL);
	CHECK(strstr(slurp("out.txt"), "IP Address:127.0.0.1") != NULL);
	CHECK(strstr(slurp("out.txt"), "IP Address:0:0:0:0:0:0:0:1") != NULL);
out:
	free(cert);
	ca_free_secret(key);
}

static void test_server_refusals(void)
{
	const char *sans[CC_SAN_MAX + 1];
	const char *bad[] = { "localhost", "bad name" };
	const char *bad2[] = { "-leading.example" };
	const char *bad3[] = { "a..b" };
	const char *wild[] = { "*.example.com" };
	char *cert = NULL, *key = NULL;
	size_t i;

	for (i = 0; i < CC_SAN_MAX + 1; i++)
		sans[i] = "localhost";
	CHECK_EQ(ca_issue_server(root_cert, root_key, "s", sans, CC_SAN_MAX + 1, 825, &cert, &key),
		 CC_ERR_LIMIT);
	CHECK_EQ(ca_issue_server(root_cert, root_key, "s", sans, 0, 825, &cert, &key), CC_ERR_INVALID);
	CHECK_EQ(ca_issue_server(root_cert, root_key, "s", bad, 2, 825, &cert, &key), CC_ERR_INVALID);
	CHECK_EQ(ca_issue_server(root_cert, root_key, "s", bad2, 1, 825, &cert, &key), CC_ERR_INVALID);
	CHECK_EQ(ca_issue_server(root_cert, root_key, "s", bad3, 1, 825, &cert, &key), CC_ERR_INVALID);
	CHECK_EQ(ca_issue_server(root_cert, root_key, "s", wild, 1, 825, &cert, &key), CC_ERR_INVALID);
	CHECK_EQ(ca_issue_server(root_cert, root_key, "s", sans, 1, 0, &cert, &key), CC_ERR_INVALID);
	CHECK(cert == NULL && key == NULL);
	/* The limit itself is allowed. */
	CHECK_EQ(ca_issue_server(root_cert, root_key, "s", sans, CC_SAN_MAX, 825, &cert, &key), 0);
	free(cert);
	ca_free_secret(key);
}

static void test_machine_generated(void)
{
	char *cert = NULL, *key = NULL;
	char fp[65] = "", fp2[65] = "", ofp[65], cn[CC_SERIAL_MAX + 1];

	CHECK_EQ(ca_issue_machine(root_cert, root_key, "CM-0001.a_b", 365, NULL, &cert, &key, fp), 0);
	CHECK(cert != NULL && key != NULL);
	if (cert == NULL || key == NULL)
		goto out;
	CHECK(strncmp(key, "-----BEGIN PRIVATE KEY-----\n", 28) == 0);
	CHECK(key_matches(cert, key));
	CHECK_EQ(strlen(fp), 64);
	CHECK_EQ(ca_cert_common_name(cert, cn, sizeof(cn)), 0);
	CHECK_STR(cn, "CM-0001.a_b");
	CHECK_EQ(ca_cert_common_name(cert, cn, 5), CC_ERR_LIMIT);
	CHECK_EQ(ca_cert_fingerprint(cert, fp2), 0);
	CHECK_STR(fp, fp2);

	put("ca.crt", root_cert);
	put("machine.crt", cert);
	CHECK_EQ(sh("openssl verify -x509_strict -purpose sslclient -CAfile ca.crt machine.crt"), 0);
	CHECK(sh("openssl verify -purpose sslserver -CAfile ca.crt machine.crt") != 0);
	openssl_fingerprint("machine.crt", ofp);
	CHECK_STR(fp, ofp);
	CHECK_EQ(sh("openssl x509 -noout -subject -nameopt RFC2253 -in machine.crt"), 0);
	CHECK(strstr(slurp("out.txt"), "CN=CM-0001.a_b,O=" CA_MACHINE_ORG) != NULL);
out:
	free(cert);
	ca_free_secret(key);
}

static void test_machine_bad_serial(void)
{
	char *cert = NULL, *key = NULL;
	char fp[65] = "untouched";

	CHECK_EQ(ca_issue_machine(root_cert, root_key, "a/b", 30, NULL, &cert, &key, fp), CC_ERR_INVALID);
	CHECK_EQ(ca_issue_machine(root_cert, root_key, "", 30, NULL, &cert, &key, fp), CC_ERR_INVALID);
	CHECK_EQ(ca_issue_machine(root_cert, root_key, "x y", 30, NULL, &cert, &key, fp), CC_ERR_INVALID);
	CHECK_EQ(ca_issue_machine(root_cert, root_key, "M1", 0, NULL, &cert, &key, fp), CC_ERR_INVALID);
	CHECK(cert == NULL && key == NULL);
	CHECK_STR(fp, "untouched");
}

static void test_machine_csr(void)
{
	char *cert = NULL, *key = (char *)"sentinel";
	char fp[65], ofp[65], cn[CC_SERIAL_MAX + 1];

	put("ca.crt", root_cert);
	CHECK_EQ(sh("openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
		    "-subj /CN=CM-0042 -keyout m.key -out m.csr"), 0);
	CHECK_EQ(ca_issue_machine(root_cert, root_key, "CM-0042", 365, slurp("m.csr"), &cert, &key, fp), 0);
	CHECK(key == NULL);
	CHECK(cert != NULL);
	if (cert == NULL)
		return;
	put("m.crt", cert);
	CHECK_EQ(sh("openssl verify -x509_strict -purpose sslclient -CAfile ca.crt m.crt"), 0);
	/* The certificate carries the CSR's key. */
	CHECK_EQ(sh("openssl x509 -noout -pubkey -in m.crt > a.pub && openssl pkey -pubout -in m.key > b.pub && cmp a.pub b.pub"), 0);
	openssl_fingerprint("m.crt", ofp);
	CHECK_STR(fp, ofp);
	CHECK_EQ(ca_cert_common_name(cert, cn, sizeof(cn)), 0);
	CHECK_STR(cn, "CM-0042");
	free(cert);
	cert = NULL;

	/* A subject without CN is ignored; the certificate's subject is ours. */
	CHECK_EQ(sh("openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
		    "-subj '/O=Evil Corp/OU=admins' -keyout n.key -out n.csr"), 0);
	CHECK_EQ(ca_issue_machine(root_cert, root_key, "CM-0043", 365, slurp("n.csr"), &cert, &key, fp), 0);
	CHECK(cert != NULL && key == NULL);
	if (cert != NULL) {
		put("n.crt", cert);
		CHECK_EQ(sh("openssl x509 -noout -subject -nameopt RFC2253 -in n.crt"), 0);
		CHECK(strstr(slurp("out.txt"), "CN=CM-0043,O=" CA_MACHINE_ORG "\n") != NULL);
		CHECK(strstr(slurp("out.txt"), "Evil") == NULL);
	}
	free(cert);
}

/* The same CSR with one byte of its signature flipped. */
static char *tampered_csr(const char *csr_pem)
{
	X509_REQ *r = load_req(csr_pem);
	unsigned char *der = NULL;
	int len = r != NULL ? i2d_X509_REQ(r, &der) : -1;
	BIO *bio = BIO_new(BIO_s_mem());
	char *data = NULL, *out = NULL;
	long n;

	if (len > 10 && bio != NULL) {
		der[len - 3] ^= 0x01;
		PEM_write_bio(bio, "CERTIFICATE REQUEST", "", der, len);
		n = BIO_get_mem_data(bio, &data);
		out = calloc(1, (size_t)n + 1);
		if (out != NULL)
			memcpy(out, data, (size_t)n);
	}
	OPENSSL_free(der);
	BIO_free(bio);
	X509_REQ_free(r);
	return out;
}

static void test_csr_refusals(void)
{
	char *cert = NULL, *key = NULL, *bad;
	char fp[65] = "untouched";
	char big[CA_CSR_MAX + 100];

	CHECK_EQ(sh("openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
		    "-subj /CN=CM-9999 -keyout o.key -out o.csr"), 0);
	CHECK_EQ(ca_issue_machine(root_cert, root_key, "CM-0001", 30, slurp("o.csr"), &cert, &key, fp),
		 CC_ERR_INVALID);
	/* Two CNs, the second not the serial. */
	CHECK_EQ(sh("openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
		    "-subj /CN=CM-0001/CN=CM-0002 -keyout t.key -out t.csr"), 0);
	CHECK_EQ(ca_issue_machine(root_cert, root_key, "CM-0001", 30, slurp("t.csr"), &cert, &key, fp),
		 CC_ERR_INVALID);
	/* A CN that is a prefix of the serial. */
	CHECK_EQ(ca_issue_machine(root_cert, root_key, "CM-99990", 30, slurp("o.csr"), &cert, &key, fp),
		 CC_ERR_INVALID);

	CHECK_EQ(ca_issue_machine(root_cert, root_key, "CM-0001", 30,
				  "-----BEGIN CERTIFICATE REQUEST-----\nZ2FyYmFnZQ==\n"
				  "-----END CERTIFICATE REQUEST-----\n",
				  &cert, &key, fp),
		 CC_ERR_INVALID);
	CHECK_EQ(ca_issue_machine(root_cert, root_key, "CM-0001", 30, "hello", &cert, &key, fp),
		 CC_ERR_INVALID);
	CHECK_EQ(ca_issue_machine(root_cert, root_key, "CM-0001", 30, "", &cert, &key, fp), CC_ERR_INVALID);
	/* A certificate is not a CSR. */
	CHECK_EQ(ca_issue_machine(root_cert, root_key, "CM-0001", 30, root_cert, &cert, &key, fp),
		 CC_ERR_INVALID);

	CHECK_EQ(sh("openssl req -new -newkey rsa:2048 -nodes -subj /CN=CM-0001 -keyout r.key -out r.csr"), 0);
	CHECK_EQ(ca_issue_machine(root_cert, root_key, "CM-0001", 30, slurp("r.csr"), &cert, &key, fp),
		 CC_ERR_INVALID);
	CHECK_EQ(sh("openssl req -new -newkey ed25519 -nodes -subj /CN=CM-0001 -keyout e.key -out e.csr"), 0);
	CHECK_EQ(ca_issue_machine(root_cert, root_key, "CM-0001", 30, slurp("e.csr"), &cert, &key, fp),
		 CC_ERR_INVALID);
	CHECK_EQ(sh("openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-384 -nodes "
		    "-subj /CN=CM-0001 -keyout p.key -out p.csr"), 0);
	CHECK_EQ(ca_issue_machine(root_cert, root_key, "CM-0001", 30, slurp("p.csr"), &cert, &key, fp),
		 CC_ERR_INVALID);

	CHECK_EQ(sh("openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
		    "-subj /CN=CM-0001 -keyout g.key -out g.csr"), 0);
	bad = tampered_csr(slurp("g.csr"));
	CHECK(bad != NULL);
	if (bad != NULL) {
		CHECK_EQ(ca_issue_machine(root_cert, root_key, "CM-0001", 30, bad, &cert, &key, fp),
			 CC_ERR_INVALID);
		free(bad);
	}

	memset(big, 'A', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	CHECK_EQ(ca_issue_machine(root_cert, root_key, "CM-0001", 30, big, &cert, &key, fp), CC_ERR_LIMIT);

	CHECK(cert == NULL && key == NULL);
	CHECK_STR(fp, "untouched");

	/* The untampered CSR does go through: the refusals above were for cause. */
	CHECK_EQ(ca_issue_machine(root_cert, root_key, "CM-0001", 30, slurp("g.csr"), &cert, &key, fp), 0);
	free(cert);
}

static void test_other_root(void)
{
	char *cert = NULL, *key = NULL;
	char fp[65];

	CHECK_EQ(ca_issue_machine(other_cert, other_key, "CM-0001", 30, NULL, &cert, &key, fp), 0);
	if (cert == NULL)
		return;
	put("ca.crt", root_cert);
	put("other.crt", other_cert);
	put("foreign.crt", cert);
	CHECK_EQ(sh("openssl verify -CAfile other.crt foreign.crt"), 0);
	CHECK(sh("openssl verify -CAfile ca.crt foreign.crt") != 0);
	free(cert);
	ca_free_secret(key);
}

static void test_crl(void)
{
	char *revoked = NULL, *good = NULL, *foreign = NULL, *crl = NULL, *crl2 = NULL;
	char *fkey = NULL;
	char fp[65];
	struct ca_revoked list[1];

	CHECK_EQ(issue_machine("CM-REVOKED", &revoked), 0);
	CHECK_EQ(issue_machine("CM-GOOD", &good), 0);
	if (revoked == NULL || good == NULL)
		goto out;
	list[0].cert_pem = revoked;
	list[0].revoked_at_s = (long long)time(NULL) - 60;
	CHECK_EQ(ca_make_crl(root_cert, root_key, list, 1, 7, &crl), 0);
	CHECK(crl != NULL);
	if (crl == NULL)
		goto out;

	put("ca.crt", root_cert);
	put("crl.pem", crl);
	put("revoked.crt", revoked);
	put("good.crt", good);
	CHECK_EQ(sh("openssl crl -noout -CAfile ca.crt -in crl.pem"), 0);
	CHECK(strstr(slurp("out.txt"), "verify OK") != NULL);
	CHECK(sh("openssl verify -crl_check -CRLfile crl.pem -CAfile ca.crt revoked.crt") != 0);
	CHECK(strstr(slurp("out.txt"), "revoked") != NULL);
	CHECK_EQ(sh("openssl verify -crl_check -CRLfile crl.pem -CAfile ca.crt good.crt"), 0);
	CHECK(strstr(slurp("out.txt"), "revoked") == NULL);
	CHECK_EQ(sh("openssl crl -noout -text -in crl.pem"), 0);
	CHECK(strstr(slurp("out.txt"), "X509v3 CRL Number") != NULL);
	CHECK(strstr(slurp("out.txt"), "X509v3 Authority Key Identifier") != NULL);

	/* An empty CRL is valid and revokes nothing. */
	CHECK_EQ(ca_make_crl(root_cert, root_key, NULL, 0, 7, &crl2), 0);
	if (crl2 != NULL) {
		put("empty.pem", crl2);
		CHECK_EQ(sh("openssl verify -crl_check -CRLfile empty.pem -CAfile ca.crt revoked.crt"), 0);
		free(crl2);
		crl2 = NULL;
	}

	/* A certificate of another CA cannot be listed. */
	CHECK_EQ(ca_issue_machine(other_cert, other_key, "CM-X", 30, NULL, &foreign, &fkey, fp), 0);
	list[0].cert_pem = foreign;
	CHECK_EQ(ca_make_crl(root_cert, root_key, list, 1, 7, &crl2), CC_ERR_INVALID);
	list[0].cert_pem = "garbage";
	CHECK_EQ(ca_make_crl(root_cert, root_key, list, 1, 7, &crl2), CC_ERR_INVALID);
	list[0].cert_pem = revoked;
	list[0].revoked_at_s = -1;
	CHECK_EQ(ca_make_crl(root_cert, root_key, list, 1, 7, &crl2), CC_ERR_INVALID);
	CHECK_EQ(ca_make_crl(root_cert, root_key, NULL, 1, 7, &crl2), CC_ERR_INVALID);
	CHECK(crl2 == NULL);
out:
	free(revoked);
	free(good);
	free(foreign);
	ca_free_secret(fkey);
	free(crl);
	free(crl2);
}

static void test_key_mismatch(void)
{
	const char *sans[] = { "localhost" };
	char *cert = NULL, *key = NULL, *scert = NULL, *skey = NULL, *crl = NULL;
	char fp[65];

	CHECK_EQ(ca_issue_server(root_cert, other_key, "s", sans, 1, 825, &cert, &key), CC_ERR_INVALID);
	CHECK_EQ(ca_issue_machine(root_cert, other_key, "CM-1", 30, NULL, &cert, &key, fp), CC_ERR_INVALID);
	CHECK_EQ(ca_make_crl(root_cert, other_key, NULL, 0, 7, &crl), CC_ERR_INVALID);
	CHECK_EQ(ca_issue_machine(root_cert, "not a key", "CM-1", 30, NULL, &cert, &key, fp), CC_ERR_INVALID);
	CHECK_EQ(ca_issue_machine("not a cert", root_key, "CM-1", 30, NULL, &cert, &key, fp), CC_ERR_INVALID);
	CHECK_EQ(ca_issue_machine(NULL, root_key, "CM-1", 30, NULL, &cert, &key, fp), CC_ERR_INVALID);
	CHECK(cert == NULL && key == NULL && crl == NULL);

	/* A leaf with its own key is a matching pair, but not a CA. */
	CHECK_EQ(ca_issue_server(root_cert, root_key, "s", sans, 1, 825, &scert, &skey), 0);
	if (scert != NULL && skey != NULL)
		CHECK_EQ(ca_issue_machine(scert, skey, "CM-1", 30, NULL, &cert, &key, fp), CC_ERR_INVALID);
	CHECK(cert == NULL && key == NULL);
	free(scert);
	ca_free_secret(skey);
}

static void test_accessors(void)
{
	char fp[65] = "untouched", cn[65] = "untouched";

	CHECK_EQ(ca_cert_fingerprint("junk", fp), CC_ERR_INVALID);
	CHECK_EQ(ca_cert_fingerprint(NULL, fp), CC_ERR_INVALID);
	CHECK_EQ(ca_cert_common_name("junk", cn, sizeof(cn)), CC_ERR_INVALID);
	CHECK_STR(fp, "untouched");
	CHECK_STR(cn, "untouched");
	put("ca.crt", root_cert);
	openssl_fingerprint("ca.crt", cn);
	CHECK_EQ(ca_cert_fingerprint(root_cert, fp), 0);
	CHECK_STR(fp, cn);
}

int main(void)
{
	int rc;

	check_tmpdir(tmp, sizeof(tmp), "test_ca");
	if (ca_create_root("CoffeeCloud Fleet CA", 3650, &root_cert, &root_key) != 0 ||
	    ca_create_root("Some Other CA", 3650, &other_cert, &other_key) != 0) {
		fprintf(stderr, "cannot create the test roots\n");
		return 1;
	}
	RUN(test_root);
	RUN(test_root_bad_args);
	RUN(test_server);
	RUN(test_server_refusals);
	RUN(test_machine_generated);
	RUN(test_machine_bad_serial);
	RUN(test_machine_csr);
	RUN(test_csr_refusals);
	RUN(test_other_root);
	RUN(test_crl);
	RUN(test_key_mismatch);
	RUN(test_accessors);
	free(root_cert);
	ca_free_secret(root_key);
	free(other_cert);
	ca_free_secret(other_key);
	rc = check_summary();
	if (rc == 0) {
		char cmd[600];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", tmp);
	}
	return rc;
}
