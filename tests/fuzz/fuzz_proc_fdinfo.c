/* fuzz_proc_fdinfo: /proc/PID/fdinfo/FD text (lib/proc.c), as dump-files
 * reads it: position, flags, locks, and the lines of an eventfd, signalfd,
 * timerfd, epoll or inotify. */
#include "lib/proc.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text;
	struct proc_fdinfo fi;
	struct proc_fdinfo_anon a;
	struct proc_inotify_watch *w = NULL;
	struct err e = { 0 };
	int nr = 0, ret;

	fuzz_init("fuzz_proc_fdinfo");
	text = fuzz_cstr(data, size);
	fuzz_check_err(proc_parse_fdinfo(text, &fi, &e), &e, "proc_parse_fdinfo");
	memset(&a, 0, sizeof(a));
	ret = proc_parse_fdinfo_anon(text, &a, &e);
	fuzz_check_err(ret, &e, "proc_parse_fdinfo_anon");
	proc_fdinfo_anon_free(&a);
	ret = proc_parse_fdinfo_inotify(text, &w, &nr, &e);
	fuzz_check_err(ret, &e, "proc_parse_fdinfo_inotify");
	if (ret == 0)
		free(w);
	free(text);
	return 0;
}
