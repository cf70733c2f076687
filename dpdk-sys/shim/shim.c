/* See shim.h: each function forwards to the DPDK inline of the same name. */
#include "shim.h"

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_lcore.h>

const uint64_t shim_RTE_ETH_RSS_IP = RTE_ETH_RSS_IP;
const uint64_t shim_RTE_ETH_RSS_TCP = RTE_ETH_RSS_TCP;
const uint64_t shim_RTE_ETH_RSS_UDP = RTE_ETH_RSS_UDP;
const uint64_t shim_RTE_MBUF_F_INDIRECT = RTE_MBUF_F_INDIRECT;
const uint64_t shim_RTE_MBUF_F_EXTERNAL = RTE_MBUF_F_EXTERNAL;
const uint64_t shim_RTE_ETH_RSS_IPV6_ALL =
	RTE_ETH_RSS_IPV6 | RTE_ETH_RSS_FRAG_IPV6 | RTE_ETH_RSS_NONFRAG_IPV6_TCP |
	RTE_ETH_RSS_NONFRAG_IPV6_UDP | RTE_ETH_RSS_NONFRAG_IPV6_OTHER;
const uint64_t shim_RTE_ETH_RSS_L3_SRC_ONLY = RTE_ETH_RSS_L3_SRC_ONLY;
const uint64_t shim_RTE_ETH_TX_OFFLOAD_IPV4_CKSUM = RTE_ETH_TX_OFFLOAD_IPV4_CKSUM;

void shim_mbuf_tx_ipv4_cksum(struct rte_mbuf *m, uint8_t l2_len, uint16_t l3_len)
{
	m->ol_flags |= RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM;
	m->l2_len = l2_len;
	m->l3_len = l3_len;
}

uint16_t shim_rte_eth_rx_burst(uint16_t port_id, uint16_t queue_id,
                               struct rte_mbuf **rx_pkts, uint16_t nb_pkts)
{
	return rte_eth_rx_burst(port_id, queue_id, rx_pkts, nb_pkts);
}

uint16_t shim_rte_eth_tx_burst(uint16_t port_id, uint16_t queue_id,
                               struct rte_mbuf **tx_pkts, uint16_t nb_pkts)
{
	return rte_eth_tx_burst(port_id, queue_id, tx_pkts, nb_pkts);
}

struct rte_mbuf *shim_rte_pktmbuf_alloc(struct rte_mempool *mp)
{
	return rte_pktmbuf_alloc(mp);
}

int shim_rte_pktmbuf_alloc_bulk(struct rte_mempool *mp,
                                struct rte_mbuf **mbufs, unsigned int count)
{
	return rte_pktmbuf_alloc_bulk(mp, mbufs, count);
}

void shim_rte_pktmbuf_free(struct rte_mbuf *m)
{
	rte_pktmbuf_free(m);
}

char *shim_rte_pktmbuf_prepend(struct rte_mbuf *m, uint16_t len)
{
	return rte_pktmbuf_prepend(m, len);
}

char *shim_rte_pktmbuf_adj(struct rte_mbuf *m, uint16_t len)
{
	return rte_pktmbuf_adj(m, len);
}

char *shim_rte_pktmbuf_append(struct rte_mbuf *m, uint16_t len)
{
	return rte_pktmbuf_append(m, len);
}

int shim_rte_pktmbuf_trim(struct rte_mbuf *m, uint16_t len)
{
	return rte_pktmbuf_trim(m, len);
}

void *shim_rte_pktmbuf_mtod(struct rte_mbuf *m)
{
	return rte_pktmbuf_mtod(m, void *);
}

uint16_t shim_rte_pktmbuf_headroom(const struct rte_mbuf *m)
{
	return rte_pktmbuf_headroom(m);
}

uint16_t shim_rte_pktmbuf_tailroom(const struct rte_mbuf *m)
{
	return rte_pktmbuf_tailroom(m);
}

unsigned int shim_rte_lcore_id(void)
{
	return rte_lcore_id();
}

int shim_rte_errno(void)
{
	return rte_errno;
}

uint64_t shim_rte_get_tsc_cycles(void)
{
	return rte_get_tsc_cycles();
}

uint64_t shim_rte_get_tsc_hz(void)
{
	return rte_get_tsc_hz();
}

unsigned int shim_rte_ring_sp_enqueue_burst(struct rte_ring *r,
                                            void *const *obj_table,
                                            unsigned int n,
                                            unsigned int *free_space)
{
	return rte_ring_sp_enqueue_burst(r, obj_table, n, free_space);
}

unsigned int shim_rte_ring_sc_dequeue_burst(struct rte_ring *r,
                                            void **obj_table, unsigned int n,
                                            unsigned int *available)
{
	return rte_ring_sc_dequeue_burst(r, obj_table, n, available);
}

unsigned int shim_rte_ring_mp_enqueue_burst(struct rte_ring *r,
                                            void *const *obj_table,
                                            unsigned int n,
                                            unsigned int *free_space)
{
	return rte_ring_mp_enqueue_burst(r, obj_table, n, free_space);
}

unsigned int shim_rte_ring_mc_dequeue_burst(struct rte_ring *r,
                                            void **obj_table, unsigned int n,
                                            unsigned int *available)
{
	return rte_ring_mc_dequeue_burst(r, obj_table, n, available);
}

unsigned int shim_rte_ring_count(const struct rte_ring *r)
{
	return rte_ring_count(r);
}
