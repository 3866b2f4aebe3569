package lab

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// CaptureEnv names the environment variable that makes TestCaptureServers
// regenerate dhcp/testdata/captures.
const captureEnv = "NDHC_CAPTURE"

// captureDir is where the captures go, relative to this package.
const captureDir = "../../dhcp/testdata/captures"

// captureMAC is the client's hardware address in the captures, fixed so
// that regenerated files differ only where the servers do.
var captureMAC = net.HardwareAddr{0x02, 0x6e, 0x64, 0x68, 0x63, 0x01}

// staleLease is the address dhclient asks for in INIT-REBOOT: outside
// every lab subnet, so an authoritative server NAKs it.
var staleLease = netip.MustParseAddr("192.0.2.77")

var msgNames = map[int]string{
	Discover: "discover", Offer: "offer", Request: "request", Decline: "decline",
	Ack: "ack", Nak: "nak", Release: "release", Inform: "inform",
}

// TestCaptureServers records the OFFER, ACK and NAK messages of every
// server kind, configured with richConfig, as seen by busybox udhcpc and
// ISC dhclient in the client namespace, and writes them with a README to
// dhcp/testdata/captures. It runs only with NDHC_CAPTURE=1:
//
//	NDHC_CAPTURE=1 go test -run TestCaptureServers -v ./internal/lab/
func TestCaptureServers(t *testing.T) {
	if os.Getenv(captureEnv) != "1" {
		t.Skipf("set %s=1 to regenerate %s", captureEnv, captureDir)
	}
	Require(t, "busybox", "dhclient")
	if err := os.MkdirAll(captureDir, 0o755); err != nil {
		t.Fatal(err)
	}
	old, _ := filepath.Glob(filepath.Join(captureDir, "*.bin"))
	for _, f := range old {
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}
	var rows []captureRow
	versions := map[Kind]string{}
	for _, kind := range Kinds {
		t.Run(string(kind), func(t *testing.T) {
			RequireServer(t, kind)
			versions[kind] = serverVersion(kind)
			rows = append(rows, captureServer(t, kind)...)
		})
	}
	if err := os.WriteFile(filepath.Join(captureDir, "README.md"), []byte(captureReadme(rows, versions)), 0o644); err != nil {
		t.Fatal(err)
	}
}

type captureRow struct {
	file    string
	size    int
	client  string
	options []int
	search  string // how option 119 is encoded
}

func captureServer(t *testing.T, kind Kind) []captureRow {
	l := NewT(t, Config{Name: "capture", ClientMAC: captureMAC})
	if _, err := l.Net.Start(kind, richConfig(l.Net)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	var rows []captureRow
	count := map[string]int{}
	save := func(client string, pkts []Packet) {
		for _, p := range pkts {
			mt := p.MessageType()
			if p.Outgoing || (mt != Offer && mt != Ack && mt != Nak) {
				continue
			}
			base := fmt.Sprintf("%s-%s", kind, msgNames[mt])
			count[base]++
			name := base + ".bin"
			if n := count[base]; n > 1 {
				name = fmt.Sprintf("%s-%d.bin", base, n)
			}
			if err := os.WriteFile(filepath.Join(captureDir, name), p.Payload, 0o644); err != nil {
				t.Fatal(err)
			}
			rows = append(rows, captureRow{file: name, size: len(p.Payload), client: client,
				options: optionCodes(p.Payload), search: searchEncoding(p.Payload)})
		}
	}

	// udhcpc: DISCOVER, OFFER, REQUEST, ACK, asking for every option.
	capt, err := l.Client.CaptureDHCP()
	if err != nil {
		t.Fatal(err)
	}
	run, err := l.RunUdhcpc(ctx, UdhcpcOptions{Request: requestAll})
	if err != nil {
		t.Fatalf("%v\n%s", err, run.Output)
	}
	time.Sleep(200 * time.Millisecond)
	save("udhcpc", capt.Stop())

	// dhclient in INIT-REBOOT for an address of another network: NAK,
	// then DISCOVER, OFFER, REQUEST, ACK.
	capt, err = l.Client.CaptureDHCP()
	if err != nil {
		t.Fatal(err)
	}
	run, err = l.RunDhclient(ctx, DhclientOptions{OldLease: staleLease})
	pkts := capt.Stop()
	if err != nil {
		t.Errorf("%v\n%s", err, run.Output)
	}
	save("dhclient", pkts)
	if count[string(kind)+"-nak"] == 0 {
		t.Logf("%s sent no NAK to dhclient's INIT-REBOOT request for %v", kind, staleLease)
	}
	return rows
}

// optionCodes lists the option codes of a DHCP message in wire order.
func optionCodes(b []byte) []int {
	var codes []int
	for i := 240; i < len(b); {
		switch b[i] {
		case 0:
			i++
			continue
		case 255:
			return codes
		}
		if i+1 >= len(b) {
			return codes
		}
		codes = append(codes, int(b[i]))
		i += 2 + int(b[i+1])
	}
	return codes
}

// searchEncoding says whether option 119 uses RFC 1035 compression
// pointers ("compressed"), does not ("plain"), or is absent ("").
func searchEncoding(b []byte) string {
	var v []byte
	for i := 240; i+1 < len(b) && b[i] != 255; {
		if b[i] == 0 {
			i++
			continue
		}
		n := int(b[i+1])
		if b[i] == 119 && i+2+n <= len(b) {
			v = append(v, b[i+2:i+2+n]...)
		}
		i += 2 + n
	}
	if v == nil {
		return ""
	}
	for i := 0; i < len(v); i += 1 + int(v[i]) {
		if v[i]&0xc0 == 0xc0 {
			return "compressed"
		}
	}
	return "plain"
}

func serverVersion(kind Kind) string {
	var argv []string
	switch kind {
	case Dnsmasq:
		argv = []string{"dnsmasq", "--version"}
	case Kea:
		argv = []string{"kea-dhcp4", "-V"}
	case ISCDhcpd:
		argv = []string{"dhcpd", "--version"}
	case Udhcpd:
		argv = []string{"busybox"}
	}
	bin, err := findBinary(argv[0])
	if err != nil {
		return "unknown"
	}
	out, _ := exec.Command(bin, argv[1:]...).CombinedOutput()
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	if kind == Kea {
		line = "Kea " + line
	}
	return line
}

func captureReadme(rows []captureRow, versions map[Kind]string) string {
	var b bytes.Buffer
	b.WriteString(`# Real DHCP server replies

Each ` + "`<server>-<type>[-n].bin`" + ` file is one DHCP message exactly as a real
server sent it: the UDP payload (BOOTP header from ` + "`op`" + ` on, magic
cookie, options), without IP or UDP headers. They seed the codec's fuzz
corpus and its decode tests. Generated by ` + "`TestCaptureServers`" + ` in
` + "`internal/lab/capture_test.go`" + `; do not edit by hand.

## How they were made

` + "```" + `
NDHC_CAPTURE=1 CGO_ENABLED=0 go test -count=1 -run TestCaptureServers -v ./internal/lab/
` + "```" + `

As root, with the Debian packages of ` + "`internal/lab/packages.txt`" + `. For each
server the test builds a lab (server namespace with a bridge at 10.77.0.1/24,
client namespace with eth0 = 02:6e:64:68:63:01, veth between them), starts the
server with the lab's ` + "`richConfig`" + ` and records, with a packet socket on
the client's eth0:

1. busybox udhcpc (` + "`udhcpc -f -q -n -O 26 -O 42 -O 58 -O 59 -O 119 -O 121`" + `,
   so the parameter request list is 1 3 6 12 15 28 26 42 58 59 119 121):
   DISCOVER, **OFFER**, REQUEST, **ACK**.
2. ISC dhclient started in INIT-REBOOT with an unexpired lease for 192.0.2.77
   (an address of no lab network): REQUEST, **NAK** from an authoritative
   server, then DISCOVER, **OFFER**, REQUEST, **ACK** (files ` + "`-2`" + `).

Server configuration (` + "`richConfig`" + ` in ` + "`internal/lab/lab_test.go`" + `;
what each server really sent is in the table below):

| option | value |
|---|---|
| 1 subnet mask | 255.255.255.0 |
| 3 router | 10.77.0.1 |
| 6 DNS | 10.77.0.53, 192.0.2.53 |
| 12 host name | labclient (reservation by MAC; udhcpd: for everyone) |
| 15 domain name | lab.example |
| 26 MTU | 1400 |
| 28 broadcast | 10.77.0.255 |
| 42 NTP | 10.77.0.123 |
| 51 lease time | 120 s |
| 58 / 59 T1 / T2 | 50 s / 95 s |
| 119 search list | lab.example, corp.lab.example, example.org |
| 121 classless routes | 198.51.100.0/24 via 10.77.0.254, 0.0.0.0/0 via 10.77.0.1 |

Pool 10.77.0.100-10.77.0.199, authoritative, no ping/ARP probe before
offering. Server identifier 10.77.0.1. Kea 2.2 has no definition for option
121, so the lab gives it the RFC 3442 bytes (csv-format false); ISC dhcpd gets them as
an ` + "`array of integer 8`" + ` option it is told about; dnsmasq and udhcpd
encode the routes themselves. The last column says whether the server
compressed the search list (RFC 1035 pointers, as RFC 3397 allows).

## Server versions

`)
	for _, k := range Kinds {
		if v, ok := versions[k]; ok {
			fmt.Fprintf(&b, "- %s: %s\n", k, v)
		}
	}
	b.WriteString(`
## Files

| file | bytes | client | option codes in wire order | 119 |
|---|---|---|---|---|
`)
	for _, r := range rows {
		cs := make([]string, len(r.options))
		for i, c := range r.options {
			cs[i] = strconv.Itoa(c)
		}
		fmt.Fprintf(&b, "| %s | %d | %s | %s | %s |\n", r.file, r.size, r.client, strings.Join(cs, " "), r.search)
	}
	return b.String()
}
