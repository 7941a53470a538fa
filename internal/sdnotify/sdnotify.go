// Package sdnotify speaks systemd's notification protocol (sd_notify(3)):
// a unit of Type=notify tells systemd it is ready, that it is alive (the
// watchdog) and that it is stopping by sending datagrams such as
// "READY=1" to the unix socket named in $NOTIFY_SOCKET. It is a few lines
// over a unixgram socket, so ferry needs no library for it. Outside
// systemd (no $NOTIFY_SOCKET) every call does nothing.
package sdnotify

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// Messages of the protocol that ferry sends.
const (
	Ready    = "READY=1"
	Stopping = "STOPPING=1"
	Watchdog = "WATCHDOG=1"
)

// Notifier sends notifications to one socket. The zero Notifier, and a
// nil one, send nothing.
type Notifier struct {
	// Socket is the path of the unixgram socket; a leading @ names an
	// abstract socket.
	Socket string
	// WatchdogInterval is how often the service must say it is alive, half
	// of the watchdog timeout systemd set; 0 when it set none (or set it
	// for another process).
	WatchdogInterval time.Duration
}

// FromEnv makes the Notifier that $NOTIFY_SOCKET, $WATCHDOG_USEC and
// $WATCHDOG_PID describe for the process pid; getenv is os.Getenv in
// production.
func FromEnv(getenv func(string) string, pid int) *Notifier {
	n := &Notifier{Socket: getenv("NOTIFY_SOCKET")}
	if p := getenv("WATCHDOG_PID"); p != "" && p != strconv.Itoa(pid) {
		return n // the watchdog is another process's
	}
	if usec, err := strconv.ParseInt(getenv("WATCHDOG_USEC"), 10, 64); err == nil && usec > 0 {
		n.WatchdogInterval = time.Duration(usec) * time.Microsecond / 2
	}
	return n
}

// Notify sends state, one or more newline-separated VAR=VALUE
// assignments, in one datagram. Without a socket it does nothing.
func (n *Notifier) Notify(state string) error {
	if n == nil || n.Socket == "" {
		return nil
	}
	name := n.Socket
	if strings.HasPrefix(name, "@") {
		name = "\x00" + name[1:]
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("sd_notify %s: %w", n.Socket, err)
	}
	defer c.Close()
	if _, err := c.Write([]byte(state)); err != nil {
		return fmt.Errorf("sd_notify %s: %w", n.Socket, err)
	}
	return nil
}
