// Package hostkey is netlogind's server identity: an Ed25519 key and the
// certificate that carries its public half.
//
// Only Ed25519 is accepted. The listener signs each TLS handshake on behalf
// of the sandboxed [net] process, and it can only check what it is asked to
// sign when crypto/tls hands the signer the whole TLS 1.3 CertificateVerify
// input, which it does for Ed25519 alone (see wire.CheckSignInput). An RSA
// or ECDSA key would make the listener sign a bare hash it cannot inspect.
//
// Generate makes a self-signed certificate that is also its own CA, so a
// client can trust it either by its file (netlogin -ca) or by its
// fingerprint (netlogin -fingerprint). Load reads the pair back and refuses
// a key the daemon should not use.
package hostkey

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"strings"
	"syscall"
	"time"
)

// PEM block types written and read.
const (
	pemKey  = "PRIVATE KEY" // PKCS #8
	pemCert = "CERTIFICATE"
)

// Load's refusals, wrapped in its errors so callers can tell them apart.
var (
	// ErrNotEd25519: the key, or the certificate's key, is of another kind.
	ErrNotEd25519 = errors.New("hostkey: not an Ed25519 key")
	// ErrKeyExposed: the key file's owner or mode lets someone else read
	// or replace it.
	ErrKeyExposed = errors.New("hostkey: key file not private")
	// ErrMismatch: the certificate is for another key.
	ErrMismatch = errors.New("hostkey: certificate and key do not match")
)

// Bounds on the files Load reads, so a wrong path (a device, a huge log)
// fails fast instead of filling memory. A PEM Ed25519 key is about 120
// bytes and a certificate well under 2 KiB.
const (
	maxKeyFile  = 16 << 10
	maxCertFile = 256 << 10
)

// Generate makes a new Ed25519 key and a self-signed certificate for it,
// valid from a minute ago (for clocks slightly behind) for validFor. The
// certificate can verify itself as a CA (IsCA, KeyUsage DigitalSignature
// and CertSign) and is meant for a TLS server (ExtKeyUsage ServerAuth).
// Each of hosts becomes a subject alternative name: an IP address if it
// parses as one, a DNS name otherwise. It returns the key as a PKCS #8
// "PRIVATE KEY" PEM block and the certificate as a "CERTIFICATE" block.
func Generate(commonName string, hosts []string, validFor time.Duration) (keyPEM, certPEM []byte, err error) {
	if commonName == "" {
		return nil, nil, errors.New("hostkey: empty common name")
	}
	if validFor <= 0 {
		return nil, nil, fmt.Errorf("hostkey: validity %v is not positive", validFor)
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("hostkey: %w", err)
	}
	// RFC 5280 wants a positive serial of at most 20 octets; 128 random
	// bits keep two certificates from ever sharing one.
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, nil, fmt.Errorf("hostkey: %w", err)
	}
	serial.Add(serial, big.NewInt(1))
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: commonName},
		NotBefore:             now.Add(-time.Minute),
		NotAfter:              now.Add(validFor),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
			continue
		}
		if err := checkDNSName(h); err != nil {
			return nil, nil, err
		}
		tmpl.DNSNames = append(tmpl.DNSNames, h)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, priv)
	if err != nil {
		return nil, nil, fmt.Errorf("hostkey: creating the certificate: %w", err)
	}
	p8, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, nil, fmt.Errorf("hostkey: %w", err)
	}
	keyPEM = pem.EncodeToMemory(&pem.Block{Type: pemKey, Bytes: p8})
	clear(p8)
	certPEM = pem.EncodeToMemory(&pem.Block{Type: pemCert, Bytes: der})
	return keyPEM, certPEM, nil
}

// checkDNSName accepts a host name of letters, digits, '-' and '.', with
// an optional leading "*." wildcard label: what a client can match.
func checkDNSName(h string) error {
	name := strings.TrimPrefix(h, "*.")
	if name == "" || len(h) > 253 {
		return fmt.Errorf("hostkey: host %q is neither an IP address nor a DNS name", h)
	}
	for _, label := range strings.Split(name, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Errorf("hostkey: host %q is neither an IP address nor a DNS name", h)
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return fmt.Errorf("hostkey: host %q is neither an IP address nor a DNS name", h)
			}
		}
	}
	return nil
}

// Chain is a certificate chain as TLS sends it: the leaf first, then any
// intermediates.
type Chain struct {
	// DER holds each certificate's encoding, leaf first.
	DER [][]byte
	// Leaf is DER[0] parsed; its public key is the host key's.
	Leaf *x509.Certificate
}

// TLS returns the chain as a tls.Certificate whose signatures come from
// signer: the host key itself, or the [net] process's stand-in that asks
// the listener to sign.
func (c *Chain) TLS(signer crypto.Signer) tls.Certificate {
	return tls.Certificate{Certificate: c.DER, PrivateKey: signer, Leaf: c.Leaf}
}

// Load reads the host key (a PKCS #8 PEM block, as Generate writes it) and
// its certificate chain (one or more PEM certificates, leaf first). It
// refuses a key that is not Ed25519, a key file that is not a regular file
// owned by root or the caller or that grants any permission to group or
// others, and a leaf certificate whose public key is not the key's.
func Load(keyPath, certPath string) (ed25519.PrivateKey, *Chain, error) {
	key, err := loadKey(keyPath)
	if err != nil {
		return nil, nil, err
	}
	chain, err := loadChain(certPath)
	if err != nil {
		clear(key)
		return nil, nil, err
	}
	pub, ok := chain.Leaf.PublicKey.(ed25519.PublicKey)
	if !ok {
		clear(key)
		return nil, nil, fmt.Errorf("%w: %s: the certificate's key is %s", ErrNotEd25519, certPath, chain.Leaf.PublicKeyAlgorithm)
	}
	if !bytes.Equal(pub, key.Public().(ed25519.PublicKey)) {
		clear(key)
		return nil, nil, fmt.Errorf("%w: %s does not certify the key in %s", ErrMismatch, certPath, keyPath)
	}
	return key, chain, nil
}

func loadKey(path string) (ed25519.PrivateKey, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("hostkey: %w", err)
	}
	defer f.Close()
	// Stat the open file, not the path, so the checks are about the bytes
	// we then read.
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("hostkey: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("hostkey: %s is not a regular file", path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("%w: %s has mode %04o; a private key must grant nothing to group or others (chmod 600)", ErrKeyExposed, path, perm)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Uid != 0 && int(st.Uid) != os.Geteuid() {
		return nil, fmt.Errorf("%w: %s is owned by uid %d, neither root nor us", ErrKeyExposed, path, st.Uid)
	}
	b, err := readBounded(f, maxKeyFile)
	if err != nil {
		return nil, fmt.Errorf("hostkey: %s: %w", path, err)
	}
	defer clear(b)
	block, rest := pem.Decode(b)
	if block == nil {
		return nil, fmt.Errorf("hostkey: %s holds no PEM block", path)
	}
	defer clear(block.Bytes)
	if block.Type != pemKey {
		return nil, fmt.Errorf("hostkey: %s holds a %q PEM block, want %q (PKCS #8 Ed25519)", path, block.Type, pemKey)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, fmt.Errorf("hostkey: %s holds more than one PEM block", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("hostkey: %s: %w", path, err)
	}
	ek, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%w: %s holds a %T (the listener can only check what it signs with Ed25519)", ErrNotEd25519, path, k)
	}
	return ek, nil
}

func loadChain(path string) (*Chain, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("hostkey: %w", err)
	}
	defer f.Close()
	b, err := readBounded(f, maxCertFile)
	if err != nil {
		return nil, fmt.Errorf("hostkey: %s: %w", path, err)
	}
	c := &Chain{}
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			break
		}
		if block.Type != pemCert {
			return nil, fmt.Errorf("hostkey: %s holds a %q PEM block among the certificates", path, block.Type)
		}
		c.DER = append(c.DER, block.Bytes)
	}
	if len(bytes.TrimSpace(b)) != 0 {
		return nil, fmt.Errorf("hostkey: %s: trailing data after the certificates", path)
	}
	if len(c.DER) == 0 {
		return nil, fmt.Errorf("hostkey: %s holds no certificate", path)
	}
	for i, der := range c.DER {
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("hostkey: %s: certificate %d: %w", path, i+1, err)
		}
		if i == 0 {
			c.Leaf = cert
		}
	}
	return c, nil
}

// readBounded reads all of r, failing if it holds more than max bytes.
func readBounded(r io.Reader, max int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		clear(b)
		return nil, fmt.Errorf("larger than %d bytes", max)
	}
	return b, nil
}

// FingerprintPrefix starts every fingerprint.
const FingerprintPrefix = "SHA256:"

// Fingerprint names a certificate by the SHA-256 of its DER encoding:
// "SHA256:" and 64 lowercase hex digits.
func Fingerprint(certDER []byte) string {
	sum := sha256.Sum256(certDER)
	return FingerprintPrefix + hex.EncodeToString(sum[:])
}

// ParseFingerprint reads a fingerprint as Fingerprint writes it, or with
// the hex digits in colon-separated pairs (as openssl x509 -fingerprint
// prints them), in either case. The "SHA256:" prefix is required so that
// a digest of another kind is never mistaken for one.
func ParseFingerprint(s string) ([sha256.Size]byte, error) {
	var sum [sha256.Size]byte
	if len(s) < len(FingerprintPrefix) || !strings.EqualFold(s[:len(FingerprintPrefix)], FingerprintPrefix) {
		return sum, fmt.Errorf("hostkey: fingerprint %q does not start with %q", s, FingerprintPrefix)
	}
	h := s[len(FingerprintPrefix):]
	if strings.Contains(h, ":") {
		// Exactly 32 pairs of digits, each pair but the last followed by a
		// colon.
		if len(h) != 3*sha256.Size-1 {
			return sum, fmt.Errorf("hostkey: fingerprint %q: want %d colon-separated hex pairs", s, sha256.Size)
		}
		var b strings.Builder
		for i := 0; i < len(h); i += 3 {
			if i+2 < len(h) && h[i+2] != ':' {
				return sum, fmt.Errorf("hostkey: fingerprint %q: want %d colon-separated hex pairs", s, sha256.Size)
			}
			b.WriteString(h[i : i+2])
		}
		h = b.String()
	}
	if len(h) != 2*sha256.Size {
		return sum, fmt.Errorf("hostkey: fingerprint %q: want %d hex digits after %q", s, 2*sha256.Size, FingerprintPrefix)
	}
	if _, err := hex.Decode(sum[:], []byte(h)); err != nil {
		return sum, fmt.Errorf("hostkey: fingerprint %q: %w", s, err)
	}
	return sum, nil
}
