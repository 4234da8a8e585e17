// Linux APIs the Glibc module map leaves out; used by the Transport event loop.
#ifndef CTRANSPORTSHIMS_H
#define CTRANSPORTSHIMS_H

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

/// accept4(2), which glibc declares only under _GNU_SOURCE.
int ctransport_accept4(int fd, struct sockaddr *address, socklen_t *length, int flags);

#endif
