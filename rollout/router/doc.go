// Package router is the reverse proxy in front of one service of ferry
// serve. It splits requests between a stable and a canary version by
// weight, by rules (a header, a cookie, a client network) or by a sticky
// cookie, and changes that split atomically without dropping a request.
//
// Requests enter the routing configuration that is current when they
// arrive, under a read lock; Set swaps the configuration under the write
// lock. A backend that Set leaves without traffic has its requests
// drained: Set waits (up to a drain timeout) until every request already
// routed to it has finished, so when Set returns the strategy knows that
// no request will reach that version again and may stop it. Requests keep
// flowing to the other backends throughout.
//
// Each response carries X-Ferry-Version, the version that answered, and
// each request is counted in its backend's metrics.Recorder: responses
// with status and latency (the time until the response headers arrived),
// connection errors (answered 502 by the router) and requests whose client
// went away first.
//
// The data path is fasthttp's HTTP/1.1 server in front and a pool of
// kept-alive connections per backend behind, on which the router writes
// each request anew with fasthttp's encoder and reads the response head
// with its parser, leaving the body to stream through. It costs about a
// third of the CPU per request of net/http's server with
// httputil.ReverseProxy, which on a busy appliance is CPU taken from the
// services (scripts/routerbench measures both sides). What it gives up:
// HTTP/2 towards clients, and trailers, which are dropped.
package router
