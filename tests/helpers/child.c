/*
 * child.c: example servers as child processes (child.h).
 */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "child.h"

int free_port(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert(ge(int, fd, 0));
    cr_assert(eq(int, bind(fd, (struct sockaddr *)&sa, sizeof sa), 0));
    cr_assert(eq(int, getsockname(fd, (struct sockaddr *)&sa, &len), 0));
    close(fd);
    return ntohs(sa.sin_port);
}

int connect_port(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert(ge(int, fd, 0));
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    struct timeval tv = {.tv_sec = 20};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    return fd;
}

/* example_path writes $B/examples/NAME: this binary is $B/tests/NAME. */
static void example_path(char *buf, size_t len, const char *name)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    cr_assert(gt(long, (long)n, 0L));
    exe[n] = '\0';
    *strrchr(exe, '/') = '\0'; /* $B/tests */
    *strrchr(exe, '/') = '\0'; /* $B */
    snprintf(buf, len, "%s/examples/%s", exe, name);
    cr_assert(eq(int, access(buf, X_OK), 0),
              "no %s: make examples (kvhttp: make kvhttp)", buf);
}

/* exec_child is the child's side of child_server_start; never returns. */
static void exec_child(const char *path, const char *name, int port,
                       const char *const *args, const char *const *env,
                       bool keep_stderr)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    int null = open("/dev/null", O_WRONLY); /* its banner and result */
    dup2(null, 1);
    if (!keep_stderr)
        dup2(null, 2);
    for (int i = 0; env && env[i]; i++)
        putenv((char *)env[i]);
    char portarg[16];
    snprintf(portarg, sizeof portarg, "%d", port);
    const char *argv[32] = {name, "-port", portarg};
    int argc = 3;
    for (int i = 0; args && args[i] && argc < 31; i++)
        argv[argc++] = args[i];
    execv(path, (char *const *)argv);
    _exit(127);
}

void child_server_start(struct child_server *s, const char *name,
                        const char *const *args, const char *const *env,
                        bool keep_stderr)
{
    char path[PATH_MAX + 32];
    example_path(path, sizeof path, name);
    for (int attempt = 0; attempt < 5; attempt++) {
        s->port = free_port();
        s->pid = fork();
        cr_assert(ge(int, s->pid, 0));
        if (s->pid == 0)
            exec_child(path, name, s->port, args, env, keep_stderr);
        for (int i = 0; i < 2000; i++) { /* up to 20 s to listen */
            int fd = connect_port(s->port);
            if (fd >= 0) {
                close(fd);
                return;
            }
            if (waitpid(s->pid, NULL, WNOHANG) == s->pid)
                break; /* it could not listen: another port */
            nanosleep(&(struct timespec){.tv_nsec = 10000000}, NULL);
        }
        child_server_stop(s);
    }
    cr_assert(0, "%s did not start listening", name);
}

int child_server_stop(struct child_server *s)
{
    int status = -1;
    if (s->pid > 0) {
        kill(s->pid, SIGTERM);
        if (waitpid(s->pid, &status, 0) != s->pid)
            status = -1;
        s->pid = 0;
    }
    return status;
}

size_t exchange_all(int port, const char *req, size_t len, char *out,
                    size_t cap)
{
    int fd = connect_port(port);
    cr_assert(ge(int, fd, 0), "connect to port %d", port);
    for (size_t off = 0; off < len;) {
        ssize_t n = send(fd, req + off, len - off, MSG_NOSIGNAL);
        if (n <= 0)
            break; /* the server refused and closed: read its answer */
        off += (size_t)n;
    }
    shutdown(fd, SHUT_WR);
    size_t got = 0;
    for (ssize_t n; got + 1 < cap &&
                    (n = recv(fd, out + got, cap - 1 - got, 0)) > 0;)
        got += (size_t)n;
    close(fd);
    out[got] = '\0';
    return got;
}
