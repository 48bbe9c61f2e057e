/* machine_caller.c - the machine calling a machine route of people's HTTPS
 * listener, known by its client certificate (mutual TLS: asked for, not
 * required, by that listener): issued by the fleet CA, not on the CRL, the
 * current certificate (or the previous one within a renewal's overlap) of
 * a machine in service. Never a bearer token or session. Shared by the
 * machine routes (updates.c, diagnostics.c, rollouts.c). */
#include "api/internal.h"

#include <stdlib.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "common/clock.h"
#include "common/err.h"
#include "common/file.h"
#include "daemon/tls.h"
#include "fleet/provision.h"

#define CRL_MAX (16 * 1024 * 1024)

/* 1 when the certificate is on the fleet's CRL (DIR/ca.crl). The row's
 * revocation says the same within a transaction; the CRL is what a
 * certificate revoked before the machine's row changed (a renewal) is on. */
static int on_crl(struct api *a, X509 *cert)
{
	unsigned char *pem = NULL;
	size_t len = 0;
	X509_CRL *crl = NULL;
	X509_REVOKED *entry = NULL;
	BIO *bio;
	int revoked;

	if (file_read_all(vault_path(a->vault, VAULT_CRL), CRL_MAX, &pem, &len) != CC_OK)
		return 0; /* no CRL yet: nothing was revoked */
	bio = BIO_new_mem_buf(pem, (int)len);
	if (bio != NULL)
		crl = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL);
	/* An unreadable CRL fails closed. */
	revoked = crl == NULL || X509_CRL_get0_by_cert(crl, &entry, cert) == 1;
	X509_CRL_free(crl);
	BIO_free(bio);
	free(pem);
	return revoked;
}

/* The machine whose certificate the client presented, in service; else
 * replies 401 (no certificate, or not one of the fleet CA's) or 403. */
int api_machine_caller(struct http_req *r, struct store_machine *m)
{
	struct api *a = http_app(r);
	struct store *st = vault_store(a->vault);
	SSL *ssl = http_ssl(r);
	struct tls_identity id;
	X509 *cert;
	int revoked;

	if (ssl == NULL || tls_peer_identity(ssl, &id) != CC_OK) {
		http_reply_error(r, 401, "certificate_required", "machines present their certificate (mutual TLS)");
		return CC_ERR_AUTH;
	}
	cert = SSL_get1_peer_certificate(ssl);
	revoked = cert == NULL || on_crl(a, cert);
	X509_free(cert);
	if (revoked || st->ops->machine_find(st, id.common_name, m) != CC_OK || m->revoked_ms != 0 ||
	    m->decommissioned_ms != 0 || m->moved ||
	    !provision_cert_accepted(m->cert_fingerprint, m->prev_cert_fingerprint, m->prev_cert_until_ms,
	                             id.fingerprint, clock_now_ms())) {
		http_reply_error(r, 403, "forbidden", "this certificate is not a machine's in service");
		return CC_ERR_PERM;
	}
	return CC_OK;
}
