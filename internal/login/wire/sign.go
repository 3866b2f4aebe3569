package wire

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
)

// The signing service. The host key never enters [net]: its crypto.Signer
// sends the listener what TLS asks it to sign, and the listener signs at
// most once per connection, and only a TLS 1.3 server CertificateVerify
// input (RFC 8446, section 4.4.3): 64 spaces, the context string, a zero
// byte, and the transcript hash. With an Ed25519 key crypto/tls hands the
// signer that whole input, so the listener can check what it signs; a
// compromised [net] gets one signature over a handshake transcript hash of
// its choice, never over anything else.
//
// On the control channel: SignRequest is 'S' followed by the input;
// the answer is 'G' followed by the 64-byte signature, or 'E' alone when
// the listener refuses (it then also ends the connection).

// SignContext is the prefix of every input the listener signs.
var SignContext = append(bytes.Repeat([]byte{' '}, 64), "TLS 1.3, server CertificateVerify\x00"...)

// Sign message tags.
const (
	SignRequest = 'S'
	SignAnswer  = 'G'
	SignRefused = 'E'
)

// MaxSignRequest bounds a signing request (tag, context, SHA-512 hash).
var MaxSignRequest = 1 + len(SignContext) + 64

// CheckSignInput reports whether msg is a TLS 1.3 server CertificateVerify
// input with a SHA-256, SHA-384 or SHA-512 transcript hash.
func CheckSignInput(msg []byte) error {
	if !bytes.HasPrefix(msg, SignContext) {
		return fmt.Errorf("%w: signing input is not a TLS 1.3 server CertificateVerify", ErrFrame)
	}
	switch len(msg) - len(SignContext) {
	case 32, 48, 64:
		return nil
	}
	return fmt.Errorf("%w: signing input of %d bytes", ErrFrame, len(msg))
}

// AppendSignRequest appends the request for a signature over msg.
func AppendSignRequest(b, msg []byte) []byte { return append(append(b, SignRequest), msg...) }

// ParseSignRequest decodes [net]'s request and checks its input, which
// it returns (aliasing b).
func ParseSignRequest(b []byte) ([]byte, error) {
	if len(b) == 0 || b[0] != SignRequest {
		return nil, fmt.Errorf("%w: not a signing request", ErrFrame)
	}
	if err := CheckSignInput(b[1:]); err != nil {
		return nil, err
	}
	return b[1:], nil
}

// AppendSignAnswer appends the listener's answer carrying sig.
func AppendSignAnswer(b, sig []byte) []byte { return append(append(b, SignAnswer), sig...) }

// ParseSignAnswer decodes the listener's answer.
func ParseSignAnswer(b []byte) ([]byte, error) {
	switch {
	case len(b) == 1+ed25519.SignatureSize && b[0] == SignAnswer:
		return b[1:], nil
	case len(b) == 1 && b[0] == SignRefused:
		return nil, fmt.Errorf("wire: the listener refused to sign")
	}
	return nil, fmt.Errorf("%w: signing answer of %d bytes", ErrFrame, len(b))
}

// The authentication notice: [session] tells the listener, on its control
// channel, that the user logged in: the tag AuthNotice and the user name.
// The listener trusts [session] (root, its own binary) but checks the
// form anyway.
const AuthNotice = 'A'

// AppendAuthNotice appends the notice for user.
func AppendAuthNotice(b []byte, user string) []byte { return append(append(b, AuthNotice), user...) }

// ParseAuthNotice decodes a notice and returns the user name.
func ParseAuthNotice(b []byte) (string, error) {
	if len(b) < 2 || b[0] != AuthNotice {
		return "", fmt.Errorf("%w: not an authentication notice", ErrFrame)
	}
	user := string(b[1:])
	if err := ValidUser(user); err != nil {
		return "", err
	}
	return user, nil
}
