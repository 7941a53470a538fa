package router

import (
	"bufio"
	"crypto/tls"
	"net"
	"sync"
	"time"
)

// Settings of the connections to one backend. Backends are local, so
// dialling fails fast; the idle pool is large enough that a busy service
// reuses connections instead of dialling per request.
const (
	dialTimeout     = 5 * time.Second
	maxIdleConns    = 256
	idleConnTimeout = 90 * time.Second
	connBufferSize  = 16 << 10
	// checkAfterIdle is how long a connection may sit in the pool before
	// it is checked for a close by the backend when taken out again (a
	// backend's own idle timeout): a request sent on a closed connection
	// fails, and only an idempotent one whose body is in memory can be
	// sent again (see replayable).
	checkAfterIdle = time.Second
)

// backendConn is one connection to a backend with its buffers. It carries
// one request at a time.
type backendConn struct {
	net.Conn
	br *bufio.Reader
	bw *bufio.Writer
	// reused is set when the connection comes from the idle pool: a
	// backend may have closed it meanwhile, and a request that fails on
	// it before any answer may be sent again on a new one.
	reused bool
	idleAt time.Time
}

// connPool keeps the idle connections to one backend. A request takes one
// (or dials), and puts it back only once its response has been read to
// the end, so a connection in the pool is always at a request boundary.
type connPool struct {
	addr   string
	dialer net.Dialer
	// tls, if set, makes every connection a TLS client (to a peer site).
	tls *tls.Config

	mu   sync.Mutex
	idle []*backendConn // most recently used last
}

func newConnPool(addr string) *connPool {
	return &connPool{addr: addr, dialer: net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}}
}

// get returns an idle connection, or a new one.
func (p *connPool) get() (*backendConn, error) {
	now := time.Now()
	p.mu.Lock()
	for len(p.idle) > 0 {
		c := p.idle[len(p.idle)-1]
		p.idle[len(p.idle)-1] = nil
		p.idle = p.idle[:len(p.idle)-1]
		idle := now.Sub(c.idleAt)
		if idle < idleConnTimeout {
			p.mu.Unlock()
			if idle < checkAfterIdle || c.open() {
				c.reused = true
				return c, nil
			}
			c.Close()
			p.mu.Lock()
			continue
		}
		c.Close()
	}
	p.mu.Unlock()
	return p.dial()
}

// open reports whether the backend has not closed c: nothing, not even
// an end of stream, is waiting to be read on a connection at a request
// boundary.
func (c *backendConn) open() bool {
	conn := c.Conn
	if tc, ok := conn.(*tls.Conn); ok {
		// Bytes waiting under TLS (an alert, a ticket) are not a
		// response: the connection is not at a plain request boundary.
		conn = tc.NetConn()
	}
	return peekSocket(conn, false) == socketIdle
}

// dial opens a new connection, never one from the pool.
func (p *connPool) dial() (*backendConn, error) {
	var nc net.Conn
	var err error
	if p.tls != nil {
		nc, err = tls.DialWithDialer(&p.dialer, "tcp", p.addr, p.tls)
	} else {
		nc, err = p.dialer.Dial("tcp", p.addr)
	}
	if err != nil {
		return nil, err
	}
	return &backendConn{Conn: nc, br: bufio.NewReaderSize(nc, connBufferSize), bw: bufio.NewWriterSize(nc, connBufferSize)}, nil
}

// put returns c, whose last response was read to the end, to the pool.
func (p *connPool) put(c *backendConn) {
	c.idleAt = time.Now()
	p.mu.Lock()
	if len(p.idle) < maxIdleConns {
		p.idle = append(p.idle, c)
		c = nil
	}
	p.mu.Unlock()
	if c != nil {
		c.Close()
	}
}

// closeIdle closes the idle connections; connections in use are closed
// when their request ends, if the pool is full, or left for the backend
// to close.
func (p *connPool) closeIdle() {
	p.mu.Lock()
	idle := p.idle
	p.idle = nil
	p.mu.Unlock()
	for _, c := range idle {
		c.Close()
	}
}
