// Package apply is the part of ifch that changes the system: the applier
// that converges an interface to the state the engine asks for, the
// resolv.conf writer, and the server loop that reads commands from a peer.
// The engine never imports it; the ifch role and cmd/ifchd do.
//
// # Declarative and idempotent
//
// Every Configure carries the whole desired state. The Applier reads the
// link's current state, computes a plan (pure, see plan) that adds before it
// deletes, runs it, reads the state back and repeats until nothing is left
// to do (at most three passes). Applying the same state twice changes
// nothing: the second plan is empty. If a step fails, the applier rolls the
// link back to the state it read before the command and says so; if the
// rollback fails too, the error reports exactly what the kernel holds.
//
// # What ifch owns
//
// ifch installs and so removes only:
//   - IPv4 addresses with lifetimes (not IFA_F_PERMANENT). An infinite
//     lease is installed with a finite lifetime of about 68 years so that it
//     stays recognisable; addresses an administrator set statically are
//     permanent and never touched.
//   - IPv4 routes in the main table through the link with protocol
//     RTPROT_DHCP and the configured metric.
//   - The MTU, which Deconfigure (or a Configure without mtu) restores to
//     the value it had before ifch first changed it.
//
// The link is set up by Configure and Up and never set down.
//
// # Kernel access
//
// Everything goes through the Kernel interface. Netlink implements it over
// one NETLINK_ROUTE handle opened before the sandbox; a fake in the tests
// renders its state as text. resolv.conf is rewritten through a descriptor
// opened before the sandbox (see ResolvConf). The hostname is set only
// through a HostnameSetter, nil by default, because sethostname needs
// CAP_SYS_ADMIN, which belongs to a separate role.
package apply
