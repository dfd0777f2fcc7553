/* authd/sock.c — opening the listening sockets (UDP for the workers, TCP for
 * the TCP side): options, bind, listen.  Main thread. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "authd/sock.h"
#include "common/err.h"

#define SOCK_BACKLOG 128

static bool is_wildcard(const struct bsc_sockaddr *a)
{
	if (a->u.sa.sa_family == AF_INET)
		return a->u.in.sin_addr.s_addr == htonl(INADDR_ANY);
	if (a->u.sa.sa_family == AF_INET6)
		return IN6_IS_ADDR_UNSPECIFIED(&a->u.in6.sin6_addr);
	return false;
}

static int sock_setopt(int fd, int level, int name)
{
	int one = 1;
	return setsockopt(fd, level, name, &one, sizeof one) != 0 ? bsc_err_sys(errno) : 0;
}

int sock_open(const struct bsc_sockaddr *addr, int type, int *out, struct bsc_sockaddr *bound)
{
	int family = addr->u.sa.sa_family;
	bool udp = type == SOCK_DGRAM;
	int rc = 0;

	*out = -1;
	int fd = socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return bsc_err_sys(errno);
	rc = sock_setopt(fd, SOL_SOCKET, SO_REUSEADDR);
	if (!rc && udp)
		rc = sock_setopt(fd, SOL_SOCKET, SO_REUSEPORT);
	if (!rc && family == AF_INET6)
		rc = sock_setopt(fd, IPPROTO_IPV6, IPV6_V6ONLY);
	if (!rc && udp && is_wildcard(addr))
		rc = family == AF_INET6 ? sock_setopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO) :
					  sock_setopt(fd, IPPROTO_IP, IP_PKTINFO);
	if (rc)
		goto out;
	socklen_t len = addr->len ? addr->len :
				    (family == AF_INET6 ? sizeof(struct sockaddr_in6) :
							  sizeof(struct sockaddr_in));
	if (bind(fd, &addr->u.sa, len) != 0 || (!udp && listen(fd, SOCK_BACKLOG) != 0)) {
		rc = bsc_err_sys(errno);
		goto out;
	}
	memset(bound, 0, sizeof *bound);
	bound->len = sizeof bound->u.ss;
	if (getsockname(fd, &bound->u.sa, &bound->len) != 0) {
		rc = bsc_err_sys(errno);
		goto out;
	}
	*out = fd;
	fd = -1;
out:
	if (fd >= 0)
		close(fd);
	return rc;
}
