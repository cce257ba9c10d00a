/* Event generator for bench/kernel.sh: N failing opens, each one `file` event.
 *
 *   burst N RATE [PATH [PROCS]]     RATE events/s in all (0 = as fast as possible)
 *
 * Opens PATH (default /nonexistent/agentsight-burst), which must not exist, N times in all,
 * split over PROCS processes (default 1); paced runs sleep (clock_nanosleep, absolute) after
 * each batch of ~1 ms worth of calls. Prints "<calls> <seconds> <calls per second>" on stdout.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int run(long n, double rate, const char *path)
{
	long batch = rate > 0 ? (long)(rate / 1000) : n;
	if (batch < 1)
		batch = 1;

	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	long done = 0;
	while (done < n) {
		long end = done + batch < n ? done + batch : n;
		for (; done < end; done++) {
			int fd = open(path, O_RDONLY);
			if (fd >= 0) {
				fprintf(stderr, "burst: %s exists\n", path);
				return 1;
			}
		}
		if (rate > 0 && done < n) {
			double at = done / rate; /* when the next batch is due, from t0 */
			struct timespec due = t0;
			due.tv_sec += (time_t)at;
			due.tv_nsec += (long)((at - (time_t)at) * 1e9);
			if (due.tv_nsec >= 1000000000L) {
				due.tv_sec++;
				due.tv_nsec -= 1000000000L;
			}
			while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &due, NULL) == EINTR)
				;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: %s N RATE [PATH [PROCS]]\n", argv[0]);
		return 2;
	}
	long n = atol(argv[1]);
	double rate = atof(argv[2]);
	const char *path = argc > 3 ? argv[3] : "/nonexistent/agentsight-burst";
	int procs = argc > 4 ? atoi(argv[4]) : 1;
	if (procs < 1)
		procs = 1;

	double start = now();
	int failed = 0;
	for (int p = 1; p < procs; p++) {
		pid_t pid = fork();
		if (pid < 0) {
			perror("burst: fork");
			return 1;
		}
		if (pid == 0)
			_exit(run(n / procs, rate / procs, path));
	}
	failed |= run(n - (n / procs) * (procs - 1), rate / procs, path);
	for (int status; wait(&status) > 0;)
		failed |= !WIFEXITED(status) || WEXITSTATUS(status);
	double secs = now() - start;
	printf("%ld %.3f %.0f\n", n, secs, n / secs);
	return failed;
}
