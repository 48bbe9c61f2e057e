#include "common/err.h"

const char *cc_strerror(int err)
{
	switch (err) {
	case CC_OK: return "ok";
	case CC_ERR_NOMEM: return "out of memory";
	case CC_ERR_IO: return "input/output error";
	case CC_ERR_INVALID: return "invalid input";
	case CC_ERR_NOTFOUND: return "not found";
	case CC_ERR_EXISTS: return "already exists";
	case CC_ERR_PERM: return "permission denied";
	case CC_ERR_CRYPTO: return "cryptographic failure";
	case CC_ERR_AUTH: return "authentication failed";
	case CC_ERR_CORRUPT: return "data corrupt";
	case CC_ERR_DB: return "database error";
	case CC_ERR_LIMIT: return "limit reached";
	case CC_ERR_STATE: return "invalid state";
	}
	return "unknown error";
}
