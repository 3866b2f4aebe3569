package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"

	"github.com/ndhc-go/ndhc/sandbox"
)

// The control channel between the supervisor and each role carries, in
// order: the policy (sandbox.Spawn), the role's configuration (JSON, from
// the supervisor), a ready notice from the role (ctlReady + the sandbox
// report as JSON), then single-byte commands from the supervisor to the
// engine. The supervisor is the trusted side; still, every message has an
// exact form and anything else ends the receiver.
const (
	ctlReady   byte = 'R'
	ctlRenew   byte = 'U' // SIGUSR1
	ctlRelease byte = 'L' // SIGUSR2
	ctlStop    byte = 'T' // SIGTERM, SIGINT
)

const maxCtlMessage = 64 << 10

// sendJSON sends v as one message.
func sendJSON(c *net.UnixConn, prefix []byte, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return sandbox.Send(c, append(prefix, b...))
}

// recvConfig reads the role configuration the supervisor sends after the
// policy.
func recvConfig(c *net.UnixConn) (*roleConfig, error) {
	b, err := sandbox.RecvUpTo(c, maxCtlMessage)
	if err != nil {
		return nil, fmt.Errorf("reading configuration: %w", err)
	}
	var cfg roleConfig
	if err := decodeStrict(b, &cfg); err != nil {
		return nil, fmt.Errorf("decoding configuration: %w", err)
	}
	return &cfg, nil
}

// recvReady reads a role's ready notice.
func recvReady(c *net.UnixConn) (*sandbox.Report, error) {
	b, err := sandbox.RecvUpTo(c, maxCtlMessage)
	if err != nil {
		return nil, err
	}
	return parseReady(b)
}

// parseReady decodes a ready notice: ctlReady, then the role's sandbox
// report as JSON, with no unknown field and nothing after it.
func parseReady(b []byte) (*sandbox.Report, error) {
	if len(b) == 0 || b[0] != ctlReady {
		return nil, errors.New("want a ready notice")
	}
	var rep sandbox.Report
	if err := decodeStrict(b[1:], &rep); err != nil {
		return nil, fmt.Errorf("ready notice: %w", err)
	}
	return &rep, nil
}

// recvCommand reads one command for the engine.
func recvCommand(c *net.UnixConn) (byte, error) {
	b, err := sandbox.Recv(c, 1)
	if err != nil {
		return 0, err
	}
	switch b[0] {
	case ctlRenew, ctlRelease, ctlStop:
		return b[0], nil
	}
	return 0, fmt.Errorf("unknown control command %q", b[0])
}

func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data")
	}
	return nil
}
