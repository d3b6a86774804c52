/* grow: the one way amber grows a heap array.
 *
 * Every size is an overflow-checked multiplication, and a failure leaves
 * the array and its count as they were (the caller still owns and frees
 * the old array). Each returns 0, or a negative errno (-ENOMEM, or
 * -EOVERFLOW when the size does not fit a size_t) with errno set too, so
 * either error idiom works:
 *
 *	if (grow_one(&t->procs, t->nr) < 0)		room for t->procs[t->nr]
 *		return err_errno(e, "remember pid %d", pid);
 *	t->procs[t->nr++] = p;
 *
 *	if ((ret = grow_cap(&buf, &cap, len + n)) < 0)	doubling, for long runs
 *		return err_errnum(e, -ret, "read '%s'", path);
 *
 * The macros take the address of the array pointer and size its elements
 * from its type; a count read from an image must be bounded by the caller
 * before it sizes anything (see grow_zero).
 */
#ifndef AMBER_GROW_H
#define AMBER_GROW_H

#include <stddef.h>

/* Resizes *pp (any pointer type, passed by address) to exactly n elements
 * of size bytes. */
int grow_array(void *pp, size_t n, size_t size);
/* Resizes *pp from nr to nr + more elements (the sum overflow-checked). */
int grow_array_add(void *pp, size_t nr, size_t more, size_t size);
/* Makes room for at least need elements: *cap is what *pp holds, doubled
 * (from at least GROW_MIN) until it is enough. */
int grow_array_cap(void *pp, size_t *cap, size_t need, size_t size);
/* Resizes *pp from *nr to n elements, n > *nr, zeroing the new ones; *nr = n.
 * For tables indexed by an id: the caller bounds the id first. */
int grow_array_zero(void *pp, size_t *nr, size_t n, size_t size);

#define GROW_MIN 16

/* Room for one more element after the nr that *pp holds. */
#define grow_one(pp, nr)	grow_array_add((pp), (nr), 1, sizeof(**(pp)))
/* Room for more elements after the nr that *pp holds. */
#define grow_by(pp, nr, more)	grow_array_add((pp), (nr), (more), sizeof(**(pp)))
/* Exactly n elements. */
#define grow_to(pp, n)		grow_array((pp), (n), sizeof(**(pp)))
/* At least need elements, capacity *capp (a size_t) doubled. */
#define grow_cap(pp, capp, need) grow_array_cap((pp), (capp), (need), sizeof(**(pp)))
/* From *nrp (a size_t) to n elements, the new ones zeroed. */
#define grow_zero(pp, nrp, n)	grow_array_zero((pp), (nrp), (n), sizeof(**(pp)))

#endif
