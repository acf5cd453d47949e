package bench

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/securityhub"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/stretchr/testify/require"

	"github.com/keyaudit/keyaudit/audit"
	"github.com/keyaudit/keyaudit/internal/awssim"
	"github.com/keyaudit/keyaudit/internal/deliver"
	"github.com/keyaudit/keyaudit/internal/event"
	"github.com/keyaudit/keyaudit/internal/pipeline"
	"github.com/keyaudit/keyaudit/internal/slackcapture"
)

// eventsMeasured is how many events BenchmarkEventLatency judges, one
// after another, each a new key of another user.
const eventsMeasured = 40

// BenchmarkEventLatency measures the real-time path from an SQS message's
// body to the Slack post and the Security Hub import done: the event read,
// its account checked (organizations:DescribeAccount), the principal
// collected and judged (pipeline.Judge) through the member role, the
// record claimed in S3, the last night's ranking read, Slack and Security
// Hub told. The steps are the event function's (lambda/event.go) in this
// process, against awssim with the org benchmark's per-call latency; S3,
// Slack and Security Hub are local and answer at once. It prints p50,
// p95 and the AWS calls per event.
func BenchmarkEventLatency(b *testing.B) {
	b.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	ctx := context.Background()
	w := world(10)
	srv := awssim.NewServer(w)
	defer srv.Close()
	mgmt := w.Management().ID
	cfg, err := srv.AWSConfig(ctx, mgmt, "us-east-1")
	require.NoError(b, err)

	s3srv := httptest.NewServer(gofakes3.New(s3mem.New()).Server())
	defer s3srv.Close()
	s3c := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(s3srv.URL), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("AKIAS3TEST", "s3secret", "")})
	_, err = s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("reports")})
	require.NoError(b, err)
	sl := slackcapture.Start()
	defer sl.Stop()
	hub := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		fmt.Fprint(rw, `{"FailedCount":0,"SuccessCount":1,"FailedFindings":[]}`)
	}))
	defer hub.Close()
	hubCfg := cfg.Copy()
	hubCfg.BaseEndpoint = aws.String(hub.URL)
	out := &deliver.EventDelivery{
		Store:       &deliver.S3Sink{Client: s3c, Bucket: "reports", Prefix: "keyaudit"},
		SecurityHub: &deliver.SecurityHub{Client: securityhub.NewFromConfig(hubCfg), Partition: "aws", Region: "us-east-1", Account: mgmt},
		Slack:       &deliver.Slack{Token: "xoxb-bench", Channel: "#security", APIURL: sl.GetAPIURL()},
	}
	template, err := os.ReadFile(filepath.Join("..", "..", "testdata", "events", "create-access-key.json"))
	require.NoError(b, err)
	s := pipeline.Settings{Role: audit.RoleSpec{InCaller: true}}
	require.NoError(b, s.Validate())

	var took []time.Duration
	before := srv.Calls().Total
	for i := range eventsMeasured {
		acct := w.Accounts[1+i%(len(w.Accounts)-1)]
		u := acct.Users[i%len(acct.Users)]
		for j := i; len(u.Keys) == 0; j++ {
			u = acct.Users[j%len(acct.Users)]
		}
		body := strings.NewReplacer("482917365012", acct.ID, `"alice"`, `"`+u.Name+`"`, "AKIAXA4A6GUKAXPOYXNF", u.Keys[0].ID,
			"c1f0e2d3-a4b5-4c6d-8e7f-9a0b1c2d3e4f", fmt.Sprintf("c1f0e2d3-a4b5-4c6d-8e7f-%012d", i)).Replace(string(template))
		start := time.Now()
		ev, err := event.Parse([]byte(body))
		require.NoError(b, err, "event %d", i)
		org, err := organizations.NewFromConfig(cfg).DescribeAccount(ctx, &organizations.DescribeAccountInput{AccountId: aws.String(ev.Account)})
		require.NoError(b, err, "event %d", i)
		sel := s.Selection()
		sel.Accounts = []audit.Target{{AccountID: ev.Account, Name: aws.ToString(org.Account.Name)}}
		conn, err := pipeline.Dial(ctx, cfg, sel)
		require.NoError(b, err, "event %d", i)
		r, err := pipeline.Judge(ctx, pipeline.Options{Settings: s, Deps: conn.Deps(&s, nil)}, conn, ev)
		require.NoError(b, err, "event %d", i)
		res, err := out.Deliver(ctx, ev, r, time.Now())
		require.NoError(b, err, "event %d", i)
		require.False(b, res.Duplicate, "event %d", i)
		took = append(took, time.Since(start))
	}
	calls := float64(srv.Calls().Total-before) / eventsMeasured
	slices.Sort(took)
	p := func(q float64) time.Duration { return took[int(q*float64(len(took)-1))].Round(time.Millisecond) }
	fmt.Printf("events: %d, simulated latency %s per AWS call, GOMAXPROCS %d: p50 %s, p95 %s, max %s, %.1f AWS calls per event\n",
		eventsMeasured, latency, runtime.GOMAXPROCS(0), p(0.5), p(0.95), took[len(took)-1].Round(time.Millisecond), calls)
	b.ReportMetric(float64(p(0.95).Milliseconds()), "p95-ms")
	if p(0.95) > 5*time.Second {
		b.Errorf("p95 %s: over the 5 s target", p(0.95))
	}
}
