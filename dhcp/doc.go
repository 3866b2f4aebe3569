// Package dhcp is the DHCPv4 and ARP wire codec of ndhc: messages (RFC 2131),
// options (RFC 2132 and the RFCs cited on each accessor), the raw IPv4/UDP
// framing used on AF_PACKET datagram sockets, ARP for RFC 5227 address
// conflict detection, the classic BPF filters that sockd attaches to those
// sockets, and the builders of the messages a client sends
// ([ClientConfig]).
//
// It holds no client logic: the RFC 2131 state machine, the RFC 5227
// conflict check and the lease with its file format are in package
// [github.com/ndhc-go/ndhc/dhcp/client], which uses this package and which
// this package does not import.
//
// Everything in this package parses bytes that come from the network and runs
// in the least privileged process. The rules it follows:
//
//   - Every length is checked against the real buffer before any index; a
//     length field from the wire is never trusted. Truncation is reported as
//     an error wrapping [io.ErrUnexpectedEOF].
//   - A malformed field is an error, never a default. A fixed-size option of
//     the wrong size, a name with a forbidden character, a compression pointer
//     that loops or a route with a prefix over 32 is an [OptionError].
//     [ParseReply] drops such an option whole when the lease can do without
//     it and lists it in [Reply.Dropped]; in the options a lease cannot do
//     without (message type, server identifier, lease time, subnet mask,
//     client identifier) it fails the whole decode, and the caller drops the
//     packet and logs the error.
//   - Parsing does not allocate: [ParseReply] decodes a BOOTREPLY into a
//     caller-owned [Reply] whose storage is fixed-size arrays, and the
//     builders ([ClientConfig.AppendDiscover] and friends) append into a
//     caller buffer.
//   - Values that cross a process boundary are typed and validated:
//     [netip.Addr] and [netip.Prefix] for addresses, [DomainName] and
//     [Hostname] for names, [Route] for static routes. Other packages reuse
//     the validators ([ParseDomainName], [ParseHostname]) rather than write
//     their own.
//
// # Options
//
// Options are decoded through a sticky-error iterator:
//
//	d := m.Options.Decoder()
//	for d.Next() {
//		switch d.Code() {
//		case dhcp.OptServerID:
//			server = d.Addr()
//		case dhcp.OptRouter:
//			n := d.Addrs(routers[:])
//			...
//		}
//	}
//	if err := d.Err(); err != nil { ... }
//
// A getter applied to a value of the wrong size (or one that does not
// validate) records an error and returns the zero value; Next then returns
// false. Instances of one code are concatenated (RFC 3396), across the
// options field and, when option 52 says so (RFC 2132 section 9.3), the file
// and sname fields, in that order. Option 52 itself is consumed by the
// decoder: a decoded [Message] holds the options of all three fields in
// [Message.Options], and the overloaded sname/file fields are cleared, so that
// encoding the message again writes every option into the options field.
// Unknown options are kept raw and survive a decode/encode round trip.
//
// # Framing
//
// [ParseDatagram] and [Datagram.AppendBinary] handle the IPv4 and UDP headers
// of frames read from or written to an AF_PACKET SOCK_DGRAM socket (the frame
// starts at the IPv4 header). IP options and fragments are rejected; both
// checksums are verified on receive and computed on send. A UDP checksum of
// zero means "not computed" (RFC 768) and is accepted: the IPv4 header
// checksum still covers the addresses, and the DHCP payload is validated on
// its own. A frame whose UDP checksum the kernel left incomplete because it
// never left the host (PACKET_AUXDATA reports TP_STATUS_CSUMNOTREADY, e.g. a
// server on the other end of a veth pair with checksum offload) must be
// parsed with [ChecksumNotReady].
//
// ARP frames are read and written on AF_PACKET SOCK_DGRAM sockets as well:
// the data starts at the 28-byte ARP payload (RFC 826) and the kernel fills in
// the Ethernet header from the sockaddr_ll, so the filters from [ARPFilter]
// and [ARPDefenseFilter] use ARP offsets, not Ethernet ones.
//
// # Filters
//
// [DHCPFilter], [ARPFilter] and [ARPDefenseFilter] return classic BPF
// programs for SO_ATTACH_FILTER. Every constant in them is in the order in
// which BPF loads it (network byte order), so they behave the same on every
// host; the C ndhc's defense filter did not, and dropped every conflict on
// little-endian machines.
package dhcp
