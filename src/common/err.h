/*
 * err.h - the one error idiom of CoffeeCloud.
 *
 * Functions return 0 on success or one of the negative codes below. The code
 * says what kind of failure it was; the human detail has already been logged
 * by the function that detected it (see log.h), so callers only propagate.
 */
#ifndef CC_COMMON_ERR_H
#define CC_COMMON_ERR_H

enum cc_err {
	CC_OK = 0,
	CC_ERR_NOMEM = -1,     /* allocation failed */
	CC_ERR_IO = -2,        /* a file or socket operation failed */
	CC_ERR_INVALID = -3,   /* the input is malformed or out of range */
	CC_ERR_NOTFOUND = -4,  /* the named thing does not exist */
	CC_ERR_EXISTS = -5,    /* the named thing exists already */
	CC_ERR_PERM = -6,      /* unsafe permissions, or access denied */
	CC_ERR_CRYPTO = -7,    /* a cryptographic operation failed */
	CC_ERR_AUTH = -8,      /* authentication failed: a blob did not open, a key is wrong */
	CC_ERR_CORRUPT = -9,   /* stored data is damaged or not ours */
	CC_ERR_DB = -10,       /* the database refused an operation */
	CC_ERR_LIMIT = -11,    /* a configured limit was reached */
	CC_ERR_STATE = -12,    /* the operation is not valid in the current state */
};

/* A short, stable English phrase for a code ("not found"). Never NULL. */
const char *cc_strerror(int err);

#endif
