/* fuzz_stage_restore_files: restore-files' stdin (RUN/NN-restore-files.in:
 * 'task' records from collect-pstree, 'remap' from collect-remaps, 'mntns'
 * from build-mntns) and the images it reads with it (files.img, each
 * task's fdinfo-PID.img, from the bundle), read and checked by the stage's
 * own restore_files_read, then its checks of what the files hold: the
 * files in flight in unix sockets' queues, and the keys of descriptions
 * the dump left outside the tree (with no --inherit-fd given). Nothing is
 * opened but the images. */
#include "stages/restore-files/reopen.h"
#include "tests/fuzz/fuzz.h"
#include "tests/fuzz/mutate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct reopen r;
	struct err e = { 0 };
	int fd, ret;

	fuzz_init("restore-files");
	fd = fuzz_bundle(data, size);
	ret = restore_files_read(fd, fuzz_dir_fd, &r, &e);
	fuzz_check_err(ret, &e, "restore_files_read");
	if (ret >= 0) {
		ret = reopen_unix_mark_inflight(&r, &e);
		fuzz_check_err(ret, &e, "reopen_unix_mark_inflight");
	}
	if (ret >= 0)
		fuzz_check_err(reopen_match_inherits(&r, -1, "--shell-job", &e), &e, "reopen_match_inherits");
	reopen_ns_free(r.ns);
	reopen_free(&r);
	close(fd);
	return 0;
}
