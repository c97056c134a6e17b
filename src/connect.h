/*
 * connect: RFC 8305 happy eyeballs over an ordered list of addresses.
 *
 * The owner appends addresses in the order they should be tried (MX
 * preference, then IPv6/IPv4 interleaved) as DNS answers arrive.  One attempt
 * starts at a time; the next starts when the previous one fails or after the
 * Connection Attempt Delay (250 ms) while earlier ones are still pending.
 * The first connection to complete wins and every other attempt is closed.
 */
#ifndef MXC_CONNECT_H
#define MXC_CONNECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct config;
struct he;

/* RFC 8305 5: the recommended Connection Attempt Delay. */
#define HE_ATTEMPT_DELAY_MS 250

/*
 * The race ended.  fd >= 0: the connected non-blocking stream (now the
 * owner's, to be closed with transport_close()) of target `index`.  fd < 0: every target failed and no more will
 * come (index is meaningless); he_target_error() says why for each.  Always
 * called from an event, never from inside he_add() or he_close_input().  The
 * owner may he_free() from inside it.
 */
typedef void he_callback(void *arg, int fd, size_t index);

/*
 * Creates a race to the configured port through the configured transport,
 * each attempt timing out after attempt_ms; logs are about delivery `delivery_id`.
 */
struct he *he_new(const struct config *config,
                  uint64_t delivery_id, unsigned attempt_ms,
                  he_callback *cb, void *arg);
/* Closes every pending attempt and frees the race. */
void he_free(struct he *he);
/* Appends a target of MX host `mx`; returns its index, or -1 when memory
 * runs out. */
int he_add(struct he *he, const struct sockaddr_storage *addr,
           const char *mx);
/* Says no more targets will be added (so running out means failure). */
void he_close_input(struct he *he);
/* Targets added so far. */
size_t he_count(const struct he *he);
/* Why target `index` failed ("" if it did not fail, or was never tried). */
const char *he_target_error(const struct he *he, size_t index);
/* Writes an address without its port ("192.0.2.1", "2001:db8::1"). */
void he_addr_text(const struct sockaddr_storage *addr, char *out,
                  size_t outlen);
/* The address of target `index`. */
const struct sockaddr_storage *he_target_addr(const struct he *he,
                                              size_t index);

#endif
