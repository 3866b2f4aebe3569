// Package lab builds throw-away network-namespace labs with real DHCP
// servers, for integration tests, codec captures and `make demo`.
//
// A lab is a set of network namespaces that this package creates and
// removes again:
//
//	ndhc-<name>-<pid>-<rand>-srv   first network: bridge br0 holding the
//	                               gateway address (.1), where servers run
//	ndhc-<name>-<pid>-<rand>-srv2  further networks made by AddNetwork
//	ndhc-<name>-<pid>-<rand>-cli   the client: eth0, up, unconfigured
//	ndhc-<name>-<pid>-<rand>-sq1   squatters made by AddSquatter: eth0
//	                               owning one address and answering ARP
//
// The client's eth0 is one end of a veth pair; the other end (cli0) is a
// port of the bridge of the network the client is plugged into. Taking
// cli0 down is a cable pull (the client sees carrier loss while its own
// interface stays administratively up), and MoveClient re-plugs the cable
// into another network. Squatters hang off the same bridge, so the client,
// the servers and the squatters share one L2 segment. IPv6 is disabled in
// every namespace so that the only traffic is what a test causes.
//
// All traffic stays inside these namespaces: no lab interface is ever
// connected to the host's namespace. Servers (dnsmasq, Kea, ISC dhcpd and
// busybox udhcpd) run in a network's namespace through `ip netns exec`,
// with configuration, lease and log files in the lab's directory. Close
// kills every process inside the lab's namespaces and deletes them; it is
// idempotent and also cleans up after a New that failed half-way.
// CleanupStale removes namespaces left by labs whose owning process died.
//
// The stand-in clients RunUdhcpc and RunDhclient run Debian's busybox
// udhcpc and ISC dhclient in the client namespace with scripts that change
// nothing, and CaptureDHCP records DHCP traffic on a namespace's interface
// with a packet socket opened inside that namespace.
//
// Everything needs root and Linux; Require and RequireServer skip a test
// with the reason and the Debian packages to install (packages.txt, also
// returned by Packages) when that is not the case.
package lab
