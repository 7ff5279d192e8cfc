/*
 * The library's version string, kept out of the core so that rcoap-core stays
 * free of build-time configuration.
 */
#include "rcoap/version.h"

const char *rc_version(void) { return RCOAP_VERSION_STRING; }
