package main

import (
	"context"
	"io"
	"net"
)

// serveRelay is the floor reference: a TCP relay that pairs each client
// connection with a backend connection and copies bytes both ways (by
// splice(2) on Linux), parsing nothing. Its ratio is about what the extra
// hop alone costs on the appliance's CPU: the kernel's loopback TCP work
// for two more reads and two more writes per request, and the wake-ups.
func serveRelay(ctx context.Context, l net.Listener, backend string) error {
	go func() { <-ctx.Done(); l.Close() }()
	for {
		client, err := l.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		go relay(client, backend)
	}
}

func relay(client net.Conn, backend string) {
	defer client.Close()
	server, err := net.Dial("tcp", backend)
	if err != nil {
		return
	}
	defer server.Close()
	go func() {
		_, _ = io.Copy(server, client)
		// Fails only when the connection is gone, which the copy below
		// finds out.
		_ = server.(*net.TCPConn).CloseWrite()
	}()
	_, _ = io.Copy(client, server)
}
