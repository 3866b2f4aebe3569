// Package ifch defines the interface-change protocol spoken between the
// DHCP engine and ifch, the only process allowed to change an interface, and
// the rules ifch applies before it changes anything.
//
// The package is pure: it makes no system calls, builds on every OS, and is
// the only part of ifch the engine imports. The Linux applier and the server
// loop live in package ifch/apply.
//
// # Transport
//
// One message travels in one SOCK_SEQPACKET datagram and is one transaction.
// The engine always sends the whole desired state of an interface, never a
// delta; ifch converges to it idempotently and answers every command with
// exactly one reply. A message is at most MaxMessageSize (4096) bytes; a
// receiver reads MaxMessageSize+1 bytes so that a longer one is detected and
// refused rather than silently cut.
//
// # Grammar
//
// The grammar below is ABNF (RFC 5234, with RFC 7405 %s case-sensitive
// strings). Every message is canonical: there is exactly one way to write
// each command, so Unmarshal followed by Marshal gives back the same bytes.
// Only printable ASCII (%x20-7E) and LF appear; fields are separated by one
// space; configure fields appear in the order given, each at most once except
// route, dns and search.
//
//	message     = command / reply
//	command     = configure / deconfigure / carrier / up
//
//	configure   = %s"configure" SP ifname LF
//	              %s"address" SP prefix LF           ; leased address/subnet length
//	              [ %s"broadcast" SP ipv4 LF ]       ; RFC 2132 option 28
//	              [ %s"router" SP ipv4 LF ]          ; RFC 2132 option 3, first router
//	              *( %s"route" SP prefix SP ipv4 LF )  ; RFC 3442 option 121
//	              *( %s"dns" SP ipv4 LF )            ; RFC 2132 option 6
//	              [ %s"domain" SP token LF ]         ; RFC 2132 option 15
//	              *( %s"search" SP token LF )        ; RFC 3397 option 119
//	              [ %s"mtu" SP mtu LF ]              ; RFC 2132 option 26
//	              [ %s"hostname" SP token LF ]       ; RFC 2132 option 12
//	              %s"lifetime" SP lifetime SP lifetime LF  ; valid, preferred
//	deconfigure = %s"deconfigure" SP ifname LF
//	carrier     = %s"carrier" SP ifname LF
//	up          = %s"up" SP ifname LF
//
//	reply       = ok / error
//	ok          = %s"ok" [ SP %s"carrier" SP ( %s"up" / %s"down" ) ] LF
//	error       = %s"error" SP code SP reason LF
//	code        = %s"syntax" / %s"too-large" / %s"wrong-interface"
//	            / %s"not-unicast" / %s"link-local" / %s"out-of-range"
//	            / %s"prefix-length" / %s"bad-broadcast" / %s"not-on-link"
//	            / %s"bad-route" / %s"too-many-routes" / %s"default-route"
//	            / %s"duplicate" / %s"too-many-servers" / %s"bad-name"
//	            / %s"too-many-names" / %s"bad-mtu" / %s"bad-lifetime"
//	            / %s"no-link" / %s"apply-failed" / %s"hostname-failed"
//	            / %s"not-permitted" / %s"route-policy"
//	reason      = 1*200( %x20-7E )
//
//	ifname      = 1*15( ALPHA / DIGIT / "-" / "_" / "." )  ; not "." nor ".."
//	prefix      = ipv4 "/" prefixlen
//	prefixlen   = DIGIT / ( "1" / "2" ) DIGIT / "3" %x30-32  ; 0..32
//	ipv4        = dec-octet 3( "." dec-octet )
//	dec-octet   = DIGIT / %x31-39 DIGIT / "1" 2DIGIT
//	            / "2" %x30-34 DIGIT / "25" %x30-35           ; 0..255
//	mtu         = %x31-39 0*4DIGIT                 ; 1..99999
//	lifetime    = %s"infinite" / "0" / %x31-39 0*19DIGIT
//	            ; seconds, below 2^64-1, which is written infinite
//	token       = 1*( %x21-7E )
//
// The grammar is deliberately wider than what ifch accepts in a few places,
// so that a well-formed but unacceptable value (an MTU of 40, a name with a
// semicolon, a lifetime that does not fit the kernel's 32 bits) is a policy
// refusal that ifch survives rather than a protocol violation.
//
// # Two kinds of rejection
//
// A message that breaks the grammar or the size bound (Unmarshal returns an
// error wrapping ErrSyntax or ErrTooLarge) means the peer is broken or
// hostile: ifch answers "error syntax ..." and closes the connection, and the
// spawned ifch role exits. A well-formed command that Policy.Validate refuses
// (a *PolicyError with a specific Code such as ErrNotUnicast or ErrNotOnLink)
// changes nothing, is logged and answered with its code, and ifch goes on.
//
// # Names
//
// ifch checks domain names, search domains and hostnames itself (letters,
// digits and hyphens, labels of 1..63 bytes, at most 253 bytes, hostnames at
// most 64), even though the engine already parsed them with package dhcp: it
// does not import that package, so the privileged process stays small, and
// it trusts nothing it did not check.
package ifch
