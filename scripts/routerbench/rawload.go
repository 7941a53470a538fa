package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// The throughput measurements use a load generator of their own rather
// than net/http's client. With one CPU for the load generator, net/http's
// client costs about as much per request as the trivial backend does, so
// "direct" measured the client, and every proxy looked closer to it than
// it is. rawLoop writes a fixed keep-alive GET and reads the answer's head
// and Content-Length body: a few microseconds per request, so that the
// appliance's CPU, not the load generator's, sets the pace.

// rawRequest is the request each connection sends back to back.
const rawRequest = "GET / HTTP/1.1\r\nHost: bench\r\nUser-Agent: routerbench\r\n\r\n"

// rawLoop sends requests back to back on conns kept-alive connections to
// target for d and counts the answers: ok for a 200 read in full, failed
// for anything else (the connection is then dialled again).
func rawLoop(ctx context.Context, target string, conns int, d time.Duration) (counts, error) {
	u, err := url.Parse(target)
	if err != nil {
		return counts{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var ok, failed atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range conns {
		wg.Go(func() {
			for ctx.Err() == nil {
				n, err := rawConn(ctx, u.Host)
				ok.Add(n)
				if err != nil && ctx.Err() == nil {
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	return counts{ok: ok.Load(), failed: failed.Load(), took: time.Since(start)}, nil
}

// rawConn dials addr and sends requests on the one connection until ctx
// ends or an answer is not a complete 200; it returns how many were.
func rawConn(ctx context.Context, addr string) (int64, error) {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	// Waking the reader when ctx ends; should it fail, the deadline below
	// still ends the loop.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()
	if err := conn.SetDeadline(time.Now().Add(30 * time.Second)); err != nil {
		return 0, err
	}
	br := bufio.NewReader(conn)
	var n int64
	for ctx.Err() == nil {
		if _, err := io.WriteString(conn, rawRequest); err != nil {
			return n, err
		}
		if err := readAnswer(br); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// readAnswer reads one response with a 200 status and a Content-Length.
func readAnswer(br *bufio.Reader) error {
	status, err := br.ReadSlice('\n')
	if err != nil {
		return err
	}
	if !bytes.HasPrefix(status, []byte("HTTP/1.1 200 ")) {
		return fmt.Errorf("answer %q", bytes.TrimSpace(status))
	}
	length := -1
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		name, value, found := bytes.Cut(line, []byte(":"))
		if found && bytes.EqualFold(name, []byte("Content-Length")) {
			if length, err = strconv.Atoi(string(bytes.TrimSpace(value))); err != nil {
				return fmt.Errorf("Content-Length %q", value)
			}
		}
	}
	if length < 0 {
		return errors.New("answer without Content-Length")
	}
	_, err = br.Discard(length)
	return err
}
