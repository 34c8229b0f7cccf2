/* Packet I/O on Linux interfaces for the native pipeline: a burst of frames taken
 * from one AF_PACKET socket with recvmmsg, each run through the program, the outputs
 * sent on the other ports' sockets, without the Python interpreter (the caller drops
 * the GIL for the call). VLAN tags the kernel took out of received frames are put
 * back from PACKET_AUXDATA (tp_vlan_tci, tp_vlan_tpid), as libpcap does. Packets for
 * the CPU port and digests are handed back to the caller in bounded areas that count
 * what they drop. */
#ifndef P4_IO_H
#define P4_IO_H

#include "p4_pipe.h"

#define P4_IO_BATCH 64          /* frames per recvmmsg */
#define P4_IO_FRAME 16384       /* largest frame taken (longer ones: counted drops) */
#define P4_IO_MAX_PORTS 64
#define P4_IO_PUNT_MAX 256      /* CPU-port packets per burst */
#define P4_IO_PUNT_BYTES (1 << 20)
#define P4_IO_DIGEST_MAX 256

typedef struct {
    uint32_t rx, rx_bytes, rx_dropped; /* frames taken from the port drained */
    uint64_t tx[P4_IO_MAX_PORTS], tx_bytes[P4_IO_MAX_PORTS]; /* per port slot */
    uint32_t no_port;     /* outputs to a port with no interface */
    uint32_t send_errors; /* frames the kernel refused (down, too big, no buffers) */
    uint64_t faults, dropped;
    uint32_t npunt, punt_dropped;
    uint32_t punt_off[P4_IO_PUNT_MAX], punt_len[P4_IO_PUNT_MAX];
    uint32_t ndigest, digest_dropped;
    uint32_t digest_site[P4_IO_DIGEST_MAX];
    uint64_t digest_vals[P4_IO_DIGEST_MAX][64];
    uint8_t punt_buf[P4_IO_PUNT_BYTES];
    /* receive buffers */
    uint8_t frames[P4_IO_BATCH][P4_IO_FRAME + 4];
} p4_io_burst;

/* Ask the kernel for VLAN metadata on `fd` (once per socket). 0, or -1 (errno). */
int p4_io_prepare(int fd);
/* Drain up to P4_IO_BATCH frames (the counters of `b` are reset first) from `fd` (port `port`) through `dev`; outputs go to
 * `fds[i]` for port `numbers[i]`, packets for `cpu_port` into `b`'s punt area.
 * Returns the frames taken (0: none waiting), or -1 on a receive error (errno). */
int p4_io_burst_run(struct p4_dev *dev, uint64_t now_ns, int fd, uint32_t port,
                    const int *fds, const uint32_t *numbers, uint32_t nports, uint32_t cpu_port,
                    p4_io_burst *b);

#endif
