/*
 * queue: deliveries by destination, started round robin.
 *
 * Each delivery is a node in an id hash; each destination keeps its
 * waiting nodes in order and a count of those in flight; destinations that
 * may start one more (waiting work, below their limit) sit in a ring, and
 * the next delivery comes from the ring's head, which then goes to the
 * tail.  Every operation is O(1) on average.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>

#include "queue.h"

/* One destination with deliveries in the queue. */
struct dest {
	char *domain;                 /* lower case */
	TAILQ_HEAD(, node) waiting;   /* in the order they were added */
	unsigned active;              /* in flight */
	bool in_ring;
	TAILQ_ENTRY(dest) ring_link;
	struct dest *hash_next;
};

/* One delivery. */
struct node {
	uint64_t id;
	struct mxc_delivery *delivery;
	struct dest *dest;
	bool active;
	TAILQ_ENTRY(node) link;       /* on its destination's waiting list */
	struct node *hash_next;
};

/* A chained hash table of void pointers, grown to keep chains short. */
struct table {
	void **buckets;
	size_t nbuckets;              /* a power of two, or 0 */
	size_t count;
};

struct queue {
	unsigned max_active, max_per_dest;
	unsigned active;
	struct table nodes;           /* by id */
	struct table dests;           /* by domain */
	TAILQ_HEAD(, dest) ring;      /* may start one more */
};

/* FNV-1a of a lower-cased name. */
static uint64_t name_hash(const char *s)
{
	uint64_t h = 14695981039346656037ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)tolower((unsigned char)*s)) *
		    1099511628211ull;
	return h;
}

/* Grows a table when full; `key` gives an entry's hash, `next` its link. */
static bool table_grow(struct table *t, uint64_t (*key)(const void *),
                       void **(*next)(void *))
{
	if (t->count < t->nbuckets)
		return true;
	size_t n = t->nbuckets ? t->nbuckets * 2 : 64;
	void **b = calloc(n, sizeof *b);
	if (b == NULL)
		return false;
	for (size_t i = 0; i < t->nbuckets; i++)
		for (void *x = t->buckets[i], *nx; x != NULL; x = nx) {
			nx = *next(x);
			size_t j = key(x) & (n - 1);
			*next(x) = b[j];
			b[j] = x;
		}
	free(t->buckets);
	t->buckets = b;
	t->nbuckets = n;
	return true;
}

static uint64_t node_key(const void *x)
{
	return ((const struct node *)x)->id;
}

static void **node_next(void *x)
{
	return (void **)&((struct node *)x)->hash_next;
}

static uint64_t dest_key(const void *x)
{
	return name_hash(((const struct dest *)x)->domain);
}

static void **dest_next(void *x)
{
	return (void **)&((struct dest *)x)->hash_next;
}

/* The node of an id, with the link that points at it. */
static struct node **find_node(const struct queue *q, uint64_t id)
{
	if (q->nodes.nbuckets == 0)
		return NULL;
	struct node **p = (struct node **)&q->nodes.buckets[id &
	                                                    (q->nodes.nbuckets - 1)];
	for (; *p != NULL; p = &(*p)->hash_next)
		if ((*p)->id == id)
			return p;
	return NULL;
}

/* The destination of a domain, made if new; NULL when memory runs out. */
static struct dest *get_dest(struct queue *q, const char *domain)
{
	uint64_t h = name_hash(domain);
	if (q->dests.nbuckets > 0)
		for (struct dest *x = q->dests.buckets[h & (q->dests.nbuckets - 1)];
		     x != NULL; x = x->hash_next)
			if (strcasecmp(x->domain, domain) == 0)
				return x;
	if (!table_grow(&q->dests, dest_key, dest_next))
		return NULL;
	struct dest *x = calloc(1, sizeof *x);
	if (x == NULL || (x->domain = strdup(domain)) == NULL) {
		free(x);
		return NULL;
	}
	for (char *c = x->domain; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	TAILQ_INIT(&x->waiting);
	size_t j = h & (q->dests.nbuckets - 1);
	x->hash_next = q->dests.buckets[j];
	q->dests.buckets[j] = x;
	q->dests.count++;
	return x;
}

/* Puts a destination in or out of the ring as its state says. */
static void update_ring(struct queue *q, struct dest *x)
{
	bool want = !TAILQ_EMPTY(&x->waiting) && x->active < q->max_per_dest;
	if (want && !x->in_ring)
		TAILQ_INSERT_TAIL(&q->ring, x, ring_link);
	else if (!want && x->in_ring)
		TAILQ_REMOVE(&q->ring, x, ring_link);
	x->in_ring = want;
}

/* Frees a destination with nothing left. */
static void drop_dest(struct queue *q, struct dest *x)
{
	if (!TAILQ_EMPTY(&x->waiting) || x->active > 0)
		return;
	if (x->in_ring)
		TAILQ_REMOVE(&q->ring, x, ring_link);
	void **p = &q->dests.buckets[name_hash(x->domain) &
	                             (q->dests.nbuckets - 1)];
	while (*p != x)
		p = (void **)&((struct dest *)*p)->hash_next;
	*p = x->hash_next;
	q->dests.count--;
	free(x->domain);
	free(x);
}

/* Makes a queue. */
struct queue *queue_new(unsigned max_active, unsigned max_per_dest)
{
	struct queue *q = calloc(1, sizeof *q);
	if (q == NULL)
		return NULL;
	q->max_active = max_active ? max_active : 1;
	q->max_per_dest = max_per_dest ? max_per_dest : 1;
	TAILQ_INIT(&q->ring);
	return q;
}

/* Frees the queue's own memory. */
void queue_free(struct queue *q)
{
	if (q == NULL)
		return;
	for (size_t i = 0; i < q->nodes.nbuckets; i++)
		for (struct node *x = q->nodes.buckets[i], *nx; x; x = nx) {
			nx = x->hash_next;
			free(x);
		}
	for (size_t i = 0; i < q->dests.nbuckets; i++)
		for (struct dest *x = q->dests.buckets[i], *nx; x; x = nx) {
			nx = x->hash_next;
			free(x->domain);
			free(x);
		}
	free(q->nodes.buckets);
	free(q->dests.buckets);
	free(q);
}

/* Adds a waiting delivery. */
bool queue_add(struct queue *q, struct mxc_delivery *d, uint64_t id,
               const char *domain)
{
	if (!table_grow(&q->nodes, node_key, node_next))
		return false;
	struct node *n = calloc(1, sizeof *n);
	if (n == NULL)
		return false;
	struct dest *x = get_dest(q, domain);
	if (x == NULL) {
		free(n);
		return false;
	}
	n->id = id;
	n->delivery = d;
	n->dest = x;
	size_t j = id & (q->nodes.nbuckets - 1);
	n->hash_next = q->nodes.buckets[j];
	q->nodes.buckets[j] = n;
	q->nodes.count++;
	TAILQ_INSERT_TAIL(&x->waiting, n, link);
	update_ring(q, x);
	return true;
}

/* The next delivery to start. */
struct mxc_delivery *queue_next(struct queue *q)
{
	if (q->active >= q->max_active || TAILQ_EMPTY(&q->ring))
		return NULL;
	struct dest *x = TAILQ_FIRST(&q->ring);
	struct node *n = TAILQ_FIRST(&x->waiting);
	TAILQ_REMOVE(&x->waiting, n, link);
	n->active = true;
	x->active++;
	q->active++;
	/* Round robin: this destination's next turn is after the others'. */
	TAILQ_REMOVE(&q->ring, x, ring_link);
	x->in_ring = false;
	update_ring(q, x);
	return n->delivery;
}

/* Takes out a delivery that ended. */
void queue_remove(struct queue *q, uint64_t id)
{
	struct node **p = find_node(q, id);
	if (p == NULL)
		return;
	struct node *n = *p;
	*p = n->hash_next;
	q->nodes.count--;
	struct dest *x = n->dest;
	if (n->active) {
		x->active--;
		q->active--;
	} else {
		TAILQ_REMOVE(&x->waiting, n, link);
	}
	free(n);
	update_ring(q, x);
	drop_dest(q, x);
}

/* Finds a delivery by id. */
struct mxc_delivery *queue_find(const struct queue *q, uint64_t id)
{
	struct node **p = find_node(q, id);
	return p != NULL ? (*p)->delivery : NULL;
}

/* Every delivery. */
void queue_each(const struct queue *q,
                void (*fn)(void *arg, struct mxc_delivery *d), void *arg)
{
	for (size_t i = 0; i < q->nodes.nbuckets; i++)
		for (struct node *x = q->nodes.buckets[i]; x; x = x->hash_next)
			fn(arg, x->delivery);
}
