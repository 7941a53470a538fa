package netlimit

import (
	"io"
	"log/slog"
	"net"
	"sync"
	"time"
)

// stallChunk is the most one write deadline covers: a larger write is cut
// into pieces of this size, each with a deadline of its own, so a slow but
// steady reader keeps its connection.
const stallChunk = 64 << 10

// sendChunk is the most one write deadline covers when the connection
// sends from a file itself (ReadFrom: sendfile). Pieces as small as
// stallChunk cost a registry pull about a tenth of its speed; at this size
// a client must still read 256 KiB a minute, about 4 KiB/s.
const sendChunk = 256 << 10

// warnEvery spaces the warnings of a listener that keeps hitting its limit.
const warnEvery = time.Minute

// listener serves at most cap(slots) connections at once. A connection
// accepted beyond that is held, unread, until one closes: it waits in
// Accept, which the server calls from one goroutine, so at most one such
// connection is held; others wait in the kernel's queue.
type listener struct {
	net.Listener
	slots chan struct{}
	stall time.Duration
	log   *slog.Logger

	closed    chan struct{}
	closeOnce sync.Once
	lastWarn  time.Time // only Accept uses it
}

func newListener(ln net.Listener, lim Limits) *listener {
	return &listener{Listener: ln, slots: make(chan struct{}, lim.MaxConns), stall: lim.StallTimeout,
		log: lim.Log, closed: make(chan struct{})}
}

func (l *listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	select {
	case l.slots <- struct{}{}:
	default:
		if now := time.Now(); now.Sub(l.lastWarn) >= warnEvery {
			l.lastWarn = now
			l.log.Warn("connection limit reached: a new connection waits until one closes",
				"addr", l.Addr().String(), "limit", cap(l.slots))
		}
		select {
		case l.slots <- struct{}{}:
		case <-l.closed:
			c.Close()
			return nil, net.ErrClosed
		}
	}
	return &conn{Conn: c, stall: l.stall, release: func() { <-l.slots }}, nil
}

func (l *listener) Close() error {
	l.closeOnce.Do(func() { close(l.closed) })
	return l.Listener.Close()
}

// conn is a served connection: it gives its slot back when closed, and
// a write that does not progress within stall fails, which closes it.
type conn struct {
	net.Conn
	stall     time.Duration
	release   func()
	closeOnce sync.Once
}

func (c *conn) Write(p []byte) (int, error) {
	var n int
	for len(p) > 0 {
		chunk := p[:min(len(p), stallChunk)]
		if err := c.SetWriteDeadline(time.Now().Add(c.stall)); err != nil {
			return n, err
		}
		m, err := c.Conn.Write(chunk)
		n += m
		if err != nil {
			return n, err
		}
		p = p[m:]
	}
	return n, nil
}

// ReadFrom keeps the connection's own ReadFrom (sendfile from a file,
// splice from a socket: the registry sends blobs this way, without
// copying them through user space) while holding the same stall bound as
// Write: each piece of at most sendChunk bytes gets its own deadline. A
// file under at most one io.LimitedReader, which is how net/http hands
// over a response body, stays visible to sendfile.
func (c *conn) ReadFrom(r io.Reader) (int64, error) {
	rf, ok := c.Conn.(io.ReaderFrom)
	if !ok {
		return io.Copy(writerOnly{c}, r)
	}
	src, left := r, int64(-1)
	if lr, ok := r.(*io.LimitedReader); ok {
		src, left = lr.R, lr.N
		defer func() { lr.N = left }()
	}
	var n int64
	for left != 0 {
		piece := int64(sendChunk)
		if left > 0 {
			piece = min(piece, left)
		}
		if err := c.SetWriteDeadline(time.Now().Add(c.stall)); err != nil {
			return n, err
		}
		m, err := rf.ReadFrom(&io.LimitedReader{R: src, N: piece})
		n += m
		if left > 0 {
			left -= m
		}
		if err != nil || m < piece {
			return n, err
		}
	}
	return n, nil
}

// writerOnly hides every method but Write, so that io.Copy cannot come
// back to conn.ReadFrom.
type writerOnly struct{ io.Writer }

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.closeOnce.Do(c.release)
	return err
}
