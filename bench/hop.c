/* hop.c - the cost of one round trip between two processes over a
 * SOCK_SEQPACKET socketpair, as between the EST service and its signer
 * (enroll/signer.c). bench/est.sh builds and runs it for its one-client
 * floor; it is not part of sitepki.
 *
 *   hop [N [BUSY_US]]   N round trips (default 5000); each side works
 *                       BUSY_US microseconds (default 200) before it
 *                       answers, so that the peer's CPU has gone idle
 *                       as it does in the service, where the signer
 *                       works for ~0.4 ms per request.
 *
 * Prints "<us>" : the wall time of a round trip minus the work on both
 * sides, i.e. what the two hand-offs cost (wake-up, scheduling, copies). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static void work(double us)
{
	double end = now_us() + us;

	while (now_us() < end)
		;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? strtol(argv[1], NULL, 10) : 5000;
	double busy = argc > 2 ? strtod(argv[2], NULL) : 200;
	int sv[2], status;
	char b = 0;
	double t0;
	pid_t pid;

	if (n < 1 || busy < 0 || socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) != 0) {
		fprintf(stderr, "usage: hop [N >= 1 [BUSY_US >= 0]]\n");
		return 2;
	}
	pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0) {
		for (long i = 0; i < n; i++) {
			if (read(sv[1], &b, 1) != 1)
				_exit(1);
			work(busy);
			if (write(sv[1], &b, 1) != 1)
				_exit(1);
		}
		_exit(0);
	}
	t0 = now_us();
	for (long i = 0; i < n; i++) {
		work(busy);
		if (write(sv[0], &b, 1) != 1 || read(sv[0], &b, 1) != 1)
			return 1;
	}
	printf("%.1f\n", (now_us() - t0) / n - 2 * busy);
	return waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
