/* dump-files/kinds.c: the kinds of open files dump-files tells apart, in
 * the order it tries them (the first whose link prefix and match fit), with
 * what it does for each; see struct df_kind in dump-files.h. A descriptor
 * of no kind here (a link that is no path: a namespace, ...) is refused:
 * only files reachable by a path are supported yet. */
#include "stages/dump-files/dump-files.h"

const struct df_kind df_kinds[] = {
	{
		.name = "pipe",
		.prefix = "pipe:",
		.fd_type = FD_TYPE__FD_PIPE,
		.ext = EXT_PIPE,
		.in_flight = true,
		.describe = df_pipe_describe,
		.seen = df_pipe_seen,
		.check = df_pipe_check,
	},
	{
		/* Any family: one that cannot be restored is refused when described. */
		.name = "socket",
		.prefix = "socket:",
		.fd_type = FD_TYPE__FD_REG,
		.ext = EXT_SOCKET,
		.in_flight = true,
		.describe = df_socket_describe,
		.release = df_unix_release,
		.check = df_unix_check,
		.finish = df_unix_backlogs,
	},
	{
		.name = "anonymous inode",
		.prefix = "anon_inode:",
		.fd_type = FD_TYPE__FD_ANON,
		.unsupported = df_anon_unsupported,
		.describe = df_anon_describe,
		.release = df_anon_release,
	},
	{
		.name = "memfd",
		.prefix = "/memfd:",
		.match = df_memfd_match,
		.fd_type = FD_TYPE__FD_REG,
		.ext = EXT_FILE,
		.in_flight = true,
		.describe = df_memfd_describe,
	},
	{
		.name = "regular file",
		.prefix = "/",
		.match = df_regular_match,
		.fd_type = FD_TYPE__FD_REG,
		.ext = EXT_FILE,
		.in_flight = true,
		.describe = df_regular_describe,
	},
	{
		.name = "FIFO",
		.prefix = "/",
		.match = df_fifo_match,
		.fd_type = FD_TYPE__FD_REG,
		.ext = EXT_FILE,
		.unsupported = df_path_unsupported,
		.describe = df_fifo_describe,
	},
	{
		/* Directories and device nodes; what else has a path is refused. */
		.name = "path",
		.prefix = "/",
		.fd_type = FD_TYPE__FD_REG,
		.ext = EXT_FILE,
		.unsupported = df_path_unsupported,
		.describe = df_dir_describe,
	},
};

const int df_nr_kinds = sizeof(df_kinds) / sizeof(df_kinds[0]);
