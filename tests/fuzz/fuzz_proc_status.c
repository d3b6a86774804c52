/* fuzz_proc_status: /proc/PID/status text (lib/proc.c), as seize reads it:
 * names, ids, signal masks, capabilities, NSpid. */
#include "lib/proc.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text;
	struct proc_status st;
	struct err e = { 0 };

	fuzz_init("fuzz_proc_status");
	text = fuzz_cstr(data, size);
	fuzz_check_err(proc_parse_status(text, &st, &e), &e, "proc_parse_status");
	free(text);
	return 0;
}
