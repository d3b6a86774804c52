/* chroot: a task's root directory, entered from outside once the task no
 * longer needs the namespace's paths.
 *
 * The dumped root (fs-PID.img) is a path of the task's mount namespace, as
 * are the files it maps and its exe, which the transplant opens by path in
 * the task. So the task, still amber's code, only opens its root and cwd
 * O_PATH (fork.c; a root under an overmount comes from build-mntns through
 * restore-files), and the stage chroots it here, after those opens and
 * before its credentials drop CAP_SYS_CHROOT: fchdir to the root, chroot
 * ".", fchdir back to the cwd, close both. Threads come later and share
 * the root (CLONE_FS).
 */
#include <string.h>
#include <sys/syscall.h>

#include "lib/rsys.h"
#include "stages/restore-tasks/batch.h"
#include "stages/restore-tasks/restore-tasks.h"

int rt_chroot(struct rsys *r, struct rt_task *t, struct err *e)
{
	static const char dot[] = ".";
	int ret;

	if (t->chroot_fd[0] < 0)
		return 0;
	if ((ret = rsys_poke(t->pid, RT_SCRATCH(t), dot, sizeof(dot), e)) < 0 ||
	    (ret = rt_sys(r, NULL, "fchdir to its root", SYS_fchdir, t->chroot_fd[0], 0, 0, 0, 0, 0, e)) < 0 ||
	    (ret = rt_sys(r, NULL, "chroot", SYS_chroot, RT_SCRATCH(t), 0, 0, 0, 0, 0, e)) < 0 ||
	    (ret = rt_sys(r, NULL, "fchdir back to its cwd", SYS_fchdir, t->chroot_fd[1], 0, 0, 0, 0, 0, e)) < 0)
		return err_wrap(e, "pid %u: enter its dumped root '%s' (cwd '%s')", t->pe->pid, t->fs->root, t->fs->cwd);
	for (int k = 0; k < 2; k++)
		if ((ret = rt_sys(r, NULL, "close the root and cwd fds", SYS_close, t->chroot_fd[k], 0, 0, 0, 0, 0, e)) < 0)
			return ret;
	t->chroot_fd[0] = t->chroot_fd[1] = -1;
	return 0;
}
