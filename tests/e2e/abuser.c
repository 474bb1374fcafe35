/* tests/e2e/abuser.c — a hostile client for test_abuse: abuses plugbayd one way, then dies without closing.
 *
 * Usage: abuser URL MODE ROUNDS, MODE one of wrong-token, vanish, junk, flood.
 * Prints "served N refused M" (rendezvous given and refused for holding too
 * many connections) and exits 0; exits 1 with a line on stderr when plugbayd
 * answers something no correct broker would. It leaves with _exit and its
 * sockets open: closing an NNG 1.5.2 socket while the peer sends can wedge
 * the closing process, and a dying process is what an abuser looks like. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nng/nng.h>

#include <plugbay/value.h>

#include "wire.h"

/* How long it waits for plugbayd: generous, as the machine may be loaded. */
#define H_ABUSER_WAIT_MS 20000

static const char *url_;
static int served, refused;

/* fail says what plugbayd did wrong and exits 1. */
static void fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    _exit(1);
}

/* rendezvous asks for a connection; false when refused for holding too many. */
static bool rendezvous(char **url, char **token)
{
    bay_error err = {0};
    if (bay__wire_rendezvous(url_, "host", "abuser", H_ABUSER_WAIT_MS, url, token, &err) == 0) {
        served++;
        return true;
    }
    if (!strstr(err.message, "not past their handshake"))
        fail("rendezvous: %s", err.message);
    refused++;
    return false;
}

static void send_raw(nng_socket s, const void *bytes, size_t len)
{
    nng_send(s, (void *)bytes, len, NNG_FLAG_NONBLOCK); /* an abuser does not care whether it arrived */
}

static nng_socket dial_pair(const char *url)
{
    nng_socket s;
    if (bay__wire_open(&s) != 0 || nng_dial(s, url, NULL, 0) != 0)
        fail("cannot dial %s", url);
    return s;
}

/* wrong_token: HELLO with a wrong token, read the ERROR, send more frames —
 * the sequence that used to leave plugbayd blocked in nng_close. Holds up to
 * 8 such sockets at once before closing them (the broker sends nothing more
 * on them, so closing is safe here). */
static void wrong_token(int rounds)
{
    nng_socket held[8];
    int nheld = 0;
    for (int i = 0; i < rounds; i++) {
        char *url, *token;
        if (!rendezvous(&url, &token))
            continue;
        nng_socket s = dial_pair(url);
        bay__frame hello = {.type = BAY_F_HELLO, .role = "host", .name = "abuser", .pid = 1, .token = "not-it"};
        if (bay__wire_send(s, &hello, 0) != 0)
            fail("cannot send HELLO");
        nng_msg *m;
        bay__frame f;
        bay_error err;
        if (bay__wire_recv(s, H_ABUSER_WAIT_MS, &m, &f, &err) != 0)
            fail("round %d: no answer to a wrong token: %s", i, err.message);
        if (f.type != BAY_F_ERROR || f.code != BAY_EPERM)
            fail("round %d: a wrong token got %s %lld", i, bay__frame_type_name(f.type), (long long)f.code);
        bay__frame_release(&f);
        nng_msg_free(m);
        for (int k = 0; k < 3; k++)
            bay__wire_send(s, &hello, NNG_FLAG_NONBLOCK);
        held[nheld++] = s;
        if (nheld >= 1 + i % 8) /* at most 8: the array's size */
            while (nheld > 0)
                nng_close(held[--nheld]);
        free(url);
        free(token);
    }
}

/* vanish: a peer that goes away (when the process dies) at each step of the
 * handshake: after the rendezvous without dialling, after dialling, after
 * half a frame. */
static void vanish(int rounds)
{
    for (int i = 0; i < rounds; i++) {
        char *url, *token;
        if (!rendezvous(&url, &token))
            continue;
        if (i % 3 != 0) {
            nng_socket s = dial_pair(url);
            if (i % 3 == 2)
                send_raw(s, "\x97\x01\x01", 3);
        }
        free(url);
        free(token);
    }
}

/* authenticated connects with the right token, as a host. */
static nng_socket authenticated(const char *name)
{
    char *url, *token;
    if (!rendezvous(&url, &token))
        _exit(0);
    nng_socket s;
    bay_error err;
    if (bay__wire_connect(url, "host", name, token, H_ABUSER_WAIT_MS, &s, NULL, &err) != 0)
        fail("connect: %s", err.message);
    free(url);
    free(token);
    return s;
}

/* junk: random bytes, truncated frames, lying lengths and counts, wrong
 * types, a wrong version — and no answer read. */
static void junk(int rounds)
{
    nng_socket s = authenticated("junk");
    static const unsigned char frames[][16] = {
        {0x97, 0x01, 0x06, 0x07, 0xa5, 'g', 'r', 'e', 'e', 't', 0x91, 0xa1}, /* truncated CALL */
        {0xdd, 0xff, 0xff, 0xff, 0xff, 0x01},                                  /* array claiming 4G items */
        {0x97, 0x01, 0x06, 0x07, 0xdb, 0x7f, 0xff, 0xff, 0xff, 'x'},           /* string claiming 2 GB */
        {0x97, 0x01, 0x06, 0x07, 0x2a, 0x90, 0xcd, 0x03, 0xe8, 0xc0},          /* name is an integer */
        {0x93, 0x02, 0x06, 0x05},                                              /* protocol version 2 */
        {0x93, 0x01, 0x63, 0x05},                                              /* unknown frame type */
        {0x81, 0xa1, 'a', 0x01},                                               /* a map, not a frame */
        {0x95, 0x01, 0x05, 0x01, 0xa0, 0xa6, 'h', 'a', 'n', 'd', 'l', 'e'},    /* PROVIDE with name "" */
    };
    unsigned seed = (unsigned)getpid();
    for (int i = 0; i < rounds; i++) {
        unsigned char rnd[64];
        for (size_t k = 0; k < sizeof rnd; k++)
            rnd[k] = (unsigned char)(rand_r(&seed) >> 7);
        send_raw(s, rnd, 1 + (size_t)rand_r(&seed) % sizeof rnd);
        send_raw(s, frames[i % 8], 4 + (size_t)(i % 12));
    }
}

/* flood: calls as fast as the socket takes them, no answer ever read. */
static void flood(int frames)
{
    nng_socket s = authenticated("flood");
    bay_value *args = bay_array();
    void *raw;
    size_t len;
    if (bay_value_pack(args, &raw, &len) != 0)
        fail("out of memory");
    for (int i = 0; i < frames; i++) {
        bay__frame f = {.type = BAY_F_CALL, .id = (uint64_t)i + 1, .name = "no.such.point", .raw = raw,
                       .raw_len = len, .timeout_ms = 1000};
        bay__wire_send(s, &f, 0); /* blocks while plugbayd holds this peer back: that is the point */
    }
    free(raw);
    bay_value_free(args);
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: abuser URL wrong-token|vanish|junk|flood ROUNDS\n");
        return 2;
    }
    url_ = argv[1];
    int rounds = atoi(argv[3]);
    if (strcmp(argv[2], "wrong-token") == 0)
        wrong_token(rounds);
    else if (strcmp(argv[2], "vanish") == 0)
        vanish(rounds);
    else if (strcmp(argv[2], "junk") == 0)
        junk(rounds);
    else if (strcmp(argv[2], "flood") == 0)
        flood(rounds);
    else
        fail("unknown mode %s", argv[2]);
    printf("served %d refused %d\n", served, refused);
    fflush(stdout);
    _exit(0);
}
