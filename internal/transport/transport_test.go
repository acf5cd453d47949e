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
	"strings"
	"sync"
	"testing"

	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// delayedWrites is a connection whose write of the request body reaches the
// server at once but returns to the transport's write loop only when
// released: the write loop descheduled right after sending the body, as on
// a loaded machine now and then.
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

// send runs a request with body through the SDK's own client handler, which
// closes the body once the response headers arrive, under a stack with
// options applied. It releases the body's write only then, and returns the
// write loop's verdict on the request and the response body as read.
func send(t *testing.T, body []byte, options ...func(*middleware.Stack) error) (writeErr error, got string, readErr error) {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = io.WriteString(w, "answered")
	}))
	t.Cleanup(srv.Close)
	conn := &delayedWrites{marker: body, release: make(chan struct{})}
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		conn.Conn = c
		return conn, err
	}}
	t.Cleanup(tr.CloseIdleConnections)

	u, err := url.Parse(srv.URL)
	require.NoError(t, err)
	stack := middleware.NewStack("test", smithyhttp.NewStackRequest)
	require.NoError(t, stack.Serialize.Add(middleware.SerializeMiddlewareFunc("body", func(ctx context.Context, in middleware.SerializeInput, next middleware.SerializeHandler) (middleware.SerializeOutput, middleware.Metadata, error) {
		req := in.Request.(*smithyhttp.Request)
		req.Method, req.URL, req.ContentLength = http.MethodPost, u, int64(len(body))
		r, err := req.SetStream(bytes.NewReader(body)) // as the SDK's serializers do
		if err != nil {
			return middleware.SerializeOutput{}, middleware.Metadata{}, err
		}
		in.Request = r
		return next.HandleSerialize(ctx, in)
	}), middleware.Before))
	var resp *smithyhttp.Response
	require.NoError(t, stack.Deserialize.Add(middleware.DeserializeMiddlewareFunc("response", func(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
		out, md, err := next.HandleDeserialize(ctx, in)
		resp, _ = out.RawResponse.(*smithyhttp.Response)
		return out, md, err
	}), middleware.Before))
	for _, o := range options {
		require.NoError(t, o(stack))
	}
	wrote := make(chan error, 1)
	ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
		WroteRequest: func(info httptrace.WroteRequestInfo) { wrote <- info.Err },
	})
	_, _, err = middleware.DecorateHandler(smithyhttp.NewClientHandlerWithOptions(&http.Client{Transport: tr}), stack).Handle(ctx, nil)
	require.NoError(t, err, "the response headers arrive")
	require.NotNil(t, resp, "the response")
	close(conn.release)
	writeErr = <-wrote
	data, readErr := io.ReadAll(resp.Body)
	require.NoError(t, resp.Body.Close())
	return writeErr, string(data), readErr
}

// The server answers while the write loop still holds the body, and the
// SDK closes the body: the request still counts as written, and its
// response is read whole on its connection.
func TestHideWriteToBodyClosedBeforeWriteLoopEnds(t *testing.T) {
	body := []byte(`{"marker":"keyaudit-request-body"}`)
	writeErr, got, readErr := send(t, body, HideWriteTo)
	assert.NoError(t, writeErr, "the request counts as written although the SDK closed its body after it was sent")
	assert.NoError(t, readErr, "the response is read on its connection")
	assert.Equal(t, "answered", got)
}

// A stream the SDK rewinds between attempts keeps its Seek; one without
// WriteTo passes as it is.
func TestHideWriteToKeepsSeekAndOtherStreams(t *testing.T) {
	var seen []io.Reader
	next := middleware.DeserializeHandlerFunc(func(ctx context.Context, in middleware.DeserializeInput) (middleware.DeserializeOutput, middleware.Metadata, error) {
		seen = append(seen, in.Request.(*smithyhttp.Request).GetStream())
		return middleware.DeserializeOutput{}, middleware.Metadata{}, nil
	})
	plain := io.LimitReader(strings.NewReader("x"), 1)
	for _, stream := range []io.Reader{bytes.NewReader([]byte("x")), plain} {
		req, err := smithyhttp.NewStackRequest().(*smithyhttp.Request).SetStream(stream)
		require.NoError(t, err)
		_, _, err = hideWriteTo{}.HandleDeserialize(context.Background(), middleware.DeserializeInput{Request: req}, next)
		require.NoError(t, err)
	}
	require.Len(t, seen, 2)
	_, isWriterTo := seen[0].(io.WriterTo)
	assert.False(t, isWriterTo, "a bytes.Reader loses WriteTo")
	_, isSeeker := seen[0].(io.Seeker)
	assert.True(t, isSeeker, "a bytes.Reader keeps Seek, for the next attempt's rewind")
	assert.Same(t, plain, seen[1], "a stream without WriteTo is passed as it is")
}
