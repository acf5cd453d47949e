// Package slackcapture is a local Slack for tests: slacktest's server with
// a chat.postMessage handler that keeps what was posted.
package slackcapture

import (
	"encoding/json"
	"net/http"
	"sync"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slacktest"
)

// Post is one chat.postMessage call.
type Post struct {
	Token   string
	Channel string
	Text    string
	Blocks  []map[string]any
}

// Server records posts. The first RateLimit posts are answered 429 with
// a Retry-After of RetryAfter seconds (1 when empty), the first Outage
// posts after those 503, as Slack answers in an outage.
type Server struct {
	*slacktest.Server
	mu         sync.Mutex
	posts      []Post
	RateLimit  int
	RetryAfter string
	Outage     int
}

// SetOutage makes the next n posts fail with 503, as Slack does in an outage.
func (s *Server) SetOutage(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Outage = n
}

// Start starts a local Slack API; stop it with Stop.
func Start() *Server {
	s := &Server{}
	s.Server = slacktest.NewTestServer(func(c slacktest.Customize) {
		c.Handle("/chat.postMessage", s.postMessage)
	})
	s.Server.Start()
	return s
}

func (s *Server) postMessage(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	if s.RateLimit > 0 {
		s.RateLimit--
		s.mu.Unlock()
		retry := s.RetryAfter
		if retry == "" {
			retry = "1"
		}
		w.Header().Set("Retry-After", retry)
		w.WriteHeader(http.StatusTooManyRequests)
		return
	}
	if s.Outage > 0 {
		s.Outage--
		s.mu.Unlock()
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	p := Post{Token: r.FormValue("token"), Channel: r.FormValue("channel"), Text: r.FormValue("text")}
	if b := r.FormValue("blocks"); b != "" {
		_ = json.Unmarshal([]byte(b), &p.Blocks)
	}
	if p.Token == "" {
		p.Token = r.Header.Get("Authorization")
	}
	s.posts = append(s.posts, p)
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(slack.SlackResponse{Ok: true})
}

// Posts returns what was posted so far.
func (s *Server) Posts() []Post {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Post(nil), s.posts...)
}
