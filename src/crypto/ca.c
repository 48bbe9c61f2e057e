#include "crypto/ca.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/err.h"
#include "common/limits.h"
#include "common/log.h"

#define MOD "ca"

/* RFC 5280 upper bound for a CommonName. */
#define CA_CN_MAX 64
/* 9999-12-31T23:59:59Z: the last instant an X.509 time can hold. */
#define CA_TIME_MAX 253402300799LL

/* Logs what failed with OpenSSL's reason, then empties OpenSSL's error queue
 * so a stale error never surfaces in an unrelated later call. */
static void log_ssl(const char *what)
{
	unsigned long e = ERR_peek_last_error();
	char reason[256];

	if (e != 0) {
		ERR_error_string_n(e, reason, sizeof(reason));
		log_error(MOD, "%s: %s", what, reason);
	} else {
		log_error(MOD, "%s", what);
	}
	ERR_clear_error();
}

/* A pem_password_cb that refuses: an encrypted key must fail, never prompt on a tty. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

void ca_free_secret(char *pem)
{
	if (pem == NULL)
		return;
	OPENSSL_cleanse(pem, strlen(pem));
	free(pem);
}

static int check_days(int days)
{
	if (days < 1 || days > CA_DAYS_MAX) {
		log_error(MOD, "validity of %d days is out of range 1..%d", days, CA_DAYS_MAX);
		return CC_ERR_INVALID;
	}
	return CC_OK;
}

/* UTF-8 text for a CN: bounded, no control characters (OpenSSL checks the UTF-8). */
static int check_cn(const char *what, const char *cn)
{
	size_t len, i;

	if (cn == NULL) {
		log_error(MOD, "%s: missing common name", what);
		return CC_ERR_INVALID;
	}
	len = strnlen(cn, CA_CN_MAX + 1);
	if (len == 0 || len > CA_CN_MAX) {
		log_error(MOD, "%s: common name must be 1..%d bytes", what, CA_CN_MAX);
		return CC_ERR_INVALID;
	}
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)cn[i];
		if (c < 0x20 || c == 0x7f) {
			log_error(MOD, "%s: common name holds a control character", what);
			return CC_ERR_INVALID;
		}
	}
	return CC_OK;
}

static int check_serial(const char *serial)
{
	size_t len, i;

	if (serial == NULL) {
		log_error(MOD, "machine certificate: missing serial");
		return CC_ERR_INVALID;
	}
	len = strnlen(serial, CC_SERIAL_MAX + 1);
	if (len == 0 || len > CC_SERIAL_MAX) {
		log_error(MOD, "machine serial must be 1..%d bytes", CC_SERIAL_MAX);
		return CC_ERR_INVALID;
	}
	for (i = 0; i < len; i++) {
		char c = serial[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-')) {
			log_error(MOD, "machine serial may only hold [A-Za-z0-9._-]");
			return CC_ERR_INVALID;
		}
	}
	return CC_OK;
}

/* A DNS name for a SAN: labels of 1..63 letters, digits and '-', not starting
 * or ending with '-', 253 bytes at most. Deliberately no wildcards. */
static int dns_name_ok(const char *name)
{
	size_t len = strnlen(name, 254), label = 0, i;

	if (len == 0 || len > 253)
		return 0;
	for (i = 0; i < len; i++) {
		char c = name[i];
		if (c == '.') {
			if (label == 0 || name[i - 1] == '-')
				return 0;
			label = 0;
			continue;
		}
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '-'))
			return 0;
		if (c == '-' && label == 0)
			return 0;
		if (++label > 63)
			return 0;
	}
	return label > 0 && name[len - 1] != '-';
}

static int is_p256(EVP_PKEY *pk)
{
	char group[64];
	size_t glen = 0;
	int nid;

	if (!EVP_PKEY_is_a(pk, "EC"))
		return 0;
	if (!EVP_PKEY_get_utf8_string_param(pk, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
					    &glen)) {
		ERR_clear_error(); /* explicit curve parameters: not ours */
		return 0;
	}
	nid = OBJ_sn2nid(group);
	if (nid == NID_undef)
		nid = EC_curve_nist2nid(group);
	return nid == NID_X9_62_prime256v1;
}

/* A read-only BIO over a PEM string of at most max bytes. */
static int pem_bio(const char *what, const char *pem, size_t max, BIO **out)
{
	size_t len;
	BIO *bio;

	if (pem == NULL) {
		log_error(MOD, "%s: missing", what);
		return CC_ERR_INVALID;
	}
	len = strnlen(pem, max + 1);
	if (len > max) {
		log_error(MOD, "%s: larger than %zu bytes", what, max);
		return CC_ERR_LIMIT;
	}
	bio = BIO_new_mem_buf(pem, (int)len);
	if (bio == NULL) {
		log_ssl(what);
		return CC_ERR_NOMEM;
	}
	*out = bio;
	return CC_OK;
}

static int parse_cert(const char *what, const char *pem, X509 **out)
{
	BIO *bio = NULL;
	X509 *x;
	int rc;

	rc = pem_bio(what, pem, CC_SMALL_FILE_MAX, &bio);
	if (rc != CC_OK)
		return rc;
	x = PEM_read_bio_X509(bio, NULL, no_passphrase, NULL);
	BIO_free(bio);
	if (x == NULL) {
		ERR_clear_error();
		log_error(MOD, "%s: not a PEM certificate", what);
		return CC_ERR_INVALID;
	}
	*out = x;
	return CC_OK;
}

/* Loads the CA pair and checks it can sign: a CA certificate, a P-256 key, and
 * the key belonging to the certificate. */
static int load_ca(const char *cert_pem, const char *key_pem, X509 **ca, EVP_PKEY **key)
{
	X509 *c = NULL;
	EVP_PKEY *k = NULL;
	BIO *bio = NULL;
	int rc;

	rc = parse_cert("CA certificate", cert_pem, &c);
	if (rc != CC_OK)
		goto out;
	rc = pem_bio("CA key", key_pem, CC_SMALL_FILE_MAX, &bio);
	if (rc != CC_OK)
		goto out;
	rc = CC_ERR_INVALID;
	k = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
	if (k == NULL) {
		ERR_clear_error();
		log_error(MOD, "CA key: not an unencrypted PEM private key");
		goto out;
	}
	if (X509_check_ca(c) != 1) {
		log_error(MOD, "CA certificate is not a CA (basicConstraints CA:TRUE missing)");
		goto out;
	}
	if (!is_p256(k)) {
		log_error(MOD, "CA key is not an EC P-256 key");
		goto out;
	}
	if (X509_check_private_key(c, k) != 1) {
		ERR_clear_error();
		log_error(MOD, "CA key does not match the CA certificate");
		goto out;
	}
	*ca = c;
	*key = k;
	c = NULL;
	k = NULL;
	rc = CC_OK;
out:
	BIO_free(bio);
	X509_free(c);
	EVP_PKEY_free(k);
	return rc;
}

static int new_p256_key(EVP_PKEY **out)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");

	if (k == NULL) {
		log_ssl("P-256 key generation failed");
		return CC_ERR_CRYPTO;
	}
	*out = k;
	return CC_OK;
}

/* Copies a memory BIO's contents into a malloc'd NUL-terminated string. */
static int bio_take(BIO *bio, char **out)
{
	char *data = NULL;
	long len = BIO_get_mem_data(bio, &data);
	char *s;

	if (len <= 0 || data == NULL) {
		log_error(MOD, "PEM encoding produced nothing");
		return CC_ERR_CRYPTO;
	}
	s = malloc((size_t)len + 1);
	if (s == NULL) {
		log_error(MOD, "out of memory");
		return CC_ERR_NOMEM;
	}
	memcpy(s, data, (size_t)len);
	s[len] = '\0';
	*out = s;
	return CC_OK;
}

/* PEM writers with one shape, so one function encodes them all. */
static int write_key(BIO *b, const void *key)
{
	return PEM_write_bio_PKCS8PrivateKey(b, (EVP_PKEY *)key, NULL, NULL, 0, NULL, NULL);
}

static int write_cert(BIO *b, const void *x) { return PEM_write_bio_X509(b, (X509 *)x); }
static int write_crl(BIO *b, const void *crl) { return PEM_write_bio_X509_CRL(b, (X509_CRL *)crl); }

/* Encodes obj as PEM into *out. For a key, the mem BIO's buffer is freed
 * with OPENSSL_clear_free (BUF_MEM), so no copy of it lingers. */
static int to_pem(int (*write)(BIO *, const void *), const void *obj, const char *what, char **out)
{
	BIO *bio = BIO_new(BIO_s_mem());
	int rc;

	if (bio == NULL) {
		log_ssl("cannot allocate a BIO");
		return CC_ERR_NOMEM;
	}
	if (write(bio, obj) != 1) {
		log_ssl(what);
		rc = CC_ERR_CRYPTO;
	} else {
		rc = bio_take(bio, out);
	}
	BIO_free(bio);
	return rc;
}

static int key_to_pem(EVP_PKEY *key, char **out)
{
	return to_pem(write_key, key, "cannot encode the private key", out);
}

static int cert_to_pem(X509 *x, char **out)
{
	return to_pem(write_cert, x, "cannot encode the certificate", out);
}

static int crl_to_pem(X509_CRL *crl, char **out)
{
	return to_pem(write_crl, crl, "cannot encode the CRL", out);
}

static int make_name(const char *cn, const char *org, X509_NAME **out)
{
	X509_NAME *name = X509_NAME_new();

	if (name == NULL) {
		log_ssl("cannot allocate a name");
		return CC_ERR_NOMEM;
	}
	if (!X509_NAME_add_entry_by_NID(name, NID_organizationName, MBSTRING_UTF8,
					(const unsigned char *)org, -1, -1, 0) ||
	    !X509_NAME_add_entry_by_NID(name, NID_commonName, MBSTRING_UTF8,
					(const unsigned char *)cn, -1, -1, 0)) {
		log_ssl("cannot build the subject name (is the common name valid UTF-8?)");
		X509_NAME_free(name);
		return CC_ERR_INVALID;
	}
	*out = name;
	return CC_OK;
}

/* 128 random bits, never zero; BN_to_ASN1_INTEGER keeps it positive in DER. */
static int set_random_serial(X509 *x)
{
	BIGNUM *bn = BN_new();
	int rc = CC_ERR_CRYPTO;

	if (bn == NULL) {
		log_ssl("cannot allocate a bignum");
		return CC_ERR_NOMEM;
	}
	do {
		if (!BN_rand(bn, 128, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY)) {
			log_ssl("cannot draw a random serial number");
			goto out;
		}
	} while (BN_is_zero(bn));
	if (BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) == NULL) {
		log_ssl("cannot set the serial number");
		goto out;
	}
	rc = CC_OK;
out:
	BN_free(bn);
	return rc;
}

/* The common part of every certificate we make. issuer NULL: self-signed. */
static int cert_new(X509 *issuer, X509_NAME *subject, EVP_PKEY *pub, int days, X509 **out)
{
	X509 *x = X509_new();
	time_t now = time(NULL);
	int rc = CC_ERR_CRYPTO;

	if (x == NULL) {
		log_ssl("cannot allocate a certificate");
		return CC_ERR_NOMEM;
	}
	if (!X509_set_version(x, X509_VERSION_3) || !X509_set_subject_name(x, subject) ||
	    !X509_set_issuer_name(x, issuer != NULL ? X509_get_subject_name(issuer) : subject) ||
	    !X509_set_pubkey(x, pub) ||
	    X509_time_adj_ex(X509_getm_notBefore(x), 0, -CA_BACKDATE_S, &now) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(x), days, 0, &now) == NULL) {
		log_ssl("cannot fill in the certificate");
		goto out;
	}
	rc = set_random_serial(x);
	if (rc != CC_OK)
		goto out;
	*out = x;
	x = NULL;
out:
	X509_free(x);
	return rc;
}

/* Adds one extension in openssl.cnf syntax; value is always one of our literals. */
static int cert_add_ext(X509 *issuer, X509 *x, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int ok;

	memset(&ctx, 0, sizeof(ctx));
	X509V3_set_ctx(&ctx, issuer != NULL ? issuer : x, x, NULL, NULL, 0);
	ext = X509V3_EXT_nconf_nid(NULL, &ctx, nid, value);
	if (ext == NULL) {
		log_ssl("cannot make a certificate extension");
		return CC_ERR_CRYPTO;
	}
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	if (!ok) {
		log_ssl("cannot add a certificate extension");
		return CC_ERR_CRYPTO;
	}
	return CC_OK;
}

static int cert_sign(X509 *x, EVP_PKEY *key)
{
	if (X509_sign(x, key, EVP_sha256()) <= 0) {
		log_ssl("cannot sign the certificate");
		return CC_ERR_CRYPTO;
	}
	return CC_OK;
}

static void hex_sha256(const unsigned char md[32], char out[65])
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < 32; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 0x0f];
	}
	out[64] = '\0';
}

static int cert_fingerprint(X509 *x, char fingerprint[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (!X509_digest(x, EVP_sha256(), md, &mdlen) || mdlen != 32) {
		log_ssl("cannot hash the certificate");
		return CC_ERR_CRYPTO;
	}
	hex_sha256(md, fingerprint);
	return CC_OK;
}

int ca_create_root(const char *common_name, int days, char **cert_pem, char **key_pem)
{
	EVP_PKEY *key = NULL;
	X509_NAME *name = NULL;
	X509 *x = NULL;
	char *cert = NULL, *kpem = NULL;
	int rc;

	if (cert_pem == NULL || key_pem == NULL) {
		log_error(MOD, "root CA: missing output pointer");
		return CC_ERR_INVALID;
	}
	rc = check_cn("root CA", common_name);
	if (rc == CC_OK)
		rc = check_days(days);
	if (rc != CC_OK)
		goto out;
	if ((rc = new_p256_key(&key)) != CC_OK || (rc = make_name(common_name, CA_ORG, &name)) != CC_OK ||
	    (rc = cert_new(NULL, name, key, days, &x)) != CC_OK)
		goto out;
	if ((rc = cert_add_ext(NULL, x, NID_basic_constraints, "critical,CA:TRUE,pathlen:0")) != CC_OK ||
	    (rc = cert_add_ext(NULL, x, NID_key_usage, "critical,keyCertSign,cRLSign")) != CC_OK ||
	    (rc = cert_add_ext(NULL, x, NID_subject_key_identifier, "hash")) != CC_OK)
		goto out;
	if ((rc = cert_sign(x, key)) != CC_OK || (rc = cert_to_pem(x, &cert)) != CC_OK ||
	    (rc = key_to_pem(key, &kpem)) != CC_OK)
		goto out;
	*cert_pem = cert;
	*key_pem = kpem;
	cert = NULL;
	kpem = NULL;
out:
	free(cert);
	ca_free_secret(kpem);
	X509_free(x);
	X509_NAME_free(name);
	EVP_PKEY_free(key);
	return rc;
}

/* Adds one SAN to gens: an IP address if inet_pton takes it, else a DNS name. */
static int san_add(GENERAL_NAMES *gens, const char *san)
{
	unsigned char ip[16];
	GENERAL_NAME *gn = NULL;
	ASN1_STRING *val = NULL;
	int iplen = 0, type;

	if (san == NULL) {
		log_error(MOD, "server certificate: NULL subject alternative name");
		return CC_ERR_INVALID;
	}
	if (inet_pton(AF_INET, san, ip) == 1)
		iplen = 4;
	else if (inet_pton(AF_INET6, san, ip) == 1)
		iplen = 16;
	if (iplen == 0 && !dns_name_ok(san)) {
		log_error(MOD, "server certificate: subject alternative name is neither an IP "
			       "address nor a valid DNS name");
		return CC_ERR_INVALID;
	}
	if (iplen != 0) {
		type = GEN_IPADD;
		val = ASN1_OCTET_STRING_new();
		if (val != NULL && !ASN1_OCTET_STRING_set(val, ip, iplen))
			goto fail;
	} else {
		type = GEN_DNS;
		val = ASN1_IA5STRING_new();
		if (val != NULL && !ASN1_STRING_set(val, san, (int)strlen(san)))
			goto fail;
	}
	if (val == NULL || (gn = GENERAL_NAME_new()) == NULL)
		goto fail;
	GENERAL_NAME_set0_value(gn, type, val);
	val = NULL;
	if (!sk_GENERAL_NAME_push(gens, gn))
		goto fail;
	return CC_OK;
fail:
	log_ssl("cannot build a subject alternative name");
	ASN1_STRING_free(val);
	GENERAL_NAME_free(gn);
	return CC_ERR_NOMEM;
}

static int add_sans(X509 *x, const char *const *sans, size_t nsans)
{
	GENERAL_NAMES *gens = GENERAL_NAMES_new();
	size_t i;
	int rc = CC_OK;

	if (gens == NULL) {
		log_ssl("cannot allocate subject alternative names");
		return CC_ERR_NOMEM;
	}
	for (i = 0; i < nsans && rc == CC_OK; i++)
		rc = san_add(gens, sans[i]);
	if (rc == CC_OK && !X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT)) {
		log_ssl("cannot add subject alternative names");
		rc = CC_ERR_CRYPTO;
	}
	GENERAL_NAMES_free(gens);
	return rc;
}

/* The extensions both leaf kinds share; eku is "serverAuth" or "clientAuth". */
static int leaf_exts(X509 *ca, X509 *x, const char *eku)
{
	int rc;

	if ((rc = cert_add_ext(ca, x, NID_basic_constraints, "critical,CA:FALSE")) != CC_OK ||
	    (rc = cert_add_ext(ca, x, NID_key_usage, "critical,digitalSignature")) != CC_OK ||
	    (rc = cert_add_ext(ca, x, NID_ext_key_usage, eku)) != CC_OK ||
	    (rc = cert_add_ext(ca, x, NID_subject_key_identifier, "hash")) != CC_OK ||
	    (rc = cert_add_ext(ca, x, NID_authority_key_identifier, "keyid:always")) != CC_OK)
		return rc;
	return CC_OK;
}

int ca_issue_server(const char *ca_cert_pem, const char *ca_key_pem, const char *common_name,
		    const char *const *sans, size_t nsans, int days, char **cert_pem,
		    char **key_pem)
{
	X509 *ca = NULL, *x = NULL;
	EVP_PKEY *ca_key = NULL, *key = NULL;
	X509_NAME *name = NULL;
	char *cert = NULL, *kpem = NULL;
	int rc;

	if (cert_pem == NULL || key_pem == NULL) {
		log_error(MOD, "server certificate: missing output pointer");
		return CC_ERR_INVALID;
	}
	if (nsans > CC_SAN_MAX) {
		log_error(MOD, "server certificate: %zu subject alternative names, at most %d",
			  nsans, CC_SAN_MAX);
		return CC_ERR_LIMIT;
	}
	if (nsans == 0 || sans == NULL) {
		log_error(MOD, "server certificate: at least one subject alternative name is needed");
		return CC_ERR_INVALID;
	}
	if ((rc = check_cn("server certificate", common_name)) != CC_OK ||
	    (rc = check_days(days)) != CC_OK)
		return rc;
	if ((rc = load_ca(ca_cert_pem, ca_key_pem, &ca, &ca_key)) != CC_OK ||
	    (rc = new_p256_key(&key)) != CC_OK ||
	    (rc = make_name(common_name, CA_ORG, &name)) != CC_OK ||
	    (rc = cert_new(ca, name, key, days, &x)) != CC_OK ||
	    (rc = leaf_exts(ca, x, "serverAuth")) != CC_OK || (rc = add_sans(x, sans, nsans)) != CC_OK ||
	    (rc = cert_sign(x, ca_key)) != CC_OK || (rc = cert_to_pem(x, &cert)) != CC_OK ||
	    (rc = key_to_pem(key, &kpem)) != CC_OK)
		goto out;
	*cert_pem = cert;
	*key_pem = kpem;
	cert = NULL;
	kpem = NULL;
out:
	free(cert);
	ca_free_secret(kpem);
	X509_free(x);
	X509_NAME_free(name);
	EVP_PKEY_free(key);
	EVP_PKEY_free(ca_key);
	X509_free(ca);
	return rc;
}

/* Every CN in the CSR subject must equal serial; a CSR without CN is fine. */
static int csr_check_cn(X509_REQ *req, const char *serial)
{
	const X509_NAME *subj = X509_REQ_get_subject_name(req);
	size_t slen = strlen(serial);
	int i = -1;

	while ((i = X509_NAME_get_index_by_NID(subj, NID_commonName, i)) >= 0) {
		X509_NAME_ENTRY *e = X509_NAME_get_entry(subj, i);
		unsigned char *utf8 = NULL;
		int len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(e));
		int same = len >= 0 && (size_t)len == slen && memcmp(utf8, serial, slen) == 0;

		OPENSSL_free(utf8);
		if (!same) {
			ERR_clear_error();
			/* The refused CN itself is not logged: it is peer input. */
			log_error(MOD, "CSR for machine %s refused: its subject CN is not the "
				       "machine serial",
				  serial);
			return CC_ERR_INVALID;
		}
	}
	return CC_OK;
}

/* Parses and vets a machine CSR, returning its public key (a new reference). */
static int csr_public_key(const char *csr_pem, const char *serial, EVP_PKEY **out)
{
	BIO *bio = NULL;
	X509_REQ *req = NULL;
	EVP_PKEY *pub;
	int rc;

	rc = pem_bio("machine CSR", csr_pem, CA_CSR_MAX, &bio);
	if (rc != CC_OK)
		return rc;
	rc = CC_ERR_INVALID;
	req = PEM_read_bio_X509_REQ(bio, NULL, no_passphrase, NULL);
	if (req == NULL) {
		ERR_clear_error();
		log_error(MOD, "CSR for machine %s refused: not a PEM certificate request", serial);
		goto out;
	}
	pub = X509_REQ_get0_pubkey(req);
	if (pub == NULL) {
		ERR_clear_error();
		log_error(MOD, "CSR for machine %s refused: unreadable public key", serial);
		goto out;
	}
	if (!is_p256(pub)) {
		log_error(MOD, "CSR for machine %s refused: the key must be EC P-256", serial);
		goto out;
	}
	if (X509_REQ_verify(req, pub) != 1) {
		ERR_clear_error();
		log_error(MOD, "CSR for machine %s refused: bad self-signature", serial);
		goto out;
	}
	if ((rc = csr_check_cn(req, serial)) != CC_OK)
		goto out;
	if (!EVP_PKEY_up_ref(pub)) {
		log_ssl("cannot reference the CSR key");
		rc = CC_ERR_CRYPTO;
		goto out;
	}
	*out = pub;
	rc = CC_OK;
out:
	X509_REQ_free(req);
	BIO_free(bio);
	return rc;
}

struct ca_signer {
	X509 *ca;
	EVP_PKEY *key;
};

int ca_signer_open(const char *ca_cert_pem, const char *ca_key_pem, struct ca_signer **out)
{
	struct ca_signer *sg = calloc(1, sizeof(*sg));
	int rc;

	if (sg == NULL)
		return CC_ERR_NOMEM;
	rc = load_ca(ca_cert_pem, ca_key_pem, &sg->ca, &sg->key);
	if (rc != CC_OK) {
		free(sg);
		return rc;
	}
	*out = sg;
	return CC_OK;
}

void ca_signer_free(struct ca_signer *sg)
{
	if (sg == NULL)
		return;
	EVP_PKEY_free(sg->key);
	X509_free(sg->ca);
	free(sg);
}

static int cert_not_after(X509 *x, long long *out)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) != 1) {
		log_ssl("certificate notAfter");
		return CC_ERR_INVALID;
	}
	*out = (long long)timegm(&tm) * 1000;
	return CC_OK;
}

int ca_signer_issue_machine(struct ca_signer *sg, const char *serial, int days, const char *csr_pem,
			    char **cert_pem, char **key_pem, char fingerprint[65], long long *not_after)
{
	X509 *x = NULL;
	EVP_PKEY *pub = NULL;
	X509_NAME *name = NULL;
	char *cert = NULL, *kpem = NULL;
	char fp[65];
	long long until = 0;
	int rc;

	if (cert_pem == NULL || key_pem == NULL || fingerprint == NULL) {
		log_error(MOD, "machine certificate: missing output pointer");
		return CC_ERR_INVALID;
	}
	if ((rc = check_serial(serial)) != CC_OK || (rc = check_days(days)) != CC_OK)
		return rc;
	if (csr_pem == NULL) {
		if ((rc = new_p256_key(&pub)) != CC_OK || (rc = key_to_pem(pub, &kpem)) != CC_OK)
			goto out;
	} else if ((rc = csr_public_key(csr_pem, serial, &pub)) != CC_OK) {
		goto out;
	}
	if ((rc = make_name(serial, CA_MACHINE_ORG, &name)) != CC_OK ||
	    (rc = cert_new(sg->ca, name, pub, days, &x)) != CC_OK ||
	    (rc = leaf_exts(sg->ca, x, "clientAuth")) != CC_OK || (rc = cert_sign(x, sg->key)) != CC_OK ||
	    (rc = cert_fingerprint(x, fp)) != CC_OK || (rc = cert_not_after(x, &until)) != CC_OK ||
	    (rc = cert_to_pem(x, &cert)) != CC_OK)
		goto out;
	*cert_pem = cert;
	*key_pem = kpem;
	memcpy(fingerprint, fp, sizeof(fp));
	if (not_after != NULL)
		*not_after = until;
	cert = NULL;
	kpem = NULL;
out:
	free(cert);
	ca_free_secret(kpem);
	X509_free(x);
	X509_NAME_free(name);
	EVP_PKEY_free(pub);
	return rc;
}

int ca_issue_machine(const char *ca_cert_pem, const char *ca_key_pem, const char *serial, int days,
		     const char *csr_pem, char **cert_pem, char **key_pem, char fingerprint[65])
{
	struct ca_signer *sg = NULL;
	int rc;

	if (cert_pem == NULL || key_pem == NULL || fingerprint == NULL) {
		log_error(MOD, "machine certificate: missing output pointer");
		return CC_ERR_INVALID;
	}
	if ((rc = check_serial(serial)) != CC_OK || (rc = check_days(days)) != CC_OK)
		return rc;
	rc = ca_signer_open(ca_cert_pem, ca_key_pem, &sg);
	if (rc == CC_OK)
		rc = ca_signer_issue_machine(sg, serial, days, csr_pem, cert_pem, key_pem, fingerprint, NULL);
	ca_signer_free(sg);
	return rc;
}

int ca_cert_fingerprint(const char *cert_pem, char fingerprint[65])
{
	X509 *x = NULL;
	char fp[65];
	int rc;

	if (fingerprint == NULL) {
		log_error(MOD, "fingerprint: missing output buffer");
		return CC_ERR_INVALID;
	}
	if ((rc = parse_cert("certificate", cert_pem, &x)) != CC_OK)
		return rc;
	rc = cert_fingerprint(x, fp);
	if (rc == CC_OK)
		memcpy(fingerprint, fp, sizeof(fp));
	X509_free(x);
	return rc;
}

int ca_cert_common_name(const char *cert_pem, char *out, size_t cap)
{
	X509 *x = NULL;
	const X509_NAME *subj;
	unsigned char *utf8 = NULL;
	int rc, i, len;

	if (out == NULL || cap == 0) {
		log_error(MOD, "common name: missing output buffer");
		return CC_ERR_INVALID;
	}
	if ((rc = parse_cert("certificate", cert_pem, &x)) != CC_OK)
		return rc;
	subj = X509_get_subject_name(x);
	i = X509_NAME_get_index_by_NID(subj, NID_commonName, -1);
	if (i < 0) {
		log_error(MOD, "certificate has no subject common name");
		rc = CC_ERR_NOTFOUND;
		goto out;
	}
	len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, i)));
	if (len < 0) {
		log_ssl("certificate common name is not convertible to UTF-8");
		rc = CC_ERR_INVALID;
		goto out;
	}
	if (memchr(utf8, '\0', (size_t)len) != NULL) {
		log_error(MOD, "certificate common name holds a NUL byte");
		rc = CC_ERR_INVALID;
		goto out;
	}
	if ((size_t)len >= cap) {
		log_error(MOD, "certificate common name longer than %zu bytes", cap - 1);
		rc = CC_ERR_LIMIT;
		goto out;
	}
	memcpy(out, utf8, (size_t)len);
	out[len] = '\0';
	rc = CC_OK;
out:
	OPENSSL_free(utf8);
	X509_free(x);
	return rc;
}

/* Adds one revoked entry for a certificate the CA issued. */
static int crl_add_revoked(X509_CRL *crl, X509 *ca, const struct ca_revoked *r, size_t idx)
{
	X509 *x = NULL;
	X509_REVOKED *rev = NULL;
	ASN1_TIME *when = NULL;
	char what[48];
	int rc;

	snprintf(what, sizeof(what), "CRL entry %zu", idx);
	if (r->revoked_at_s < 0 || r->revoked_at_s > CA_TIME_MAX) {
		log_error(MOD, "%s: revocation time out of range", what);
		return CC_ERR_INVALID;
	}
	if ((rc = parse_cert(what, r->cert_pem, &x)) != CC_OK)
		return rc;
	rc = CC_ERR_INVALID;
	/* Name and key identifiers match, and the CA's signature is really on it. */
	if (X509_check_issued(ca, x) != X509_V_OK || X509_verify(x, X509_get0_pubkey(ca)) != 1) {
		ERR_clear_error();
		log_error(MOD, "%s: certificate was not issued by this CA", what);
		goto out;
	}
	rc = CC_ERR_NOMEM;
	if ((rev = X509_REVOKED_new()) == NULL ||
	    (when = ASN1_TIME_set(NULL, (time_t)r->revoked_at_s)) == NULL ||
	    !X509_REVOKED_set_serialNumber(rev, X509_get_serialNumber(x)) ||
	    !X509_REVOKED_set_revocationDate(rev, when)) {
		log_ssl("cannot build a CRL entry");
		goto out;
	}
	if (!X509_CRL_add0_revoked(crl, rev)) {
		log_ssl("cannot add a CRL entry");
		goto out;
	}
	rev = NULL;
	rc = CC_OK;
out:
	ASN1_TIME_free(when);
	X509_REVOKED_free(rev);
	X509_free(x);
	return rc;
}

/* The CRL number must grow from one CRL to the next: use the clock in ms. */
static int crl_add_exts(X509_CRL *crl, X509 *ca)
{
	X509V3_CTX ctx;
	X509_EXTENSION *aki;
	ASN1_INTEGER *num = NULL;
	BIGNUM *bn = NULL;
	struct timespec ts;
	int ok;

	memset(&ctx, 0, sizeof(ctx));
	X509V3_set_ctx(&ctx, ca, NULL, NULL, crl, 0);
	aki = X509V3_EXT_nconf_nid(NULL, &ctx, NID_authority_key_identifier, "keyid:always");
	if (aki == NULL) {
		log_ssl("cannot make the CRL authority key identifier");
		return CC_ERR_CRYPTO;
	}
	ok = X509_CRL_add_ext(crl, aki, -1);
	X509_EXTENSION_free(aki);
	if (!ok) {
		log_ssl("cannot add the CRL authority key identifier");
		return CC_ERR_CRYPTO;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	bn = BN_new();
	ok = bn != NULL &&
	     BN_set_word(bn, (BN_ULONG)ts.tv_sec * 1000u + (BN_ULONG)(ts.tv_nsec / 1000000)) &&
	     (num = BN_to_ASN1_INTEGER(bn, NULL)) != NULL &&
	     X509_CRL_add1_ext_i2d(crl, NID_crl_number, num, 0, X509V3_ADD_DEFAULT);
	if (!ok)
		log_ssl("cannot add the CRL number");
	ASN1_INTEGER_free(num);
	BN_free(bn);
	return ok ? CC_OK : CC_ERR_CRYPTO;
}

int ca_make_crl(const char *ca_cert_pem, const char *ca_key_pem, const struct ca_revoked *list,
		size_t n, int days, char **crl_pem)
{
	X509 *ca = NULL;
	EVP_PKEY *ca_key = NULL;
	X509_CRL *crl = NULL;
	ASN1_TIME *last = NULL, *next = NULL;
	time_t now = time(NULL);
	char *pem = NULL;
	size_t i;
	int rc;

	if (crl_pem == NULL) {
		log_error(MOD, "CRL: missing output pointer");
		return CC_ERR_INVALID;
	}
	if (n > CA_CRL_MAX) {
		log_error(MOD, "CRL: %zu entries, at most %d", n, CA_CRL_MAX);
		return CC_ERR_LIMIT;
	}
	if (n > 0 && list == NULL) {
		log_error(MOD, "CRL: missing list of revoked certificates");
		return CC_ERR_INVALID;
	}
	if ((rc = check_days(days)) != CC_OK)
		return rc;
	if ((rc = load_ca(ca_cert_pem, ca_key_pem, &ca, &ca_key)) != CC_OK)
		goto out;
	rc = CC_ERR_CRYPTO;
	if ((crl = X509_CRL_new()) == NULL || (last = ASN1_TIME_set(NULL, now)) == NULL ||
	    (next = ASN1_TIME_adj(NULL, now, days, 0)) == NULL ||
	    !X509_CRL_set_version(crl, X509_CRL_VERSION_2) ||
	    !X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca)) ||
	    !X509_CRL_set1_lastUpdate(crl, last) || !X509_CRL_set1_nextUpdate(crl, next)) {
		log_ssl("cannot fill in the CRL");
		goto out;
	}
	for (i = 0; i < n; i++)
		if ((rc = crl_add_revoked(crl, ca, &list[i], i)) != CC_OK)
			goto out;
	if ((rc = crl_add_exts(crl, ca)) != CC_OK)
		goto out;
	rc = CC_ERR_CRYPTO;
	if (!X509_CRL_sort(crl) || X509_CRL_sign(crl, ca_key, EVP_sha256()) <= 0) {
		log_ssl("cannot sign the CRL");
		goto out;
	}
	if ((rc = crl_to_pem(crl, &pem)) != CC_OK)
		goto out;
	*crl_pem = pem;
	pem = NULL;
out:
	free(pem);
	ASN1_TIME_free(last);
	ASN1_TIME_free(next);
	X509_CRL_free(crl);
	EVP_PKEY_free(ca_key);
	X509_free(ca);
	return rc;
}

/* The hex SHA-256 of a public key's SubjectPublicKeyInfo DER. */
static int spki_sha256(EVP_PKEY *pub, char out[65])
{
	unsigned char *der = NULL, md[32];
	int len = i2d_PUBKEY(pub, &der);

	if (len <= 0) {
		log_ssl("cannot encode a public key");
		return CC_ERR_CRYPTO;
	}
	SHA256(der, (size_t)len, md);
	OPENSSL_free(der);
	hex_sha256(md, out);
	return CC_OK;
}

int ca_csr_check(const char *csr_pem, const char *serial, char spki[65], const char **why)
{
	BIO *bio = NULL;
	X509_REQ *req = NULL;
	EVP_PKEY *pub;
	const char *reason = NULL;
	char fp[65];
	int rc;

	*why = "too large";
	if ((rc = pem_bio("machine CSR", csr_pem, CA_CSR_MAX, &bio)) != CC_OK)
		return rc;
	req = PEM_read_bio_X509_REQ(bio, NULL, no_passphrase, NULL);
	pub = req != NULL ? X509_REQ_get0_pubkey(req) : NULL;
	if (req == NULL)
		reason = "not a PEM certificate request";
	else if (pub == NULL)
		reason = "unreadable public key";
	else if (!is_p256(pub))
		reason = "the key must be EC P-256";
	else if (X509_REQ_verify(req, pub) != 1)
		reason = "bad self-signature";
	else if (csr_check_cn(req, serial) != CC_OK)
		reason = "its subject CN is not the machine serial";
	ERR_clear_error();
	rc = reason != NULL ? CC_ERR_INVALID : spki != NULL ? spki_sha256(pub, fp) : CC_OK;
	if (rc == CC_OK && spki != NULL)
		memcpy(spki, fp, sizeof(fp));
	*why = reason;
	X509_REQ_free(req);
	BIO_free(bio);
	return rc;
}

int ca_cert_validity(const char *cert_pem, long long *not_after_ms, char spki[65])
{
	X509 *x = NULL;
	long long until = 0;
	char fp[65];
	int rc = parse_cert("certificate", cert_pem, &x);

	if (rc != CC_OK)
		return rc;
	rc = cert_not_after(x, &until);
	if (rc == CC_OK && spki != NULL)
		rc = spki_sha256(X509_get0_pubkey(x), fp);
	if (rc == CC_OK) {
		*not_after_ms = until;
		if (spki != NULL)
			memcpy(spki, fp, sizeof(fp));
	}
	X509_free(x);
	return rc;
}

int ca_cert_issued(const char *cert_pem, long long *not_before_ms)
{
	X509 *x = NULL;
	struct tm tm;
	int rc = parse_cert("certificate", cert_pem, &x);

	if (rc != CC_OK)
		return rc;
	memset(&tm, 0, sizeof(tm));
	if (ASN1_TIME_to_tm(X509_get0_notBefore(x), &tm) != 1) {
		log_ssl("certificate notBefore");
		rc = CC_ERR_INVALID;
	} else {
		*not_before_ms = (long long)timegm(&tm) * 1000;
	}
	X509_free(x);
	return rc;
}
