/*
 * transport: how a byte stream to an MX address is obtained.  Three kinds
 * give the same thing, a connected socket, so the SMTP, STARTTLS and DANE
 * code above cannot tell them apart:
 *   direct   TCP to the address;
 *   SOCKS5   TCP to a SOCKS5 proxy, then CONNECT to the address (an IP
 *            address, never a name: no DNS reaches the proxy);
 *   command  a child process per attempt (e.g. "ssh -W %h:%p relay") whose
 *            stdin/stdout are joined to one end of a socketpair.
 * TLS stays on this machine in every case: a proxy only ever relays what
 * the SMTP layer writes, ciphertext after STARTTLS.
 *
 * An attempt succeeds only when the stream is really up (the SOCKS5 CONNECT
 * reply; for a command, the first byte from the far side), so happy
 * eyeballs can race and fall back through a proxy exactly as it does direct.
 */
#ifndef MXC_TRANSPORT_H
#define MXC_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct config;
struct event_base;
struct transport;
struct transport_attempt;

/*
 * An attempt ended.  fd >= 0: the connected non-blocking stream, now the
 * caller's (close it with transport_close()); fd < 0: it failed and `why`
 * says how, naming the proxy when there is one.  Always called from an
 * event, never from inside transport_connect() or transport_cancel().
 */
typedef void transport_done_fn(void *arg, int fd, const char *why);

/*
 * Creates the engine's transport: `proxy` ("socks5://[USER:PASS@]IP:PORT")
 * or `command` (a proxy command template), or neither for direct TCP.
 * Returns NULL with a one-line reason in err.
 */
struct transport *transport_new(struct event_base *base, const char *proxy,
                                const char *command, char *err,
                                size_t errlen);
/* Kills and reaps every proxy command still running; frees. */
void transport_free(struct transport *transport);

/*
 * Starts an attempt to reach addr:port (the MX host name `mx` is for %n
 * and logs), failing after timeout_ms (a connect's time; through a proxy
 * command, which ends only at the greeting, the greeting's time instead).
 * Log lines (a proxy command's stderr) go to `config` about delivery `delivery_id`.
 * NULL when memory runs out.
 */
struct transport_attempt *transport_connect(struct transport *transport,
                                            const struct config *config,
                                            uint64_t delivery_id,
                                            const struct sockaddr_storage *addr,
                                            unsigned port, const char *mx,
                                            unsigned timeout_ms,
                                            transport_done_fn *done,
                                            void *arg);
/* Abandons an attempt whose callback has not run (it will not). */
void transport_cancel(struct transport_attempt *attempt);

/*
 * Closes a stream an attempt gave.  A proxy command behind it is given a
 * moment to exit on its own, then terminated, and always reaped.
 */
void transport_close(struct transport *transport, int fd);

/* "direct", "SOCKS5 proxy 192.0.2.80:1080" or "proxy command ssh ...". */
const char *transport_name(const struct transport *transport);
/* Whether connections go straight to the MX (no proxy). */
bool transport_direct(const struct transport *transport);

#endif
