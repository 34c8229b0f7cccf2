/* recvmmsg bursts on AF_PACKET sockets through the native pipeline. */
#define _GNU_SOURCE
#include "p4_io.h"

#include <errno.h>
#include <stddef.h>
#include <linux/if_packet.h>
#include <string.h>
#include <sys/socket.h>

int p4_io_prepare(int fd)
{
    int one = 1;
    return setsockopt(fd, SOL_PACKET, PACKET_AUXDATA, &one, sizeof one);
}

static void send_out(p4_io_burst *b, const uint8_t *data, uint32_t len, uint32_t port,
                     const int *fds, const uint32_t *numbers, uint32_t nports, uint32_t cpu_port)
{
    if (port == cpu_port) {
        uint32_t at = b->npunt ? b->punt_off[b->npunt - 1] + b->punt_len[b->npunt - 1] : 0;
        if (b->npunt >= P4_IO_PUNT_MAX || at + len > P4_IO_PUNT_BYTES) {
            b->punt_dropped++;
            return;
        }
        memcpy(b->punt_buf + at, data, len);
        b->punt_off[b->npunt] = at;
        b->punt_len[b->npunt] = len;
        b->npunt++;
        return;
    }
    for (uint32_t i = 0; i < nports && i < P4_IO_MAX_PORTS; i++) {
        if (numbers[i] != port)
            continue;
        if (send(fds[i], data, len, MSG_DONTWAIT) < 0) {
            b->send_errors++;
            return;
        }
        b->tx[i]++;
        b->tx_bytes[i] += len;
        return;
    }
    b->no_port++;
}

int p4_io_burst_run(struct p4_dev *dev, uint64_t now_ns, int fd, uint32_t port,
                    const int *fds, const uint32_t *numbers, uint32_t nports, uint32_t cpu_port,
                    p4_io_burst *b)
{
    struct mmsghdr msgs[P4_IO_BATCH];
    struct iovec iov[P4_IO_BATCH];
    struct sockaddr_ll addr[P4_IO_BATCH];
    union {
        struct cmsghdr align;
        uint8_t buf[CMSG_SPACE(sizeof(struct tpacket_auxdata))];
    } ctrl[P4_IO_BATCH];
    /* the counters of this burst (not the digest words and buffers behind them) */
    memset(b, 0, offsetof(p4_io_burst, digest_site));
    memset(msgs, 0, sizeof msgs);
    for (int i = 0; i < P4_IO_BATCH; i++) {
        /* 4 bytes of room in front: a VLAN tag put back moves the MACs forward */
        iov[i].iov_base = b->frames[i] + 4;
        iov[i].iov_len = P4_IO_FRAME;
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
        msgs[i].msg_hdr.msg_name = &addr[i];
        msgs[i].msg_hdr.msg_namelen = sizeof addr[i];
        msgs[i].msg_hdr.msg_control = ctrl[i].buf;
        msgs[i].msg_hdr.msg_controllen = sizeof ctrl[i].buf;
    }
    int n = recvmmsg(fd, msgs, P4_IO_BATCH, MSG_DONTWAIT, NULL);
    if (n < 0)
        return (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ENETDOWN)
                   ? 0
                   : -1;
    p4_result *res = p4_dev_result(dev);
    for (int i = 0; i < n; i++) {
        struct msghdr *h = &msgs[i].msg_hdr;
        if (addr[i].sll_pkttype == PACKET_OUTGOING)
            continue; /* our own transmissions */
        b->rx++;
        if (h->msg_flags & MSG_TRUNC) {
            b->rx_dropped++;
            continue;
        }
        uint8_t *data = b->frames[i] + 4;
        uint32_t len = msgs[i].msg_len;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c; c = CMSG_NXTHDR(h, c)) {
            if (c->cmsg_level != SOL_PACKET || c->cmsg_type != PACKET_AUXDATA)
                continue;
            struct tpacket_auxdata aux;
            memcpy(&aux, CMSG_DATA(c), sizeof aux);
            if ((aux.tp_status & TP_STATUS_VLAN_VALID) && len >= 12) {
                uint16_t tpid = (aux.tp_status & TP_STATUS_VLAN_TPID_VALID) ? aux.tp_vlan_tpid
                                                                            : 0x8100;
                memmove(data - 4, data, 12);
                data -= 4;
                data[12] = (uint8_t)(tpid >> 8);
                data[13] = (uint8_t)tpid;
                data[14] = (uint8_t)(aux.tp_vlan_tci >> 8);
                data[15] = (uint8_t)aux.tp_vlan_tci;
                len += 4;
            }
        }
        b->rx_bytes += len;
        p4_process(dev, now_ns, port, data, len);
        b->faults += res->faults;
        b->dropped += res->dropped;
        for (uint32_t k = 0; k < res->nout; k++)
            send_out(b, res->buf + res->out[k].off, res->out[k].len, res->out[k].port, fds,
                     numbers, nports, cpu_port);
        for (uint32_t k = 0; k < res->ndigest; k++) {
            if (b->ndigest >= P4_IO_DIGEST_MAX) {
                b->digest_dropped++;
                continue;
            }
            b->digest_site[b->ndigest] = res->digest_site[k];
            memcpy(b->digest_vals[b->ndigest], res->digest_vals[k], sizeof res->digest_vals[k]);
            b->ndigest++;
        }
    }
    return n;
}
