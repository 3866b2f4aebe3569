// Package client is the DHCPv4 client of ndhc: the state machine of RFC 2131
// section 4.4 (figure 5) as an explicit, synchronous [Client], and the [Lease]
// it binds, with the JSON form of the lease file. Package
// [github.com/ndhc-go/ndhc/dhcp] is the wire codec it builds and parses
// messages and ARP packets with; this package adds what a client decides.
//
// # The state machine
//
// A [Client] does no I/O and reads no clock. The caller passes the current
// time into every call (Start, HandlePacket, HandleARP, HandleTimer,
// HandleLink, Renew, Release, Stop), calls HandleTimer once the time reaches
// Deadline, and carries out the side effects each call returns as [Action]
// values, in order: [SendDHCP] and [SendARP] to transmit, [Sockets] to open
// and close sockets, [Configure] and [Deconfigure] for the interface,
// [SaveLease] and [ForgetLease] for the lease file, [Log] and [Exit]. The
// clock and the random source are injected, so tests drive every
// transition, retransmission and lease timer with a fake clock.
//
// The states are those of RFC 2131 section 4.4 ([StateInit] to
// [StateRebinding], [StateInitReboot] and [StateRebooting]) plus
// [StateChecking] (the ARP conflict check between DHCPACK and BOUND),
// [StateReleased] and [StateStopped]. The client follows:
//
//   - RFC 2131 section 3.1 (allocation: DISCOVER, OFFER, REQUEST, ACK, and
//     DHCPDECLINE after a conflict) and section 3.2 (INIT-REBOOT with the
//     saved lease), with the message contents of section 4.4.1 table 5
//     built by [github.com/ndhc-go/ndhc/dhcp.ClientConfig];
//   - RFC 2131 section 4.1 (retransmission: 4 s doubled up to 64 s, plus or
//     minus 1 s), section 4.4.5 (T1 and T2: RENEWING unicast to the server,
//     REBINDING broadcast, lease expiry) and section 4.4.6 (DHCPRELEASE);
//   - RFC 5227 section 2.1 (probing the offered address, in the fast mode of
//     [ARPFast] or the full one of [ARPRFC5227]), its rate limit after
//     repeated conflicts (section 2.1.1, see [Timings]), section 2.3
//     (announcements) and section 2.4 (defense of the bound address);
//   - RFC 4436 section 2.2 (after the carrier returns in BOUND, checking
//     that the gateway still answers ARP from the same hardware address, and
//     confirming the lease with INIT-REBOOT otherwise).
//
// A reply is accepted only if it passes the codec's checks
// ([github.com/ndhc-go/ndhc/dhcp.Reply.FromMessage]) and belongs to the
// current exchange (xid, chaddr, client identifier, a unicast server
// identifier and yiaddr); anything else is dropped with a debug [Log].
//
// # The lease
//
// A [Lease] is the address and configuration a server granted and when;
// every Lease the client hands out has passed [Lease.Validate]. Its JSON
// encoding is the lease file ndhc keeps per interface: [ParseLease] decodes
// one strictly (bounded size, known version, no unknown fields, every value
// validated again) and is the function to call on untrusted bytes.
//
// Like package dhcp, this package makes no system calls.
package client
