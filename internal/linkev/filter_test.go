package linkev

import (
	"encoding/binary"
	"testing"

	"golang.org/x/net/bpf"
)

// nlmsg builds one netlink message of type typ with flags about ifindex,
// in byte order order.
func nlmsg(order binary.ByteOrder, typ, flags uint16, ifindex int32) []byte {
	b := make([]byte, nlmsgHdrLen+ifinfomsgLen)
	order.PutUint32(b[0:], uint32(len(b)))
	order.PutUint16(b[4:], typ)
	order.PutUint16(b[6:], flags)
	order.PutUint32(b[nlmsgHdrLen+4:], uint32(ifindex))
	return b
}

func TestFilter(t *testing.T) {
	for _, order := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
		prog, err := Filter(7, order)
		if err != nil {
			t.Fatal(err)
		}
		vm, err := bpf.NewVM(prog)
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name string
			msg  []byte
			pass bool
		}{
			{"new link, own interface", nlmsg(order, typeNewLink, 0, 7), true},
			{"deleted link, own interface", nlmsg(order, typeDelLink, 0, 7), true},
			{"new link, another interface", nlmsg(order, typeNewLink, 0, 8), false},
			{"new address (a dump the engine asked for)", nlmsg(order, 20, 0, 7), false},
			{"new route", nlmsg(order, 24, 0, 7), false},
			{"link in a multi-part dump", nlmsg(order, typeNewLink, 2, 7), false},
			{"truncated", nlmsg(order, typeNewLink, 0, 7)[:20], false},
		} {
			n, err := vm.Run(tc.msg)
			if err != nil {
				t.Fatalf("%v %s: %v", order, tc.name, err)
			}
			if (n > 0) != tc.pass {
				t.Errorf("%v %s: passed %d bytes, want pass %v", order, tc.name, n, tc.pass)
			}
		}
	}
}
