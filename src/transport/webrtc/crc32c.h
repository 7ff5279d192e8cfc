/*
 * CRC32c (Castagnoli), the SCTP checksum (RFC 9260 §6.8, Appendix A),
 * computed here rather than in usrsctp: the SCTP filter turns usrsctp's
 * own checksum off (usrsctp_enable_crc32c_offload) and puts it on and
 * checks it at the filter's edge with the CPU's crc32 instruction where
 * there is one (SSE 4.2), a table otherwise. Sans-I/O, no allocation.
 */
#ifndef RCOAP_WEBRTC_CRC32C_H
#define RCOAP_WEBRTC_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* The CRC32c of n bytes at p: the standard value (0xE3069283 for
 * "123456789"). */
uint32_t rc__crc32c(const uint8_t *p, size_t n);

/* An SCTP packet's checksum: the CRC32c of the packet with its checksum
 * field (bytes 8-11) taken as zero. n >= 12. */
uint32_t rc__sctp_checksum(const uint8_t *pkt, size_t n);

/* Writes it into bytes 8-11 (least significant byte first, RFC 9260
 * Appendix A's order). */
void rc__sctp_checksum_put(uint8_t *pkt, size_t n);

/* Non-zero if bytes 8-11 hold the packet's checksum. */
int rc__sctp_checksum_ok(const uint8_t *pkt, size_t n);

#endif
