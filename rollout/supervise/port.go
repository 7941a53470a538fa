package supervise

import (
	"context"
	"fmt"
	"net"
	"strconv"
)

// freePort asks the kernel for a free loopback port. The port is free when
// the listener closes and is bound again by the service a little later; in
// between another process may take it. The kernel hands ports out so that
// this is unlikely, and a service that fails to bind exits, is restarted
// and gets another port (see portFor).
func freePort(ctx context.Context) (int, error) {
	var lc net.ListenConfig
	l, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free loopback port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// portFor returns the port for a restart: the previous one while it is
// free, so the service keeps its address, else a new one. A port can be
// taken while a service is down, even by an outgoing connection of another
// program, since the kernel also uses ports of that range as local ports.
func portFor(ctx context.Context, previous int) (int, error) {
	var lc net.ListenConfig
	l, err := lc.Listen(ctx, "tcp", "127.0.0.1:"+strconv.Itoa(previous))
	if err != nil {
		return freePort(ctx)
	}
	l.Close()
	return previous, nil
}
