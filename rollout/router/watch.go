package router

import (
	"net"
	"sync"
	"syscall"
	"time"
)

// watchDelay is how long a request waits for its backend before the
// router starts watching the client's connection for a close. Most
// requests are answered sooner and pay nothing for the watch.
const watchDelay = 50 * time.Millisecond

// clientWatch notices a client that goes away while its request waits
// for the backend's answer, so that the request to the backend is
// canceled as the client's was (a long poll would otherwise hold the
// backend, and the lane, until it answered). It peeks at the client's
// socket, which nothing else reads while the request waits: a readable
// end of stream means the client closed its side.
type clientWatch struct {
	timer   *time.Timer
	conn    net.Conn
	onClose func()

	mu      sync.Mutex
	stopped bool
	running chan struct{} // closed when a started watch has returned
}

// watchClient calls onClose, at most once and from another goroutine, if
// conn's peer closes it after watchDelay and before stop. Connections that
// are not plain sockets (TLS) are not watched.
func watchClient(conn net.Conn, onClose func()) *clientWatch {
	w := &clientWatch{conn: conn, onClose: onClose}
	if _, ok := conn.(syscall.Conn); !ok {
		return w
	}
	w.timer = time.AfterFunc(watchDelay, w.run)
	return w
}

func (w *clientWatch) run() {
	w.mu.Lock()
	if w.stopped {
		w.mu.Unlock()
		return
	}
	w.running = make(chan struct{})
	w.mu.Unlock()
	defer close(w.running)

	// Data is the client's next request: it is still there, and the
	// rest is for the server to read.
	if peekSocket(w.conn, true) == socketClosed {
		w.onClose()
	}
}

// stop ends the watch and returns once it has, so that the server may read
// the connection again.
func (w *clientWatch) stop() {
	if w.timer == nil || w.timer.Stop() {
		return
	}
	w.mu.Lock()
	w.stopped = true
	running := w.running
	w.mu.Unlock()
	if running == nil {
		return
	}
	// Wake the watch with a deadline in the past; the server sets its
	// own deadline before it reads the next request.
	_ = w.conn.SetReadDeadline(time.Unix(1, 0))
	<-running
	_ = w.conn.SetReadDeadline(time.Time{})
}
