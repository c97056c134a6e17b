/*
 * nopidfd: an LD_PRELOAD shim whose pidfd_open() fails with ENOSYS, as it
 * does under valgrind 3.19 and on kernels before 5.3.  Lab case
 * proxy-command-no-pidfd runs the client with it, so proxy commands must
 * be watched by the polling fallback in src/transport.c.
 */
#include <errno.h>
#include <sys/types.h>

int pidfd_open(pid_t pid, unsigned int flags);

/* Never a pidfd. */
int pidfd_open(pid_t pid, unsigned int flags)
{
	(void)pid;
	(void)flags;
	errno = ENOSYS;
	return -1;
}
