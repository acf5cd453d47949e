package transport

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/url"
	"sync"
	"testing"

	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// delayedWrites is a connection whose write of the request body reaches the
// server at once but returns to the transport's write loop only when
// released: the write loop descheduled right after sending the body, as a
// loaded machine does now and then.
type delayedWrites struct {
	net.Conn
	marker  []byte
	release chan struct{}
	once    sync.Once
}

func (c *delayedWrites) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	if bytes.Contains(p, c.marker) {
		c.once.Do(func() { <-c.release })
	}
	return n, err
}

// The server answers while the write loop still holds the body; the SDK then
// closes the body, as smithy-go does once the response headers arrive. The
// request must still count as written, and the connection stay usable.
func TestGuardBodyClosedBeforeWriteLoopEnds(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = io.WriteString(w, "answered")
	}))
	t.Cleanup(srv.Close)

	body := []byte(`{"marker":"keyaudit-request-body"}`)
	conn := &delayedWrites{marker: body, release: make(chan struct{})}
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		conn.Conn = c
		return conn, err
	}}
	t.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: Guard(tr)}

	wrote := make(chan error, 1)
	ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
		WroteRequest: func(info httptrace.WroteRequestInfo) { wrote <- info.Err },
	})
	// The request as the SDK builds it: its body is smithy-go's closable
	// wrapper, which implements io.WriterTo over a bytes.Reader.
	sreq := smithyhttp.NewStackRequest().(*smithyhttp.Request)
	sreq.Method = http.MethodPost
	u, err := url.Parse(srv.URL)
	require.NoError(t, err)
	sreq.URL = u
	sreq.ContentLength = int64(len(body))
	sreq, err = sreq.SetStream(bytes.NewReader(body))
	require.NoError(t, err)
	req := sreq.Build(ctx)
	_, isWriterTo := req.Body.(io.WriterTo)
	require.True(t, isWriterTo, "the SDK's body implements io.WriterTo: the case guarded against")

	resp, err := client.Do(req)
	require.NoError(t, err)
	require.NoError(t, req.Body.Close(), "closing the body, as the SDK does after the headers")
	close(conn.release)

	assert.NoError(t, <-wrote, "the request counts as written although its body was closed after it was sent")
	got, err := io.ReadAll(resp.Body)
	assert.NoError(t, err, "the response is read whole on its connection")
	assert.Equal(t, "answered", string(got))
	require.NoError(t, resp.Body.Close())
}

// Requests without a body, or with one that has no WriteTo, pass unchanged.
func TestGuardLeavesOtherBodiesAlone(t *testing.T) {
	var seen []*http.Request
	rt := Guard(roundTripFunc(func(r *http.Request) (*http.Response, error) {
		seen = append(seen, r)
		return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody}, nil
	}))
	plain, err := http.NewRequest(http.MethodGet, "http://127.0.0.1/", nil)
	require.NoError(t, err)
	reader, err := http.NewRequest(http.MethodPost, "http://127.0.0.1/", io.NopCloser(io.LimitReader(bytes.NewReader([]byte("x")), 1)))
	require.NoError(t, err)
	for _, r := range []*http.Request{plain, reader} {
		_, err := rt.RoundTrip(r)
		require.NoError(t, err)
	}
	require.Len(t, seen, 2)
	assert.Same(t, plain, seen[0], "a request without a body is passed as it is")
	assert.Same(t, reader, seen[1], "a body without WriteTo is passed as it is")
}

// http.Client.CloseIdleConnections reaches the guarded transport: the
// simulator and the CLI close their pools through it.
func TestGuardClosesIdleConnections(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(srv.Close)
	tr := &http.Transport{}
	client := &http.Client{Transport: Guard(tr)}
	resp, err := client.Get(srv.URL)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	var reused bool
	get := func() {
		ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
			GotConn: func(info httptrace.GotConnInfo) { reused = info.Reused },
		})
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
		require.NoError(t, err)
		resp, err := client.Do(req)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
	}
	client.CloseIdleConnections()
	get()
	assert.False(t, reused, "the idle connection was closed")
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
