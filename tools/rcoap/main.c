/*
 * rcoap: a curl-like CoAP client for every scheme rcoap speaks.
 *
 *   rcoap [options] [METHOD] URI
 *
 * It parses the command line into one request (args.c), runs it on a
 * libuv loop through rc_request(), prints the response (output.c) and
 * exits with a status that says what happened (status.c).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "args.h"
#include "discover.h"
#include "observe.h"
#include "output.h"
#include "rcoap/app.h"
#include "rcoap/codec_print.h"
#include "rcoap/transport_webrtc.h"
#include "status.h"
#include "transfer.h"
#include "verbose.h"

typedef struct cli {
  const rcoap_args *a;
  int status;
  int done;
  rc_context *ctx;
  xfer xf;        /* -o FILE streamed, -d @FILE, progress (transfer.c) */
  uv_timer_t deadline; /* -T: the whole run, handshakes and linger too */
} cli;

/* -T is up: whatever is still going on ends now. */
static void on_deadline(uv_timer_t *t) {
  cli *c = t->data;
  if (!c->done) {
    c->done = 1;
    xfer_progress_end(&c->xf);
    if (c->a->ping)
      fprintf(stderr, "rcoap: peer did not answer a ping within -T %g s\n",
              c->a->timeout_s);
    else
      fprintf(stderr, "rcoap: timed out: no answer within -T %g s\n",
              c->a->timeout_s);
    c->status = EX_TIMEOUT;
  }
  uv_stop(t->loop);
}

static void on_shutdown_done(void *arg) { (void)arg; }

static void on_pong(void *arg, rc_err status, uint64_t rtt_us, int custody,
                    const char *detail) {
  cli *c = arg;
  if (c->done)
    return;
  c->done = 1;
  if (status < 0) {
    c->status = report_error(c->a, status, detail);
    if (status == RC_ERR_PEER_DEAD)
      c->status = EX_TIMEOUT; /* no Pong (nor anything else) within -T */
  } else {
    printf("Pong from %s in %.3f ms%s\n", c->a->uri, (double)rtt_us / 1000.0,
           custody ? ", with Custody" : "");
    fflush(stdout);
    c->status = EX_OK;
  }
  rc_context_shutdown(c->ctx, NULL, 2000, on_shutdown_done, c);
}

static void on_response(void *arg, rc_err status, const rc_msg *resp,
                        const char *detail) {
  cli *c = arg;
  if (c->done)
    return; /* -T ended the run; this is the cancellation */
  c->done = 1;
  xfer_progress_end(&c->xf);
  if (status < 0) {
    c->status = report_error(c->a, status, detail);
    /* A rejected response (RFC 7252 §5.4.1) is shown with -i, never its
     * body; a rejected error response (libcoap's 4.02 names the option it
     * refuses, docs/INTEROP.md) still exits with its class: the server
     * did refuse. A rejected 2.xx is no success. */
    if (status == RC_ERR_CRITICAL_OPTION && resp) {
      if (c->a->include)
        output_head(resp, c->a->verbose);
      if (RC_CODE_CLASS(resp->code) >= 4)
        c->status = status_for_code(resp->code);
      fflush(stdout);
    }
  } else {
    c->status = status_for_code(resp->code);
    if (c->a->include)
      output_head(resp, c->a->verbose);
    else if (c->status != EX_OK) {
      char code[5];
      fprintf(stderr, "%s %s\n", rc_code_str(resp->code, code),
              rc_code_name(resp->code));
    }
    if (c->a->output) {
      /* The body went to the file block by block (transfer.c). */
      if (xfer_finish(&c->xf) != 0)
        c->status = EX_LOCAL;
    } else if (output_body(resp, c->a->raw) != 0) {
      c->status = EX_LOCAL;
    }
    fflush(stdout);
  }
  rc_context_shutdown(c->ctx, NULL, 2000, on_shutdown_done, c);
}

/* TLS settings for coaps+... (and, with dgram, DTLS ones for coaps://):
 * *out stays NULL without any. Returns 0 or the exit status (reported). */
static int make_tls(const rcoap_args *a, int dgram, rc_tls_ctx **out) {
  *out = NULL;
  if (!(a->cafile || a->insecure || a->cert || a->psk_id || a->psk_key ||
        a->allow_no_alpn || a->keylog))
    return 0;
  rc_tls_config tc;
  rc_tls_config_init(&tc, RC_TLS_CLIENT);
  tc.ca_file = a->cafile;
  tc.insecure = a->insecure;
  tc.allow_no_alpn = a->allow_no_alpn && !dgram; /* DTLS has no ALPN */
  tc.datagram = dgram;
  tc.keylog_file = a->keylog;
  if (a->insecure && !dgram)
    fprintf(stderr, "rcoap: warning: --insecure: the server's certificate "
                    "is NOT verified; anyone on the path can read and "
                    "change this exchange\n");
  if (a->cert) {
    tc.certs[0].cert_file = a->cert;
    tc.certs[0].key_file = a->key ? a->key : a->cert;
    tc.ncerts = 1;
  }
  if (a->psk_id || a->psk_key) {
    if (!a->psk_id || !a->psk_key) {
      fprintf(stderr, "rcoap: --psk-identity and --psk-key go together\n");
      return EX_USAGE;
    }
    tc.psk_identity = (const uint8_t *)a->psk_id;
    tc.psk_identity_len = strlen(a->psk_id);
    tc.psk_key = (const uint8_t *)a->psk_key;
    tc.psk_key_len = strlen(a->psk_key);
  }
  char errbuf[256];
  if (rc_tls_ctx_new(out, &tc, errbuf, sizeof errbuf) != RC_OK) {
    fprintf(stderr, "rcoap: %s\n", errbuf);
    return EX_USAGE;
  }
  return 0;
}

/* Runs the request (or ping, or observation) on loop; the exit status. */
static int run(cli *c, uv_loop_t *loop, rc_tls_ctx *tls, rc_tls_ctx *dtls) {
  const rcoap_args *a = c->a;
  uint8_t *body = NULL;
  rc_body_source src;
  int use_src = 0;
  rc_request_opts ro = {0};
  if (a->data && a->data[0] == '@') {
    /* Streamed: read block by block as the exchange sends it. */
    if (xfer_source(&c->xf, a->data + 1, &src) != 0)
      return EX_LOCAL;
    use_src = 1;
  } else if (a->data) {
    ro.payload_len = strlen(a->data);
    body = malloc(ro.payload_len + 1);
    if (!body)
      return EX_LOCAL;
    memcpy(body, a->data, ro.payload_len);
  }

  rc_context_opts co = {0};
  co.loop = loop;
  rc_session_config scfg;
  rc_session_config_default(&scfg, RC_FRAMING_TCP, RC_SESSION_CLIENT);
  if (a->no_bert) {
    /* Do not offer Block-Wise-Transfer in our CSM: the server then uses
     * 1024-byte blocks, not BERT (RFC 8323 §5.3.2). */
    scfg.block_wise = 0;
    co.session = &scfg;
  }
  if (a->non) {
    scfg.udp.requests_non = 1; /* RFC 7252 §4.3 */
    co.session = &scfg;
  }
  if (a->ping) {
    /* A peer that sends nothing within -T of our Ping is dead. */
    scfg.ping_timeout_ms = (uint32_t)(a->timeout_s * 1000);
    co.session = &scfg;
  }
  if (a->ack_timeout_ms || a->max_retransmit >= 0) {
    /* RFC 7252 §4.8.1: the transmission parameters may be changed;
     * the dedup lifetimes follow them. Both ranges checked by args.c. */
    rc_session_udp_params(&scfg.udp,
                          a->ack_timeout_ms ? a->ack_timeout_ms
                                            : RC_UDP_ACK_TIMEOUT,
                          a->max_retransmit >= 0 ? (uint32_t)a->max_retransmit
                                                 : RC_UDP_MAX_RETRANSMIT);
    co.session = &scfg;
  }
  co.on_log = verbose_on_log;
  /* Without -v only the final outcome is printed (by on_response). */
  co.log_level = a->verbose ? RC_SESSION_LOG_INFO : RC_SESSION_LOG_ERR - 1;
  co.client_tls = tls;
  co.client_dtls = dtls;
  co.webrtc_signal = a->signal;
  static struct sockaddr_storage stun; /* lives as long as the context */
  if (a->stun) {
    if (rc_wr_stun_addr(a->stun, NULL, &stun) != RC_OK) {
      fprintf(stderr, "rcoap: --stun %s: want HOST:PORT of a STUN server "
                      "that resolves\n", a->stun);
      free(body);
      return EX_RESOLVE;
    }
    co.webrtc_stun = (const struct sockaddr *)&stun;
  }
  co.webrtc_keylog = a->keylog;
  /* -T bounds the connection and the TLS / WebSocket handshakes too. */
  co.connect_timeout_ms = (uint32_t)(a->timeout_s * 1000);
  co.handshake_timeout_ms = co.connect_timeout_ms;
  /* rcoap observe reconnects: go where a Release points, when it says. */
  co.follow_release = 1;
  if (a->verbose) {
    co.on_trace = verbose_on_trace;
    co.on_conn_open = verbose_on_conn_open;
  }
  if (rc_context_new(&c->ctx, &co) != RC_OK) {
    fprintf(stderr, "rcoap: out of memory\n");
    free(body);
    return EX_LOCAL;
  }
  ro.opts = a->opts;
  ro.nopts = a->nopts;
  ro.payload = body;
  ro.timeout_ms = (uint32_t)(a->timeout_s * 1000);
  ro.no_bert = (uint8_t)a->no_bert;
  ro.block_szx = a->block_szx;
  ro.qblock = (uint8_t)a->qblock;
  ro.window = a->window;
  if (use_src)
    ro.body = &src;
  rc_body_sink sink;
  if (a->output) {
    xfer_sink(&c->xf, a->output, &sink);
    ro.sink = &sink;
  }
  c->xf.tty = isatty(STDERR_FILENO);
  ro.on_progress = xfer_progress;
  ro.progress_arg = &c->xf;
  if (a->observe) {
    ro.timeout_ms = 0;
    c->status = rcoap_observe(c->ctx, a, &ro);
  } else {
    rc_err err = a->ping ? rc_ping(c->ctx, a->uri, &ro, a->custody, on_pong, c)
                         : rc_request(c->ctx, (uint8_t)a->method, a->uri, &ro,
                                      on_response, c);
    if (err) {
      fprintf(stderr, "rcoap: %s: %s\n", a->uri, rc_strerror(err));
      c->status = (err == RC_ERR_NOMEM) ? EX_LOCAL : EX_URI;
    } else {
      /* Unreferenced: the loop ends when the work does, and this ends it
       * at -T if the work does not. */
      uv_timer_init(loop, &c->deadline);
      c->deadline.data = c;
      uv_timer_start(&c->deadline, on_deadline,
                     (uint64_t)(a->timeout_s * 1000), 0);
      uv_unref((uv_handle_t *)&c->deadline);
      xfer_begin(&c->xf);
      uv_run(loop, UV_RUN_DEFAULT);
      uv_close((uv_handle_t *)&c->deadline, NULL);
      if (!c->done) {
        fprintf(stderr, "rcoap: no outcome (internal error)\n");
        c->status = EX_LOCAL;
      }
    }
  }
  if (a->stats) {
    char line[256];
    rc_udp_stats_format(rc_context_udp_stats(c->ctx), line, sizeof line);
    fprintf(stderr, "rcoap: stats: %s\n", line);
  }
  rc_context_free(c->ctx);
  uv_run(loop, UV_RUN_DEFAULT);
  free(body);
  return c->status;
}

int main(int argc, char **argv) {
  rcoap_args a;
  int st = rcoap_parse(argc, argv, &a);
  if (st >= 0) {
    rcoap_args_free(&a);
    return st;
  }
  if (a.discover) {
    st = rcoap_discover(a.uri, a.timeout_s);
    rcoap_args_free(&a);
    return st;
  }
  rc_tls_ctx *tls, *dtls = NULL;
  if ((st = make_tls(&a, 0, &tls)) != 0 ||
      (st = make_tls(&a, 1, &dtls)) != 0) {
    if (tls)
      rc_tls_ctx_free(tls);
    rcoap_args_free(&a);
    return st;
  }
  /* A write to a connection the server has just closed must come back as
   * EPIPE (exit 3 with a reason), not kill us with SIGPIPE: libuv writes
   * with write(2), which raises it. */
  signal(SIGPIPE, SIG_IGN);
  uv_loop_t loop;
  uv_loop_init(&loop);
  cli c = {0};
  c.a = &a;
  st = run(&c, &loop, tls, dtls);
  uv_loop_close(&loop);
  if (tls)
    rc_tls_ctx_free(tls);
  if (dtls)
    rc_tls_ctx_free(dtls);
  rcoap_args_free(&a);
  return st;
}
