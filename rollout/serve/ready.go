package serve

import (
	"net"
	"time"
)

// readyWait bounds how long serve waits for a version it starts as the
// only one of its service to accept connections before routing traffic to
// it anyway. The wait holds the controller, so it is short next to the
// start timeout of a rollout, whose new version gets no traffic until it
// is healthy.
const readyWait = 30 * time.Second

// readyPoll is how often the version's port is tried while it starts.
const readyPoll = 10 * time.Millisecond

// waitListening waits until v accepts TCP connections on the address its
// supervisor gave it, so that a request routed to it does not meet a
// process still starting (the router would answer it 502). It is for the
// versions that take traffic as soon as they start: the stable version
// when serve starts, and a service restarted without a rollout. It gives
// up, and says so, after readyWait, when the version's process has come to
// its end, or when serve stops.
func (s *server) waitListening(svc *service, v *version) {
	deadline := time.Now().Add(readyWait)
	for {
		addr := v.inst.Addr()
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			conn.Close()
			return
		}
		if time.Now().After(deadline) {
			s.log.Warn("routing to a version that does not accept connections yet", "service", svc.name, "version", v.def.Version, "addr", addr, "waited", readyWait, "error", err)
			return
		}
		select {
		case <-time.After(readyPoll):
		case <-v.inst.Done():
			return
		case <-s.ctx.Done():
			return
		}
	}
}
