/* rcoap's version. */
#ifndef RCOAP_VERSION_H
#define RCOAP_VERSION_H

#define RCOAP_VERSION_STRING "0.1.0"

/* The version of the library linked in, e.g. "0.1.0". */
const char *rc_version(void);

#endif
