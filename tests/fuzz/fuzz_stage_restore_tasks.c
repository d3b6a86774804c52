/* fuzz_stage_restore_tasks: restore-tasks' stdin (RUN/NN-restore-tasks.in:
 * 'task' records from collect-pstree, 'mntns' from build-mntns, 'fd_plan',
 * 'fs_plan' and 'epoll_add' from restore-files), read and checked by the
 * stage's own rt_plan_read and, as if restore-files had sent files with
 * the ids below FUZZ_FILES, rt_plan_check; then each task's images
 * (core-TID.img, mm-PID.img, fs-PID.img, pagemap-PID.img from the bundle)
 * loaded and checked by its rt_load. Nothing is forked or mapped. */
#include "stages/restore-tasks/restore-tasks.h"
#include "tests/fuzz/fuzz.h"
#include "tests/fuzz/mutate.h"

#define FUZZ_FILES 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rt_plan p;
	struct err e = { 0 };
	int fd, ret;

	fuzz_init("restore-tasks");
	fd = fuzz_bundle(data, size);
	memset(&p, 0, sizeof(p));
	ret = rt_plan_read(fd, &p, &e);
	fuzz_check_err(ret, &e, "rt_plan_read");
	if (ret == 0) {
		/* The files restore-files would have sent: /dev/null stands for each. */
		if (!(p.file_fd = malloc(FUZZ_FILES * sizeof(*p.file_fd))))
			abort();
		for (p.nr_ids = 0; p.nr_ids < FUZZ_FILES; p.nr_ids++)
			if ((p.file_fd[p.nr_ids] = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0)
				abort();
		ret = rt_plan_check(&p, &e);
		fuzz_check_err(ret, &e, "rt_plan_check");
	}
	for (int i = 0; ret == 0 && i < p.nr; i++)
		if (!p.tasks[i].pe->zombie && !p.tasks[i].pe->helper) {
			ret = rt_load(fuzz_dir_fd, &p.tasks[i], &e);
			fuzz_check_err(ret, &e, "rt_load");
		}
	rt_plan_free(&p);
	close(fd);
	return 0;
}
