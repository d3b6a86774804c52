/* fuzz_proc_children: /proc/PID/task/TID/children text (lib/proc.c), a
 * list of pids, as seize reads it to find the tree. */
#include "lib/proc.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text;
	pid_t *pids = NULL;
	struct err e = { 0 };
	int nr = 0, ret;

	fuzz_init("fuzz_proc_children");
	text = fuzz_cstr(data, size);
	ret = proc_parse_pid_list(text, &pids, &nr, &e);
	fuzz_check_err(ret, &e, "proc_parse_pid_list");
	if (ret == 0)
		free(pids);
	free(text);
	return 0;
}
