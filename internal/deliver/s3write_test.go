package deliver_test

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyaudit/keyaudit/internal/deliver"
	"github.com/keyaudit/keyaudit/internal/s3capture"
	"github.com/keyaudit/keyaudit/report"
)

// large is the fixture with its findings repeated past one upload part
// (5 MiB) of JSON.
func large() *report.Report {
	r := fixture()
	for len(r.Findings) < 7000 {
		r.Findings = append(r.Findings, r.Findings[:3]...)
	}
	r.Summary.Findings = len(r.Findings)
	return r
}

// Every object the sink writes names the configured KMS key: each
// PutObject and each multipart upload's creation (a part carries no
// encryption header: S3 takes the upload's). Without a key no encryption
// is named, so the bucket's default applies. A report larger than a part
// is uploaded in parts and arrives whole.
func TestS3WriteEncryption(t *testing.T) {
	const key = "arn:aws:kms:us-east-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	for name, kmsKey := range map[string]string{"with a KMS key": key, "the bucket's default": ""} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			srv := s3capture.Start()
			defer srv.Close()
			c := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), UsePathStyle: true,
				Credentials: credentials.NewStaticCredentialsProvider("AKIAS3TEST", "s3secret", "")})
			_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("reports")})
			require.NoError(t, err, "create the local bucket")
			sink := &deliver.S3Sink{Client: c, Bucket: "reports", Prefix: "keyaudit", KMSKeyID: kmsKey, Formats: []report.Format{report.FormatJSON}}

			r := large()
			var want bytes.Buffer
			require.NoError(t, report.JSONWriter{}.Write(&want, r), "render the report locally")
			require.Greater(t, want.Len(), 5<<20, "the report is larger than one part")
			_, err = sink.Write(ctx, r)
			require.NoError(t, err, "write the reports")
			require.NoError(t, sink.WriteAnnounced(ctx, report.Baseline(nil, fixture())), "write announced.json")

			obj, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("reports"), Key: aws.String("keyaudit/latest.json")})
			require.NoError(t, err, "read latest.json")
			got, err := io.ReadAll(obj.Body)
			require.NoError(t, err, "read latest.json")
			assert.Equal(t, want.Len(), len(got), "latest.json arrives whole")
			assert.True(t, bytes.Equal(want.Bytes(), got), "latest.json is the report as rendered")

			byCall := map[string]int{}
			for _, w := range srv.Writes() {
				byCall[w.Call]++
				if w.Call == "UploadPart" {
					assert.LessOrEqual(t, w.ContentLength, int64(5<<20), "%s %s: a part of at most 5 MiB", w.Call, w.Path)
				}
				if w.Names() && kmsKey != "" {
					assert.Equal(t, "aws:kms", w.SSE, "%s %s: encryption", w.Call, w.Path)
					assert.Equal(t, kmsKey, w.SSEKMSKeyID, "%s %s: the KMS key", w.Call, w.Path)
					continue
				}
				assert.Empty(t, w.SSE, "%s %s: no encryption header", w.Call, w.Path)
				assert.Empty(t, w.SSEKMSKeyID, "%s %s: no KMS key header", w.Call, w.Path)
			}
			assert.Positive(t, byCall["CreateMultipartUpload"], "a report larger than a part is uploaded in parts: %v", byCall)
			assert.Positive(t, byCall["PutObject"], "a small object is one PutObject: %v", byCall)
		})
	}
}
