// Package transport holds the HTTP round tripper under every AWS client of
// keyaudit, the production client and the simulator's alike.
package transport

import (
	"io"
	"net/http"
)

// Guard returns next with each request body stripped of io.WriterTo.
//
// The SDK (smithy-go) closes a request's body as soon as the response
// headers arrive, and its body's WriteTo answers io.EOF once closed. When
// net/http's write loop is descheduled after sending the body and the
// server answers meanwhile, the loop's last read for EOF goes through
// WriteTo, takes that io.EOF for a failed write and closes the connection
// under the response being read: "use of closed network connection" and a
// silent extra attempt (aws/aws-sdk-go-v2#2737). Through Read, a closed
// body's io.EOF is the plain end of the body that io.Copy expects.
func Guard(next http.RoundTripper) http.RoundTripper { return guard{next} }

type guard struct{ next http.RoundTripper }

func (g guard) RoundTrip(req *http.Request) (*http.Response, error) {
	if _, ok := req.Body.(io.WriterTo); ok {
		// A RoundTripper must not change the caller's request: change a copy.
		req = req.WithContext(req.Context())
		req.Body = struct{ io.ReadCloser }{req.Body}
	}
	return g.next.RoundTrip(req)
}

// CloseIdleConnections passes http.Client's request on to next.
func (g guard) CloseIdleConnections() {
	if c, ok := g.next.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}
