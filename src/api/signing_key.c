/* signing_key.c - GET /api/v1/signing-key: the public half of the
 * installation's signing key (vault/signing.h), open to anyone, because an
 * inspector checking a signed report has no account here. */
#include "api/internal.h"

#include <stdlib.h>
#include <string.h>

#include "common/err.h"

#include "vault/signing.h"

void api_signing_key(struct http_req *r)
{
	struct api *a = http_app(r);
	struct signing_key k;
	char *pem = NULL;
	int rc = signing_key_load(a->vault, &k);

	if (rc == CC_OK)
		rc = ed25519_public_pem(k.pub, &pem);
	if (rc != CC_OK) {
		signing_key_wipe(&k);
		http_reply_error(r, 500, "internal", "the signing key could not be read");
		return;
	}
	/* format=pem: the file `openssl pkeyutl -inkey` reads, with no JSON tool. */
	if (http_query(r, "format") != NULL && strcmp(http_query(r, "format"), "pem") == 0)
		http_reply_text(r, 200, "application/x-pem-file", pem);
	else
		http_reply_json(r, 200, json_pack("{s:s, s:s, s:s}", "algorithm", "Ed25519", "key_id", k.id, "public_key_pem",
	                                  pem));
	signing_key_wipe(&k);
	free(pem);
}
