/*
 * ssh_alive.c - whether a node still says anything: the bytes received on
 * the session's socket, from the kernel's TCP statistics (TCP_INFO). A
 * keepalive's answer is a packet like any other, which libssh 0.10 takes
 * without telling; this counter sees it. In a file of its own because the
 * kernel's tcp_info (linux/tcp.h) cannot share a file with netinet/tcp.h.
 */
#include <stdint.h>
#include <sys/socket.h>

#include <linux/tcp.h>

#include "transport/ssh_int.h"

uint64_t kp_ssh_rx_bytes(ssh_session s)
{
	struct tcp_info ti = {0};
	socklen_t len = sizeof(ti);
	int fd = ssh_get_fd(s);
	if (fd < 0 || getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len))
		return 0;
	return ti.tcpi_bytes_received;
}
