package router

import (
	"errors"
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// socketState is what waits to be read on a connection.
type socketState int

const (
	socketIdle    socketState = iota // nothing
	socketData                       // bytes
	socketClosed                     // the end of the stream, or a reset: the peer closed it
	socketUnknown                    // not a socket, or it could not be looked at
)

// peekSocket looks at what waits on conn without reading any of it, so
// that whoever reads conn next finds everything. With wait it blocks while
// nothing does, until something does or conn's read deadline passes.
func peekSocket(conn net.Conn, wait bool) socketState {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return socketUnknown
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return socketUnknown
	}
	state := socketUnknown
	var b [1]byte
	err = raw.Read(func(fd uintptr) bool {
		n, _, err := unix.Recvfrom(int(fd), b[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
		switch {
		case errors.Is(err, unix.EAGAIN):
			state = socketIdle
			return !wait // with wait: until the socket is readable
		case err != nil || n == 0:
			state = socketClosed
		default:
			state = socketData
		}
		return true
	})
	if err != nil {
		return socketUnknown
	}
	return state
}
