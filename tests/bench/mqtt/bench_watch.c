/* Watches a counter on sluice's /metrics until it reaches COUNT, polling
 * every 2 ms over plain sockets (a curl per poll would steal the CPU being
 * measured); prints the rate between the first poll that saw it move and
 * the one that saw it reach COUNT.
 *   mqtt_bench_watch HTTP_PORT SERIES COUNT TIMEOUT_S
 * SERIES is the metric line up to the value, e.g.
 *   sluice_file_discarded_total{pipeline="bench",stage="sink"} */
#include "bench_common.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static char buf[1 << 20];

static double scrape(int port, const char *series)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0)
        bench_die("socket failed");
    if (connect(fd, (struct sockaddr *)&a, sizeof a)) {
        close(fd);
        return -1;           /* not listening yet: sluice is starting */
    }
    static const char req[] = "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if (write(fd, req, sizeof req - 1) < 0)
        bench_die("write failed");
    size_t n = 0;
    ssize_t r;
    while (n < sizeof buf - 1 && (r = read(fd, buf + n, sizeof buf - 1 - n)) > 0)
        n += (size_t)r;
    close(fd);
    buf[n] = '\0';
    size_t sl = strlen(series);
    for (char *p = buf; (p = strstr(p, series)); p += sl)
        if ((p == buf || p[-1] == '\n') && p[sl] == ' ')
            return strtod(p + sl + 1, NULL);
    return -1;
}

int main(int argc, char **argv)
{
    if (argc != 5)
        bench_die("usage: mqtt_bench_watch HTTP_PORT SERIES COUNT TIMEOUT_S");
    int port = (int)bench_arg(argv[1], "port");
    const char *series = argv[2];
    double want = (double)bench_arg(argv[3], "count");
    double deadline = bench_now() + (double)bench_arg(argv[4], "timeout");
    double t_first = 0, v_first = 0, v = 0;
    struct timespec tick = {0, 5000000};
    while (bench_now() < deadline) {
        v = scrape(port, series);
        double now = bench_now();
        if (v > 0 && t_first == 0) {
            t_first = now;
            v_first = v;
        }
        if (v >= want) {
            if (now <= t_first)
                bench_die("all %0.f arrived between two polls: raise COUNT", want);
            printf("sluice: %.0f messages in %.3f s: %.0f msg/s\n", want - v_first,
                   now - t_first, (want - v_first) / (now - t_first));
            return 0;
        }
        nanosleep(&tick, NULL);
    }
    bench_die("%s reached only %.0f of %.0f", series, v, want);
}
