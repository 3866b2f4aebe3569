package ifch

import (
	"fmt"
	"io"
)

// Exchange sends c as one message on rw, which must preserve message
// boundaries (a SOCK_SEQPACKET connection), and reads one reply. It returns
// the reply, which may be a refusal (see Reply.Err), or an error when c
// cannot be encoded, the connection fails, or the reply breaks the grammar;
// the caller must then treat ifch as broken.
func Exchange(rw io.ReadWriter, c Command) (Reply, error) {
	b, err := Marshal(c)
	if err != nil {
		return Reply{}, err
	}
	if _, err := rw.Write(b); err != nil {
		return Reply{}, fmt.Errorf("ifch: send: %w", err)
	}
	buf := make([]byte, MaxMessageSize+1)
	n, err := rw.Read(buf)
	if err != nil {
		return Reply{}, fmt.Errorf("ifch: receive: %w", err)
	}
	var r Reply
	if err := r.UnmarshalText(buf[:n]); err != nil {
		return Reply{}, err
	}
	return r, nil
}
