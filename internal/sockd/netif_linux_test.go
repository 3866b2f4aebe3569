package sockd

import (
	"net"

	"github.com/ndhc-go/ndhc/dhcp"
)

func netIf(name string) (Interface, error) {
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return Interface{}, err
	}
	var mac dhcp.MAC
	copy(mac[:], ifi.HardwareAddr)
	return Interface{Index: ifi.Index, Name: ifi.Name, MAC: mac}, nil
}
