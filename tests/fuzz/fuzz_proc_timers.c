/* fuzz_proc_timers: /proc/PID/timers text (lib/timers.c), the POSIX timers
 * seize records. */
#include "lib/timers.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text;
	struct timers_entry *t = NULL;
	struct err e = { 0 };
	int nr = 0, ret;

	fuzz_init("fuzz_proc_timers");
	text = fuzz_cstr(data, size);
	ret = timers_parse(text, &t, &nr, &e);
	fuzz_check_err(ret, &e, "timers_parse");
	if (ret == 0)
		free(t);
	free(text);
	return 0;
}
