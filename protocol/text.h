/* protocol/text.h — what text may go on one line of a signed file list or a key file. */
#ifndef BAY_TEXT_H
#define BAY_TEXT_H

#include <stdbool.h>

/* bay__text_printable tells whether s is UTF-8 without control characters or
 * backslashes: what a signed file name or a key comment may hold, so that
 * each fits on one line of the signed text and of a key file. */
bool bay__text_printable(const char *s);

#endif
