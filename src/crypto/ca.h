/*
 * ca.h - the fleet certificate authority (OpenSSL 3).
 *
 * One root CA signs two kinds of leaf: the server certificate of the daemon's
 * TLS listeners and one client certificate per machine. It also signs the CRL
 * that lists revoked machine certificates.
 *
 * Every key is ECDSA P-256 and every signature ECDSA-SHA256. Certificates,
 * CSRs, CRLs and keys cross this API as NUL-terminated PEM strings:
 *   - strings returned are malloc'd and owned by the caller;
 *   - certificate and CRL PEMs are freed with free();
 *   - private key PEMs (unencrypted PKCS#8, "BEGIN PRIVATE KEY"; the caller
 *     seals them itself) are freed with ca_free_secret(), which wipes them.
 * Output pointers are written only on success. Every function returns 0 or a
 * negative CC_ERR_* code (common/err.h) and has logged the reason under the
 * module name "ca"; key material is never logged.
 *
 * Certificate serial numbers are 128 random bits. notBefore is backdated by
 * CA_BACKDATE_S seconds so that a machine whose clock is slightly behind
 * accepts a certificate issued a moment ago; notAfter is now + days.
 * Input PEMs larger than CC_SMALL_FILE_MAX (CA_CSR_MAX for a CSR) are refused
 * with CC_ERR_LIMIT.
 */
#ifndef CC_CRYPTO_CA_H
#define CC_CRYPTO_CA_H

#include <stddef.h>

/* The largest CSR PEM accepted from a machine, in bytes. */
#define CA_CSR_MAX (16 * 1024)
/* Validity in days: 1 .. CA_DAYS_MAX. */
#define CA_DAYS_MAX 36500
/* How far notBefore lies in the past, to absorb clock skew. */
#define CA_BACKDATE_S 300
/* Subject O of the root and server certificates, and of machine certificates. */
#define CA_ORG "CoffeeCloud"
#define CA_MACHINE_ORG "CoffeeCloud machine"
/* Revoked entries in one CRL. */
#define CA_CRL_MAX 100000

/*
 * Creates a self-signed root: subject CN=common_name, O=CA_ORG; basicConstraints
 * critical CA:TRUE pathlen:0; keyUsage critical keyCertSign,cRLSign; SKI.
 * common_name: 1..64 bytes of UTF-8 without control characters.
 * On success *cert_pem (free()) and *key_pem (ca_free_secret()) are set.
 * CC_ERR_INVALID for a bad name or days, CC_ERR_CRYPTO or CC_ERR_NOMEM otherwise.
 */
int ca_create_root(const char *common_name, int days, char **cert_pem, char **key_pem);

/*
 * Issues the TLS server certificate under the CA: a new P-256 key, subject
 * CN=common_name, O=CA_ORG; subjectAltName from sans (each an IPv4/IPv6
 * address if inet_pton accepts it, else a DNS name of letters, digits, '-'
 * and '.'); EKU serverAuth; keyUsage critical digitalSignature;
 * basicConstraints critical CA:FALSE; AKI and SKI.
 * The CA key must be P-256 and match the CA certificate, which must be a CA.
 * CC_ERR_LIMIT if nsans > CC_SAN_MAX; CC_ERR_INVALID if nsans == 0, a SAN or
 * name is malformed, days is out of range, or the CA pair is unusable.
 * On success *cert_pem (free()) and *key_pem (ca_free_secret()) are set.
 */
int ca_issue_server(const char *ca_cert_pem, const char *ca_key_pem, const char *common_name,
		    const char *const *sans, size_t nsans, int days, char **cert_pem,
		    char **key_pem);

/*
 * Issues a machine (TLS client) certificate under the CA: subject CN=serial,
 * O=CA_MACHINE_ORG; EKU clientAuth; keyUsage critical digitalSignature;
 * basicConstraints critical CA:FALSE; AKI and SKI.
 * serial: 1..CC_SERIAL_MAX bytes of [A-Za-z0-9._-].
 * csr_pem NULL: a new P-256 key is made and returned in *key_pem
 * (ca_free_secret()). Otherwise the CSR (at most CA_CSR_MAX bytes, else
 * CC_ERR_LIMIT) must carry a valid self-signature and a P-256 public key; its
 * subject and extensions are ignored, except that any CN in it must equal
 * serial. *key_pem is then set to NULL. CC_ERR_INVALID for a refused CSR.
 * fingerprint receives the lowercase hex SHA-256 of the certificate DER.
 * On success *cert_pem (free()), *key_pem and fingerprint are set.
 */
int ca_issue_machine(const char *ca_cert_pem, const char *ca_key_pem, const char *serial, int days,
		     const char *csr_pem, char **cert_pem, char **key_pem, char fingerprint[65]);

/*
 * The CA pair parsed and checked once, for issuing many machine
 * certificates (a factory batch): ca_signer_issue_machine is
 * ca_issue_machine without parsing the CA each time, and also gives the
 * certificate's notAfter in ms since the epoch (not_after may be NULL).
 */
struct ca_signer;
int ca_signer_open(const char *ca_cert_pem, const char *ca_key_pem, struct ca_signer **out);
int ca_signer_issue_machine(struct ca_signer *sg, const char *serial, int days, const char *csr_pem,
			    char **cert_pem, char **key_pem, char fingerprint[65], long long *not_after);
void ca_signer_free(struct ca_signer *sg);

/*
 * Writes the lowercase hex SHA-256 of a PEM certificate's DER (64 characters
 * and a NUL) into fingerprint. CC_ERR_INVALID if cert_pem is not a certificate.
 */
int ca_cert_fingerprint(const char *cert_pem, char fingerprint[65]);

/*
 * Copies the (first) subject CN of a PEM certificate, as UTF-8, into out.
 * CC_ERR_NOTFOUND if there is no CN, CC_ERR_LIMIT if it does not fit in cap
 * bytes with its NUL, CC_ERR_INVALID if it is not a certificate or the CN
 * holds a NUL byte. out is written only on success.
 */
int ca_cert_common_name(const char *cert_pem, char *out, size_t cap);

/*
 * Vets a machine CSR as ca_issue_machine does (P-256 key, valid
 * self-signature, any CN equal to serial) without logging the refusal:
 * *why receives a short static reason for a refused CSR (CC_ERR_INVALID or
 * CC_ERR_LIMIT), NULL otherwise. spki (may be NULL) receives the lowercase hex
 * SHA-256 of the CSR's SubjectPublicKeyInfo DER.
 */
int ca_csr_check(const char *csr_pem, const char *serial, char spki[65], const char **why);

/*
 * A certificate's notAfter in ms since the epoch, and (spki may be NULL) the
 * hex SHA-256 of its SubjectPublicKeyInfo DER, comparable with ca_csr_check's.
 */
int ca_cert_validity(const char *cert_pem, long long *not_after_ms, char spki[65]);
/* A certificate's notBefore in ms since the epoch. */
int ca_cert_issued(const char *cert_pem, long long *not_before_ms);

/* One revoked certificate for ca_make_crl: its PEM and when it was revoked. */
struct ca_revoked {
	const char *cert_pem;
	long long revoked_at_s; /* unix seconds, >= 0 */
};

/*
 * Makes a v2 CRL signed by the CA: issuer = CA subject, lastUpdate now,
 * nextUpdate now + days, AKI, and a CRL number equal to the current time in
 * milliseconds (so successive CRLs increase). Each list entry is revoked by
 * the serial number of its certificate, which must have been issued by this
 * CA (else CC_ERR_INVALID). n may be 0 (an empty CRL); n > CA_CRL_MAX is
 * CC_ERR_LIMIT. On success *crl_pem (free()) is set.
 */
int ca_make_crl(const char *ca_cert_pem, const char *ca_key_pem, const struct ca_revoked *list,
		size_t n, int days, char **crl_pem);

/* Wipes (strlen bytes) and frees a key PEM returned by this module. Accepts NULL. */
void ca_free_secret(char *pem);

#endif
