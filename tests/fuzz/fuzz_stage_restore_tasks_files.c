/* fuzz_stage_restore_tasks_files: restore-tasks' other input stream, the
 * files socket: batches of descriptors with their file ids, then the end
 * marker, as restore-files sends them (ipc/fdpass.c), taken by the stage's
 * own rt_receive_files. Every descriptor received must be kept or closed. */
#include "stages/restore-tasks/restore-tasks.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int before;
	struct rt_plan p;
	struct err e = { 0 };
	int sk;

	fuzz_init("restore-tasks");
	close(fuzz_socket(NULL, 0));	/* what it keeps open, opened */
	before = fuzz_count_fds();
	sk = fuzz_socket(data, size);
	memset(&p, 0, sizeof(p));
	fuzz_check_err(rt_receive_files(&p, sk, &e), &e, "rt_receive_files");
	close(sk);
	rt_plan_free(&p);
	fuzz_check_fds(before);
	return 0;
}
