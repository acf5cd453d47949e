package deliver

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"path"
	"slices"
	"strings"

	"github.com/keyaudit/keyaudit/report"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// objectStore is the part of S3 the sink uses; *s3.Client satisfies it.
// Writing is an upload: one PutObject, or a multipart upload for a large
// report.
type objectStore interface {
	manager.UploadAPIClient
	GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
}

// S3Sink stores reports under PREFIX/YYYY/MM/DD/RUN_ID/, keeps
// PREFIX/latest.json a copy of the newest run's JSON report, and
// PREFIX/announced.json the baseline of the last run announced to Slack.
type S3Sink struct {
	Client objectStore
	Bucket string
	Prefix string
	// KMSKeyID, when set, encrypts every object written with that KMS
	// key; otherwise the bucket's default encryption applies.
	KMSKeyID string
	// Formats are those written; nil writes every format.
	Formats []report.Format
}

// ParseS3URL splits s3://bucket/prefix.
func ParseS3URL(u string) (bucket, prefix string, err error) {
	rest, ok := strings.CutPrefix(u, "s3://")
	if !ok {
		return "", "", fmt.Errorf("%q is not an S3 URL: use s3://bucket/prefix", u)
	}
	bucket, prefix, _ = strings.Cut(rest, "/")
	if bucket == "" {
		return "", "", fmt.Errorf("%q names no bucket: use s3://bucket/prefix", u)
	}
	return bucket, strings.Trim(prefix, "/"), nil
}

// BucketHeader is the part of S3 BucketRegion uses; *s3.Client satisfies it.
type BucketHeader interface {
	HeadBucket(ctx context.Context, in *s3.HeadBucketInput, optFns ...func(*s3.Options)) (*s3.HeadBucketOutput, error)
}

// BucketRegion makes sure the bucket exists and can be reached, and returns
// its region (empty when S3 does not say): run before the audit, it stops
// a run whose report could not be delivered before any audit work.
func BucketRegion(ctx context.Context, c BucketHeader, bucket string) (string, error) {
	out, err := c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(bucket)})
	if err == nil {
		return aws.ToString(out.BucketRegion), nil
	}
	// A bucket in another region answers 301 and names its region.
	var re *awshttp.ResponseError
	if errors.As(err, &re) && re.HTTPStatusCode() == 301 {
		if region := re.Response.Header.Get("X-Amz-Bucket-Region"); region != "" {
			return region, nil
		}
	}
	return "", fmt.Errorf("bucket %s cannot be reached (check its name, and that these credentials may s3:ListBucket it): %w", bucket, err)
}

// Write stores the report in its formats, then latest.json, and returns
// the run's folder as an s3:// URL. latest.json is written last so that it
// only ever points at a complete set of files.
func (s *S3Sink) Write(ctx context.Context, r *report.Report) (string, error) {
	dir := path.Join(s.Prefix, r.GeneratedAt.UTC().Format("2006/01/02"), runFolder(r))
	formats := s.Formats
	if formats == nil {
		formats = report.Formats
	}
	for _, f := range formats {
		w, err := report.WriterFor(f)
		if err != nil {
			return "", err
		}
		if err := s.put(ctx, path.Join(dir, f.FileName()), f.ContentType(), w, r); err != nil {
			return "", err
		}
	}
	if err := s.put(ctx, path.Join(s.Prefix, "latest.json"), report.FormatJSON.ContentType(), report.JSONWriter{}, r); err != nil {
		return "", err
	}
	return "s3://" + s.Bucket + "/" + dir + "/", nil
}

func runFolder(r *report.Report) string {
	if r.RunID != "" {
		return r.RunID
	}
	return r.GeneratedAt.UTC().Format("20060102T150405Z")
}

// put streams what w renders of r to key: the report is encoded as it is
// uploaded, a part of partSize at a time, never whole in memory.
func (s *S3Sink) put(ctx context.Context, key, contentType string, w report.Writer, r *report.Report) error {
	body, pw := io.Pipe()
	rendered := make(chan error, 1)
	go func() {
		err := w.Write(pw, r)
		pw.CloseWithError(err)
		rendered <- err
	}()
	in := &s3.PutObjectInput{Bucket: aws.String(s.Bucket), Key: aws.String(key), Body: body, ContentType: aws.String(contentType)}
	Encrypt(in, s.KMSKeyID)
	//lint:ignore SA1019 manager's successor, feature/s3/transfermanager, is still v0 (an unstable API).
	_, err := manager.NewUploader(s.Client, func(u *manager.Uploader) {
		u.PartSize, u.Concurrency = partSize, uploadConcurrency
	}).Upload(ctx, in)
	// An upload that stopped early stops the rendering too.
	body.CloseWithError(errUploadStopped)
	if rerr := <-rendered; rerr != nil && (err == nil || errors.Is(err, rerr)) {
		return fmt.Errorf("render %s: %w", key, rerr)
	}
	if err != nil {
		if ctx.Err() != nil {
			// Out of time: no permission is missing.
			return fmt.Errorf("write s3://%s/%s: %w", s.Bucket, key, err)
		}
		return fmt.Errorf("write s3://%s/%s (the role needs s3:PutObject on the bucket): %w", s.Bucket, key, err)
	}
	return nil
}

// A report is uploaded in parts of partSize (S3's least but for the last),
// uploadConcurrency at a time: the memory a write takes is about their
// product, whatever the report's size.
const (
	partSize          = manager.MinUploadPartSize
	uploadConcurrency = 2
)

var errUploadStopped = errors.New("the upload stopped")

// Encrypt sets the encryption a put asks for: SSE-KMS with kmsKeyID when
// set. Otherwise it names none, so that the bucket's default applies: an
// explicit AES256 would override a bucket whose default is a KMS key.
func Encrypt(in *s3.PutObjectInput, kmsKeyID string) {
	if kmsKeyID != "" {
		in.ServerSideEncryption, in.SSEKMSKeyId = types.ServerSideEncryptionAwsKms, aws.String(kmsKeyID)
	}
}

// Latest reads of the previous run's latest.json what the next run carries
// over (report.ReadFindings: no plans, no ranking); nil when there is none
// yet.
func (s *S3Sink) Latest(ctx context.Context) (*report.Report, error) {
	var r *report.Report
	return r, s.get(ctx, "latest.json", func(rd io.Reader) (err error) {
		r, err = report.ReadFindings(rd)
		return err
	})
}

// ReadAnnounced reads announced.json, the baseline (see Baseline) of the
// last run announced to Slack: what the next message is compared with, so
// that news a failed post did not deliver is posted the next time. It is
// nil before the first announcement.
func (s *S3Sink) ReadAnnounced(ctx context.Context) (*report.Report, error) {
	return s.read(ctx, "announced.json")
}

// WriteAnnounced stores the baseline of a run as announced.json. Call it
// only once the run's news was delivered (Slack.Notify returned no error).
func (s *S3Sink) WriteAnnounced(ctx context.Context, baseline *report.Report) error {
	return s.put(ctx, path.Join(s.Prefix, "announced.json"), report.FormatJSON.ContentType(), report.JSONWriter{}, baseline)
}

// ReadImported reads securityhub.json, the Security Hub baseline
// (Imported); nil before the first import.
func (s *S3Sink) ReadImported(ctx context.Context) (*Imported, error) {
	var b *Imported
	return b, s.get(ctx, importedName, func(rd io.Reader) error {
		b = &Imported{}
		if err := json.NewDecoder(rd).Decode(b); err != nil {
			return fmt.Errorf("not a Security Hub baseline: %w", err)
		}
		return nil
	})
}

// WriteImported stores the Security Hub baseline as securityhub.json. Call
// it only with what an import returned.
func (s *S3Sink) WriteImported(ctx context.Context, b *Imported) error {
	return s.put(ctx, path.Join(s.Prefix, importedName), "application/json", importedWriter{b}, nil)
}

const importedName = "securityhub.json"

// importedWriter writes the Security Hub baseline as json.Encoder would,
// an account at a time: whole, it is as large as the findings it holds.
type importedWriter struct{ b *Imported }

func (j importedWriter) Write(w io.Writer, _ *report.Report) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	bw.WriteString(`{"accounts":`)
	if j.b.Accounts == nil {
		bw.WriteString("null")
	} else {
		bw.WriteString("{")
		for i, id := range slices.Sorted(maps.Keys(j.b.Accounts)) {
			if i > 0 {
				bw.WriteString(",")
			}
			k, _ := json.Marshal(id)
			v, err := json.Marshal(j.b.Accounts[id])
			if err != nil {
				return fmt.Errorf("account %s: %w", id, err)
			}
			bw.Write(k)
			bw.WriteString(":")
			bw.Write(v)
		}
		bw.WriteString("}")
	}
	bw.WriteString("}\n")
	return bw.Flush()
}

// read reads the report PREFIX/name; nil when there is none.
func (s *S3Sink) read(ctx context.Context, name string) (*report.Report, error) {
	var r *report.Report
	return r, s.get(ctx, name, func(rd io.Reader) (err error) {
		r, err = report.ReadReport(rd)
		return err
	})
}

// get reads PREFIX/name with decode; nothing happens when there is none.
func (s *S3Sink) get(ctx context.Context, name string, decode func(io.Reader) error) error {
	key := path.Join(s.Prefix, name)
	out, err := s.Client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.Bucket), Key: aws.String(key)})
	var nsk *types.NoSuchKey
	var ae smithy.APIError
	if errors.As(err, &nsk) || (errors.As(err, &ae) && ae.ErrorCode() == "NoSuchKey") {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read s3://%s/%s (the role needs s3:GetObject on the bucket): %w", s.Bucket, key, err)
	}
	defer out.Body.Close()
	if err := decode(out.Body); err != nil {
		return fmt.Errorf("read s3://%s/%s: %w", s.Bucket, key, err)
	}
	return nil
}
