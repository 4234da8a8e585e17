#define _GNU_SOURCE
#include <errno.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include "CTransportShims.h"

int ctransport_accept4(int fd, struct sockaddr *address, socklen_t *length, int flags) {
    return accept4(fd, address, length, flags);
}

int ctransport_adopt_process_priority(void) {
    // On Linux each thread has its own nice value, and PRIO_PROCESS names one thread: the
    // process id is the main thread, 0 the calling thread.
    errno = 0;
    int wanted = getpriority(PRIO_PROCESS, (id_t)getpid());
    if (wanted == -1 && errno != 0) return -1;
    errno = 0;
    int current = getpriority(PRIO_PROCESS, 0);
    if (current == -1 && errno != 0) return -1;
    if (current == wanted) return 0;
    return setpriority(PRIO_PROCESS, 0, wanted);
}
