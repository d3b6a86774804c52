/* amber-stubfs: the stub file systems that stand in for delayed mounts.
 *
 * What it does
 *	Serves, with libfuse3, the FUSE connections build-mntns made for the
 *	mounts `restore --delay-mount` names: each is a stub (stub.c) that
 *	holds the names, modes and sizes restore-files makes on it, answers
 *	lookups and stats of those, and never answers with data it does not
 *	have. While the tree is being restored a read or write is refused
 *	(EIO, logged naming the path); once amber-mountd says `run`, every
 *	other request waits unanswered, its task blocked in it; when it says
 *	`real ID` with the real mount's root, the held requests of stub ID are
 *	done on the real mount by the same path and answered, and so is every
 *	later one until the stub is unmounted. amber-mountd starts it, and it
 *	ends when amber-mountd says `quit` or goes away: then every stub's
 *	connection closes, and a request still held fails (ECONNABORTED).
 *
 * Inputs	stdin is not read. Named fd `stubs`: the /dev/fuse fds, named by
 *	the delayed mount's id (ipc/fdpass.h), up to the end marker.
 *
 * Options	none but the common ones; no images directory.
 *
 * Outputs	stdout: nothing. Replies on the `mountd` socket
 *	(lib/delayproto.h): `ok` to `run`, `ok N` to `real ID` (N requests
 *	were held and are now answered), `error CODE TEXT`.
 *
 * Named fds	`stubs` (required): as above. `mountd` (required): a
 *	SOCK_SEQPACKET socket to amber-mountd, one message each way per
 *	command (`run`, `real ID` with an fd, `quit`).
 *
 * Exit status	0 after `quit` or when amber-mountd is gone; 5 for a
 *	message that is not one; 4 when a connection cannot be served.
 *
 * Side effects	none outside the stubs: a held request holds its task.
 *
 * Capabilities	CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER: a
 *	request held for the tree is done on the real mount as root, on files
 *	of any owner the tree could reach.
 *
 * By hand
 *	only under amber-mountd, which makes its fds: see amber-mountd.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipc/fdpass.h"
#include "ipc/fds.h"
#include "ipc/stage.h"
#include "lib/cleanup.h"
#include "lib/delayproto.h"
#include "lib/exitcodes.h"
#include "lib/grow.h"
#include "lib/log.h"
#include "stages/stubfs/stubfs.h"

struct stubfs {
	struct stub *s;
	int nr;
};

/* Takes the /dev/fuse fds build-mntns sent, up to its end marker. */
static int stubfs_take(struct stubfs *fs, int sock, struct err *e)
{
	int fds[FDPASS_BATCH], n, ret;
	uint32_t ids[FDPASS_BATCH];

	while ((n = fdpass_recv(sock, fds, ids, e)) > 0)
		for (int i = 0; i < n; i++) {
			if (grow_one(&fs->s, fs->nr) < 0)
				return err_errno(e, "keep stub %u", ids[i]);
			memset(&fs->s[fs->nr], 0, sizeof(fs->s[0]));
			fs->s[fs->nr].mnt_id = ids[i];
			fs->s[fs->nr].fuse_fd = fds[i];
			if ((ret = stub_start(&fs->s[fs->nr++], e)) < 0)
				return ret;
			pr_info("serving the stub of mount %u", ids[i]);
		}
	return n;
}

/* One command of amber-mountd; 1 to go on, 0 to quit. */
static int stubfs_command(struct stubfs *fs, int sock, struct err *e)
{
	char buf[DP_MAX_MSG], out[256];
	size_t pos = 0, len = 0;
	struct dp_line l;
	int fd = -1, ret;
	ssize_t n = dp_recv(sock, buf, sizeof(buf), &fd, e);

	if (n <= 0)
		return n;
	if ((ret = dp_next(buf, n, &pos, &l, e)) <= 0) {
		if (fd >= 0)
			close(fd);
		return ret < 0 ? ret : err_set(e, EXIT_PROTOCOL, "an empty command from amber-mountd");
	}
	if (!strcmp(l.verb, "quit"))
		return 0;
	if (!strcmp(l.verb, "run")) {
		for (int i = 0; i < fs->nr; i++)
			fs->s[i].mode = STUB_RUN;
		pr_info("the tree runs: requests for data on the stubs wait for their real mounts");
		dp_add(out, sizeof(out), &len, "ok", NULL, 0, e);
	} else if (!strcmp(l.verb, "real") && l.nr == 1 && fd >= 0) {
		struct stub *s = NULL;
		char num[32];
		const char *f[] = { num };

		for (int i = 0; i < fs->nr; i++)
			if (fs->s[i].mnt_id == strtoul(l.f[0], NULL, 10))
				s = &fs->s[i];
		if (!s) {
			close(fd);
			return err_set(e, EXIT_PROTOCOL, "amber-mountd named stub '%s', which is not one of ours", l.f[0]);
		}
		snprintf(num, sizeof(num), "%d", stub_go_real(s, fd));
		pr_info("stub of mount %u: %s held requests answered from the real mount", s->mnt_id, num);
		dp_add(out, sizeof(out), &len, "ok", f, 1, e);
	} else {
		if (fd >= 0)
			close(fd);
		return err_set(e, EXIT_PROTOCOL, "unknown command '%s' from amber-mountd", l.verb);
	}
	if ((ret = dp_send(sock, out, len, -1, e)) < 0)
		return ret;
	return 1;
}

static int stubfs_run(const struct stage_ctx *ctx, void *opts, struct err *e)
{
	struct stubfs fs = { NULL, 0 };
	int sock = stage_fd(ctx, FD_NAME_MOUNTD), ret;

	if ((ret = stubfs_take(&fs, stage_fd(ctx, FD_NAME_STUBS), e)) < 0)
		goto out;
	for (;;) {
		_cleanup_free_ struct pollfd *p = calloc(fs.nr + 1, sizeof(*p));

		if (!p) {
			ret = err_errnum(e, ENOMEM, "poll %d stubs", fs.nr);
			break;
		}
		p[0] = (struct pollfd){ sock, POLLIN, 0 };
		for (int i = 0; i < fs.nr; i++)
			p[i + 1] = (struct pollfd){ fs.s[i].gone ? -1 : fuse_session_fd(fs.s[i].se), POLLIN, 0 };
		if (poll(p, fs.nr + 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			ret = err_errno(e, "poll the stubs");
			break;
		}
		for (int i = 0; i < fs.nr; i++)
			if (p[i + 1].revents && stub_serve(&fs.s[i]) < 0)
				pr_info("stub of mount %u: its connection ended (unmounted)", fs.s[i].mnt_id);
		if (p[0].revents && (ret = stubfs_command(&fs, sock, e)) <= 0)
			break;
	}
out:
	for (int i = 0; i < fs.nr; i++)
		stub_free(&fs.s[i]);
	free(fs.s);
	return ret;
}

static const struct stage_desc stubfs_desc = {
	.name = "stubfs",
	.summary = "Serve the FUSE stubs of delayed mounts for amber-mountd.",
	.usage = "",
	.caps = { CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER },
	.nr_caps = 3,
	.fds = { FD_NAME_STUBS, FD_NAME_MOUNTD },
	.no_images_dir = true,
	.run = stubfs_run,
};

int main(int argc, char **argv)
{
	static char opts;

	return stage_main(&stubfs_desc, &opts, argc, argv);
}
