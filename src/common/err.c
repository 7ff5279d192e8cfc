/*
 * rc_strerror() and rc_err_name(): the text side of the error table in
 * include/rcoap/err.h. Both are generated from RC_ERR_MAP so they can never
 * drift from the enum.
 */
#include "rcoap/err.h"

const char *rc_strerror(int err) {
  switch (err) {
  case RC_OK:
    return "success";
#define RC__ERR_TEXT(name, value, text)                                        \
  case value:                                                                  \
    return text;
    RC_ERR_MAP(RC__ERR_TEXT)
#undef RC__ERR_TEXT
  default:
    return "unknown error";
  }
}

const char *rc_err_name(int err) {
  switch (err) {
  case RC_OK:
    return "RC_OK";
#define RC__ERR_NAME(name, value, text)                                        \
  case value:                                                                  \
    return "RC_ERR_" #name;
    RC_ERR_MAP(RC__ERR_NAME)
#undef RC__ERR_NAME
  default:
    return "RC_ERR_UNKNOWN";
  }
}
