/* protocol/zygote_protocol.h — what plugbayd and a zygote say to each other over the
 * socketpair that is the zygote's standard input (broker/zygote.h,
 * bridges/common/zygote.h).
 *
 * Each is one message of a SOCK_SEQPACKET socket. The zygote first sends
 * BAY_ZYGOTE_READY, once its language is ready. A request is a byte (1: the
 * worker gets namespaces of its own), the worker's folder and then each
 * "NAME=value" of its environment, each ended by a NUL, at most
 * BAY_ZYGOTE_REQUEST_MAX bytes, with the worker's output descriptor
 * (SCM_RIGHTS). Its answer is a bay__zygote_reply. */
#ifndef BAY_ZYGOTE_PROTOCOL_H
#define BAY_ZYGOTE_PROTOCOL_H

#include <stdint.h>

#define BAY_ZYGOTE_REQUEST_MAX (64 * 1024)
#define BAY_ZYGOTE_READY 'R'

typedef struct bay__zygote_reply {
    int32_t pid;   /* the worker's, as plugbayd's PID namespace numbers it; 0 when it failed */
    int32_t err;   /* then the errno of the step that failed, */
    char what[56]; /* and that step */
} bay__zygote_reply;

#endif
