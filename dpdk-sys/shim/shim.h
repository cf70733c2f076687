/*
 * Non-inline wrappers around DPDK's `static inline` functions, so that Rust
 * can call them. Each `shim_X` does exactly what `X` does.
 */
#ifndef NAT64_DPDK_SHIM_H
#define NAT64_DPDK_SHIM_H

#include <stdint.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>

uint16_t shim_rte_eth_rx_burst(uint16_t port_id, uint16_t queue_id,
                               struct rte_mbuf **rx_pkts, uint16_t nb_pkts);
uint16_t shim_rte_eth_tx_burst(uint16_t port_id, uint16_t queue_id,
                               struct rte_mbuf **tx_pkts, uint16_t nb_pkts);

struct rte_mbuf *shim_rte_pktmbuf_alloc(struct rte_mempool *mp);
int shim_rte_pktmbuf_alloc_bulk(struct rte_mempool *mp,
                                struct rte_mbuf **mbufs, unsigned int count);
void shim_rte_pktmbuf_free(struct rte_mbuf *m);
char *shim_rte_pktmbuf_prepend(struct rte_mbuf *m, uint16_t len);
char *shim_rte_pktmbuf_adj(struct rte_mbuf *m, uint16_t len);
char *shim_rte_pktmbuf_append(struct rte_mbuf *m, uint16_t len);
int shim_rte_pktmbuf_trim(struct rte_mbuf *m, uint16_t len);
/* rte_pktmbuf_mtod(m, void *): the first data byte of the first segment. */
void *shim_rte_pktmbuf_mtod(struct rte_mbuf *m);
uint16_t shim_rte_pktmbuf_headroom(const struct rte_mbuf *m);
uint16_t shim_rte_pktmbuf_tailroom(const struct rte_mbuf *m);

unsigned int shim_rte_lcore_id(void);
/* The calling thread's rte_errno. */
int shim_rte_errno(void);

uint64_t shim_rte_get_tsc_cycles(void);
uint64_t shim_rte_get_tsc_hz(void);

unsigned int shim_rte_ring_sp_enqueue_burst(struct rte_ring *r,
                                            void *const *obj_table,
                                            unsigned int n,
                                            unsigned int *free_space);
unsigned int shim_rte_ring_sc_dequeue_burst(struct rte_ring *r,
                                            void **obj_table, unsigned int n,
                                            unsigned int *available);
unsigned int shim_rte_ring_mp_enqueue_burst(struct rte_ring *r,
                                            void *const *obj_table,
                                            unsigned int n,
                                            unsigned int *free_space);
unsigned int shim_rte_ring_mc_dequeue_burst(struct rte_ring *r,
                                            void **obj_table, unsigned int n,
                                            unsigned int *available);
unsigned int shim_rte_ring_count(const struct rte_ring *r);

/* Function-like macros bindgen cannot evaluate, exported as constants. */
extern const uint64_t shim_RTE_ETH_RSS_IP;
extern const uint64_t shim_RTE_ETH_RSS_TCP;
extern const uint64_t shim_RTE_ETH_RSS_UDP;
extern const uint64_t shim_RTE_MBUF_F_INDIRECT;
extern const uint64_t shim_RTE_MBUF_F_EXTERNAL;
/* The IPv6 RSS types (plain, fragment, TCP, UDP, other). */
extern const uint64_t shim_RTE_ETH_RSS_IPV6_ALL;
extern const uint64_t shim_RTE_ETH_RSS_L3_SRC_ONLY;
extern const uint64_t shim_RTE_ETH_TX_OFFLOAD_IPV4_CKSUM;

/* Ask the NIC for the IPv4 header checksum of m (RTE_MBUF_F_TX_IPV4 |
 * RTE_MBUF_F_TX_IP_CKSUM, l2_len, l3_len: the bitfields bindgen makes
 * awkward). The header's checksum field must be 0. */
void shim_mbuf_tx_ipv4_cksum(struct rte_mbuf *m, uint8_t l2_len, uint16_t l3_len);

#endif
