#ifndef KRAKEN_AUDIT_CLIBPQ_SHIM_H
#define KRAKEN_AUDIT_CLIBPQ_SHIM_H
#include <libpq-fe.h>

/* Swift cannot import character-literal macros such as PG_DIAG_SQLSTATE ('C'). */
static const int kaPG_DIAG_SQLSTATE = PG_DIAG_SQLSTATE;
static const int kaPG_DIAG_MESSAGE_PRIMARY = PG_DIAG_MESSAGE_PRIMARY;
static const int kaPG_DIAG_MESSAGE_DETAIL = PG_DIAG_MESSAGE_DETAIL;
static const int kaPG_DIAG_MESSAGE_HINT = PG_DIAG_MESSAGE_HINT;
#endif
