/* extmnt: see extmnt.h. */
#include <stdio.h>
#include <string.h>

#include "driver/driver.h"
#include "driver/extmnt.h"

int extmnt_add(struct extmnt *x, const char *arg)
{
	const char *close = strstr(arg, "]:");

	if (strncmp(arg, "mnt[", 4))
		return 0;
	if (!close || close == arg + 4 || !close[2]) {
		drv_error("--external '%s': want mnt[MOUNTPOINT]:NAME at dump, mnt[NAME]:PATH at restore", arg);
		return -1;
	}
	if (x->nr == EXTMNT_MAX) {
		drv_error("--external '%s': at most %d external mounts", arg, EXTMNT_MAX);
		return -1;
	}
	x->arg[x->nr++] = arg;
	return 1;
}
