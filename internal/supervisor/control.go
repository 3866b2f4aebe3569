//go:build linux

package supervisor

import (
	"fmt"
	"time"

	"github.com/ndhc-go/ndhc/dhcp/client"
	"github.com/ndhc-go/ndhc/internal/control"
	"github.com/ndhc-go/ndhc/internal/event"
)

// controlCommands are the engine commands the control socket's
// operations become.
var controlCommands = map[control.Op]event.Command{
	control.Renew:   event.Renew,
	control.Release: event.Release,
	control.Rebind:  event.Rebind,
}

// listenControl opens the control socket, before the sandbox (which
// leaves the supervisor no path), and the server that keeps the live
// state. The listener is close-on-exec and handed to no role.
func (s *supervisor) listenControl() (*control.Server, error) {
	ln, err := control.Listen(s.ControlSocket, int(s.ControlGroup))
	if err != nil {
		return nil, err
	}
	st := control.State{Interface: s.Engine.Link.Name, State: client.StateInit.String(), Started: time.Now().UTC(), DNS: string(s.DNS.Mode)}
	return control.NewServer(ln, s.ControlGroup, s.log, st), nil
}

// controlCommand hands a control client's command to the engine, as a
// signal would, and tells the client it did. An engine that cannot be
// told is gone: the caller stops every role.
func (s *supervisor) controlCommand(cmd control.Command) error {
	c, ok := controlCommands[cmd.Op]
	if !ok {
		cmd.Done <- fmt.Errorf("no command %q", cmd.Op)
		return nil
	}
	s.log.Info("control command", "op", string(cmd.Op))
	s.Events.Write(event.Record{Event: "control", Cause: string(cmd.Op)})
	err := s.engine.Send([]byte{byte(c)})
	cmd.Done <- err
	return err
}
