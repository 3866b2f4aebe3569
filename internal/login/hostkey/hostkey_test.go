package hostkey

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writePair generates a pair and writes it into a fresh directory, the key
// with mode 0600.
func writePair(t *testing.T, cn string, hosts ...string) (keyPath, certPath string, certPEM []byte) {
	t.Helper()
	keyPEM, certPEM, err := Generate(cn, hosts, time.Hour)
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	dir := t.TempDir()
	keyPath, certPath = filepath.Join(dir, "key.pem"), filepath.Join(dir, "cert.pem")
	if err := os.WriteFile(keyPath, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certPath, certPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	return keyPath, certPath, certPEM
}

func TestGenerateLoad(t *testing.T) {
	keyPath, certPath, certPEM := writePair(t, "netlogind test", "login.example", "127.0.0.1", "::1")
	key, chain, err := Load(keyPath, certPath)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	block, _ := pem.Decode(certPEM)
	if len(chain.DER) != 1 || !bytes.Equal(chain.DER[0], block.Bytes) {
		t.Fatalf("chain has %d certificates, want the one written", len(chain.DER))
	}
	leaf := chain.Leaf
	if !bytes.Equal(leaf.PublicKey.(ed25519.PublicKey), key.Public().(ed25519.PublicKey)) {
		t.Error("the leaf does not carry the loaded key's public half")
	}
	if leaf.Subject.CommonName != "netlogind test" {
		t.Errorf("common name %q", leaf.Subject.CommonName)
	}
	if !leaf.IsCA || !leaf.BasicConstraintsValid {
		t.Error("the certificate is not a CA")
	}
	if leaf.KeyUsage != x509.KeyUsageDigitalSignature|x509.KeyUsageCertSign {
		t.Errorf("key usage %#x", leaf.KeyUsage)
	}
	if len(leaf.ExtKeyUsage) != 1 || leaf.ExtKeyUsage[0] != x509.ExtKeyUsageServerAuth {
		t.Errorf("extended key usage %v", leaf.ExtKeyUsage)
	}
	if len(leaf.DNSNames) != 1 || leaf.DNSNames[0] != "login.example" {
		t.Errorf("DNS names %v", leaf.DNSNames)
	}
	if len(leaf.IPAddresses) != 2 || !leaf.IPAddresses[0].Equal(net.ParseIP("127.0.0.1")) || !leaf.IPAddresses[1].Equal(net.ParseIP("::1")) {
		t.Errorf("IP addresses %v", leaf.IPAddresses)
	}
	if d := time.Until(leaf.NotAfter); d <= 50*time.Minute || d > time.Hour {
		t.Errorf("expires in %v, want about an hour", d)
	}
	if time.Now().Before(leaf.NotBefore) {
		t.Errorf("not valid yet: NotBefore %v", leaf.NotBefore)
	}

	// The certificate verifies as its own CA for each of its names, and not
	// for another.
	roots := x509.NewCertPool()
	roots.AddCert(leaf)
	for _, name := range []string{"login.example", "127.0.0.1", "::1"} {
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: name}); err != nil {
			t.Errorf("verify for %s: %v", name, err)
		}
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: "other.example"}); err == nil {
		t.Error("verified for a name it does not hold")
	}

	// The key signs what the certificate's key verifies.
	msg := []byte("handshake")
	if !ed25519.Verify(leaf.PublicKey.(ed25519.PublicKey), msg, ed25519.Sign(key, msg)) {
		t.Error("a signature by the loaded key does not verify with the certificate")
	}
	tc := chain.TLS(key)
	if tc.Leaf != leaf || len(tc.Certificate) != 1 || tc.PrivateKey == nil {
		t.Errorf("TLS() = %+v", tc)
	}

	// Two generations never share a key or a serial.
	k2, c2 := writePairLoad(t)
	if bytes.Equal(k2, key) || c2.Leaf.SerialNumber.Cmp(leaf.SerialNumber) == 0 {
		t.Error("two generated pairs share a key or a serial number")
	}
}

func writePairLoad(t *testing.T) (ed25519.PrivateKey, *Chain) {
	t.Helper()
	k, c, _ := writePair(t, "second")
	key, chain, err := Load(k, c)
	if err != nil {
		t.Fatal(err)
	}
	return key, chain
}

func TestLoadChain(t *testing.T) {
	// A leaf followed by an intermediate: both kept in order, the leaf
	// parsed.
	keyPath, certPath, certPEM := writePair(t, "leaf")
	_, _, otherPEM := writePair(t, "intermediate")
	if err := os.WriteFile(certPath, append(append([]byte{}, certPEM...), otherPEM...), 0o644); err != nil {
		t.Fatal(err)
	}
	_, chain, err := Load(keyPath, certPath)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if len(chain.DER) != 2 || chain.Leaf.Subject.CommonName != "leaf" {
		t.Fatalf("chain of %d, leaf %q", len(chain.DER), chain.Leaf.Subject.CommonName)
	}
	second, err := x509.ParseCertificate(chain.DER[1])
	if err != nil || second.Subject.CommonName != "intermediate" {
		t.Errorf("second certificate %v, %v", second, err)
	}
}

func pkcs8PEM(t *testing.T, k any) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

func TestLoadRefuses(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	// A certificate for the ECDSA key, to pair with it.
	ecTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	ecDER, err := x509.CreateCertificate(rand.Reader, ecTmpl, ecTmpl, &ecKey.PublicKey, ecKey)
	if err != nil {
		t.Fatal(err)
	}
	ecCertPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ecDER})
	ecSEC1, err := x509.MarshalECPrivateKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name string
		// setup rewrites the good pair into a bad one.
		setup func(t *testing.T, keyPath, certPath string)
		want  error // nil: any error
	}{
		{"RSA key", func(t *testing.T, k, c string) { write(t, k, pkcs8PEM(t, rsaKey), 0o600) }, ErrNotEd25519},
		{"ECDSA key", func(t *testing.T, k, c string) { write(t, k, pkcs8PEM(t, ecKey), 0o600) }, ErrNotEd25519},
		{"ECDSA key with its own certificate", func(t *testing.T, k, c string) {
			write(t, k, pkcs8PEM(t, ecKey), 0o600)
			write(t, c, ecCertPEM, 0o644)
		}, ErrNotEd25519},
		{"ECDSA certificate for an Ed25519 key", func(t *testing.T, k, c string) { write(t, c, ecCertPEM, 0o644) }, ErrNotEd25519},
		{"SEC 1 EC key", func(t *testing.T, k, c string) {
			write(t, k, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: ecSEC1}), 0o600)
		}, nil},
		{"key mode 0644", func(t *testing.T, k, c string) { chmod(t, k, 0o644) }, ErrKeyExposed},
		{"key mode 0640", func(t *testing.T, k, c string) { chmod(t, k, 0o640) }, ErrKeyExposed},
		{"key mode 0602", func(t *testing.T, k, c string) { chmod(t, k, 0o602) }, ErrKeyExposed},
		{"mismatched pair", func(t *testing.T, k, c string) {
			_, otherCert, _ := writePair(t, "other")
			b, err := os.ReadFile(otherCert)
			if err != nil {
				t.Fatal(err)
			}
			write(t, c, b, 0o644)
		}, ErrMismatch},
		{"key is a directory", func(t *testing.T, k, c string) {
			if err := os.Remove(k); err != nil {
				t.Fatal(err)
			}
			if err := os.Mkdir(k, 0o700); err != nil {
				t.Fatal(err)
			}
		}, nil},
		{"key not PEM", func(t *testing.T, k, c string) { write(t, k, []byte("not a key\n"), 0o600) }, nil},
		{"two keys in the file", func(t *testing.T, k, c string) {
			b, err := os.ReadFile(k)
			if err != nil {
				t.Fatal(err)
			}
			write(t, k, append(b, b...), 0o600)
		}, nil},
		{"huge key file", func(t *testing.T, k, c string) { write(t, k, bytes.Repeat([]byte{'\n'}, maxKeyFile+1), 0o600) }, nil},
		{"no certificate", func(t *testing.T, k, c string) { write(t, c, nil, 0o644) }, nil},
		{"key where the certificate goes", func(t *testing.T, k, c string) {
			b, err := os.ReadFile(k)
			if err != nil {
				t.Fatal(err)
			}
			write(t, c, b, 0o644)
		}, nil},
		{"garbage after the certificate", func(t *testing.T, k, c string) {
			b, err := os.ReadFile(c)
			if err != nil {
				t.Fatal(err)
			}
			write(t, c, append(b, "junk"...), 0o644)
		}, nil},
		{"corrupt certificate", func(t *testing.T, k, c string) {
			write(t, c, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{0x30, 0x03, 1, 2, 3}}), 0o644)
		}, nil},
		{"missing key", func(t *testing.T, k, c string) {
			if err := os.Remove(k); err != nil {
				t.Fatal(err)
			}
		}, os.ErrNotExist},
	} {
		t.Run(tc.name, func(t *testing.T) {
			keyPath, certPath, _ := writePair(t, "good")
			if _, _, err := Load(keyPath, certPath); err != nil {
				t.Fatalf("the good pair: %v", err)
			}
			tc.setup(t, keyPath, certPath)
			key, chain, err := Load(keyPath, certPath)
			if err == nil {
				t.Fatalf("Load accepted it: key %d bytes, chain %d", len(key), len(chain.DER))
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("Load = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestLoadRefusesForeignOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give the key file to another uid")
	}
	keyPath, certPath, _ := writePair(t, "owned")
	if err := os.Chown(keyPath, 64123, 64123); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Load(keyPath, certPath); !errors.Is(err, ErrKeyExposed) {
		t.Errorf("Load of a key owned by uid 64123 = %v, want ErrKeyExposed", err)
	}
}

func write(t *testing.T, path string, b []byte, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, b, mode); err != nil {
		t.Fatal(err)
	}
	chmod(t, path, mode) // WriteFile keeps an existing file's mode
}

func chmod(t *testing.T, path string, mode os.FileMode) {
	t.Helper()
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

func TestGenerateRefuses(t *testing.T) {
	for _, tc := range []struct {
		cn    string
		hosts []string
		d     time.Duration
	}{
		{"", nil, time.Hour},
		{"x", nil, 0},
		{"x", nil, -time.Hour},
		{"x", []string{"bad host"}, time.Hour},
		{"x", []string{""}, time.Hour},
		{"x", []string{"-lead.example"}, time.Hour},
		{"x", []string{"a..b"}, time.Hour},
		{"x", []string{"under_score.example"}, time.Hour},
	} {
		if k, c, err := Generate(tc.cn, tc.hosts, tc.d); err == nil {
			t.Errorf("Generate(%q, %q, %v) made %d+%d bytes", tc.cn, tc.hosts, tc.d, len(k), len(c))
		}
	}
	// A wildcard is a name a client can match.
	if _, _, err := Generate("x", []string{"*.example.org"}, time.Hour); err != nil {
		t.Errorf("wildcard: %v", err)
	}
}

func TestFingerprint(t *testing.T) {
	_, certPath, certPEM := writePair(t, "fp")
	block, _ := pem.Decode(certPEM)
	fp := Fingerprint(block.Bytes)
	if !strings.HasPrefix(fp, "SHA256:") || len(fp) != len("SHA256:")+64 || strings.ToLower(fp[7:]) != fp[7:] {
		t.Fatalf("Fingerprint = %q", fp)
	}
	want := sha256.Sum256(block.Bytes)
	got, err := ParseFingerprint(fp)
	if err != nil || got != want {
		t.Fatalf("ParseFingerprint(%q) = %x, %v; want %x", fp, got, err, want)
	}
	// A different certificate, a different fingerprint.
	_, _, other := writePair(t, "fp")
	ob, _ := pem.Decode(other)
	if Fingerprint(ob.Bytes) == fp {
		t.Error("two certificates share a fingerprint")
	}

	// The colon form, upper case, as openssl prints it.
	var colon []string
	for i := 0; i < 64; i += 2 {
		colon = append(colon, strings.ToUpper(fp[7+i:7+i+2]))
	}
	for _, s := range []string{strings.ToUpper(fp), "sha256:" + fp[7:], "SHA256:" + strings.Join(colon, ":"), "SHA256:" + strings.ToLower(strings.Join(colon, ":"))} {
		if got, err := ParseFingerprint(s); err != nil || got != want {
			t.Errorf("ParseFingerprint(%q) = %x, %v", s, got, err)
		}
	}

	// openssl, when present, agrees.
	if _, err := exec.LookPath("openssl"); err == nil {
		out, err := exec.Command("openssl", "x509", "-in", certPath, "-noout", "-fingerprint", "-sha256").Output()
		if err != nil {
			t.Fatalf("openssl: %v", err)
		}
		// "sha256 Fingerprint=AB:CD:..." (the label's case varies by version)
		_, v, ok := strings.Cut(strings.TrimSpace(string(out)), "=")
		if !ok {
			t.Fatalf("openssl printed %q", out)
		}
		if got, err := ParseFingerprint("SHA256:" + v); err != nil || got != want {
			t.Errorf("openssl's fingerprint %q parses to %x, %v; want %x", v, got, err, want)
		}
	}

	for _, s := range []string{
		"",
		fp[7:],               // no prefix
		"SHA1:" + fp[7:],     // another digest
		fp[:len(fp)-1],       // short
		fp + "0",             // long
		fp[:len(fp)-1] + "g", // not hex
		"SHA256:" + strings.Join(colon, "-"),
		"SHA256:" + strings.Join(colon, ":") + ":",
		"SHA256:" + strings.Join(colon[:31], ":"),
		"SHA256:" + strings.Join(colon, ":")[1:] + "0", // colons shifted by one
		"SHA256: " + fp[7:],
	} {
		if got, err := ParseFingerprint(s); err == nil {
			t.Errorf("ParseFingerprint(%q) = %x, want an error", s, got)
		}
	}
}
