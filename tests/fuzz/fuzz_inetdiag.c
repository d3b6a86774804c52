/* fuzz_inetdiag: one SOCK_DIAG_BY_FAMILY reply about a TCP or UDP socket
 * (lib/inetdiag.c: inet_diag_msg and its attributes), as dump-files gets
 * it through libnl, which hands on only messages whose length fits what
 * was received. */
#include <linux/netlink.h>

#include "lib/inetdiag.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nlmsghdr *h;
	struct inetdiag_sock *u;

	fuzz_init("fuzz_inetdiag");
	if (size < NLMSG_HDRLEN || size > 65536)
		return 0;
	h = malloc(size);
	u = malloc(sizeof(*u));
	if (!h || !u)
		abort();
	memcpy(h, data, size);
	if (h->nlmsg_len < NLMSG_HDRLEN || h->nlmsg_len > size)
		h->nlmsg_len = size;
	(void)inetdiag_parse(h, u);
	free(h);
	free(u);
	return 0;
}
