// Package linkev decodes the netlink link notifications (RTM_NEWLINK,
// RTM_DELLINK) that the engine receives on the socket the supervisor opened
// for it, keeping only what the DHCP client needs: carrier, administrative
// state and removal of one interface. The bytes come from the kernel, but
// they are parsed in the engine, so the parser is strict, bounded and
// fuzzed like any other.
package linkev

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Netlink constants (linux/netlink.h, linux/rtnetlink.h, linux/if.h),
// spelled out so that the package builds everywhere.
const (
	nlmsgHdrLen   = 16
	ifinfomsgLen  = 16
	typeDone      = 3
	typeError     = 2
	typeNewLink   = 16
	typeDelLink   = 17
	flagUp        = 0x1
	flagLowerUp   = 0x10000
	maxEventBytes = 1 << 16
)

// Event is the state of the watched interface after one notification.
type Event struct {
	// Removed is set when the interface is gone (RTM_DELLINK).
	Removed bool
	// Up is IFF_UP (administratively up).
	Up bool
	// Carrier is IFF_LOWER_UP.
	Carrier bool
}

// Parse decodes one datagram of netlink messages and returns the events
// for ifindex, in order; messages about other interfaces and other types
// are skipped. A truncated or inconsistent message is an error.
func Parse(b []byte, ifindex int32) ([]Event, error) {
	if len(b) > maxEventBytes {
		return nil, fmt.Errorf("linkev: datagram of %d bytes", len(b))
	}
	var out []Event
	for len(b) > 0 {
		if len(b) < nlmsgHdrLen {
			return nil, errors.New("linkev: truncated netlink header")
		}
		l := int(binary.NativeEndian.Uint32(b[0:4]))
		typ := binary.NativeEndian.Uint16(b[4:6])
		if l < nlmsgHdrLen || l > len(b) {
			return nil, fmt.Errorf("linkev: netlink message length %d of %d bytes", l, len(b))
		}
		body := b[nlmsgHdrLen:l]
		switch typ {
		case typeNewLink, typeDelLink:
			if len(body) < ifinfomsgLen {
				return nil, errors.New("linkev: truncated ifinfomsg")
			}
			idx := int32(binary.NativeEndian.Uint32(body[4:8]))
			flags := binary.NativeEndian.Uint32(body[8:12])
			if idx == ifindex {
				out = append(out, Event{Removed: typ == typeDelLink, Up: flags&flagUp != 0, Carrier: flags&flagLowerUp != 0})
			}
		case typeError:
			return nil, errors.New("linkev: netlink error message")
		}
		// Messages are aligned to 4 bytes.
		next := (l + 3) &^ 3
		if next > len(b) {
			next = len(b)
		}
		b = b[next:]
	}
	return out, nil
}

// AppendMessage encodes one link notification, for tests and fuzz seeds.
func AppendMessage(b []byte, ifindex int32, e Event) []byte {
	typ := uint16(typeNewLink)
	if e.Removed {
		typ = typeDelLink
	}
	var flags uint32
	if e.Up {
		flags |= flagUp
	}
	if e.Carrier {
		flags |= flagLowerUp
	}
	m := make([]byte, nlmsgHdrLen+ifinfomsgLen)
	binary.NativeEndian.PutUint32(m[0:], uint32(len(m)))
	binary.NativeEndian.PutUint16(m[4:], typ)
	binary.NativeEndian.PutUint32(m[nlmsgHdrLen+4:], uint32(ifindex))
	binary.NativeEndian.PutUint32(m[nlmsgHdrLen+8:], flags)
	return append(b, m...)
}
