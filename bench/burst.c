/* Event generator for bench/kernel.sh: N failing opens, each one `file` event.
 *
 *   burst N RATE [PATH]     RATE events/s (0 = as fast as possible)
 *
 * Opens PATH (default /nonexistent/agentsight-burst), which must not exist, N times; paced runs
 * sleep (clock_nanosleep, absolute) after each batch of ~1 ms worth of calls. Prints
 * "<calls> <seconds> <calls per second>" on stdout.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: %s N RATE [PATH]\n", argv[0]);
		return 2;
	}
	long n = atol(argv[1]);
	double rate = atof(argv[2]);
	const char *path = argc > 3 ? argv[3] : "/nonexistent/agentsight-burst";
	long batch = rate > 0 ? (long)(rate / 1000) : n;
	if (batch < 1)
		batch = 1;

	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	double start = now();
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
	double secs = now() - start;
	printf("%ld %.3f %.0f\n", done, secs, done / secs);
	return 0;
}
