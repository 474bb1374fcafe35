/* protocol/text.c — what text may go on one line of a signed file list or a key file, and how other text is shown. */
#include "text.h"

#include <stddef.h>

/* utf8_len returns the length (1 to 4) of the UTF-8 sequence at s, or 0 when
 * it is not the shortest encoding of a Unicode scalar value. */
static size_t utf8_len(const unsigned char *s)
{
    unsigned char c = s[0], lo = 0x80, hi = 0xBF;
    size_t n;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        lo = c == 0xE0 ? 0xA0 : lo;
        hi = c == 0xED ? 0x9F : hi;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        lo = c == 0xF0 ? 0x90 : lo;
        hi = c == 0xF4 ? 0x8F : hi;
    } else {
        return 0;
    }
    if (s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    return n;
}

bool bay__text_printable(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        size_t n = utf8_len(p);
        if (n == 0 || *p < 0x20 || *p == 0x7F || *p == '\\')
            return false;
        p += n;
    }
    return true;
}

const char *bay__text_shown(const char *s, char *buf, size_t len)
{
    size_t i = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p && i + 1 < len; p++)
        buf[i++] = *p < 0x20 || *p >= 0x7F || *p == '\\' ? '?' : (char)*p;
    buf[i] = '\0';
    return buf;
}
