/*
 * strmap.h - a string-keyed hash map (open addressing, linear probing).
 *
 * Keys are copied in; values are opaque pointers the map never frees.
 * Not thread-safe: each map belongs to one thread.
 */
#ifndef CC_COMMON_STRMAP_H
#define CC_COMMON_STRMAP_H

#include <stddef.h>

struct strmap;

int strmap_new(struct strmap **out);
void strmap_free(struct strmap *m);

/* The value for key, or NULL. */
void *strmap_get(const struct strmap *m, const char *key);
/* Sets key to value (replacing any). 0 or CC_ERR_NOMEM. */
int strmap_put(struct strmap *m, const char *key, void *value);
/* Removes key; returns its value or NULL. */
void *strmap_remove(struct strmap *m, const char *key);
size_t strmap_count(const struct strmap *m);
/* Calls each(ctx, key, value) for every entry; stops when it returns non-zero. */
int strmap_foreach(struct strmap *m, int (*each)(void *ctx, const char *key, void *value), void *ctx);

#endif
