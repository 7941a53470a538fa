package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os/exec"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"ferry/internal/testenv"
)

// netLab is a small network of Linux network namespaces that a test
// creates and removes: a hub namespace holding a bridge, and one
// namespace per node joined to it by a veth pair, with private addresses
// that exist only inside the namespaces.
type netLab struct {
	t      *testing.T
	prefix string
	hub    string
	nodes  map[string]string // node → its namespace
}

// newNetLab makes the hub; every namespace and link the lab makes is
// removed when the test ends, passed or not.
func newNetLab(t *testing.T) *netLab {
	t.Helper()
	testenv.Root(t, "network namespaces")
	testenv.Tool(t, "ip", "iproute2")
	var b [3]byte
	_, _ = rand.Read(b[:])
	l := &netLab{t: t, prefix: "fy" + hex.EncodeToString(b[:]), nodes: map[string]string{}}
	l.hub = l.prefix + "-hub"
	t.Cleanup(l.remove)
	l.ip("netns", "add", l.hub)
	l.ip("-n", l.hub, "link", "add", "br0", "type", "bridge")
	l.ip("-n", l.hub, "link", "set", "br0", "up")
	return l
}

func (l *netLab) ip(args ...string) {
	l.t.Helper()
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		l.t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// remove deletes every namespace of the lab, which deletes their links.
func (l *netLab) remove() {
	out, _ := exec.Command("ip", "netns", "list").Output()
	for _, line := range strings.Split(string(out), "\n") {
		name, _, _ := strings.Cut(strings.TrimSpace(line), " ")
		if strings.HasPrefix(name, l.prefix+"-") {
			if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
				l.t.Errorf("removing namespace %s: %v\n%s", name, err, out)
			}
		}
	}
}

// node makes a namespace for name with addr (CIDR) on its link to the
// hub, and returns the namespace's name.
func (l *netLab) node(name, addr string) string {
	l.t.Helper()
	ns := l.prefix + "-" + name
	inner, outer := l.prefix+name+"i", l.prefix+name+"o"
	l.ip("netns", "add", ns)
	l.ip("-n", ns, "link", "set", "lo", "up")
	l.ip("link", "add", inner, "type", "veth", "peer", "name", outer)
	l.ip("link", "set", inner, "netns", ns)
	l.ip("link", "set", outer, "netns", l.hub)
	l.ip("-n", ns, "addr", "add", addr, "dev", inner)
	l.ip("-n", ns, "link", "set", inner, "up")
	l.ip("-n", l.hub, "link", "set", outer, "master", "br0")
	l.ip("-n", l.hub, "link", "set", outer, "up")
	l.nodes[name] = ns
	return ns
}

// link takes name's link to the hub down or up: the node is cut off, its
// packets lost, its connections left hanging, as when a site's uplink
// fails.
func (l *netLab) link(name string, up bool) {
	l.t.Helper()
	state := "down"
	if up {
		state = "up"
	}
	l.ip("-n", l.hub, "link", "set", l.prefix+name+"o", state)
}

// command runs argv in name's namespace.
func (l *netLab) command(name string, argv ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", l.nodes[name]}, argv...)...)
}

// inNamespace runs f on an OS thread that has entered name's namespace;
// sockets f makes belong to it for their whole life. The thread is
// thrown away after, never returned to other goroutines.
func (l *netLab) inNamespace(name string, f func()) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // not unlocked: the thread ends with the goroutine
		fd, err := unix.Open("/run/netns/"+l.nodes[name], unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- fmt.Errorf("namespace %s: %w", name, err)
			return
		}
		defer unix.Close(fd)
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("entering namespace %s: %w", name, err)
			return
		}
		f()
		errc <- nil
	}()
	return <-errc
}

// dialer returns a DialContext that connects from name's namespace.
func (l *netLab) dialer(name string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		var c net.Conn
		var derr error
		if err := l.inNamespace(name, func() {
			c, derr = (&net.Dialer{Timeout: 10 * time.Second}).DialContext(ctx, network, addr)
		}); err != nil {
			return nil, err
		}
		return c, derr
	}
}

// listen listens on addr in name's namespace.
func (l *netLab) listen(name, addr string) net.Listener {
	l.t.Helper()
	var ln net.Listener
	var lerr error
	if err := l.inNamespace(name, func() { ln, lerr = net.Listen("tcp", addr) }); err != nil || lerr != nil {
		l.t.Fatalf("listen on %s in %s: %v %v", addr, name, err, lerr)
	}
	l.t.Cleanup(func() { ln.Close() })
	return ln
}

// relay is a TCP relay in a lab namespace that holds every chunk it
// passes, in both directions, for its delay: a slower path to a site.
type relay struct {
	delay atomic.Int64 // nanoseconds
}

// relay listens on loopback in node's namespace and relays to target
// from there; it returns the relay and its address.
func (l *netLab) relay(node, target string) (*relay, string) {
	l.t.Helper()
	ln := l.listen(node, "127.0.0.1:0")
	r := &relay{}
	dial := l.dialer(node)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				up, err := dial(context.Background(), "tcp", target)
				if err != nil {
					return
				}
				defer up.Close()
				done := make(chan struct{}, 2)
				go func() { r.pipe(up, c); done <- struct{}{} }()
				go func() { r.pipe(c, up); done <- struct{}{} }()
				<-done
			}()
		}
	}()
	return r, ln.Addr().String()
}

func (r *relay) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			time.Sleep(time.Duration(r.delay.Load()))
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
