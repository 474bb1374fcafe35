/* protocol/text.h — what text may go on one line of a signed file list or a key file, and how other text is shown. */
#ifndef BAY_TEXT_H
#define BAY_TEXT_H

#include <stdbool.h>
#include <stddef.h>

/* bay__text_printable tells whether s is UTF-8 without control characters or
 * backslashes: what a signed file name or a key comment may hold, so that
 * each fits on one line of the signed text and of a key file. */
bool bay__text_printable(const char *s);

/* bay__text_shown copies s into buf (len bytes, len > 0) for a message, each
 * byte other than printable ASCII, and each backslash, as '?', cut to fit.
 * Returns buf. */
const char *bay__text_shown(const char *s, char *buf, size_t len);

#endif
