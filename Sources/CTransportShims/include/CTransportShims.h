// Linux APIs the Glibc module map leaves out; used by the Transport event loop.
#ifndef CTRANSPORTSHIMS_H
#define CTRANSPORTSHIMS_H

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

/// accept4(2), which glibc declares only under _GNU_SOURCE.
int ctransport_accept4(int fd, struct sockaddr *address, socklen_t *length, int flags);

/// Gives the calling thread the main thread's nice value (setpriority(2) on the thread's
/// id). 0 when it already had it or now has it; -1 with errno set when it could not (a
/// lower nice value than the thread's needs CAP_SYS_NICE or RLIMIT_NICE).
int ctransport_adopt_process_priority(void);

#endif
