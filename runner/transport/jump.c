/*
 * transport_jump.c - the `ssh` transport's jump hosts (ProxyJump).
 *
 * A jump host gets a session of its own, checked and authenticated like
 * any node (kp_ssh_session_open); a direct-tcpip channel through it is
 * pumped by a thread into a socketpair whose other end is the target
 * session's fd (libssh 0.10 can only do ProxyJump by running the ssh
 * binary).
 */
#include "transport/ssh_config.h"
#include "transport/ssh_int.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libssh/libssh.h>

/* A jump host: its session, the direct-tcpip channel, and the pump thread
 * between the channel and our end of the socketpair. */
struct jump {
	ssh_session s;
	ssh_channel ch;
	int fd;
	pthread_t th;
	bool running;
	atomic_bool stop;
};

struct pipe_buf {
	char *p;
	size_t off, len;
};

/* Move bytes between the direct-tcpip channel and the socketpair until
 * either side ends or we are told to stop. Both directions are buffered
 * and nonblocking, so neither side can wedge the other. */
static void *pump_main(void *arg)
{
	struct jump *j = arg;
	struct pipe_buf up = {kp_xmalloc(CHUNK), 0, 0}, down = {kp_xmalloc(CHUNK), 0, 0};
	bool sock_eof = false, chan_eof = false;
	ssh_event ev = ssh_event_new();
	short interest = 0;

	ssh_set_blocking(j->s, 0);
	ssh_event_add_session(ev, j->s);
	while (!atomic_load(&j->stop)) {
		/* channel -> socket */
		if (down.off == down.len && !chan_eof) {
			int n = ssh_channel_read_nonblocking(j->ch, down.p, CHUNK, 0);
			if (n > 0) {
				down.off = 0;
				down.len = (size_t)n;
			} else if (n == SSH_EOF || (n == 0 && ssh_channel_is_eof(j->ch))) {
				chan_eof = true;
				shutdown(j->fd, SHUT_WR);
			} else if (n < 0) {
				break;
			}
		}
		if (down.off < down.len) {
			ssize_t w = send(j->fd, down.p + down.off, down.len - down.off,
					 MSG_DONTWAIT | MSG_NOSIGNAL);
			if (w > 0)
				down.off += (size_t)w;
			else if (w < 0 && errno != EAGAIN && errno != EINTR)
				break;
		}
		/* socket -> channel */
		if (up.off == up.len && !sock_eof) {
			ssize_t n = recv(j->fd, up.p, CHUNK, MSG_DONTWAIT);
			if (n > 0) {
				up.off = 0;
				up.len = (size_t)n;
			} else if (n == 0) {
				sock_eof = true;
				ssh_channel_send_eof(j->ch);
			} else if (errno != EAGAIN && errno != EINTR) {
				break;
			}
		}
		if (up.off < up.len) {
			uint32_t win = ssh_channel_window_size(j->ch);
			size_t want = up.len - up.off < win ? up.len - up.off : win;
			if (want) {
				int w = ssh_channel_write(j->ch, up.p + up.off, (uint32_t)want);
				if (w < 0)
					break;
				up.off += (size_t)w;
			}
		}
		if ((sock_eof && chan_eof) || ssh_channel_is_closed(j->ch))
			break;
		/* Wait on the socket only for what we can take now. */
		short want = (short)((up.off == up.len && !sock_eof ? POLLIN : 0) |
				     (down.off < down.len ? POLLOUT : 0));
		if (want != interest) {
			if (interest)
				ssh_event_remove_fd(ev, j->fd);
			if (want)
				ssh_event_add_fd(ev, j->fd, want, NULL, NULL);
			interest = want;
		}
		bool more = (down.off == down.len && !chan_eof && ssh_channel_poll(j->ch, 0) > 0);
		if (!more && ssh_event_dopoll(ev, 200) == SSH_ERROR && !ssh_is_connected(j->s))
			break;
	}
	/* The target session sees EOF and reports the connection as lost. */
	shutdown(j->fd, SHUT_RDWR);
	if (interest)
		ssh_event_remove_fd(ev, j->fd);
	ssh_event_remove_session(ev, j->s);
	ssh_event_free(ev);
	free(up.p);
	free(down.p);
	return NULL;
}

void kp_ssh_jump_free(struct jump *j)
{
	if (!j)
		return;
	if (j->running) {
		atomic_store(&j->stop, true);
		pthread_join(j->th, NULL);
	}
	if (j->ch) {
		ssh_channel_close(j->ch);
		ssh_channel_free(j->ch);
	}
	if (j->s) {
		ssh_disconnect(j->s);
		ssh_free(j->s);
	}
	if (j->fd >= 0)
		close(j->fd);
	free(j);
}

/* Connect to the jump host and open a channel from it to addr:port; *fd
 * gets the socket the target session should use. */
kp_rc kp_ssh_jump_open(const struct kp_conn *c, const char *spec, const char *addr, int port,
		       const char *known_hosts, struct jump **out, int *fd, struct kp_buf *err)
{
	struct kp_sshcfg cfg = {0};
	char *juser = NULL, *jhost = NULL, *cfgpath = NULL;
	int jport = 0, sv[2] = {-1, -1};
	struct jump *j = kp_xcalloc(1, sizeof(*j));
	kp_rc rc;

	j->fd = -1;
	if ((rc = kp_ssh_parse_jump(spec, &juser, &jhost, &jport, err)))
		goto fail;
	if (!c->ssh_config) {
		char *home = kp_home_dir();
		struct kp_buf p = KP_BUF_INIT;
		kp_buf_addf(&p, "%s/.ssh/config", home);
		free(home);
		cfgpath = kp_buf_detach(&p, NULL);
	} else if (*c->ssh_config) {
		cfgpath = kp_xstrdup(c->ssh_config);
	}
	cfg.user = juser ? kp_xstrdup(juser) : NULL;
	cfg.port = jport;
	if (cfgpath && (rc = kp_sshcfg_lookup(cfgpath, jhost, &cfg, err)))
		goto fail;
	/* The jump host's own key from ~/.ssh/config, else the node's: in
	 * practice one key opens both. */
	struct endpoint ep = {
	    .addr = cfg.hostname ? cfg.hostname : jhost,
	    .port = cfg.port ? cfg.port : 22,
	    .user = cfg.user ? cfg.user : c->user,
	    .key_file = cfg.identity ? cfg.identity : c->key_file,
	    .password = NULL,
	    .fd = -1,
	};
	struct kp_buf why = KP_BUF_INIT;
	if ((rc = kp_ssh_session_open(c, &ep, known_hosts, &j->s, &why))) {
		rc = kp_errorf(err, rc, "jump host %s: %s", jhost, why.buf);
		kp_buf_release(&why);
		goto fail;
	}
	kp_buf_release(&why);
	j->ch = ssh_channel_new(j->s);
	if (!j->ch || ssh_channel_open_forward(j->ch, addr, port, "127.0.0.1", 0) != SSH_OK) {
		rc = kp_errorf(err, KP_ERR_UNREACHABLE, "cannot connect to %s:%d through %s: %s",
			       addr, port, jhost, ssh_get_error(j->s));
		goto fail;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) {
		rc = kp_errorf(err, KP_ERR_IO, "cannot create socketpair: %s", strerror(errno));
		goto fail;
	}
	j->fd = sv[0];
	atomic_init(&j->stop, false);
	int e = pthread_create(&j->th, NULL, pump_main, j);
	if (e) {
		close(sv[1]);
		rc = kp_errorf(err, KP_ERR_IO, "cannot start a thread: %s", strerror(e));
		goto fail;
	}
	j->running = true;
	*fd = sv[1];
	*out = j;
	goto done;
fail:
	kp_ssh_jump_free(j);
done:
	kp_sshcfg_release(&cfg);
	free(juser);
	free(jhost);
	free(cfgpath);
	return rc;
}
