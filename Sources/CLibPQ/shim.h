#ifndef KEYCOORD_CLIBPQ_SHIM_H
#define KEYCOORD_CLIBPQ_SHIM_H
#include <libpq-fe.h>
#endif
