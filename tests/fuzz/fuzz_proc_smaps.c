/* fuzz_proc_smaps: /proc/PID/smaps text (lib/proc.c), as dump-memory reads
 * it: maps lines, Rss and Swap, VmFlags. */
#include "lib/proc.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text;
	struct proc_vma *v = NULL;
	struct err e = { 0 };
	int nr = 0, ret;

	fuzz_init("fuzz_proc_smaps");
	text = fuzz_cstr(data, size);
	ret = proc_parse_smaps(text, "/proc/1/smaps", &v, &nr, &e);
	fuzz_check_err(ret, &e, "proc_parse_smaps");
	free(text);
	if (ret == 0)
		free(v);
	return 0;
}
