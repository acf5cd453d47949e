package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"sort"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/securityhub"
	"github.com/keyaudit/keyaudit/internal/deliver"
	"github.com/keyaudit/keyaudit/internal/slackcapture"
	"github.com/keyaudit/keyaudit/report"
	"github.com/stretchr/testify/require"
)

// nullS3 is a local S3 that keeps only latest.json and announced.json, in
// files, and counts the bytes of every other object: the reports of 10,000
// accounts kept in this process would be counted as the delivery's memory.
type nullS3 struct {
	dir     string
	written atomic.Int64
}

func (s *nullS3) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name := path.Base(r.URL.Path)
	keep := name == "latest.json" || name == "announced.json"
	q := r.URL.Query()
	switch {
	case r.Method == http.MethodGet:
		f, err := os.Open(filepath.Join(s.dir, name))
		if err != nil {
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, "<Error><Code>NoSuchKey</Code><Message>none</Message></Error>")
			return
		}
		defer f.Close()
		io.Copy(w, f)
	case r.Method == http.MethodPost && q.Has("uploads"):
		fmt.Fprintf(w, "<InitiateMultipartUploadResult><Bucket>b</Bucket><Key>%s</Key><UploadId>%s</UploadId></InitiateMultipartUploadResult>", name, name)
	case r.Method == http.MethodPost:
		if keep {
			s.join(name)
		}
		fmt.Fprintf(w, `<CompleteMultipartUploadResult><Bucket>b</Bucket><Key>%s</Key><ETag>"e"</ETag></CompleteMultipartUploadResult>`, name)
	case r.Method == http.MethodPut:
		var dst io.Writer = io.Discard
		if keep {
			file := name
			if n := q.Get("partNumber"); n != "" {
				file = fmt.Sprintf("%s.part%05s", name, n)
			}
			f, err := os.Create(filepath.Join(s.dir, file))
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			defer f.Close()
			dst = f
		}
		n, _ := io.Copy(dst, r.Body)
		s.written.Add(n)
		w.Header().Set("ETag", `"e"`)
	}
}

// join assembles a multipart upload's parts, in order, into name.
func (s *nullS3) join(name string) {
	parts, _ := filepath.Glob(filepath.Join(s.dir, name+".part*"))
	sort.Strings(parts)
	out, err := os.Create(filepath.Join(s.dir, name))
	if err != nil {
		return
	}
	defer out.Close()
	for _, p := range parts {
		if f, err := os.Open(p); err == nil {
			io.Copy(out, f)
			f.Close()
		}
		os.Remove(p)
	}
}

// localHub is a Security Hub that accepts every import and update.
func localHub(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/findings/import":
		var in struct{ Findings []json.RawMessage }
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Fprintf(w, `{"FailedCount":0,"SuccessCount":%d,"FailedFindings":[]}`, len(in.Findings))
	default:
		io.WriteString(w, `{"ProcessedFindings":[],"UnprocessedFindings":[]}`)
	}
}

// delivery is the local world a report is delivered to as the Lambda
// delivers it: the writers to S3, Security Hub with the previous run's
// latest.json, Slack against its announced.json.
type delivery struct {
	s3    *nullS3
	close func()
	d     deliver.Delivery
}

// newDelivery serves the local S3, Security Hub and Slack, with prev as
// the previous run (latest.json and the baseline it announced), written
// to files before the measure starts.
func newDelivery(b *testing.B, prev *report.Report) *delivery {
	dir := b.TempDir()
	for name, r := range map[string]*report.Report{"latest.json": prev, "announced.json": report.Baseline(nil, prev)} {
		f, err := os.Create(filepath.Join(dir, name))
		require.NoError(b, err, "write the previous %s", name)
		require.NoError(b, report.JSONWriter{}.Write(f, r), "write the previous %s", name)
		require.NoError(b, f.Close(), "write the previous %s", name)
	}
	ns3 := &nullS3{dir: dir}
	s3srv := httptest.NewServer(ns3)
	hubsrv := httptest.NewServer(http.HandlerFunc(localHub))
	slack := slackcapture.Start()
	creds := credentials.NewStaticCredentialsProvider("AKIABENCH", "bench-secret", "")
	client := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(s3srv.URL), UsePathStyle: true, Credentials: creds})
	hub := securityhub.New(securityhub.Options{Region: "us-east-1", BaseEndpoint: aws.String(hubsrv.URL), Credentials: creds})
	sink := &deliver.S3Sink{Client: client, Bucket: "reports", Prefix: "keyaudit"}
	return &delivery{s3: ns3, close: func() { s3srv.Close(); hubsrv.Close(); slack.Stop() }, d: deliver.Delivery{
		// As the Lambda's: bounded by what is left of the invocation.
		Writer: sink, History: sink, Reserve: 5 * time.Second,
		SecurityHub: &deliver.SecurityHub{Client: hub, Partition: "aws", Region: "us-east-1", Account: "111111111111"},
		Slack:       &deliver.Slack{Token: "xoxb-bench", Channel: "#bench", APIURL: slack.GetAPIURL()},
	}}
}

// deliver delivers r within the invocation and fails the benchmark on any
// step's error.
func (d *delivery) deliver(b *testing.B, invocation context.Context, r *report.Report) {
	out := d.d.Deliver(invocation, r)
	require.NoError(b, out.Written, "write the reports")
	require.NoError(b, out.Imported, "import into Security Hub")
	require.NoError(b, out.Announced, "tell Slack")
}
