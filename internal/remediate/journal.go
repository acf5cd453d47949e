package remediate

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Status is where a change stands. A change is journaled Started before
// it is made, then Complete or Failed after; a change whose last record
// is Started was interrupted between the two, and may or may not have
// been made: undo looks at the key to know.
type Status string

const (
	Started  Status = "started"
	Complete Status = "complete"
	Failed   Status = "failed"
)

// Record is one line of the journal. A change has two: Started, written
// before the call, then Complete or Failed, with the same JournalID and Seq.
type Record struct {
	JournalID   string    `json:"journal_id"`
	Seq         int       `json:"seq"`
	Status      Status    `json:"status"`
	Time        time.Time `json:"time"`
	Actor       string    `json:"actor"`
	Op          Op        `json:"op"`
	AccountID   string    `json:"account_id"`
	Principal   string    `json:"principal"`
	AccessKeyID string    `json:"access_key_id"`
	PolicyARN   string    `json:"policy_arn,omitempty"`
	// Previous and New are the key's status (Active, Inactive, deleted) or
	// the policy's (attached, detached).
	Previous string   `json:"previous"`
	New      string   `json:"new"`
	Finding  *Finding `json:"finding,omitempty"`
	// Undoes names the record a Restore reverses: "JOURNAL_ID/SEQ".
	Undoes string `json:"undoes,omitempty"`
	Error  string `json:"error,omitempty"`
}

// ref names a change across journals.
func (r Record) ref() string { return fmt.Sprintf("%s/%d", r.JournalID, r.Seq) }

// Journal is where changes are recorded: appended to, never rewritten.
type Journal interface {
	Append(ctx context.Context, r Record) error
	// Records returns every record, in the order appended.
	Records(ctx context.Context) ([]Record, error)
}

// File is a journal in a local file, one JSON record per line.
type File struct{ Path string }

// Append writes r at the end of the file and syncs it to disk before the
// change it announces is made.
func (f File) Append(_ context.Context, r Record) error {
	line, err := json.Marshal(r)
	if err != nil {
		return err
	}
	fd, err := os.OpenFile(f.Path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("open the journal: %w", err)
	}
	_, err = fd.Write(append(line, '\n'))
	if err == nil {
		err = fd.Sync()
	}
	if cerr := fd.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write the journal %s: %w", f.Path, err)
	}
	return nil
}

// Records reads the file; a missing file is an empty journal.
func (f File) Records(context.Context) ([]Record, error) {
	b, err := os.ReadFile(f.Path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the journal: %w", err)
	}
	return decode(f.Path, bytes.NewReader(b))
}

func decode(name string, r io.Reader) ([]Record, error) {
	var out []Record
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<20)
	for line := 1; sc.Scan(); line++ {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var rec Record
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			return nil, fmt.Errorf("journal %s line %d is not a journal record: %w", name, line, err)
		}
		out = append(out, rec)
	}
	return out, sc.Err()
}

// S3API is what the S3 journal calls.
type S3API interface {
	PutObject(ctx context.Context, in *s3.PutObjectInput, optFns ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	s3.ListObjectsV2APIClient
}

// S3 is a journal under the reports bucket: S3 cannot append to an
// object, so each record is an object of its own, named so that none is
// ever written twice (PREFIX/journal/JOURNAL_ID/SEQ-STATUS.json).
type S3 struct {
	Client S3API
	Bucket string
	Prefix string // e.g. keyaudit
	// KMSKeyARN, when set, is named on every put, as the bucket requires
	// (docs/deploy.md, Encryption with a KMS key).
	KMSKeyARN string
}

func (j S3) dir() string { return path.Join(j.Prefix, "journal") + "/" }

// Append writes r as its own object.
func (j S3) Append(ctx context.Context, r Record) error {
	body, err := json.Marshal(r)
	if err != nil {
		return err
	}
	key := fmt.Sprintf("%s%s/%06d-%s.json", j.dir(), r.JournalID, r.Seq, r.Status)
	in := &s3.PutObjectInput{Bucket: aws.String(j.Bucket), Key: aws.String(key), Body: bytes.NewReader(body), ContentType: aws.String("application/json")}
	if j.KMSKeyARN != "" {
		in.ServerSideEncryption, in.SSEKMSKeyId = "aws:kms", aws.String(j.KMSKeyARN)
	}
	if _, err := j.Client.PutObject(ctx, in); err != nil {
		return fmt.Errorf("write the journal record s3://%s/%s: %w", j.Bucket, key, err)
	}
	return nil
}

// Records reads every record under the journal prefix, ordered by time.
func (j S3) Records(ctx context.Context) ([]Record, error) {
	var out []Record
	p := s3.NewListObjectsV2Paginator(j.Client, &s3.ListObjectsV2Input{Bucket: aws.String(j.Bucket), Prefix: aws.String(j.dir())})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list the journal s3://%s/%s: %w", j.Bucket, j.dir(), err)
		}
		for _, o := range page.Contents {
			obj, err := j.Client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(j.Bucket), Key: o.Key})
			if err != nil {
				return nil, fmt.Errorf("read the journal record s3://%s/%s: %w", j.Bucket, aws.ToString(o.Key), err)
			}
			recs, err := decode("s3://"+j.Bucket+"/"+aws.ToString(o.Key), obj.Body)
			obj.Body.Close()
			if err != nil {
				return nil, err
			}
			out = append(out, recs...)
		}
	}
	// Objects list by name; a change's records and the changes of a run
	// keep their order by time, then sequence.
	sort.SliceStable(out, func(a, b int) bool {
		if !out[a].Time.Equal(out[b].Time) {
			return out[a].Time.Before(out[b].Time)
		}
		return out[a].Seq < out[b].Seq
	})
	return out, nil
}
