/* grow: see grow.h. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/grow.h"

int grow_array(void *pp, size_t n, size_t size)
{
	void **p = pp;
	size_t bytes;
	void *v;

	if (__builtin_mul_overflow(n, size, &bytes) || bytes > PTRDIFF_MAX) {
		errno = EOVERFLOW;
		return -EOVERFLOW;
	}
	/* realloc(p, 0) may free p: an empty array still gets a block. */
	v = realloc(*p, bytes ? bytes : 1);
	if (!v) {
		errno = ENOMEM;
		return -ENOMEM;
	}
	*p = v;
	return 0;
}

int grow_array_add(void *pp, size_t nr, size_t more, size_t size)
{
	size_t n;

	if (__builtin_add_overflow(nr, more, &n)) {
		errno = EOVERFLOW;
		return -EOVERFLOW;
	}
	return grow_array(pp, n, size);
}

int grow_array_cap(void *pp, size_t *cap, size_t need, size_t size)
{
	size_t n = *cap ? *cap : GROW_MIN;
	int ret;

	if (need <= *cap)
		return 0;
	while (n < need)
		n = n > SIZE_MAX / 2 ? need : n * 2;
	if ((ret = grow_array(pp, n, size)) < 0)
		return ret;
	*cap = n;
	return 0;
}

int grow_array_zero(void *pp, size_t *nr, size_t n, size_t size)
{
	int ret;

	if (n <= *nr)
		return 0;
	if ((ret = grow_array(pp, n, size)) < 0)
		return ret;
	/* n * size did not overflow, so neither do these. */
	memset((char *)*(void **)pp + *nr * size, 0, (n - *nr) * size);
	*nr = n;
	return 0;
}
