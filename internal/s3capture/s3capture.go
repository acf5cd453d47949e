// Package s3capture is a local S3 for tests: gofakes3 behind a handler
// that keeps, for every request that writes an object, the encryption it
// asked for, so that tests can check what the SDK really sent.
package s3capture

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// Write is one request that writes to S3, as it arrived.
type Write struct {
	// Call is PutObject, CreateMultipartUpload, UploadPart or
	// CompleteMultipartUpload.
	Call string
	Path string // /bucket/key
	// SSE and SSEKMSKeyID are the x-amz-server-side-encryption headers.
	SSE, SSEKMSKeyID string
	ContentLength    int64
	// IfNoneMatch is the conditional write's header: "*" creates the
	// object only if it does not exist (gofakes3 answers 412 otherwise).
	IfNoneMatch string
	// Credential is the signature's access key ID and scope:
	// AKID/DATE/REGION/s3/aws4_request. It holds no secret.
	Credential string
}

// Names reports whether the call is one that names an object's
// encryption: S3 takes a multipart upload's from its creation.
func (w Write) Names() bool { return w.Call == "PutObject" || w.Call == "CreateMultipartUpload" }

// Server is a local S3 that records the writes to objects.
type Server struct {
	*httptest.Server
	mu     sync.Mutex
	writes []Write
}

// Start starts an empty local S3; Close stops it.
func Start() *Server {
	s := &Server{}
	fake := gofakes3.New(s3mem.New()).Server()
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.record(r)
		fake.ServeHTTP(w, r)
	}))
	return s
}

func (s *Server) record(r *http.Request) {
	q := r.URL.Query()
	var call string
	switch {
	case r.Method == http.MethodPut && q.Has("partNumber"):
		call = "UploadPart"
	case r.Method == http.MethodPut && !q.Has("uploadId"):
		call = "PutObject"
	case r.Method == http.MethodPost && q.Has("uploads"):
		call = "CreateMultipartUpload"
	case r.Method == http.MethodPost && q.Has("uploadId"):
		call = "CompleteMultipartUpload"
	}
	// A PUT of /bucket alone creates the bucket: not an object.
	if call == "" || !hasKey(r.URL.Path) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes = append(s.writes, Write{Call: call, Path: r.URL.Path, ContentLength: r.ContentLength,
		SSE: r.Header.Get("X-Amz-Server-Side-Encryption"), SSEKMSKeyID: r.Header.Get("X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id"),
		Credential: credential(r.Header.Get("Authorization")), IfNoneMatch: r.Header.Get("If-None-Match")})
}

// credential is the Credential field of a SigV4 Authorization header.
func credential(auth string) string {
	_, rest, _ := strings.Cut(auth, "Credential=")
	c, _, _ := strings.Cut(rest, ",")
	return c
}

// hasKey reports whether a path-style path /bucket/key names an object.
func hasKey(p string) bool {
	return strings.Contains(strings.Trim(p, "/"), "/")
}

// Writes are the writes to objects so far, in the order they arrived.
func (s *Server) Writes() []Write {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Write(nil), s.writes...)
}
