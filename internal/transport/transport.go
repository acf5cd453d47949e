// Package transport holds what every AWS client of keyaudit, production
// and simulator alike, adds to the SDK's handling of HTTP requests.
package transport

import (
	"context"
	"io"

	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// HideWriteTo is an API option (aws.Config.APIOptions) that hands each
// request body to net/http without io.WriterTo.
//
// The SDK (smithy-go) closes a request's body as soon as the response
// headers arrive, and a body whose stream has WriteTo then answers io.EOF
// from it. When net/http's write loop is descheduled after sending the body
// and the server answers meanwhile, the loop's last read for EOF goes
// through WriteTo, takes that io.EOF for a failed write and closes the
// connection under the response being read: "use of closed network
// connection" and a silent extra attempt (aws/aws-sdk-go-v2#2737). Read on a
// closed body answers a plain io.EOF, the end of the body io.Copy expects.
// It is a middleware, not an http.RoundTripper, because the SDK requires
// its own *BuildableClient for a custom CA bundle (AWS_CA_BUNDLE).
func HideWriteTo(stack *middleware.Stack) error {
	return stack.Deserialize.Add(hideWriteTo{}, middleware.After)
}

type hideWriteTo struct{}

func (hideWriteTo) ID() string { return "keyaudit:HideWriteTo" }

func (hideWriteTo) HandleDeserialize(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (
	middleware.DeserializeOutput, middleware.Metadata, error,
) {
	req, ok := in.Request.(*smithyhttp.Request)
	if !ok {
		return next.HandleDeserialize(ctx, in)
	}
	var stream io.Reader
	if s, ok := req.GetStream().(io.WriterTo); ok {
		if rs, ok := s.(io.ReadSeeker); ok {
			stream = struct{ io.ReadSeeker }{rs} // Seek kept: the SDK rewinds between attempts
		} else {
			stream = struct{ io.Reader }{req.GetStream()}
		}
	}
	if stream != nil {
		// SetStream returns a copy: the request of the next attempt is
		// cloned from the unwrapped one.
		r, err := req.SetStream(stream)
		if err != nil {
			return middleware.DeserializeOutput{}, middleware.Metadata{}, err
		}
		in.Request = r
	}
	return next.HandleDeserialize(ctx, in)
}
