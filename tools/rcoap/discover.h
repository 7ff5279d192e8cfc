/*
 * rcoap discover: multicast discovery (RFC 7252 §8) from the command line.
 */
#ifndef RCOAP_TOOL_DISCOVER_H
#define RCOAP_TOOL_DISCOVER_H

/* Sends one NON GET to uri_text (NULL: coap://224.0.1.187/.well-known/
 * core) and prints every answer until timeout_s; the exit status. */
int rcoap_discover(const char *uri_text, double timeout_s);

#endif
