/* fuzz_proc_stat: /proc/PID/stat text (lib/proc.c), as seize and
 * collect-pstree read it. */
#include "lib/proc.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text;
	struct proc_stat st;
	struct err e = { 0 };

	fuzz_init("fuzz_proc_stat");
	text = fuzz_cstr(data, size);
	fuzz_check_err(proc_parse_stat(text, &st, &e), &e, "proc_parse_stat");
	free(text);
	return 0;
}
